// SPDX-License-Identifier: MPL-2.0
// A user's translation unit: one SGD training step of a 784-256-10 MLP (tanh, softmax
// cross-entropy with integer labels) with fusegrad. Compiled, not run, by
// bench/compile_time/run.sh against mlp_step_hand.cpp, the same step written by hand.
#include <fusegrad/fusegrad.hpp>

#include <vector>

namespace fg = fusegrad;

struct Mlp {
  fg::Tensor<float, 2> W1 = fg::Tensor<float, 2>::random(256, 784), W2 = fg::Tensor<float, 2>::random(10, 256);
  fg::Tensor<float, 1> b1 = fg::Tensor<float, 1>::zeros(256), b2 = fg::Tensor<float, 1>::zeros(10);
  fg::optim::SGD<float> sgd{{W1.requires_grad(true), b1.requires_grad(true), W2.requires_grad(true),
                             b2.requires_grad(true)},
                            {.lr = 0.1}};

  float step(const fg::Tensor<float, 2>& x, const std::vector<int>& labels) {
    sgd.zero_grad();
    fg::Tensor<float, 2> h = fg::tanh(fg::matmul(x, fg::transpose(W1)) + b1);
    fg::Tensor<float, 0> loss = fg::cross_entropy(fg::matmul(h, fg::transpose(W2)) + b2, labels);
    loss.backward();
    sgd.step();
    return loss.item();
  }
};

int main() {
  Mlp model;
  const fg::Tensor<float, 2> x = fg::Tensor<float, 2>::random(128, 784);
  const std::vector<int> labels(128, 3);
  return model.step(x, labels) > 0 ? 0 : 1;
}
