#pragma once
// Elementwise helpers on operands that are either Eigen tensor expressions or plain
// scalars (a scalar stands for a constant of the other operand's shape). The derivative
// rules in ops/ are written with these, so one rule serves tensor-tensor, tensor-scalar
// and scalar-tensor forms alike.
#include <cmath>

#include "config.hpp"

namespace fusegrad::elementwise {

template <class T>
inline constexpr bool is_plain_scalar = std::is_arithmetic_v<std::remove_cvref_t<T>>;

// Scalar functors with the interface Eigen's unaryExpr/binaryExpr expect.
template <class S, class F>
struct scalar_function {
  F function;
  S operator()(S x) const { return function(x); }
};

template <class S>
struct power_of_base {  // x -> base^x
  S base;
  S operator()(S x) const { return std::pow(base, x); }
};

template <class S>
struct power {  // (x, y) -> x^y
  S operator()(S x, S y) const { return std::pow(x, y); }
};

template <class X, class Y>
auto pow(const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X> && is_plain_scalar<Y>) {
    return std::pow(x, y);
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
  if constexpr (is_plain_scalar<X>)
    return std::log(x);
  else
    return x.log();
}

// NaN propagates from either operand (Eigen's default keeps whichever comes first).
template <class X, class Y>
auto maximum(const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X>)
    return y.template cwiseMax<Eigen::PropagateNaN>(static_cast<typename Y::Scalar>(x));
  else if constexpr (is_plain_scalar<Y>)
    return x.template cwiseMax<Eigen::PropagateNaN>(static_cast<typename X::Scalar>(y));
  else
    return x.template cwiseMax<Eigen::PropagateNaN>(y);
}

template <class X, class Y>
auto minimum(const X& x, const Y& y) {
  if constexpr (is_plain_scalar<X>)
    return y.template cwiseMin<Eigen::PropagateNaN>(static_cast<typename Y::Scalar>(x));
  else if constexpr (is_plain_scalar<Y>)
    return x.template cwiseMin<Eigen::PropagateNaN>(static_cast<typename X::Scalar>(y));
  else
    return x.template cwiseMin<Eigen::PropagateNaN>(y);
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
