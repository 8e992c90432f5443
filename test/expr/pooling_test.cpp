// max_pool2d and avg_pool2d: values against explicit loops, PyTorch's choices (the first
// maximum of a tie, padding counted in the average), gradients against central
// differences, and shape errors.
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"
#include "../support/gradient_check.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace fg = fusegrad;
using fg::testing::check_mentions;
using fg::testing::domain;
using fg::testing::elements;
using fg::testing::expect_gradients_match_differences;
using fg::testing::random_tensor;
using fg::testing::shape_error_of;

TEST_CASE_TEMPLATE("max_pool2d takes each window's largest element", S, double, float) {
  // One plane, 4 x 4, 2 x 2 windows of stride 2.
  fg::Tensor<S, 4> x(fg::EigenTensor<S, 4>(1, 1, 4, 4).setValues(
      {{{{1, 5, 2, 0}, {3, 4, 8, 1}, {0, 0, -1, -2}, {9, 0, -3, -4}}}}));
  fg::Tensor<S, 4> y = fg::max_pool2d(x, 2);
  CHECK(y.dimensions() == fg::Shape<4>{1, 1, 2, 2});
  CHECK(elements(y.value()) == std::vector<double>{5, 8, 9, -1});
}

TEST_CASE_TEMPLATE("avg_pool2d averages each window, counting the zero padding", S, double, float) {
  fg::Tensor<S, 4> x(fg::EigenTensor<S, 4>(1, 1, 2, 2).setValues({{{{1, 2}, {3, 4}}}}));
  fg::Tensor<S, 4> y = fg::avg_pool2d(x, 2, 1, 1);  // 3 x 3 windows over a zero-padded 4 x 4
  CHECK(y.dimensions() == fg::Shape<4>{1, 1, 3, 3});
  CHECK(elements(y.value()) == std::vector<double>{0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1});
}

TEST_CASE("max_pool2d gives a tie's gradient to the first maximum in row-major order, as PyTorch") {
  fg::Tensor<double, 4> x(fg::EigenTensor<double, 4>(1, 1, 2, 2).setValues({{{{7, 7}, {7, 1}}}}));
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::sum(fg::max_pool2d(x, 2) * 3.0);
  y.backward();
  CHECK(elements(x.grad()) == std::vector<double>{3, 0, 0, 0});
}

TEST_CASE("max_pool2d propagates NaN and never picks a padding position") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  fg::Tensor<double, 4> x(fg::EigenTensor<double, 4>(1, 1, 1, 3).setValues({{{{-5, nan, -7}}}}));
  fg::Tensor<double, 4> y = fg::max_pool2d(x, {1, 2}, fg::pool_window{1, 1}, fg::pool_window{0, 1});
  CHECK(y.dimension(3) == 4);
  CHECK(y(0, 0, 0, 0) == -5);  // the padding (-inf) is no candidate, not 0
  CHECK(std::isnan(y(0, 0, 0, 1)));
  CHECK(std::isnan(y(0, 0, 0, 2)));
  CHECK(y(0, 0, 0, 3) == -7);
}

TEST_CASE_TEMPLATE("pooling gradients match central differences", S, double, float) {
  auto x = random_tensor<S, 4>({2, 3, 5, 6}, domain::distinct);
  expect_gradients_match_differences("max_pool2d", [](const auto& t) { return fg::max_pool2d(t, 2); }, x);
  expect_gradients_match_differences(
      "max_pool2d strided padded", [](const auto& t) { return fg::max_pool2d(t * 2.0, {3, 2}, fg::pool_window{2, 1}, fg::pool_window{1, 1}); }, x);
  expect_gradients_match_differences("avg_pool2d", [](const auto& t) { return fg::avg_pool2d(t, 2); }, x);
  expect_gradients_match_differences(
      "avg_pool2d strided padded", [](const auto& t) { return fg::avg_pool2d(fg::exp(t), 3, 2, 1); }, x);
}

TEST_CASE("pooling refuses empty windows, padding over half the window and windows larger than the input") {
  fg::Tensor<double, 4> x(1, 1, 3, 3);
  check_mentions(shape_error_of([&] { (void)fg::max_pool2d(x, 0); }), {"max_pool2d", "(1, 1, 3, 3)", "empty"});
  check_mentions(shape_error_of([&] { (void)fg::avg_pool2d(x, 2, 1, 2); }), {"avg_pool2d", "half"});
  check_mentions(shape_error_of([&] { (void)fg::max_pool2d(x, 4); }), {"larger"});
}

TEST_CASE("pooling an empty batch gives an empty result") {
  fg::Tensor<double, 4> x(0, 2, 4, 4);
  x.requires_grad(true);
  fg::Tensor<double, 4> y = fg::max_pool2d(x, 2);
  CHECK(y.dimensions() == fg::Shape<4>{0, 2, 2, 2});
  fg::Tensor<double, 0> s = fg::sum(y);
  s.backward();
  CHECK(x.grad().size() == 0);
}
