// SPDX-License-Identifier: MPL-2.0
// The 20 statements of elementwise20_fusegrad.cpp with plain Eigen tensors: values only,
// no gradient.
#include <unsupported/Eigen/CXX11/Tensor>

#include "eigen_functions.hpp"

int main() {
  Eigen::Tensor<double, 1, Eigen::RowMajor> x(1000), w(1000);
  x.setRandom();
  w.setRandom();
  double total = 0;
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = x.exp() * sin_(w);
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x + w).tanh();
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x.square() + 1.0).log() - w * 0.5;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x.square() + 1.0).sqrt() * w;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = x.sigmoid() * w + x;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = x / (w.abs() + 1.0);
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = cos_(x) * cos_(w) - sin_(x) * sin_(w);
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (-(x - w).square()).exp();
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x.exp() + w.exp()).log();
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = x * x * x - 3.0 * x * w;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = x.tanh().square() * w;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x - w) / (x * x + w * w + 1.0);
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x * 0.5).exp() - (w * 0.25).exp();
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = sin_((x * w)) + cos_((x - w));
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x.abs() + w.abs() + 1e-3).sqrt();
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = x.exp().log1p() * w;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x - w).sigmoid() * (w - x).sigmoid();
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = 2.0 * x - w / 3.0 + 1.0;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = x.tanh() * w.exp() + x;
    total += y(0);
  }
  {
    Eigen::Tensor<double, 1, Eigen::RowMajor> y = (x - 1.0).square() + 100.0 * (w - x.square()).square();
    total += y(0);
  }
  return total > 0 ? 0 : 1;
}
