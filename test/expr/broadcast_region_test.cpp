// Elementwise regions whose operands are stretched in ways a row-by-row sweep cannot
// read (expr/region.hpp, Expansion): every such region still takes the fused adjoint,
// reading those operands through copies stretched over the region and summing their
// gradients back. Each case is checked against central differences, in float and double.
#include <doctest/doctest.h>

#include <fusegrad/fusegrad.hpp>

#include "../support/gradient_check.hpp"

namespace fg = fusegrad;
using fg::testing::domain;
using fg::testing::expect_gradients_match_differences;
using fg::testing::random_tensor;

TEST_CASE_TEMPLATE("a column (3, 1) and a row (1, 4) stretched over each other get their gradients", S, float, double) {
  auto column = random_tensor<S, 2>({3, 1});
  auto row = random_tensor<S, 2>({1, 4});
  expect_gradients_match_differences(
      "exp(column) * sin(row) + column", [](const auto& c, const auto& r) { return fg::exp(c) * fg::sin(r) + c; },
      column, row);
}

TEST_CASE_TEMPLATE("a per-channel bias (C, 1, 1) over (B, C, H, W) gets its gradient", S, float, double) {
  auto x = random_tensor<S, 4>({2, 3, 4, 5});
  auto bias = random_tensor<S, 3>({3, 1, 1});
  expect_gradients_match_differences(
      "tanh(x + bias)", [](const auto& a, const auto& b) { return fg::tanh(a + b); }, x, bias);
}

TEST_CASE_TEMPLATE("a leaf read in full and stretched in the same region receives both contributions", S, float,
                   double) {
  auto x = random_tensor<S, 2>({3, 4});
  auto column = random_tensor<S, 2>({3, 1});
  // column is read through stretched copies, twice; x in full, twice.
  expect_gradients_match_differences(
      "x * column + sin(x) * square(column)",
      [](const auto& a, const auto& c) { return a * c + fg::sin(a) * fg::square(c); }, x, column);
}

TEST_CASE_TEMPLATE("short rows over many of them are read through a stretched copy", S, float, double) {
  // Rows of 3 elements, 40 of them: too short to sweep one by one.
  auto x = random_tensor<S, 2>({40, 3});
  auto bias = random_tensor<S, 1>({3});
  expect_gradients_match_differences(
      "exp(x * 0.5) * bias", [](const auto& a, const auto& b) { return fg::exp(a * S(0.5)) * b; }, x, bias);
}

TEST_CASE_TEMPLATE("operands with rows of two different lengths get their gradients", S, float, double) {
  auto x = random_tensor<S, 3>({2, 3, 4});
  auto rows = random_tensor<S, 1>({4});      // rows of 4
  auto planes = random_tensor<S, 2>({3, 4});  // rows of 12
  expect_gradients_match_differences(
      "x * rows + planes",
      [](const auto& a, const auto& r, const auto& p) { return a * r + fg::square(p); }, x, rows, planes);
}

TEST_CASE_TEMPLATE("an operand with every dimension of size 1 is stretched like a single value", S, float, double) {
  auto x = random_tensor<S, 2>({5, 7});
  auto one = random_tensor<S, 2>({1, 1});
  expect_gradients_match_differences(
      "x / (1 + square(one))", [](const auto& a, const auto& o) { return a / (S(1) + fg::square(o)); }, x, one);
}

TEST_CASE("a stored value below the region (a reduction kept as (3, 1)) is stretched and gets its gradient") {
  auto x = random_tensor<double, 2>({3, 4}, domain::positive);
  expect_gradients_match_differences(
      "x / sum(x, dims(1), keep_dims)",
      [](const auto& a) { return a / fg::sum(a, fg::dims(1), fg::keep_dims); }, x);
}

TEST_CASE("a stretched operand's gradient is added to the gradient it already has") {
  fg::Tensor<double, 2> column{{1.0}, {2.0}};
  column.requires_grad(true);
  fg::Tensor<double, 2> ones = fg::Tensor<double, 2>::ones(2, 3);
  fg::Tensor<double, 0> first = fg::sum(column * ones);
  first.backward();
  CHECK(column.grad()(0, 0) == 3.0);
  fg::Tensor<double, 2> y = column * ones * 2.0;
  y.backward();
  CHECK(column.grad()(0, 0) == 9.0);
  CHECK(column.grad()(1, 0) == 9.0);
}

TEST_CASE("a region with no elements leaves the gradients of its stretched operands as they were") {
  fg::Tensor<double, 2> column{{1.0}, {2.0}};
  column.requires_grad(true);
  fg::Tensor<double, 2> empty(2, 0);
  fg::Tensor<double, 2> y = column * empty;
  CHECK(y.dimensions() == fg::Shape<2>{2, 0});
  y.backward();
  CHECK(!column.has_grad());
  CHECK(column.grad()(1, 0) == 0.0);
}

TEST_CASE("a gradient is summed back over stretched dimensions that are neither all leading nor all trailing") {
  // (2, 1, 4) and (1, 3, 1) stretched over (2, 3, 4): the general path of sum_to_shape.
  fg::EigenTensor<double, 3> contribution(2, 3, 4);
  for (fg::Index i = 0; i < contribution.size(); ++i) contribution.data()[i] = double(i * i % 17) - 8.5;
  const fg::Shape<3> out{2, 3, 4};
  for (const fg::Shape<3>& kept : {fg::Shape<3>{2, 1, 4}, fg::Shape<3>{1, 3, 1}}) {
    const fg::EigenTensor<double, 3> summed = fg::expr::sum_to_shape<double, 3, 3>(contribution, kept, kept, out);
    REQUIRE(summed.dimension(0) == kept[0]);
    REQUIRE(summed.dimension(1) == kept[1]);
    REQUIRE(summed.dimension(2) == kept[2]);
    fg::EigenTensor<double, 3> expected(kept);
    expected.setZero();
    for (fg::Index i = 0; i < 2; ++i)
      for (fg::Index j = 0; j < 3; ++j)
        for (fg::Index k = 0; k < 4; ++k)
          expected(kept[0] == 1 ? 0 : i, kept[1] == 1 ? 0 : j, kept[2] == 1 ? 0 : k) += contribution(i, j, k);
    for (fg::Index e = 0; e < expected.size(); ++e) CHECK(summed.data()[e] == expected.data()[e]);
  }
}
