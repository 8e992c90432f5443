// Eigen matrices enter expressions as constants in place, and tensors' storage leaves
// as Eigen::Map matrices in place.
#include "../support/gradient_check.hpp"

namespace fg = fusegrad;

TEST_CASE("a column-major Eigen::Matrix enters an expression with M(i, j) at position (i, j)") {
  Eigen::MatrixXd m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  auto x = fg::testing::random_tensor<double, 2>({2, 3});
  fg::Tensor<double, 2> y = x * fg::constant(m);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) CHECK(y(i, j) == doctest::Approx(x(i, j) * m(i, j)));
  fg::Tensor<double, 0> loss = fg::sum(fg::tanh(x) * 0.0 + x * fg::constant(m));
  loss.backward();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) CHECK(x.grad()(i, j) == doctest::Approx(m(i, j)));
}

TEST_CASE("a row-major matrix, a vector and a Map enter expressions without copies") {
  fg::RowMajorMatrix<double> r(2, 2);
  r << 1, 2, 3, 4;
  Eigen::VectorXd v(2);
  v << 10, 20;
  std::vector<double> storage{1, 2, 3, 4, 5, 6};
  Eigen::Map<Eigen::MatrixXd> map(storage.data(), 3, 2);  // column-major 3 x 2
  fg::Tensor<double, 2> a = fg::constant(r) + fg::constant(v);
  CHECK(a(0, 0) == 11.0);
  CHECK(a(1, 1) == 24.0);
  fg::Tensor<double, 2> b = fg::constant(map) * 1.0;
  CHECK(b(2, 0) == 3.0);
  CHECK(b(0, 1) == 4.0);
  storage[0] = 100;  // read in place: the next evaluation sees the change
  fg::Tensor<double, 2> c = fg::constant(map) * 1.0;
  CHECK(c(0, 0) == 100.0);
}

TEST_CASE("a rank-2 tensor's value and gradient are viewed as Eigen matrices in place") {
  fg::Tensor<double, 2> w{{1, 2, 3}, {4, 5, 6}};
  w.requires_grad(true);
  fg::Tensor<double, 0> loss = fg::sum(fg::square(w));
  loss.backward();
  auto value = fg::as_matrix(w.value());
  auto gradient = fg::as_matrix(w.grad());
  CHECK(value.data() == w.value().data());
  CHECK(value(1, 2) == 6.0);
  CHECK(gradient(1, 0) == 8.0);
  fg::as_matrix(w.mutable_value())(0, 0) = -1;
  CHECK(w(0, 0) == -1.0);
}
