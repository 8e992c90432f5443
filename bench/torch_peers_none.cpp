// torch_peers without libtorch: the bench prints "n/a" in the libtorch columns.
#include "torch_peers.hpp"

namespace torch_peers {

bool available() { return false; }

std::string setup() { return "libtorch not built in (FUSEGRAD_BENCH_TORCH=OFF or Torch not found)"; }

#include "support/peer_factories_none.inc"

}  // namespace torch_peers
