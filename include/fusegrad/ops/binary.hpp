// SPDX-License-Identifier: MPL-2.0
#pragma once
// The catalogue of elementwise binary primitives (the seeds' `zip`). Each rule holds
// `value(x, y)` next to its partial derivatives `d_left(x, y)` = df/dx and
// `d_right(x, y)` = df/dy. Either operand may be a plain scalar (a constant), the other
// an Eigen tensor expression of the broadcast shape.
#include "../core/elementwise.hpp"
#include "markers.hpp"

namespace fusegrad::ops {

struct Add {
  static constexpr const char* name = "add";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return x + y; }
  template <class X, class Y> One d_left(const X&, const Y&) const { return {}; }
  template <class X, class Y> One d_right(const X&, const Y&) const { return {}; }
};

struct Subtract {
  static constexpr const char* name = "subtract";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return x - y; }
  template <class X, class Y> One d_left(const X&, const Y&) const { return {}; }
  template <class X, class Y> MinusOne d_right(const X&, const Y&) const { return {}; }
};

struct Multiply {
  static constexpr const char* name = "multiply";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return x * y; }
  template <class X, class Y> auto d_left(const X&, const Y& y) const { return y; }
  template <class X, class Y> auto d_right(const X& x, const Y&) const { return x; }
};

// Dividing by a single value multiplies by its reciprocal (within an ulp of x / y): a
// SIMD division costs as much as ten multiplications.
struct Divide {
  static constexpr const char* name = "divide";
  template <class X, class Y> auto value(const X& x, const Y& y) const {
    if constexpr (elementwise::is_plain_scalar<Y> && !elementwise::is_plain_scalar<X>)
      return x * (1 / y);
    else
      return x / y;
  }
  template <class X, class Y> auto d_left(const X&, const Y& y) const {
    if constexpr (elementwise::is_plain_scalar<Y>)
      return 1 / y;
    else
      return y.inverse();
  }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const {
    if constexpr (elementwise::is_plain_scalar<Y> && !elementwise::is_plain_scalar<X>)
      return x * (-1 / (y * y));
    else
      return -x / (y * y);
  }
};

// x^y, y a tensor (a number exponent is PowScalar). Evaluated one element at a time, as
// the value is; the partials keep 0 where the formulas would give 0 * inf
// (elementwise::power_left_partial, power_right_partial).
template <class S>
struct Pow {
  static constexpr const char* name = "pow";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return elementwise::pow(x, y); }
  template <class X, class Y> auto d_left(const X& x, const Y& y) const {
    return elementwise::apply_binary<S>(elementwise::power_left_partial<S>{}, x, y);
  }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const {
    return elementwise::apply_binary<S>(elementwise::power_right_partial<S>{}, x, y);
  }
};

// At ties the left operand receives the gradient (a valid subgradient).
template <class S>
struct Maximum {
  static constexpr const char* name = "maximum";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return elementwise::maximum(x, y); }
  template <class X, class Y> auto d_left(const X& x, const Y& y) const {
    return elementwise::indicator_greater<S, false>(x, y);
  }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const {
    return elementwise::indicator_greater<S, true>(y, x);
  }
};

template <class S>
struct Minimum {
  static constexpr const char* name = "minimum";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return elementwise::minimum(x, y); }
  template <class X, class Y> auto d_left(const X& x, const Y& y) const {
    return elementwise::indicator_greater<S, false>(y, x);
  }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const {
    return elementwise::indicator_greater<S, true>(x, y);
  }
};

// A user's binary function and its partials on scalars: fg::zip(x, y, f, dfdx, dfdy).
// On dual numbers, functions that take only plain numbers are applied to the values,
// with the partials giving the tangent (and NaN for unknown second derivatives).
template <class S, class F, class DX, class DY>
struct UserZip {
  static constexpr const char* name = "zip";
  F function;
  DX dfdx;
  DY dfdy;
  enum class part { value, left, right };
  template <part Part>
  struct binary {
    const UserZip* rule;
    S operator()(S x, S y) const {
      if constexpr (Part == part::value) return call_value(x, y);
      else if constexpr (Part == part::left) return call_partial(rule->dfdx, x, y);
      else return call_partial(rule->dfdy, x, y);
    }
    S call_value(S x, S y) const {
      if constexpr (std::is_invocable_v<const F&, S, S>) {
        return rule->function(x, y);
      } else {
        using Real = typename real_of<S>::type;
        return S(Real(rule->function(x.value, y.value)),
                 Real(rule->dfdx(x.value, y.value)) * x.tangent + Real(rule->dfdy(x.value, y.value)) * y.tangent);
      }
    }
    template <class Fn>
    static S call_partial(const Fn& fn, S x, S y) {
      if constexpr (std::is_invocable_v<const Fn&, S, S>) {
        return fn(x, y);
      } else {
        using Real = typename real_of<S>::type;
        return S(Real(fn(x.value, y.value)), std::numeric_limits<Real>::quiet_NaN());
      }
    }
  };
  template <part Part>
  auto apply(const auto& x, const auto& y) const {
    using elementwise::is_plain_scalar;
    const binary<Part> fn{this};
    if constexpr (is_plain_scalar<decltype(x)>)
      return y.unaryExpr([fn, x](S v) { return fn(S(x), v); });
    else if constexpr (is_plain_scalar<decltype(y)>)
      return x.unaryExpr([fn, y](S v) { return fn(v, S(y)); });
    else
      return x.binaryExpr(y, fn);
  }
  template <class X, class Y> auto value(const X& x, const Y& y) const { return apply<part::value>(x, y); }
  template <class X, class Y> auto d_left(const X& x, const Y& y) const { return apply<part::left>(x, y); }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const { return apply<part::right>(x, y); }
};

// Comparisons build masks for `where`; they are not differentiated.
struct Greater { template <class X, class Y> auto value(const X& x, const Y& y) const { return x > y; } };
struct GreaterEqual { template <class X, class Y> auto value(const X& x, const Y& y) const { return x >= y; } };
struct Less { template <class X, class Y> auto value(const X& x, const Y& y) const { return x < y; } };
struct LessEqual { template <class X, class Y> auto value(const X& x, const Y& y) const { return x <= y; } };
struct Equal { template <class X, class Y> auto value(const X& x, const Y& y) const { return x == y; } };
struct NotEqual { template <class X, class Y> auto value(const X& x, const Y& y) const { return x != y; } };

}  // namespace fusegrad::ops
