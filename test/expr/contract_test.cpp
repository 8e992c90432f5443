// Contractions: matmul (all its forms), tensordot, dot and outer, against central
// differences and closed forms, with broadcasting around them and reuse inside them.
#include "../support/gradient_check.hpp"

namespace fg = fusegrad;
using fg::testing::random_tensor;

TEST_CASE("matmul computes the matrix product") {
  fg::Tensor<double, 2> a{{1, 2, 3}, {4, 5, 6}};
  fg::Tensor<double, 2> b{{1, 0}, {0, 1}, {2, -1}};
  fg::Tensor<double, 2> c = fg::matmul(a, b);
  CHECK(c.dimensions() == fg::Shape<2>{2, 2});
  CHECK(c(0, 0) == 7.0);
  CHECK(c(0, 1) == -1.0);
  CHECK(c(1, 0) == 16.0);
  CHECK(c(1, 1) == -1.0);
}

TEST_CASE("the gradient of sum(A B) is 1 B^T for A and A^T 1 for B") {
  auto a = random_tensor<double, 2>({3, 5});
  auto b = random_tensor<double, 2>({5, 4});
  fg::Tensor<double, 0> loss = fg::sum(fg::matmul(a, b));
  loss.backward();
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 5; ++k) {
      double expected = 0;
      for (int j = 0; j < 4; ++j) expected += b(k, j);
      CHECK(a.grad()(i, k) == doctest::Approx(expected));
    }
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < 4; ++j) {
      double expected = 0;
      for (int i = 0; i < 3; ++i) expected += a(i, k);
      CHECK(b.grad()(k, j) == doctest::Approx(expected));
    }
}

TEST_CASE("matmul gradients match central differences for matrix, vector and batched forms") {
  auto f = [](const auto& x, const auto& y) { return fg::matmul(x, y); };
  fg::testing::expect_gradients_match_differences("matmul 2x2", f, random_tensor<double, 2>({3, 4}),
                                                  random_tensor<double, 2>({4, 2}));
  fg::testing::expect_gradients_match_differences("matmul 2x1", f, random_tensor<double, 2>({3, 4}),
                                                  random_tensor<double, 1>({4}));
  fg::testing::expect_gradients_match_differences("matmul 1x2", f, random_tensor<double, 1>({3}),
                                                  random_tensor<double, 2>({3, 5}));
  fg::testing::expect_gradients_match_differences("matmul batched", f, random_tensor<double, 3>({2, 3, 4}),
                                                  random_tensor<double, 3>({2, 4, 5}));
  fg::testing::expect_gradients_match_differences("matmul float", f, random_tensor<float, 2>({3, 4}),
                                                  random_tensor<float, 2>({4, 2}));
}

TEST_CASE("tensordot contracts any listed pairs and returns gradients in each operand's order") {
  fg::testing::expect_gradients_match_differences(
      "tensordot two pairs", [](const auto& x, const auto& y) { return fg::tensordot(x, y, {{1, 0}, {2, 1}}); },
      random_tensor<double, 3>({2, 3, 4}), random_tensor<double, 2>({3, 4}));
  fg::testing::expect_gradients_match_differences(
      "tensordot crossed", [](const auto& x, const auto& y) { return fg::tensordot(x, y, {{0, 2}, {2, 0}}); },
      random_tensor<double, 3>({2, 3, 4}), random_tensor<double, 3>({4, 5, 2}));
  fg::testing::expect_gradients_match_differences(
      "tensordot right-first", [](const auto& x, const auto& y) { return fg::tensordot(x, y, {{0, 1}}); },
      random_tensor<double, 2>({3, 2}), random_tensor<double, 3>({2, 3, 4}));
}

