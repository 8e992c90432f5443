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

// A reference, not a copy (v is as large as x).
template <class T>
decltype(auto) values_of(const T& t) {
  if constexpr (expr::is_tensor<T>)
    return t.value();
  else
    return t;
}

template <class F, class S, int R>
inline constexpr bool takes_duals = std::is_invocable_v<F&, Tensor<Dual<S>, R>&>;

// The rank of what f returns on a dual tensor of rank R (an expression or a Tensor); -1
// when f does not take one.
template <class F, class S, int R>
constexpr int forward_rank() {
  if constexpr (takes_duals<F, S, R>)
    return std::remove_cvref_t<std::invoke_result_t<F&, Tensor<Dual<S>, R>&>>::rank;
  else
    return -1;
}

// `t` of dimensions `dims`, its storage kept when it already holds that many elements.
template <class S, int Q, class Dims>
void fit_to(EigenTensor<S, Q>& t, const Dims& dims) {
  if constexpr (Q > 0) t.resize(dims);
}

// jvp into value and tangent, once f is known to take dual tensors and return rank Q.
template <class F, class S, int R, class V, int Q>
void jvp_into(F& f, const Tensor<S, R>& x, const V& v, EigenTensor<S, Q>& value, EigenTensor<S, Q>& tangent) {
  if (&value == &tangent)
    throw std::invalid_argument("fusegrad: jvp(f, x, v, value, tangent): value and tangent must be two different tensors");
  Tensor<Dual<S>, R> dual = dual_tensor<S, R>(x.value(), values_of(v));
  no_grad off;  // forward mode records nothing
  auto out = f(dual);
  using Out = decltype(out);
  const auto split = [&](const EigenTensor<Dual<S>, Q>& d) {
    fit_to(value, d.dimensions());
    fit_to(tangent, d.dimensions());
    split_duals(d.data(), value.data(), tangent.data(), d.size());
  };
  if constexpr (expr::Node<Out>) {
    // Evaluated into pooled scratch, then split: the dual result is never handed out.
    out.prepare();
    if constexpr (Q == 0) {
      EigenTensor<Dual<S>, 0> dual_value;
      evaluate_into(dual_value, out.forward());
      split(dual_value);
    } else if constexpr (expr::lane_region<Out>) {
      // A region writes its values and tangents straight into the two results.
      fit_to(value, out.dims());
      fit_to(tangent, out.dims());
      expr::evaluate_lanes_to(out, expr::SplitDuals<S>{value.data(), tangent.data()});
    } else {
      pool::Recycled<Dual<S>, Q> duals(out.dims());
      expr::evaluate_node(out, duals.tensor);
      split(duals.tensor);
    }
  } else {
    static_assert(expr::is_tensor<Out>, "fusegrad: the function must return a Tensor or an expression");
    split(out.value());
  }
}

}  // namespace functional_detail

/// Jacobian-vector product into the caller's tensors: value = f(x), tangent = J v, v of
/// x's shape. value and tangent are resized to f(x)'s shape and keep their storage when
/// they already have as many elements, so a loop of jvp calls allocates nothing for its
/// results (the two-result form below allocates them on every call). Either may be v
/// itself: x + εv is read before anything is written. If f throws, neither is changed.
template <class F, class S, int R, class V, int Q>
void jvp(F f, const Tensor<S, R>& x, const V& v, EigenTensor<S, Q>& value, EigenTensor<S, Q>& tangent) {
  constexpr bool generic = functional_detail::takes_duals<F, S, R>;
  static_assert(generic, "fusegrad: jvp calls f on a dual tensor (Tensor<Dual<S>, R>): write f generically, as a "
                         "template or a lambda with auto parameters");
  constexpr bool of_rank_q = functional_detail::forward_rank<F, S, R>() == Q;
  static_assert(!generic || of_rank_q,
                "fusegrad: jvp(f, x, v, value, tangent): value and tangent must have the rank of f's result");
  if constexpr (generic && of_rank_q) functional_detail::jvp_into(f, x, v, value, tangent);
}

/// Jacobian-vector product: (f(x), J v), v of x's shape, as two new tensors.
template <class F, class S, int R, class V>
auto jvp(F f, const Tensor<S, R>& x, const V& v) {
  // Rank 0 for an f that takes no dual tensor: the form above then says what is wrong.
  constexpr int Q = std::max(functional_detail::forward_rank<F, S, R>(), 0);
  std::pair<EigenTensor<S, Q>, EigenTensor<S, Q>> result;
  jvp(std::move(f), x, v, result.first, result.second);
  return result;
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
  decltype(value) column_value, tangent;  // one allocation for all the columns
  for (Index j = 0; j < x.size(); ++j) {
    direction.setZero();
    direction.data()[j] = S(1);
    jvp(f, x, direction, column_value, tangent);
    for (Index i = 0; i < outputs; ++i) result(i, j) = tangent.data()[i];
  }
  return result;
}

}  // namespace fusegrad
