// adolc_peers without ADOL-C: the bench prints "n/a" in the ADOL-C columns.
#include "adolc_peers.hpp"

namespace adolc_peers {

bool available() { return false; }

std::string setup() { return "ADOL-C not built in (FUSEGRAD_BENCH_ADOLC=OFF or ADOL-C not found)"; }

#include "support/peer_factories_none.inc"

}  // namespace adolc_peers
