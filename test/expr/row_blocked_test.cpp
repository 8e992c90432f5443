// A matrix product inside a full sum that wants its right operand's gradient is computed
// a block of rows at a time during the sum's pass, and that gradient gathered from the
// same blocks (expr/lanes.hpp, row_blocked). The matrices here are above the size where
// blocking starts (256 KB), with row counts that are not multiples of a block or of a
// SIMD packet. Each result is checked against the same program split into statements
// (where nothing is blocked) and, for least squares, against its closed form.
#include "../support/gradient_check.hpp"

namespace fg = fusegrad;
using fg::testing::random_tensor;

namespace {

// A copy of `t` as a new leaf that requires a gradient.
template <class S, int R>
fg::Tensor<S, R> leaf_copy(const fg::Tensor<S, R>& t) {
  fg::Tensor<S, R> copy(fg::EigenTensor<S, R>(t.value()));
  copy.requires_grad(true);
  return copy;
}

template <class S, int R>
void check_close(const fg::Tensor<S, R>& actual, const fg::Tensor<S, R>& expected, const char* what) {
  INFO(what);
  REQUIRE(actual.grad().size() == expected.grad().size());
  double scale = 0;
  for (fg::Index i = 0; i < expected.grad().size(); ++i) scale = std::max(scale, std::abs(double(expected.grad().data()[i])));
  for (fg::Index i = 0; i < expected.grad().size(); ++i)
    CHECK(double(actual.grad().data()[i]) == doctest::Approx(double(expected.grad().data()[i])).epsilon(1e-12).scale(scale));
}

}  // namespace

TEST_CASE("least squares summed over a blocked matrix-vector product has the closed-form gradient") {
  const fg::Index m = 1003, p = 100;  // 800 KB, 32-row blocks, a last partial block and a SIMD tail
  auto X = random_tensor<double, 2>({m, p});
  auto w = random_tensor<double, 1>({p});
  auto y = random_tensor<double, 1>({m});
  X.requires_grad(false), y.requires_grad(false);
  fg::Tensor<double, 0> loss = fg::sum(fg::square(fg::matmul(X, w) - y));
  loss.backward();

  Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> Xm(X.data(), m, p);
  Eigen::Map<const Eigen::VectorXd> wv(w.data(), p), yv(y.data(), m);
  const Eigen::VectorXd r = Xm * wv - yv;
  const Eigen::VectorXd expected = 2.0 * Xm.transpose() * r;
  CHECK(loss.item() == doctest::Approx(r.squaredNorm()).epsilon(1e-12));
  for (fg::Index k = 0; k < p; ++k) CHECK(w.grad()(k) == doctest::Approx(expected[k]).epsilon(1e-11));
}

TEST_CASE("a blocked product gives both operands the gradients of the unblocked program") {
  const fg::Index m = 1003, p = 100;
  auto X = random_tensor<double, 2>({m, p});
  auto w = random_tensor<double, 1>({p});
  auto y = random_tensor<double, 1>({m});
  auto X2 = leaf_copy(X);
  auto w2 = leaf_copy(w), y2 = leaf_copy(y);

  fg::Tensor<double, 0> blocked = fg::mean(fg::tanh(fg::matmul(X, w) * y));
  blocked.backward();
  fg::Tensor<double, 1> product = fg::matmul(X2, w2);  // a statement of its own: not blocked
  fg::Tensor<double, 0> split = fg::mean(fg::tanh(product * y2));
  split.backward();

  CHECK(blocked.item() == doctest::Approx(split.item()).epsilon(1e-13));
  check_close(X, X2, "X");
  check_close(w, w2, "w");
  check_close(y, y2, "y");
}

TEST_CASE("a blocked matrix-matrix product used twice in the sum, scaled afterwards, matches the unblocked program") {
  const fg::Index m = 501, k = 80, n = 3;  // A is 320 KB: 32-row blocks of 3 elements per row
  auto A = random_tensor<double, 2>({m, k});
  auto B = random_tensor<double, 2>({k, n});
  auto C = random_tensor<double, 2>({m, n});
  A.requires_grad(false), C.requires_grad(false);
  auto B2 = leaf_copy(B);

  const auto product = fg::matmul(A, B);
  fg::Tensor<double, 0> blocked = 3.0 * fg::sum(fg::square(product - C) + fg::sin(product));
  blocked.backward();
  fg::Tensor<double, 2> evaluated = fg::matmul(A, B2);
  fg::Tensor<double, 0> split = 3.0 * fg::sum(fg::square(evaluated - C) + fg::sin(evaluated));
  split.backward();

  CHECK(blocked.item() == doctest::Approx(split.item()).epsilon(1e-13));
  check_close(B, B2, "B");
}

TEST_CASE("a second backward through a blocked product (retain_graph) gives the same gradient again") {
  const fg::Index m = 700, p = 64;  // 350 KB
  auto X = random_tensor<double, 2>({m, p});
  auto w = random_tensor<double, 1>({p});
  X.requires_grad(false);
  fg::Tensor<double, 0> loss = fg::sum(fg::square(fg::matmul(X, w)));
  loss.backward(fg::retain_graph);
  const fg::EigenTensor<double, 1> first = w.grad();
  w.zero_grad();
  loss.backward();
  for (fg::Index i = 0; i < p; ++i) CHECK(w.grad()(i) == doctest::Approx(first(i)).epsilon(1e-13));
}
