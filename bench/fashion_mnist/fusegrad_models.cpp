// The two models of training.hpp written with fusegrad, float, as a user would write
// them: one statement per layer, fusegrad::optim::Adam over the parameter tensors.
#include <fusegrad/fusegrad.hpp>

#include "training.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace fg = fusegrad;

namespace fashion_mnist {

namespace {

template <int R>
fg::Tensor<float, R> parameter_tensor(const Parameter& p) {
  if (p.shape.size() != std::size_t(R)) throw std::invalid_argument("fashion_mnist: " + p.name + " has the wrong rank");
  fg::Shape<R> shape;
  std::copy(p.shape.begin(), p.shape.end(), shape.begin());
  fg::Tensor<float, R> t(shape);
  std::copy(p.values.begin(), p.values.end(), t.mutable_value().data());
  t.requires_grad(true);
  return t;
}

template <int R>
void copy_gradient(const fg::Tensor<float, R>& t, Parameter& out) {
  out.values.assign(t.grad().data(), t.grad().data() + t.size());
}

// The index of the largest logit of each row.
void argmax_rows(const fg::Tensor<float, 2>& logits, int* classes) {
  const float* row = logits.data();
  for (fg::Index i = 0; i < logits.dimension(0); ++i, row += logits.dimension(1))
    classes[i] = int(std::max_element(row, row + logits.dimension(1)) - row);
}

// What both models share: the batch's input tensor, the labels, Adam and the step.
template <class Network>
class FusegradModel final : public Model {
 public:
  FusegradModel(const Weights& initial, double learning_rate)
      : network_(initial), adam_(network_.parameters(), {.lr = learning_rate}) {}

  float train_step(const float* images, const int* labels, long count) override {
    adam_.zero_grad();
    fg::Tensor<float, 0> loss = loss_of(images, labels, count);
    loss.backward();
    adam_.step();
    return loss.item();
  }

  void predict(const float* images, long count, int* classes) override {
    fg::no_grad evaluation_only;
    argmax_rows(network_.logits(network_.input(images, count)), classes);
  }

  float loss_and_gradients(const float* images, const int* labels, long count, Weights& gradients) override {
    adam_.zero_grad();
    fg::Tensor<float, 0> loss = loss_of(images, labels, count);
    loss.backward();
    network_.gradients(gradients);
    return loss.item();
  }

 private:
  fg::Tensor<float, 0> loss_of(const float* images, const int* labels, long count) {
    labels_.assign(labels, labels + count);
    return fg::cross_entropy(network_.logits(network_.input(images, count)), labels_);
  }

  Network network_;
  fg::optim::Adam<float> adam_;
  std::vector<int> labels_;
};

// 784-256-128-10 with ReLU.
struct Mlp {
  fg::Tensor<float, 2> W1, W2, W3;
  fg::Tensor<float, 1> b1, b2, b3;

  explicit Mlp(const Weights& w)
      : W1(parameter_tensor<2>(w.at(0))), W2(parameter_tensor<2>(w.at(2))), W3(parameter_tensor<2>(w.at(4))),
        b1(parameter_tensor<1>(w.at(1))), b2(parameter_tensor<1>(w.at(3))), b3(parameter_tensor<1>(w.at(5))) {}

  fg::optim::ParameterList<float> parameters() const { return {W1, b1, W2, b2, W3, b3}; }

  fg::Tensor<float, 2> input(const float* images, long count) const {
    fg::Tensor<float, 2> x(count, image_pixels);
    std::copy(images, images + count * image_pixels, x.mutable_value().data());
    return x;
  }

  fg::Tensor<float, 2> logits(const fg::Tensor<float, 2>& x) const {
    fg::Tensor<float, 2> h1 = fg::relu(fg::matmul(x, fg::transpose(W1)) + b1);
    fg::Tensor<float, 2> h2 = fg::relu(fg::matmul(h1, fg::transpose(W2)) + b2);
    return fg::matmul(h2, fg::transpose(W3)) + b3;
  }

  void gradients(Weights& out) const {
    out.resize(6);
    copy_gradient(W1, out[0]), copy_gradient(b1, out[1]), copy_gradient(W2, out[2]);
    copy_gradient(b2, out[3]), copy_gradient(W3, out[4]), copy_gradient(b3, out[5]);
  }
};

// conv 1->C1 3x3 (same), ReLU, max-pool 2; conv C1->C2 3x3 (same), ReLU, max-pool 2;
// linear C2*7*7 -> 10.
struct Cnn {
  fg::Tensor<float, 4> K1, K2;
  fg::Tensor<float, 1> c1, c2, b;
  fg::Tensor<float, 2> W;

  explicit Cnn(const Weights& w)
      : K1(parameter_tensor<4>(w.at(0))), K2(parameter_tensor<4>(w.at(2))), c1(parameter_tensor<1>(w.at(1))),
        c2(parameter_tensor<1>(w.at(3))), b(parameter_tensor<1>(w.at(5))), W(parameter_tensor<2>(w.at(4))) {}

  fg::optim::ParameterList<float> parameters() const { return {K1, c1, K2, c2, W, b}; }

  fg::Tensor<float, 4> input(const float* images, long count) const {
    fg::Tensor<float, 4> x(count, 1, image_side, image_side);
    std::copy(images, images + count * image_pixels, x.mutable_value().data());
    return x;
  }

  fg::Tensor<float, 2> logits(const fg::Tensor<float, 4>& x) const {
    const fg::Index n = x.dimension(0), c1_count = c1.dimension(0), c2_count = c2.dimension(0);
    fg::Tensor<float, 4> p1 =
        fg::max_pool2d(fg::relu(fg::conv2d(x, K1, fg::padding::same) + fg::reshape(c1, {c1_count, 1, 1})), 2);
    fg::Tensor<float, 4> p2 =
        fg::max_pool2d(fg::relu(fg::conv2d(p1, K2, fg::padding::same) + fg::reshape(c2, {c2_count, 1, 1})), 2);
    return fg::matmul(fg::reshape(p2, {n, c2_count * 7 * 7}), fg::transpose(W)) + b;
  }

  void gradients(Weights& out) const {
    out.resize(6);
    copy_gradient(K1, out[0]), copy_gradient(c1, out[1]), copy_gradient(K2, out[2]);
    copy_gradient(c2, out[3]), copy_gradient(W, out[4]), copy_gradient(b, out[5]);
  }
};

}  // namespace

std::unique_ptr<Model> make_fusegrad_model(Architecture a, const Weights& initial, double learning_rate) {
  if (a == Architecture::mlp) return std::make_unique<FusegradModel<Mlp>>(initial, learning_rate);
  return std::make_unique<FusegradModel<Cnn>>(initial, learning_rate);
}

}  // namespace fashion_mnist
