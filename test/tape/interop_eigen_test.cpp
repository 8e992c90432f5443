// Eigen types both ways: Tensors built from dense Eigen matrices and vectors (any layout,
// strides, expressions), values and gradients copied out as Eigen::Matrix and
// column-major Eigen::Tensor, and writable views for optimizers that update in place.
#include <fusegrad/fusegrad.hpp>

#include <doctest/doctest.h>

#include <string>
#include <type_traits>

namespace fg = fusegrad;

namespace {

template <class S>
using MatrixX = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using VectorX = Eigen::Matrix<S, Eigen::Dynamic, 1>;

// 3 x 4 with element (i, j) = 10 i + j, so a transposed or reordered copy shows.
template <class S>
MatrixX<S> numbered(Eigen::Index rows = 3, Eigen::Index cols = 4) {
  MatrixX<S> m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = S(10 * i + j);
  return m;
}

template <class S, class Dense>
void check_same_elements(const fg::Tensor<S, 2>& t, const Dense& m) {
  REQUIRE(t.dimension(0) == m.rows());
  REQUIRE(t.dimension(1) == m.cols());
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) CHECK(t(i, j) == m(i, j));
}

}  // namespace

TEST_CASE_TEMPLATE("a Tensor of rank 2 from a column-major matrix keeps element (i, j) at (i, j)", S, float, double) {
  const MatrixX<S> m = numbered<S>();
  fg::Tensor<S, 2> t(m);
  check_same_elements(t, m);
  fg::Tensor<S, 2> assigned = m;  // copy-initialisation works too
  check_same_elements(assigned, m);
}

TEST_CASE_TEMPLATE("a Tensor of rank 2 from a row-major matrix keeps element (i, j) at (i, j)", S, float, double) {
  const fg::RowMajorMatrix<S> m = numbered<S>();
  fg::Tensor<S, 2> t(m);
  check_same_elements(t, m);
}

TEST_CASE_TEMPLATE("a Tensor of rank 2 from a block of a larger matrix reads through its strides", S, float, double) {
  const MatrixX<S> big = numbered<S>(5, 6);
  fg::Tensor<S, 2> block(big.block(1, 2, 3, 2));
  check_same_elements(block, big.block(1, 2, 3, 2));
  CHECK(block(0, 0) == S(12));
  CHECK(block(2, 1) == S(33));

  // A Map with an outer stride over the same storage: rows 1-3, columns 2-3.
  Eigen::Map<const MatrixX<S>, 0, Eigen::OuterStride<>> map(big.data() + 1 + 2 * 5, 3, 2, Eigen::OuterStride<>(5));
  fg::Tensor<S, 2> mapped(map);
  check_same_elements(mapped, big.block(1, 2, 3, 2));

  // Every other column, through an inner and outer stride.
  Eigen::Map<const MatrixX<S>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> strided(
      big.data(), 5, 3, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(10, 1));
  fg::Tensor<S, 2> every_other(strided);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 3; ++j) CHECK(every_other(i, j) == big(i, 2 * j));
}

TEST_CASE_TEMPLATE("a Tensor of rank 2 from an Eigen expression evaluates it", S, float, double) {
  const MatrixX<S> a = numbered<S>();
  fg::Tensor<S, 2> doubled(a * S(2));
  check_same_elements(doubled, MatrixX<S>(a * S(2)));
  fg::Tensor<S, 2> transposed(a.transpose());
  REQUIRE(transposed.dimension(0) == 4);
  CHECK(transposed(3, 2) == a(2, 3));
}

TEST_CASE_TEMPLATE("a Tensor of rank 2 from a column vector is one column", S, float, double) {
  VectorX<S> v(3);
  v << 1, 2, 3;
  fg::Tensor<S, 2> t(v);
  CHECK(t.dimensions() == fg::Shape<2>{3, 1});
  CHECK(t(2, 0) == S(3));
}

