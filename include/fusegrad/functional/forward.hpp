// SPDX-License-Identifier: MPL-2.0
#pragma once
// Forward mode and second order, on dual tensors (Tensor<Dual<S>, R>, see core/dual.hpp):
//   fg::jvp(f, x, v)        (f(x), J v): one evaluation of f on x + εv
//   fg::hvp(f, x, v)        H v for a scalar f: the reverse pass run on x + εv
//                           (forward-over-reverse, the cost of about one gradient on
//                           dual numbers)
//   fg::hessian(f, x)       H, one hvp per input element
//   fg::jacobian(f, x)      J, by columns (forward mode) when x has fewer elements than
//                           f(x), by rows (reverse mode) otherwise; fg::mode forces one
// f must accept tensors of any scalar type: write it generically (a template or a
// lambda with auto parameters).
#include "reverse.hpp"

namespace fusegrad {

/// How fg::jacobian differentiates: forward mode when x is smaller than f(x), else reverse
/// (automatic), or the mode named.
enum class mode { automatic, forward, reverse };

namespace functional_detail {

// x + εv as a dual tensor, its storage from the pool.
template <class S, int R>
Tensor<Dual<S>, R> dual_tensor(const EigenTensor<S, R>& value, const EigenTensor<S, R>& tangent) {
  Shape<R> dims;
  for (int i = 0; i < R; ++i) dims[i] = value.dimension(i);
  Shape<R> tangent_dims;
  for (int i = 0; i < R; ++i) tangent_dims[i] = tangent.dimension(i);
  if (dims != tangent_dims) throw_shape_mismatch("tangent direction", dims, tangent_dims);
  EigenTensor<Dual<S>, R> d = pool::take<Dual<S>, R>(dims);
  join_duals(value.data(), tangent.data(), d.data(), d.size());
  return Tensor<Dual<S>, R>(std::move(d));
}

template <class S, int R>
EigenTensor<S, R> tangent_part(const EigenTensor<Dual<S>, R>& d) {
  EigenTensor<S, R> tangents(d.dimensions());
  for (Index i = 0; i < d.size(); ++i) tangents.data()[i] = d.data()[i].tangent;
  return tangents;
}

// (values, tangents) of a dual tensor.
template <class S, int R>
std::pair<EigenTensor<S, R>, EigenTensor<S, R>> parts(const EigenTensor<Dual<S>, R>& d) {
  std::pair<EigenTensor<S, R>, EigenTensor<S, R>> result{EigenTensor<S, R>(d.dimensions()),
                                                         EigenTensor<S, R>(d.dimensions())};
  split_duals(d.data(), result.first.data(), result.second.data(), d.size());
  return result;
}

// A reference, not a copy (v is as large as x).
template <class T>
decltype(auto) values_of(const T& t) {
  if constexpr (expr::is_tensor<T>)
    return t.value();
  else
    return t;
}

}  // namespace functional_detail

/// Jacobian-vector product: (f(x), J v), v of x's shape.
template <class F, class S, int R, class V>
auto jvp(F f, const Tensor<S, R>& x, const V& v) {
  Tensor<Dual<S>, R> dual = functional_detail::dual_tensor<S, R>(x.value(), functional_detail::values_of(v));
  no_grad off;  // forward mode records nothing
  auto out = f(dual);
  using Out = decltype(out);
  if constexpr (expr::Node<Out>) {
    // Evaluated into pooled scratch, then split: the dual result is never handed out.
    out.prepare();
    if constexpr (Out::rank == 0) {
      EigenTensor<Dual<S>, 0> dual_value;
      evaluate_into(dual_value, out.forward());
      return functional_detail::parts(dual_value);
    } else if constexpr (expr::lane_region<Out>) {
      // A region writes its values and tangents straight into the two results.
      std::pair<EigenTensor<S, Out::rank>, EigenTensor<S, Out::rank>> result{EigenTensor<S, Out::rank>(out.dims()),
                                                                             EigenTensor<S, Out::rank>(out.dims())};
      expr::evaluate_lanes_to(out, expr::SplitDuals<S>{result.first.data(), result.second.data()});
      return result;
    } else {
      pool::Recycled<Dual<S>, Out::rank> duals(out.dims());
      expr::evaluate_node(out, duals.tensor);
      return functional_detail::parts(duals.tensor);
    }
  } else {
    static_assert(expr::is_tensor<Out>, "fusegrad: the function must return a Tensor or an expression");
    return functional_detail::parts(out.value());
  }
}

/// Hessian-vector product of a scalar function: H v, v of x's shape.
template <class F, class S, int R, class V>
EigenTensor<S, R> hvp(F f, const Tensor<S, R>& x, const V& v) {
  Tensor<Dual<S>, R> dual = functional_detail::dual_tensor<S, R>(x.value(), functional_detail::values_of(v));
  dual.requires_grad(true);
  using Out = functional_detail::output_of<F, Tensor<Dual<S>, R>>;
  static_assert(Out::NumIndices == 0, "fusegrad: hvp and hessian need a scalar (rank-0) function");
  functional_detail::run(f, functional_detail::seed_ones, dual);
  return functional_detail::tangent_part(dual.grad());
}

/// The Hessian of a scalar function, of shape (x.size(), x.size()) in flat row-major
/// indices.
template <class F, class S, int R>
EigenTensor<S, 2> hessian(F f, const Tensor<S, R>& x) {
  EigenTensor<S, 2> h(x.size(), x.size());
  EigenTensor<S, R> direction(x.dimensions());
  for (Index j = 0; j < x.size(); ++j) {
    direction.setZero();
    direction.data()[j] = S(1);
    const EigenTensor<S, R> column = hvp(f, x, direction);
    for (Index i = 0; i < x.size(); ++i) h(i, j) = column.data()[i];
  }
  return h;
}

/// The Jacobian of f at x, of shape (f(x).size(), x.size()) in flat row-major indices:
/// J(i, j) = d f(x)_i / d x_j.
template <class F, class S, int R>
EigenTensor<S, 2> jacobian(F f, const Tensor<S, R>& x, mode m = mode::automatic) {
  auto value = functional_detail::value_at(f, x);
  const Index outputs = value.size();
  if (m == mode::reverse || (m == mode::automatic && x.size() >= outputs))
    return functional_detail::jacobian_by_rows(f, x, std::move(value));
  EigenTensor<S, 2> result(outputs, x.size());
  EigenTensor<S, R> direction(x.dimensions());
  for (Index j = 0; j < x.size(); ++j) {
    direction.setZero();
    direction.data()[j] = S(1);
    const auto [value, tangent] = jvp(f, x, direction);
    for (Index i = 0; i < outputs; ++i) result(i, j) = tangent.data()[i];
  }
  return result;
}

}  // namespace fusegrad
