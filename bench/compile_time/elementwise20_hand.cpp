// SPDX-License-Identifier: MPL-2.0
// The 20 statements of elementwise20_fusegrad.cpp written by hand with plain Eigen
// tensors: each value and its gradient for a seed of ones, accumulated into gx and gw as
// fusegrad accumulates x.grad() and w.grad(). run.sh only compiles it; run, it prints
// the sums of both gradients, which matched fusegrad's x.grad() and w.grad() sums to 12
// digits on the same inputs when this file was written.
#include <cstdio>
#include <unsupported/Eigen/CXX11/Tensor>

#include "eigen_functions.hpp"

using T = Eigen::Tensor<double, 1, Eigen::RowMajor>;

int main() {
  T x(1000), w(1000), gx(1000), gw(1000);
  x.setRandom();
  w.setRandom();
  gx.setZero();
  gw.setZero();
  double total = 0;
  {
    T y = x.exp() * sin_(w);
    gx = gx + y;
    gw = gw + x.exp() * cos_(w);
    total += y(0);
  }
  {
    T y = (x + w).tanh();
    T d = 1.0 - y.square();
    gx = gx + d;
    gw = gw + d;
    total += y(0);
  }
  {
    T y = (x.square() + 1.0).log() - w * 0.5;
    gx = gx + 2.0 * x / (x.square() + 1.0);
    gw = gw - 0.5;
    total += y(0);
  }
  {
    T s = (x.square() + 1.0).sqrt();
    T y = s * w;
    gx = gx + x / s * w;
    gw = gw + s;
    total += y(0);
  }
  {
    T s = x.sigmoid();
    T y = s * w + x;
    gx = gx + s * (1.0 - s) * w + 1.0;
    gw = gw + s;
    total += y(0);
  }
  {
    T d = w.abs() + 1.0;
    T y = x / d;
    gx = gx + 1.0 / d;
    gw = gw - x * sign_(w) / d.square();
    total += y(0);
  }
  {
    T y = cos_(x) * cos_(w) - sin_(x) * sin_(w);
    gx = gx - sin_(x) * cos_(w) - cos_(x) * sin_(w);
    gw = gw - cos_(x) * sin_(w) - sin_(x) * cos_(w);
    total += y(0);
  }
  {
    T y = (-(x - w).square()).exp();
    gx = gx - 2.0 * (x - w) * y;
    gw = gw + 2.0 * (x - w) * y;
    total += y(0);
  }
  {
    T s = x.exp() + w.exp();
    T y = s.log();
    gx = gx + x.exp() / s;
    gw = gw + w.exp() / s;
    total += y(0);
  }
  {
    T y = x * x * x - 3.0 * x * w;
    gx = gx + 3.0 * x.square() - 3.0 * w;
    gw = gw - 3.0 * x;
    total += y(0);
  }
  {
    T t = x.tanh();
    T y = t.square() * w;
    gx = gx + 2.0 * t * (1.0 - t.square()) * w;
    gw = gw + t.square();
    total += y(0);
  }
  {
    T q = x * x + w * w + 1.0;
    T y = (x - w) / q;
    gx = gx + 1.0 / q - y * 2.0 * x / q;
    gw = gw - 1.0 / q - y * 2.0 * w / q;
    total += y(0);
  }
  {
    T y = (x * 0.5).exp() - (w * 0.25).exp();
    gx = gx + 0.5 * (x * 0.5).exp();
    gw = gw - 0.25 * (w * 0.25).exp();
    total += y(0);
  }
  {
    T y = sin_(x * w) + cos_(x - w);
    gx = gx + cos_(x * w) * w - sin_(x - w);
    gw = gw + cos_(x * w) * x + sin_(x - w);
    total += y(0);
  }
  {
    T y = (x.abs() + w.abs() + 1e-3).sqrt();
    gx = gx + sign_(x) / (2.0 * y);
    gw = gw + sign_(w) / (2.0 * y);
    total += y(0);
  }
  {
    // softplus written as a user of plain Eigen writes it stably: max(x, 0) + log1p(e^-|x|)
    T softplus = x.cwiseMax(0.0) + (-x.abs()).exp().log1p();
    T y = softplus * w;
    gx = gx + x.sigmoid() * w;
    gw = gw + softplus;
    total += y(0);
  }
  {
    T a = (x - w).sigmoid(), b = (w - x).sigmoid();
    T y = a * b;
    T d = a * (1.0 - a) * b - a * b * (1.0 - b);
    gx = gx + d;
    gw = gw - d;
    total += y(0);
  }
  {
    T y = 2.0 * x - w / 3.0 + 1.0;
    gx = gx + 2.0;
    gw = gw - 1.0 / 3.0;
    total += y(0);
  }
  {
    T t = x.tanh(), e = w.exp();
    T y = t * e + x;
    gx = gx + (1.0 - t.square()) * e + 1.0;
    gw = gw + t * e;
    total += y(0);
  }
  {
    T r = w - x.square();
    T y = (x - 1.0).square() + 100.0 * r.square();
    gx = gx + 2.0 * (x - 1.0) - 400.0 * r * x;
    gw = gw + 200.0 * r;
    total += y(0);
  }
  Eigen::Tensor<double, 0, Eigen::RowMajor> sx = gx.sum(), sw = gw.sum();
  std::printf("sum of gx %.12g, sum of gw %.12g\n", sx(), sw());
  return total + gx(0) + gw(0) > 0 ? 0 : 1;
}