TEST_CASE_TEMPLATE("a tensordot that reorders its operands adds their gradients to those they already have", S,
                   double, float) {
  // Both products copy x and y into the order of a matrix product (neither contracts
  // x's leading dimensions last), and the second adds its gradient to the first's.
  fg::testing::expect_gradients_match_differences(
      "tensordot reordered twice",
      [](const auto& x, const auto& y) {
        return fg::tensordot(x, y, {{0, 2}, {2, 0}}) * fg::tensordot(x, y, {{2, 0}, {0, 2}});
      },
      random_tensor<S, 3>({2, 3, 4}), random_tensor<S, 3>({4, 5, 2}));
}

TEST_CASE("dot and outer products have the other operand as gradient") {
  auto u = random_tensor<double, 1>({4});
  auto v = random_tensor<double, 1>({4});
  fg::testing::expect_gradients_match_differences("dot", [](const auto& x, const auto& y) { return fg::dot(x, y); }, u, v);
  fg::testing::expect_gradients_match_differences("outer", [](const auto& x, const auto& y) { return fg::outer(x, y); },
                                                  u, random_tensor<double, 1>({3}));
  u.zero_grad();
  fg::Tensor<double, 0> d = fg::dot(u, v);
  d.backward();
  for (int i = 0; i < 4; ++i) CHECK(u.grad()(i) == doctest::Approx(v(i)));
}

TEST_CASE("contractions compose with broadcasting and elementwise maps, and an operand may be reused") {
  fg::testing::expect_gradients_match_differences(
      "layer", [](const auto& x, const auto& w, const auto& b) { return fg::tanh(fg::matmul(x, w) + b); },
      random_tensor<double, 2>({4, 3}), random_tensor<double, 2>({3, 5}), random_tensor<double, 1>({5}));
  fg::testing::expect_gradients_match_differences(
      "A A", [](const auto& a) { return fg::matmul(a, a) * a; }, random_tensor<double, 2>({3, 3}));
  fg::testing::expect_gradients_match_differences(
      "expression operands",
      [](const auto& a, const auto& b) { return fg::matmul(fg::exp(a) * 0.5, fg::sin(b) + 1.0); },
      random_tensor<double, 2>({2, 3}), random_tensor<double, 2>({3, 2}));
}

TEST_CASE("a contraction of mismatched dimensions throws shape_error naming both shapes") {
  auto a = random_tensor<double, 2>({3, 4});
  auto b = random_tensor<double, 2>({5, 2});
  try {
    fg::Tensor<double, 2> c = fg::matmul(a, b);
    FAIL("no exception");
  } catch (const fg::shape_error& e) {
    const std::string what = e.what();
    CHECK(what.find("matmul") != std::string::npos);
    CHECK(what.find("(3, 4)") != std::string::npos);
    CHECK(what.find("(5, 2)") != std::string::npos);
  }
}

TEST_CASE("matmul with transposed operands equals the product of the transposes") {
  auto a = fg::testing::random_tensor<double, 2>({4, 3});
  auto b = fg::testing::random_tensor<double, 2>({5, 4});
  fg::Tensor<double, 2> c = fg::matmul(fg::transpose(a), fg::transpose(b));
  CHECK(c.dimensions() == fg::Shape<2>{3, 5});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) {
      double expected = 0;
      for (int k = 0; k < 4; ++k) expected += a(k, i) * b(j, k);
      CHECK(c(i, j) == doctest::Approx(expected));
    }
  fg::testing::expect_gradients_match_differences(
      "x W^T", [](const auto& x, const auto& w) { return fg::matmul(x, fg::transpose(w)); },
      fg::testing::random_tensor<double, 2>({3, 4}), fg::testing::random_tensor<double, 2>({2, 4}));
  fg::testing::expect_gradients_match_differences(
      "A^T v", [](const auto& m, const auto& v) { return fg::matmul(fg::transpose(m), v); },
      fg::testing::random_tensor<double, 2>({3, 4}), fg::testing::random_tensor<double, 1>({3}));
}

