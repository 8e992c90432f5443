// Operands stretched along leading dimensions (a bias over a batch) inside a fused
// region: the region is swept a row at a time, each row reading the operand's row and
// adding into its gradient (expr/lanes.hpp, RegionLayout). Gradients against central
// differences, through a statement's backward and through a full sum computed with its
// gradients, for leaves and stored values, ranks 2 and 3, rows shorter and longer than a
// SIMD packet, and single-element rows.
#include "../support/gradient_check.hpp"

namespace fg = fusegrad;
using fg::Index;

namespace {

template <class S, int R, int B>
void check_bias(const char* name, const fg::Shape<R>& x_shape, const fg::Shape<B>& bias_shape) {
  auto x = fg::testing::random_tensor<S, R>(x_shape);
  auto b = fg::testing::random_tensor<S, B>(bias_shape);
  INFO(name);
  // A statement's backward: the upstream gradient is a tensor of the region's shape.
  fg::testing::expect_gradients_match_differences(
      name, [](const auto& xs, const auto& bs) { return fg::tanh(xs * S(0.5) + bs); }, x, b);
  // A full sum with its gradients, the bias used twice.
  fg::testing::expect_gradients_match_differences(
      name, [](const auto& xs, const auto& bs) { return fg::sum(fg::square(xs * bs + bs) - xs); }, x, b);
}

}  // namespace

TEST_CASE("a bias stretched over a batch gets the batch's summed gradient, for rows of every length") {
  check_bias<double, 2, 1>("rows of 16", {4, 16}, {16});
  check_bias<double, 2, 1>("rows of 17 (a SIMD tail per row)", {3, 17}, {17});
  check_bias<double, 2, 1>("rows of 3 (tail only)", {5, 3}, {3});
  check_bias<double, 2, 1>("rows of one element", {4, 1}, {1});
  check_bias<double, 2, 1>("many rows of one element (not swept by rows)", {20, 1}, {1});
  check_bias<double, 2, 2>("a bias of shape (1, h)", {3, 9}, {1, 9});
  check_bias<double, 3, 2>("a rank-3 batch with a matrix bias", {2, 3, 4}, {3, 4});
  check_bias<float, 2, 1>("float rows of 16", {4, 16}, {16});
}

TEST_CASE("a computed row operand passes its summed gradient on to what it was computed from") {
  auto x = fg::testing::random_tensor<double, 2>({3, 10});
  auto v = fg::testing::random_tensor<double, 1>({4});
  auto m = fg::testing::random_tensor<double, 2>({4, 10});
  // matmul(v, m) is a stored vector of 10, stretched over the 3 rows of x.
  fg::testing::expect_gradients_match_differences(
      "bias from a product", [](const auto& xs, const auto& vs, const auto& ms) {
        return fg::tanh(xs + fg::matmul(vs, ms));
      },
      x, v, m);
  fg::testing::expect_gradients_match_differences(
      "bias from a product, summed",
      // (exponents kept small: a sum of large exponentials makes the differences noisy)
      [](const auto& xs, const auto& vs, const auto& ms) { return fg::sum(fg::exp((xs - fg::matmul(vs, ms)) * 0.25)); },
      x, v, m);
}

TEST_CASE("a row operand adds to a gradient from an earlier backward") {
  auto x = fg::testing::random_tensor<double, 2>({2, 5});
  auto b = fg::testing::random_tensor<double, 1>({5});
  fg::Tensor<double, 0> first = fg::sum(x + b);
  first.backward();
  fg::Tensor<double, 0> second = fg::sum(fg::tanh(x) * b);
  second.backward();
  for (Index j = 0; j < 5; ++j) {
    double expected = 2;  // d sum(x + b) / d b_j: two rows
    for (Index i = 0; i < 2; ++i) expected += std::tanh(x.value()(i, j));
    CHECK(b.grad()(j) == doctest::Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("a statement with a bias over a batch evaluates row by row to the broadcast values") {
  auto x = fg::testing::random_tensor<double, 2>({3, 19});
  auto b = fg::testing::random_tensor<double, 1>({19});
  fg::Tensor<double, 2> h = fg::tanh(x * 0.5 + b);
  auto xf = fg::testing::random_tensor<float, 2>({4, 1});
  auto bf = fg::testing::random_tensor<float, 1>({1});
  fg::Tensor<float, 2> hf = fg::exp(xf - bf);
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 19; ++j) CHECK(h(i, j) == doctest::Approx(std::tanh(x(i, j) * 0.5 + b(j))).epsilon(1e-14));
  for (Index i = 0; i < 4; ++i) CHECK(hf(i, 0) == doctest::Approx(std::exp(xf(i, 0) - bf(0))).epsilon(1e-6));
}

TEST_CASE("forward mode through a bias over a batch gives the broadcast tangents") {
  // d/dt tanh((x + t v) + b): tangent (1 - tanh^2) v, row by row on dual numbers.
  auto x = fg::testing::random_tensor<double, 2>({2, 11});
  auto b = fg::testing::random_tensor<double, 1>({11});
  fg::EigenTensor<double, 2> v(2, 11);
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 11; ++j) v(i, j) = std::cos(double(i * 11 + j));
  const auto [value, tangent] = fg::jvp([&b](const auto& xs) { return fg::tanh(xs + b); }, x, v);
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 11; ++j) {
      const double y = std::tanh(x(i, j) + b(j));
      CHECK(value(i, j) == doctest::Approx(y).epsilon(1e-14));
      CHECK(tangent(i, j) == doctest::Approx((1 - y * y) * v(i, j)).epsilon(1e-13));
    }
}
