// torch_peers without libtorch: contraction_bench prints "n/a" in the torch columns.
#include "torch_peers.hpp"

namespace torch_peers {

bool available() { return false; }

std::string setup() { return "libtorch not built in (FUSEGRAD_BENCH_TORCH=OFF or Torch not found)"; }

std::unique_ptr<Peer> matmul_sum(const double*, const double*, long) { return nullptr; }

std::unique_ptr<Peer> least_squares(const double*, const double*, const double*, long, long) { return nullptr; }

std::unique_ptr<Peer> mlp(const double*, const int*, const double*, const double*, const double*, const double*, long,
                          long, long, long) {
  return nullptr;
}

}  // namespace torch_peers
