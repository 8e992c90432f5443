#pragma once
// The two Fashion-MNIST models of the training bench, each implemented once per library
// behind this plain interface, so that the fusegrad translation unit never includes
// torch headers and the torch one never includes fusegrad's:
//   fusegrad_models.cpp    fusegrad (also compiled into test/optim/fashion_mnist_test)
//   torch_models.cpp       libtorch's C++ API, when libtorch is found
//   torch_models_none.cpp  the stand-in without it (make_torch_model returns nullptr)
//
// Models (float, batch-first, images (batch, 1, 28, 28) as 784 floats each):
//   mlp  784-256-128-10, ReLU:            fc1 -> relu -> fc2 -> relu -> fc3
//   cnn  conv 1->C1 3x3 pad 1, ReLU, max-pool 2; conv C1->C2 3x3 pad 1, ReLU, max-pool 2;
//        linear C2*7*7 -> 10 (the widths C1, C2 are the bench's --cnn-channels; the
//        models read them from the weights' shapes)
// Loss: softmax cross-entropy on integer labels, mean over the batch. Optimizer: Adam
// (PyTorch's rule and defaults, learning rate given). Parameters carry PyTorch's names
// and layouts (Linear weight (out, in), Conv2d weight (K, C, kh, kw), row-major), so
// one set of initial weights is copied into both libraries.
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace fashion_mnist {

inline constexpr long image_side = 28;
inline constexpr long image_pixels = image_side * image_side;
inline constexpr long class_count = 10;

enum class Architecture { mlp, cnn };

/// The CNN's channel counts after its first and second convolution.
struct CnnWidths {
  long first = 32, second = 64;
};

inline const char* name(Architecture a) { return a == Architecture::mlp ? "mlp" : "cnn"; }

/// One parameter tensor in PyTorch's naming and layout.
struct Parameter {
  std::string name;  // as torch::nn::Module::named_parameters() names it, e.g. "fc1.weight"
  std::vector<long> shape;
  std::vector<float> values;
};
using Weights = std::vector<Parameter>;

/// The parameters of `a` in order (weight, bias per layer), initialised as PyTorch's
/// Linear and Conv2d initialise themselves by default: weight and bias uniform in
/// [-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5) gives that bound
/// for the weight), from a generator with the given seed.
inline Weights initial_weights(Architecture a, unsigned seed, CnnWidths widths = {}) {
  std::mt19937 generator(seed);
  Weights w;
  auto layer = [&](const std::string& prefix, std::vector<long> weight_shape) {
    long fan_in = 1, count = 1;
    for (std::size_t d = 1; d < weight_shape.size(); ++d) fan_in *= weight_shape[d];
    for (long s : weight_shape) count *= s;
    std::uniform_real_distribution<float> uniform(-1.0f / std::sqrt(float(fan_in)), 1.0f / std::sqrt(float(fan_in)));
    Parameter weight{prefix + ".weight", weight_shape, std::vector<float>(std::size_t(count))};
    Parameter bias{prefix + ".bias", {weight_shape[0]}, std::vector<float>(std::size_t(weight_shape[0]))};
    for (float& v : weight.values) v = uniform(generator);
    for (float& v : bias.values) v = uniform(generator);
    w.push_back(std::move(weight));
    w.push_back(std::move(bias));
  };
  if (a == Architecture::mlp) {
    layer("fc1", {256, image_pixels});
    layer("fc2", {128, 256});
    layer("fc3", {class_count, 128});
  } else {
    layer("conv1", {widths.first, 1, 3, 3});
    layer("conv2", {widths.second, widths.first, 3, 3});
    layer("fc", {class_count, widths.second * 7 * 7});
  }
  return w;
}

/// One library's model, its parameters and its Adam state.
class Model {
 public:
  virtual ~Model() = default;
  /// One Adam step on a batch of `count` images; returns the batch's mean loss (at the
  /// parameters before the step).
  virtual float train_step(const float* images, const int* labels, long count) = 0;
  /// The class each image is given (the largest logit), without recording gradients.
  virtual void predict(const float* images, long count, int* classes) = 0;
  /// The batch's loss and every parameter's gradient (the layout and order of
  /// initial_weights), without a step.
  virtual float loss_and_gradients(const float* images, const int* labels, long count, Weights& gradients) = 0;
};

/// fusegrad's model, from the given weights, with fusegrad::optim::Adam<float>.
std::unique_ptr<Model> make_fusegrad_model(Architecture a, const Weights& initial, double learning_rate);

/// libtorch's model, from the given weights, with torch::optim::Adam; nullptr when the
/// bench was built without libtorch.
std::unique_ptr<Model> make_torch_model(Architecture a, const Weights& initial, double learning_rate);
/// Sets libtorch to one intra-op and one inter-op thread and describes it (version,
/// threads, the BLAS it runs on), or says that it is not built in.
std::string torch_setup();
bool torch_available();

}  // namespace fashion_mnist
