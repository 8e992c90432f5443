// SPDX-License-Identifier: MPL-2.0
#pragma once
// Eigen matrices in and out.
//   fg::constant(M)     an Eigen::Matrix, Eigen::Map or Eigen::Vector as a constant operand
//                       of an expression, read in place (so M must outlive the expression:
//                       unlike tensors, it is not shared, only referred to)
//   fg::as_matrix(t)    a rank-2 tensor's storage (value(), mutable_value() or grad()) as
//                       an Eigen::Map of a row-major matrix, writable when t is
//   fg::to_matrix(t), fg::to_vector(t), fg::to_col_major(t)
//                       copies into an Eigen::Matrix / column-major Eigen::Tensor
// (A Tensor<S, 1> or Tensor<S, 2> is built from any dense Eigen expression by its
// constructor, through value_from_dense below.)
#include "node.hpp"

namespace fusegrad {

namespace expr {

// A constant matrix read in place. A column-major matrix is read through a layout swap,
// so that element (i, j) is M(i, j) in either layout.
template <class S, int R, int Layout>
struct MatrixConstant : no_gradient {
  using Scalar = S;
  static constexpr int rank = R;
  Eigen::TensorMap<const Eigen::Tensor<S, R, Layout>> map;
  Shape<R> shape;

  MatrixConstant(const S* data, const Shape<R>& dims) : map(data, dims), shape(dims) {}
  const Shape<R>& dims() const { return shape; }
  void prepare() const {}
  decltype(auto) forward() const {
    if constexpr (Layout == Eigen::RowMajor || R == 1) {
      return (map);  // by reference: Eigen refers to maps in place
    } else {
      return map.swap_layout().shuffle(std::array<Index, 2>{1, 0});
    }
  }
};

}  // namespace expr

/// An Eigen dense matrix or vector (Matrix, Map, Block with contiguous storage) as a
/// constant operand, without a copy.
template <class Derived>
auto constant(const Eigen::PlainObjectBase<Derived>& m) {
  using S = typename Derived::Scalar;
  if constexpr (Derived::ColsAtCompileTime == 1) {
    return expr::MatrixConstant<S, 1, Eigen::RowMajor>(m.data(), Shape<1>{m.rows()});
  } else {
    constexpr int layout = Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor;
    return expr::MatrixConstant<S, 2, layout>(m.data(), Shape<2>{m.rows(), m.cols()});
  }
}
/// An Eigen::Map as a constant operand, read in place. Throws shape_error if its storage is not contiguous.
template <class Plain, int Options, class Stride>
auto constant(const Eigen::Map<Plain, Options, Stride>& m) {
  using S = typename Plain::Scalar;
  const bool contiguous = m.innerStride() == 1 && (Plain::ColsAtCompileTime == 1 || m.outerStride() == m.innerSize());
  if (!contiguous) throw shape_error("fusegrad: constant(Eigen::Map): the map's storage is not contiguous");
  if constexpr (Plain::ColsAtCompileTime == 1) {
    return expr::MatrixConstant<S, 1, Eigen::RowMajor>(m.data(), Shape<1>{m.rows()});
  } else {
    constexpr int layout = Plain::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor;
    return expr::MatrixConstant<S, 2, layout>(m.data(), Shape<2>{m.rows(), m.cols()});
  }
}

/// A dynamic row-major Eigen matrix: the layout of a rank-2 tensor's storage.
template <class S>
using RowMajorMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A rank-2 tensor's storage as a row-major matrix, in place.
template <class S>
Eigen::Map<const RowMajorMatrix<S>> as_matrix(const EigenTensor<S, 2>& t) {
  return {t.data(), t.dimension(0), t.dimension(1)};
}
/// A writable view of a rank-2 value (as_matrix(t.mutable_value())), for in-place updates between steps.
template <class S>
Eigen::Map<RowMajorMatrix<S>> as_matrix(EigenTensor<S, 2>& t) {
  return {t.data(), t.dimension(0), t.dimension(1)};
}
/// A rank-1 tensor's storage as a column vector, in place.
template <class S>
Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> as_vector(const EigenTensor<S, 1>& t) {
  return {t.data(), t.dimension(0)};
}
/// A writable view of a rank-1 value (as_vector(t.mutable_value())), for in-place updates between steps.
template <class S>
Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>> as_vector(EigenTensor<S, 1>& t) {
  return {t.data(), t.dimension(0)};
}

/// A copy of a rank-2 tensor (a value or a gradient) as an ordinary column-major matrix.
template <class S>
Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> to_matrix(const EigenTensor<S, 2>& t) {
  return as_matrix(t);
}
/// A copy of a rank-1 tensor as a column vector.
template <class S>
Eigen::Matrix<S, Eigen::Dynamic, 1> to_vector(const EigenTensor<S, 1>& t) {
  return as_vector(t);
}
/// A copy in Eigen's default (column-major) layout, with t(i, j, ...) at the same indices.
template <class S, int R>
Eigen::Tensor<S, R, Eigen::ColMajor> to_col_major(const EigenTensor<S, R>& t) {
  if constexpr (R <= 1) {
    return t.swap_layout();
  } else {
    std::array<Index, R> reverse;
    for (int i = 0; i < R; ++i) reverse[i] = R - 1 - i;
    return t.swap_layout().shuffle(reverse);
  }
}

namespace detail {
// The row-major storage of a Tensor<S, R> built from a dense Eigen expression: element
// (i, j) stays (i, j) whatever the expression's layout or strides. A rank-1 tensor takes
// a vector (a matrix with one row or one column at run time); a rank-2 tensor takes any
// matrix, a column vector becoming one column.
template <class S, int R, class Dense>
EigenTensor<S, R> value_from_dense(const Eigen::DenseBase<Dense>& m) {
  static_assert(R == 1 || R == 2, "fusegrad: only a Tensor of rank 1 or 2 is built from an Eigen matrix or vector");
  static_assert(std::is_same_v<typename Dense::Scalar, S>,
                "fusegrad: the Eigen matrix's scalar type differs from the Tensor's (convert it with .cast<S>())");
  if constexpr (R == 2) {
    EigenTensor<S, 2> v(m.rows(), m.cols());
    Eigen::Map<RowMajorMatrix<S>>(v.data(), m.rows(), m.cols()) = m;
    return v;
  } else {
    if (m.rows() != 1 && m.cols() != 1)
      throw shape_error("fusegrad: Tensor<S, 1> from an Eigen matrix: a " + std::to_string(m.rows()) + " x " +
                        std::to_string(m.cols()) + " matrix is not a vector");
    EigenTensor<S, 1> v(m.size());
    Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>> out(v.data(), m.size());
    if (m.cols() == 1)
      out = m.derived().col(0);
    else
      out = m.derived().row(0).transpose();
    return v;
  }
}
}  // namespace detail

}  // namespace fusegrad