TEST_CASE("a scaled full sum of a product with transposed and vector operands, run twice, adds its row and column sums") {
  auto at = random_tensor<double, 2>({5, 3});  // used as A = at^T, 3 x 5
  auto b = random_tensor<double, 2>({5, 4});
  auto u = random_tensor<double, 1>({5});
  auto v = random_tensor<double, 1>({4});
  for (int pass = 1; pass <= 2; ++pass) {
    fg::Tensor<double, 0> loss = 2.0 * fg::sum(fg::matmul(fg::transpose(at), b)) + 3.0 * fg::sum(fg::matmul(u, b)) +
                                 0.5 * fg::sum(fg::matmul(b, v));
    loss.backward();
    for (int k = 0; k < 5; ++k)
      for (int i = 0; i < 3; ++i) {
        double row = 0;
        for (int j = 0; j < 4; ++j) row += b(k, j);
        CHECK(at.grad()(k, i) == doctest::Approx(pass * 2 * row));
      }
    for (int k = 0; k < 5; ++k) {
      double a_column = 0, row = 0;
      for (int i = 0; i < 3; ++i) a_column += at(k, i);
      for (int j = 0; j < 4; ++j) row += b(k, j);
      CHECK(u.grad()(k) == doctest::Approx(pass * 3 * row));
      for (int j = 0; j < 4; ++j)
        CHECK(b.grad()(k, j) == doctest::Approx(pass * (2 * a_column + 3 * u(k) + 0.5 * v(j))));
    }
    for (int j = 0; j < 4; ++j) {
      double column = 0;
      for (int k = 0; k < 5; ++k) column += b(k, j);
      CHECK(v.grad()(j) == doctest::Approx(pass * 0.5 * column));
    }
  }
}

// Products whose sizes add up to 20 or more run on Eigen's matrix-matrix product, smaller
// ones on a plain loop (expr/matrix_product.hpp); both, with = and += into a gradient
// (an operand used twice), and with transposed operands.
TEST_CASE("matmul gradients match central differences on both sides of the small-product bound") {
  const auto f = [](const auto& a, const auto& b, const auto& c) {
    return fg::matmul(a, b) + fg::matmul(a, fg::transpose(c)) + fg::matmul(fg::transpose(fg::transpose(a)), b);
  };
  for (const fg::Index scale : {1, 4}) {
    INFO("scale ", scale);
    const fg::Index m = 2 * scale + 1, k = 3 * scale, n = 2 * scale;  // m + k + n: 8, then 29
    fg::testing::expect_gradients_match_differences("matmul reused", f, random_tensor<double, 2>({m, k}),
                                                    random_tensor<double, 2>({k, n}), random_tensor<double, 2>({n, k}));
  }
  auto a = random_tensor<double, 2>({9, 7}), b = random_tensor<double, 2>({7, 8});
  fg::Tensor<double, 2> product = fg::matmul(a, b);
  for (fg::Index i = 0; i < 9; ++i)
    for (fg::Index j = 0; j < 8; ++j) {
      double expected = 0;
      for (fg::Index l = 0; l < 7; ++l) expected += a(i, l) * b(l, j);
      CHECK(product(i, j) == doctest::Approx(expected).epsilon(1e-14));
    }
}

