// SPDX-License-Identifier: MPL-2.0
#pragma once
// The catalogue of elementwise unary primitives (the seeds' `map`). Each rule holds
// its forward `value(x)` next to its derivative `derivative(x)` = f'(x); the reverse
// rule multiplies the upstream gradient by it and the tangent rule multiplies the
// tangent by it, since the Jacobian of an elementwise map is diagonal.
// `x` is an Eigen tensor expression. Where f' is cheaper to get from the value y = f(x)
// than from x (tanh' = 1 - y^2), `derivative_from_value(y)` says so: when the map is
// the last operation of a statement, its stored result is y and the backward reuses it
// instead of recomputing f.
#include <utility>

#include "../core/elementwise.hpp"
#include "../core/vector_math.hpp"
#include "markers.hpp"

namespace fusegrad::ops {

template <class X>
using scalar_of = typename X::Scalar;

struct Negate {
  static constexpr const char* name = "negate";
  template <class X> auto value(const X& x) const { return -x; }
  template <class X> MinusOne derivative(const X&) const { return {}; }
};

struct Exp {
  static constexpr const char* name = "exp";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::exp_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const { return x.unaryExpr(vector_math::exp_op<scalar_of<X>>()); }
  template <class Y> const Y& derivative_from_value(const Y& y) const { return y; }
};

struct Log {
  static constexpr const char* name = "log";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::log_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const { return x.inverse(); }
};

struct Sin {
  static constexpr const char* name = "sin";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::sin_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const { return x.unaryExpr(vector_math::cos_op<scalar_of<X>>()); }
  // Both at once where a pass needs both (the fused adjoint, on a lane): one sincos.
  template <class X>
    requires requires(const X& v) { sin_cos(v); }
  auto value_and_derivative(const X& x) const {
    return sin_cos(x);
  }
};

struct Cos {
  static constexpr const char* name = "cos";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::cos_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const { return -x.unaryExpr(vector_math::sin_op<scalar_of<X>>()); }
  template <class X>
    requires requires(const X& v) { sin_cos(v); }
  auto value_and_derivative(const X& x) const {
    const auto [s, c] = sin_cos(x);
    return std::pair{c, -s};
  }
};

struct Tan {
  static constexpr const char* name = "tan";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::tan_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const {
    return x.unaryExpr(vector_math::tan_op<scalar_of<X>>()).square() + scalar_of<X>(1);
  }
};

struct Tanh {
  static constexpr const char* name = "tanh";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::tanh_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const {
    return scalar_of<X>(1) - x.unaryExpr(vector_math::tanh_op<scalar_of<X>>()).square();
  }
  template <class Y> auto derivative_from_value(const Y& y) const { return scalar_of<Y>(1) - y.square(); }
};

struct Sigmoid {
  static constexpr const char* name = "sigmoid";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::sigmoid_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const {
    const auto s = x.unaryExpr(vector_math::sigmoid_op<scalar_of<X>>());
    return s * (scalar_of<X>(1) - s);
  }
  template <class Y> auto derivative_from_value(const Y& y) const { return y * (scalar_of<Y>(1) - y); }
};

// softplus(x) = log(1 + e^x), stable for every x (vector_math::softplus_op).
struct Softplus {
  static constexpr const char* name = "softplus";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::softplus_op<scalar_of<X>>()); }
  template <class X> auto derivative(const X& x) const { return x.unaryExpr(vector_math::sigmoid_op<scalar_of<X>>()); }
};

// log sigmoid(x) = -softplus(-x); its derivative is sigmoid(-x) = 1 - sigmoid(x), written
// so that it is not 1 - 1 = 0 where sigmoid(x) rounds to 1.
struct LogSigmoid {
  static constexpr const char* name = "log_sigmoid";
  template <class X> auto value(const X& x) const {
    return -(-x).unaryExpr(vector_math::softplus_op<scalar_of<X>>());
  }
  template <class X> auto derivative(const X& x) const {
    return (-x).unaryExpr(vector_math::sigmoid_op<scalar_of<X>>());
  }
};

// The derivative at 0 is 0. On dual numbers the value is a selection by the same
// condition, so that forward mode agrees (a maximum would pass x's tangent at a tie).
struct Relu {
  static constexpr const char* name = "relu";
  template <class X> auto value(const X& x) const {
    using S = scalar_of<X>;
    if constexpr (is_dual<S>)
      return (x <= S(0)).select(x.constant(S(0)), x);
    else
      return x.cwiseMax(S(0));
  }
  template <class X> auto derivative(const X& x) const { return (x > scalar_of<X>(0)).template cast<scalar_of<X>>(); }
};

struct Sqrt {
  static constexpr const char* name = "sqrt";
  template <class X> auto value(const X& x) const { return x.unaryExpr(vector_math::sqrt_op<scalar_of<X>>()); }
  // 1 / (2 sqrt(x)): inf at 0 (-inf at -0, as in IEEE arithmetic), 0 at inf.
  template <class X> auto derivative(const X& x) const {
    return x.unaryExpr(vector_math::sqrt_op<scalar_of<X>>()).inverse() * scalar_of<X>(0.5);
  }
  template <class Y> auto derivative_from_value(const Y& y) const { return y.inverse() * scalar_of<Y>(0.5); }
};

struct Abs {
  static constexpr const char* name = "abs";
  template <class X> auto value(const X& x) const { return x.abs(); }
  template <class X> auto derivative(const X& x) const { return x.sign(); }
};

struct Square {
  static constexpr const char* name = "square";
  template <class X> auto value(const X& x) const { return x.square(); }
  template <class X> auto derivative(const X& x) const { return x * scalar_of<X>(2); }
};

template <class S>
struct PowScalar {
  static constexpr const char* name = "pow";
  S exponent;
  template <class X> auto value(const X& x) const { return x.pow(exponent); }
  // p x^(p-1); for p = 0 it is 0 everywhere, written 0 x^0 so that x = 0 (or inf, NaN)
  // does not give 0 * inf.
  template <class X> auto derivative(const X& x) const {
    return x.pow(exponent == S(0) ? S(0) : exponent - S(1)) * exponent;
  }
};

// Infinite bounds mean no bound; the derivative is 1 inside [lo, hi], 0 outside.
template <class S>
struct Clamp {
  static constexpr const char* name = "clamp";
  S lo, hi;
  template <class X> auto value(const X& x) const { return x.cwiseMax(lo).cwiseMin(hi); }
  template <class X> auto derivative(const X& x) const {
    return (x >= lo).template cast<S>() * (x <= hi).template cast<S>();
  }
};

// A user's function and derivative on scalars: fg::map(x, f, df).
template <class S, class F, class DF>
struct UserMap {
  static constexpr const char* name = "map";
  F function;
  DF function_derivative;
  template <class X> auto value(const X& x) const {
    return x.unaryExpr(elementwise::user_value<S, F, DF>{function, function_derivative});
  }
  template <class X> auto derivative(const X& x) const {
    return x.unaryExpr(elementwise::user_derivative<S, DF>{function_derivative});
  }
};

}  // namespace fusegrad::ops
