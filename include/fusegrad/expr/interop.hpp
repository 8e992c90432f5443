#pragma once
// Eigen matrices in and out without copies.
//   fg::constant(M)   an Eigen::Matrix, Eigen::Map or Eigen::Vector as a constant operand of
//                     an expression, read in place (so M must outlive the expression:
//                     unlike tensors, it is not shared, only referred to)
//   fg::as_matrix(t)  a rank-2 tensor's storage (value() or grad()) as an Eigen::Map of a
//                     row-major matrix
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

// An Eigen dense matrix or vector (Matrix, Map, Block with contiguous storage) as a
// constant operand, without a copy.
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

template <class S>
using RowMajorMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A rank-2 tensor's storage as a row-major matrix, in place.
template <class S>
Eigen::Map<const RowMajorMatrix<S>> as_matrix(const EigenTensor<S, 2>& t) {
  return {t.data(), t.dimension(0), t.dimension(1)};
}
template <class S>
Eigen::Map<RowMajorMatrix<S>> as_matrix(EigenTensor<S, 2>& t) {
  return {t.data(), t.dimension(0), t.dimension(1)};
}
// A rank-1 tensor's storage as a column vector, in place.
template <class S>
Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> as_vector(const EigenTensor<S, 1>& t) {
  return {t.data(), t.dimension(0)};
}

}  // namespace fusegrad
