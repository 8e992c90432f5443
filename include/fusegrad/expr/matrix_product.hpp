// SPDX-License-Identifier: MPL-2.0
#pragma once
// Matrix products on tensor storage, for the contractions (expr/contract.hpp): a rank-1 or
// rank-2 tensor viewed in place as an Eigen matrix, and the product of two views into a
// third.
#include <type_traits>

#include "../core/config.hpp"
#include "../core/eigen.hpp"

namespace fusegrad::expr::detail {

template <class S>
using ColumnMajorMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class S>
using RowMajorMatrixType = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A rank-1 or rank-2 tensor's storage viewed, in place, as the matrix of a matrix
// product: `rows_contracted` says whether the product runs along the view's rows
// (a right operand) or its columns (a left operand). A row-major buffer read as
// column-major is its transpose, so no view copies. `f` receives the map.
template <bool RowsContracted, int Rank, class T, class F>
void with_matrix_view(T* data, const Index* dims, Index contracted, F&& f) {
  using S = std::remove_const_t<T>;
  using Row = std::conditional_t<std::is_const_v<T>, const RowMajorMatrixType<S>, RowMajorMatrixType<S>>;
  using Column = std::conditional_t<std::is_const_v<T>, const ColumnMajorMatrix<S>, ColumnMajorMatrix<S>>;
  // The rank is known here, the orientation of a matrix only at run time (a transposed
  // operand is read in place).
  if constexpr (Rank == 1) {
    if constexpr (RowsContracted) {
      using Vector = std::conditional_t<std::is_const_v<T>, const Eigen::Matrix<S, Eigen::Dynamic, 1>,
                                        Eigen::Matrix<S, Eigen::Dynamic, 1>>;
      Eigen::Map<Vector> view(data, dims[0]);
      f(view);
    } else {
      using Vector = std::conditional_t<std::is_const_v<T>, const Eigen::Matrix<S, 1, Eigen::Dynamic>,
                                        Eigen::Matrix<S, 1, Eigen::Dynamic>>;
      Eigen::Map<Vector> view(data, 1, dims[0]);
      f(view);
    }
  } else if ((contracted == 0) == RowsContracted) {
    Eigen::Map<Row> view(data, dims[0], dims[1]);
    f(view);
  } else {
    Eigen::Map<Column> view(data, dims[1], dims[0]);
    f(view);
  }
}

// d = a b, or d += a b when `add`. Matrices of run-time shape go straight to Eigen's
// matrix-matrix product (which itself takes the matrix-vector one when a side is a single
// row or column), and small ones to a plain loop: one instantiation serves both = and +=,
// and Eigen's vectorized product by coefficients, which `noalias() = a * b` compiles
// for small sizes, is not instantiated (the MLP step's object code: 298 KB to 255 KB,
// its compiler's peak memory 821 MB to 749 MB).
template <class D, class A, class B>
void multiply_into(D&& d, const A& a, const B& b, bool add) {
  using Scalar = typename std::remove_cvref_t<D>::Scalar;
  constexpr bool dynamic = A::RowsAtCompileTime == Eigen::Dynamic && A::ColsAtCompileTime == Eigen::Dynamic &&
                           B::RowsAtCompileTime == Eigen::Dynamic && B::ColsAtCompileTime == Eigen::Dynamic;
  if constexpr (dynamic) {
    if (a.rows() + a.cols() + b.cols() < 20) {  // Eigen's own bound for a product by coefficients
      for (Index i = 0; i < a.rows(); ++i)
        for (Index j = 0; j < b.cols(); ++j) {
          Scalar total(0);
          for (Index k = 0; k < a.cols(); ++k) total += a(i, k) * b(k, j);
          d(i, j) = add ? d(i, j) + total : total;
        }
      return;
    }
    if (!add) d.setZero();
    Eigen::internal::generic_product_impl<A, B, Eigen::DenseShape, Eigen::DenseShape, Eigen::GemmProduct>::scaleAndAddTo(
        d, a, b, Scalar(1));
  } else if (add) {
    d.noalias() += a * b;
  } else {
    d.noalias() = a * b;
  }
}

}  // namespace fusegrad::expr::detail
