// SPDX-License-Identifier: MPL-2.0
#pragma once
// Elementwise helpers on operands that are either Eigen tensor expressions or plain
// scalars (a scalar stands for a constant of the other operand's shape). The derivative
// rules in ops/ are written with these, so one rule serves tensor-tensor, tensor-scalar
// and scalar-tensor forms alike.
#include <cmath>

#include "config.hpp"
#include "dual.hpp"
#include "vector_math.hpp"

namespace fusegrad::elementwise {

// A number (a constant operand), as opposed to an Eigen expression.
template <class T>
inline constexpr bool is_plain_scalar = std::is_arithmetic_v<std::remove_cvref_t<T>> || is_dual<std::remove_cvref_t<T>>;

// Scalar functors with the interface Eigen's unaryExpr/binaryExpr expect.
template <class S, class F>
struct scalar_function {
  F function;
  S operator()(S x) const { return function(x); }
};

// A user's scalar function f with derivative df, applied to a dual number: f itself
// when it accepts one (a generic lambda), else f on the value and df for the tangent.
template <class S, class F, class DF>
struct user_value {
  F function;
  DF derivative;
  S operator()(S x) const {
    if constexpr (std::is_invocable_v<const F&, S>) {
      return function(x);
    } else {
      using Real = typename real_of<S>::type;
      return S(Real(function(x.value)), Real(derivative(x.value)) * x.tangent);
    }
  }
};
// df applied to a dual number: when df takes only plain numbers, f'' is unknown and the
// tangent is NaN, so that a Hessian through it is visibly undefined, never silently wrong.
template <class S, class DF>
struct user_derivative {
  DF derivative;
  S operator()(S x) const {
    if constexpr (std::is_invocable_v<const DF&, S>) {
      return derivative(x);
    } else {
      using Real = typename real_of<S>::type;
      return S(Real(derivative(x.value)), std::numeric_limits<Real>::quiet_NaN());
    }
  }
};

template <class S>
struct power_of_base {  // x -> base^x
  S base;
  S operator()(S x) const {
    using std::pow;  // and fusegrad's pow for dual numbers
    return pow(base, x);
  }
};

template <class S>
struct power {  // (x, y) -> x^y
  S operator()(S x, S y) const {
    using std::pow;
    return pow(x, y);
  }
};

// NaN propagation needs bit masks that only float and double packets have; dual
// numbers compare by value.
template <class S>
inline constexpr int nan_mode = std::is_floating_point_v<S> ? Eigen::PropagateNaN : Eigen::PropagateFast;

// The partial derivatives of x^y, where IEEE arithmetic on the formulas would give
// 0 * inf: d/dx = y x^(y-1) is 0 for y = 0; d/dy = x^y ln x is 0 for x = 0 and y > 0
// (0^y is 0 for every y > 0).
template <class S>
struct power_left_partial {
  S operator()(S x, S y) const {
    using std::pow;
    return y == S(0) ? S(0) : y * pow(x, y - S(1));
  }
};
template <class S>
struct power_right_partial {
  S operator()(S x, S y) const {
    using std::pow, std::log;
    return x == S(0) && y > S(0) ? S(0) : pow(x, y) * log(x);
  }
};

// f(x, y) elementwise, either operand a plain number.
template <class S, class F, class X, class Y>
auto apply_binary(const F& f, const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X> && is_plain_scalar<Y>)
    return f(S(x), S(y));
  else if constexpr (is_plain_scalar<X>)
    return y.unaryExpr([f, a = S(x)](S b) { return f(a, b); });
  else if constexpr (is_plain_scalar<Y>)
    return x.unaryExpr([f, b = S(y)](S a) { return f(a, b); });
  else
    return x.binaryExpr(y, f);
}

template <class X, class Y>
auto pow(const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X> && is_plain_scalar<Y>) {
    using std::pow;
    return pow(x, y);
  } else if constexpr (is_plain_scalar<Y>) {
    return x.pow(static_cast<typename X::Scalar>(y));
  } else if constexpr (is_plain_scalar<X>) {
    using S = typename Y::Scalar;
    return y.unaryExpr(power_of_base<S>{static_cast<S>(x)});
  } else {
    return x.binaryExpr(y, power<typename X::Scalar>{});
  }
}

template <class X>
auto log(const X& x) {
  if constexpr (is_plain_scalar<X>) {
    using std::log;
    return log(x);
  }
  else
    return x.unaryExpr(vector_math::log_op<typename X::Scalar>());
}

// NaN propagates from either operand (Eigen's default keeps whichever comes first).
// Dual numbers keep the left operand's tangent at a tie, as the reverse rules give the
// left operand the gradient; so a number on the left stays on the left.
template <class X, class Y>
auto maximum(const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X>) {
    if constexpr (is_dual<typename Y::Scalar>)
      return y.constant(static_cast<typename Y::Scalar>(x)).cwiseMax(y);
    else
      return y.template cwiseMax<nan_mode<typename Y::Scalar>>(static_cast<typename Y::Scalar>(x));
  }
  else if constexpr (is_plain_scalar<Y>)
    return x.template cwiseMax<nan_mode<typename X::Scalar>>(static_cast<typename X::Scalar>(y));
  else
    return x.template cwiseMax<nan_mode<typename X::Scalar>>(y);
}

template <class X, class Y>
auto minimum(const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X>) {
    if constexpr (is_dual<typename Y::Scalar>)
      return y.constant(static_cast<typename Y::Scalar>(x)).cwiseMin(y);
    else
      return y.template cwiseMin<nan_mode<typename Y::Scalar>>(static_cast<typename Y::Scalar>(x));
  }
  else if constexpr (is_plain_scalar<Y>)
    return x.template cwiseMin<nan_mode<typename X::Scalar>>(static_cast<typename X::Scalar>(y));
  else
    return x.template cwiseMin<nan_mode<typename X::Scalar>>(y);
}

// 1 where x >= y (x > y when strict), else 0, in the scalar type S.
template <class S, bool Strict, class X, class Y>
auto indicator_greater(const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X>) {
    if constexpr (Strict)
      return (y < static_cast<S>(x)).template cast<S>();
    else
      return (y <= static_cast<S>(x)).template cast<S>();
  } else if constexpr (is_plain_scalar<Y>) {
    if constexpr (Strict)
      return (x > static_cast<S>(y)).template cast<S>();
    else
      return (x >= static_cast<S>(y)).template cast<S>();
  } else {
    if constexpr (Strict)
      return (x > y).template cast<S>();
    else
      return (x >= y).template cast<S>();
  }
}

// A scalar becomes a constant expression shaped like `shape_source`.
template <class V, class ShapeSource>
auto lift(const V& v, const ShapeSource& shape_source) {
  if constexpr (is_plain_scalar<V>)
    return shape_source.constant(static_cast<typename ShapeSource::Scalar>(v));
  else
    return v;
}

}  // namespace fusegrad::elementwise
