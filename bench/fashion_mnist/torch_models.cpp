// The two models of training.hpp written with libtorch's C++ API, as a libtorch user
// writes them: torch::nn modules, torch::nn::functional::cross_entropy,
// torch::optim::Adam. Float (libtorch's default), one intra-op and one inter-op thread.
#include <torch/torch.h>
#include <torch/version.h>

#include "training.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>

namespace fashion_mnist {

namespace {

namespace F = torch::nn::functional;

struct MlpNet : torch::nn::Module {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  explicit MlpNet(const Weights&) {
    fc1 = register_module("fc1", torch::nn::Linear(image_pixels, 256));
    fc2 = register_module("fc2", torch::nn::Linear(256, 128));
    fc3 = register_module("fc3", torch::nn::Linear(128, class_count));
  }
  torch::Tensor forward(const torch::Tensor& images) {
    torch::Tensor h = torch::relu(fc1(images.view({-1, image_pixels})));
    h = torch::relu(fc2(h));
    return fc3(h);
  }
};

struct CnnNet : torch::nn::Module {
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc{nullptr};
  // The widths from the weights' shapes: conv1.weight (C1, 1, 3, 3), conv2.weight (C2, C1, 3, 3).
  explicit CnnNet(const Weights& w) {
    const long c1 = w.at(0).shape.at(0), c2 = w.at(2).shape.at(0);
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, c1, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(c1, c2, 3).padding(1)));
    fc = register_module("fc", torch::nn::Linear(c2 * 7 * 7, class_count));
  }
  torch::Tensor forward(const torch::Tensor& images) {
    torch::Tensor h = images.view({-1, 1, image_side, image_side});
    h = F::max_pool2d(torch::relu(conv1(h)), F::MaxPool2dFuncOptions(2));
    h = F::max_pool2d(torch::relu(conv2(h)), F::MaxPool2dFuncOptions(2));
    return fc(h.flatten(1));
  }
};

template <class Net>
class TorchModel final : public Model {
 public:
  TorchModel(const Weights& initial, double learning_rate) : net_(std::make_shared<Net>(initial)) {
    {
      torch::NoGradGuard copying;
      auto named = net_->named_parameters();
      if (named.size() != initial.size()) throw std::logic_error("fashion_mnist: torch model: parameter count differs");
      for (const Parameter& p : initial) {
        torch::Tensor* t = named.find(p.name);
        if (!t) throw std::logic_error("fashion_mnist: torch model has no parameter " + p.name);
        if (t->sizes().vec() != std::vector<int64_t>(p.shape.begin(), p.shape.end()))
          throw std::logic_error("fashion_mnist: torch model: " + p.name + " has another shape");
        t->copy_(torch::from_blob(const_cast<float*>(p.values.data()), t->sizes()));
      }
      for (const auto& item : named) parameters_.push_back(item.value());
      for (const Parameter& p : initial) order_.push_back(p.name);
    }
    adam_ = std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(learning_rate));
  }

  float train_step(const float* images, const int* labels, long count) override {
    // Gradients set to none rather than zeroed (optimizer.zero_grad(set_to_none=True),
    // PyTorch 2's default): the backward writes them instead of adding to zeros.
    for (torch::Tensor& p : parameters_) p.mutable_grad() = torch::Tensor();
    torch::Tensor loss = loss_of(images, labels, count);
    loss.backward();
    adam_->step();
    return loss.item<float>();
  }

  void predict(const float* images, long count, int* classes) override {
    torch::NoGradGuard evaluation_only;
    const torch::Tensor predicted = net_->forward(input(images, count)).argmax(1).to(torch::kInt32).contiguous();
    std::copy(predicted.data_ptr<int>(), predicted.data_ptr<int>() + count, classes);
  }

  float loss_and_gradients(const float* images, const int* labels, long count, Weights& gradients) override {
    for (torch::Tensor& p : parameters_) p.mutable_grad() = torch::Tensor();
    torch::Tensor loss = loss_of(images, labels, count);
    loss.backward();
    auto named = net_->named_parameters();
    gradients.clear();
    for (const std::string& n : order_) {
      const torch::Tensor g = named[n].grad().contiguous();
      gradients.push_back({n, std::vector<long>(g.sizes().begin(), g.sizes().end()),
                           std::vector<float>(g.data_ptr<float>(), g.data_ptr<float>() + g.numel())});
    }
    return loss.item<float>();
  }

 private:
  static torch::Tensor input(const float* images, long count) {
    return torch::from_blob(const_cast<float*>(images), {count, image_pixels});
  }
  torch::Tensor loss_of(const float* images, const int* labels, long count) {
    const torch::Tensor targets =
        torch::from_blob(const_cast<int*>(labels), {count}, torch::TensorOptions().dtype(torch::kInt32))
            .to(torch::kInt64);
    return F::cross_entropy(net_->forward(input(images, count)), targets);
  }

  std::shared_ptr<Net> net_;
  std::vector<torch::Tensor> parameters_;
  std::vector<std::string> order_;
  std::unique_ptr<torch::optim::Adam> adam_;
};

// The shared objects mapped into this process whose file name mentions blas: the BLAS
// libtorch's matrix products run on (Debian's libtorch takes libblas.so.3).
std::string mapped_blas() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> found;
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.substr(path.rfind('/') + 1).find("blas") != std::string::npos) found.insert(path);
  }
  std::string out;
  for (const std::string& p : found) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "none found" : out;
}

}  // namespace

std::unique_ptr<Model> make_torch_model(Architecture a, const Weights& initial, double learning_rate) {
  if (a == Architecture::mlp) return std::make_unique<TorchModel<MlpNet>>(initial, learning_rate);
  return std::make_unique<TorchModel<CnnNet>>(initial, learning_rate);
}

bool torch_available() { return true; }

std::string torch_setup() {
  torch::set_num_threads(1);
  try {
    at::set_num_interop_threads(1);  // throws if inter-op work has already started
  } catch (const std::exception&) {
  }
  torch::manual_seed(0);
  return "libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH) + " (C++ API), intra-op threads " + std::to_string(at::get_num_threads()) +
         ", inter-op threads " + std::to_string(at::get_num_interop_threads()) +
         ", MKL-DNN " + (at::hasMKLDNN() ? "yes" : "no") + ", BLAS: " + mapped_blas();
}

}  // namespace fashion_mnist