namespace {

// Entry (i, j) of a test matrix of extreme values: mostly ordinary numbers, with -0, a
// subnormal, NaN, +inf and (in `b`) a large finite value at fixed places.
template <class S>
S extreme_entry(bool is_b, fg::Index i, fg::Index j) {
  using L = std::numeric_limits<S>;
  if (!is_b && i == 0 && j == 1) return L::quiet_NaN();
  if (!is_b && i == 1 && j == 0) return L::infinity();
  if (!is_b && i == 0 && j == 0) return S(-0.0);
  if (is_b && i == 0 && j == 0) return L::denorm_min();
  if (is_b && i == 2 && j == 1) return L::max() / S(8);
  return S(0.25 + 0.125 * double((3 * i + 5 * j) % 11));
}

// got against sum_k a(i, k) b(k, j) in double: the same NaN, the same infinity, else
// within rounding of the sum of |terms| (and of products to subnormals).
template <class S>
void expect_product(const char* what, double got, const std::vector<double>& terms) {
  double sum = 0, magnitude = 0;
  for (double t : terms) sum += t, magnitude += std::abs(t);
  INFO(what, ": got ", got, ", expected ", sum);
  if (std::isnan(sum)) {
    CHECK(std::isnan(got));
  } else if (std::isinf(sum)) {
    CHECK(got == sum);
  } else {
    // Rounding of the sum, and of each product to S's subnormal spacing.
    const double tolerance = (std::is_same_v<S, float> ? 1e-6 : 1e-14) * magnitude +
                             double(terms.size()) * double(std::numeric_limits<S>::denorm_min());
    CHECK(std::abs(got - sum) <= tolerance);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("matrix products and their gradients carry -0, subnormals, large values, inf and NaN", S, double,
                   float) {
  // 2x3 by 3x2 takes the plain loop, 8x9 by 9x7 the matrix kernel, 12x9 by a vector the
  // matrix-vector kernel, and a dot product of 25 elements the inner product.
  const std::array<std::array<fg::Index, 3>, 4> sizes{{{2, 3, 2}, {8, 9, 7}, {12, 9, 1}, {1, 25, 1}}};
  for (const auto& [m, k, n] : sizes) {
    CAPTURE(m);
    CAPTURE(k);
    fg::EigenTensor<S, 2> a(m, k), b(k, n), w(m, n);
    for (fg::Index i = 0; i < m; ++i)
      for (fg::Index j = 0; j < k; ++j) a(i, j) = extreme_entry<S>(false, i, j);
    for (fg::Index i = 0; i < k; ++i)
      for (fg::Index j = 0; j < n; ++j) b(i, j) = extreme_entry<S>(true, i, j);
    for (fg::Index i = 0; i < m; ++i)
      for (fg::Index j = 0; j < n; ++j) w(i, j) = S(0.5 + 0.25 * double((i + 2 * j) % 5));
    fg::Tensor<S, 2> ta(a), tb(b);
    ta.requires_grad(true);
    tb.requires_grad(true);
    fg::Tensor<S, 2> c = fg::matmul(ta, tb);
    c.backward(w);
    for (fg::Index i = 0; i < m; ++i)
      for (fg::Index j = 0; j < n; ++j) {
        std::vector<double> terms;
        for (fg::Index q = 0; q < k; ++q) terms.push_back(double(a(i, q)) * double(b(q, j)));
        expect_product<S>("A B", double(c.value()(i, j)), terms);
      }
    for (fg::Index i = 0; i < m; ++i)  // dA = W B^T
      for (fg::Index q = 0; q < k; ++q) {
        std::vector<double> terms;
        for (fg::Index j = 0; j < n; ++j) terms.push_back(double(w(i, j)) * double(b(q, j)));
        expect_product<S>("dA", double(ta.grad()(i, q)), terms);
      }
    for (fg::Index q = 0; q < k; ++q)  // dB = A^T W
      for (fg::Index j = 0; j < n; ++j) {
        std::vector<double> terms;
        for (fg::Index i = 0; i < m; ++i) terms.push_back(double(a(i, q)) * double(w(i, j)));
        expect_product<S>("dB", double(tb.grad()(q, j)), terms);
      }
    if (n == 1 && m == 1) {  // the same numbers as a dot product of two vectors
      fg::Tensor<S, 1> u(fg::EigenTensor<S, 1>(a.reshape(fg::Shape<1>{k}))), v(fg::EigenTensor<S, 1>(b.reshape(fg::Shape<1>{k})));
      fg::Tensor<S, 0> d = fg::dot(u, v);
      std::vector<double> terms;
      for (fg::Index q = 0; q < k; ++q) terms.push_back(double(a(0, q)) * double(b(q, 0)));
      expect_product<S>("dot", double(d.item()), terms);
    }
  }
}
