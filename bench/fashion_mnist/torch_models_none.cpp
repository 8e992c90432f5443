// training.hpp's libtorch side when the bench is built without libtorch: the bench then
// trains and reports fusegrad's models alone.
#include "training.hpp"

namespace fashion_mnist {

std::unique_ptr<Model> make_torch_model(Architecture, const Weights&, double) { return nullptr; }

bool torch_available() { return false; }

std::string torch_setup() { return "libtorch not built in (FUSEGRAD_BENCH_TORCH=OFF or Torch not found)"; }

}  // namespace fashion_mnist