TEST_CASE_TEMPLATE("a Tensor of rank 1 from a vector, a row vector, a Map or a matrix row keeps the order", S, float,
                   double) {
  VectorX<S> v(4);
  v << 1, 2, 3, 4;
  fg::Tensor<S, 1> from_vector(v);
  REQUIRE(from_vector.size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(from_vector(i) == v(i));

  fg::Tensor<S, 1> from_row(v.transpose());
  for (int i = 0; i < 4; ++i) CHECK(from_row(i) == v(i));

  S storage[6] = {1, 2, 3, 4, 5, 6};
  Eigen::Map<const VectorX<S>, 0, Eigen::InnerStride<2>> odd(storage, 3);
  fg::Tensor<S, 1> from_map(odd);
  CHECK(from_map(0) == S(1));
  CHECK(from_map(1) == S(3));
  CHECK(from_map(2) == S(5));

  const MatrixX<S> m = numbered<S>();
  fg::Tensor<S, 1> row(m.row(2));
  for (int j = 0; j < 4; ++j) CHECK(row(j) == m(2, j));
  fg::Tensor<S, 1> column(m.col(1) + m.col(0));
  for (int i = 0; i < 3; ++i) CHECK(column(i) == m(i, 1) + m(i, 0));
}

// A segment is a VectorBlock, whose DenseBase is that of the Block it derives from.
TEST_CASE_TEMPLATE("a Tensor of rank 1 or 2 from a segment, head or tail of a vector reads those elements", S, float,
                   double) {
  VectorX<S> v(5);
  v << 1, 2, 3, 4, 5;
  fg::Tensor<S, 1> segment = v.segment(1, 3);
  REQUIRE(segment.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(segment(i) == v(i + 1));
  fg::Tensor<S, 1> head(v.head(2));
  CHECK(head(1) == S(2));
  fg::Tensor<S, 2> tail(v.tail(2));
  REQUIRE(tail.dimension(0) == 2);
  CHECK(tail(1, 0) == S(5));
  fg::Tensor<S, 1> empty(v.segment(2, 0));
  CHECK(empty.size() == 0);
}

TEST_CASE("a Tensor of rank 1 from a matrix with more than one row and column is a shape error") {
  const MatrixX<double> m = numbered<double>();
  auto make_vector = [&] { return fg::Tensor<double, 1>(m); };
  CHECK_THROWS_WITH_AS(make_vector(), "fusegrad: Tensor<S, 1> from an Eigen matrix: a 3 x 4 matrix is not a vector",
                       fg::shape_error);
  MatrixX<double> one_column = numbered<double>(3, 1);
  fg::Tensor<double, 1> fine(one_column);
  CHECK(fine(2) == 20.0);
}

TEST_CASE("a Tensor built from an Eigen matrix is a leaf that can take a gradient") {
  fg::Tensor<double, 2> w(numbered<double>());
  w.requires_grad(true);
  fg::Tensor<double, 0> loss = fg::sum(fg::square(w));
  loss.backward();
  CHECK(w.grad()(2, 3) == 2.0 * 23);
}

TEST_CASE_TEMPLATE("to_matrix and to_vector copy a value or gradient out with (i, j) kept", S, float, double) {
  fg::Tensor<S, 2> w(numbered<S>());
  w.requires_grad(true);
  fg::Tensor<S, 0> loss = fg::sum(w * w);
  loss.backward();
  const MatrixX<S> value = fg::to_matrix(w.value());
  const MatrixX<S> gradient = fg::to_matrix(w.grad());
  CHECK(value == numbered<S>());
  CHECK(gradient == numbered<S>() * S(2));
  static_assert(std::is_same_v<decltype(fg::to_matrix(w.value())), MatrixX<S>>);

  fg::Tensor<S, 1> x{1, 2, 3};
  const VectorX<S> copied = fg::to_vector(x.value());
  CHECK(copied(2) == S(3));
  x.mutable_value()(2) = 7;
  CHECK(copied(2) == S(3));  // a copy, not a view
}

TEST_CASE_TEMPLATE("to_col_major copies a value or gradient into a column-major Eigen::Tensor with the same indices", S,
                   float, double) {
  fg::Tensor<S, 3> x = fg::Tensor<S, 3>::random(2, 3, 4);
  x.requires_grad(true);
  fg::Tensor<S, 0> loss = fg::sum(x * x);
  loss.backward();
  Eigen::Tensor<S, 3> value = fg::to_col_major(x.value());  // the failing assignment
  Eigen::Tensor<S, 3> gradient = fg::to_col_major(x.grad());
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) {
        CHECK(value(i, j, k) == x(i, j, k));
        CHECK(gradient(i, j, k) == x.grad()(i, j, k));
      }
  fg::Tensor<S, 1> v{1, 2, 3};
  Eigen::Tensor<S, 1> column = fg::to_col_major(v.value());
  CHECK(column(2) == S(3));
}

TEST_CASE("a column-major copy goes back into a Tensor unchanged") {
  fg::Tensor<double, 2> w(numbered<double>());
  fg::Tensor<double, 2> again(fg::to_col_major(w.value()));
  check_same_elements(again, numbered<double>());
  fg::Tensor<double, 2> from_matrix(fg::to_matrix(w.value()));
  check_same_elements(from_matrix, numbered<double>());
}

TEST_CASE_TEMPLATE("a writable view of a leaf's value updates it in place, as a third-party optimizer does", S, float,
                   double) {
  fg::Tensor<S, 2> w(numbered<S>());
  w.requires_grad(true);
  fg::Tensor<S, 1> b{1, 2, 3};
  b.requires_grad(true);
  fg::Tensor<S, 0> loss = fg::sum(fg::matmul(w, fg::Tensor<S, 1>{1, 1, 1, 1}) * b);
  loss.backward();

  // One gradient step through views, as an optimizer that takes Eigen::Ref would.
  auto w_view = fg::as_matrix(w.mutable_value());
  auto b_view = fg::as_vector(b.mutable_value());
  Eigen::Ref<fg::RowMajorMatrix<S>> as_ref = w_view;  // binds without a copy
  CHECK(as_ref.data() == w.data());
  w_view -= S(0.5) * fg::as_matrix(w.grad());
  b_view -= S(0.5) * fg::as_vector(b.grad());
  CHECK(w_view.data() == w.data());
  CHECK(w(2, 3) == S(23) - S(0.5) * S(3));  // d loss / d w(i, j) = b(i)
  CHECK(b(1) == S(2) - S(0.5) * S(10 + 11 + 12 + 13));

  w.zero_grad();
  b.zero_grad();
  fg::Tensor<S, 0> again = fg::sum(fg::matmul(w, fg::Tensor<S, 1>{1, 1, 1, 1}) * b);
  again.backward();
  CHECK(b.grad()(1) == doctest::Approx(double(S(10 + 11 + 12 + 13) - S(2) * 4 * S(0.5))));
}

TEST_CASE("taking a writable view between a forward and its backward makes that backward refuse") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 0> loss = fg::sum(fg::square(x) * fg::sin(x));
  auto view = fg::as_vector(x.mutable_value());  // counts as a change of x
  view(0) = 5;
  CHECK_THROWS_AS(loss.backward(), fg::graph_error);
}
