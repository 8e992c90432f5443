// SPDX-License-Identifier: MPL-2.0
// A user's translation unit: 20 different elementwise statements on rank-1 tensors, with
// their gradient (fusegrad). elementwise20_eigen.cpp evaluates the same 20 statements
// with plain Eigen tensors (values only), elementwise20_hand.cpp with their gradients by hand.
// Compiled, not run, by bench/compile_time/run.sh.
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
  fg::Tensor<double, 1> x = fg::Tensor<double, 1>::random(1000), w = fg::Tensor<double, 1>::random(1000);
  x.requires_grad(true);
  w.requires_grad(true);
  double total = 0;
  {
    fg::Tensor<double, 1> y = fg::exp(x) * fg::sin(w);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::tanh(x + w);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::log(fg::square(x) + 1.0) - w * 0.5;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::sqrt(fg::square(x) + 1.0) * w;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::sigmoid(x) * w + x;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = x / (fg::abs(w) + 1.0);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::cos(x) * fg::cos(w) - fg::sin(x) * fg::sin(w);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::exp(-fg::square(x - w));
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::log(fg::exp(x) + fg::exp(w));
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = x * x * x - 3.0 * x * w;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::square(fg::tanh(x)) * w;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = (x - w) / (x * x + w * w + 1.0);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::exp(x * 0.5) - fg::exp(w * 0.25);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::sin(x * w) + fg::cos(x - w);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::sqrt(fg::abs(x) + fg::abs(w) + 1e-3);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::softplus(x) * w;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::sigmoid(x - w) * fg::sigmoid(w - x);
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = 2.0 * x - w / 3.0 + 1.0;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::tanh(x) * fg::exp(w) + x;
    y.backward();
    total += y(0);
  }
  {
    fg::Tensor<double, 1> y = fg::square(x - 1.0) + 100.0 * fg::square(w - fg::square(x));
    y.backward();
    total += y(0);
  }
  return total + x.grad()(0) + w.grad()(0) > 0 ? 0 : 1;
}
