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

struct Divide {
  static constexpr const char* name = "divide";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return x / y; }
  template <class X, class Y> auto d_left(const X&, const Y& y) const {
    if constexpr (elementwise::is_plain_scalar<Y>)
      return 1 / y;
    else
      return y.inverse();
  }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const { return -x / (y * y); }
};

struct Pow {
  static constexpr const char* name = "pow";
  template <class X, class Y> auto value(const X& x, const Y& y) const { return elementwise::pow(x, y); }
  template <class X, class Y> auto d_left(const X& x, const Y& y) const {
    if constexpr (elementwise::is_plain_scalar<Y>)
      return y * elementwise::pow(x, y - 1);
    else
      return y * elementwise::pow(x, y - typename Y::Scalar(1));
  }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const {
    return elementwise::pow(x, y) * elementwise::log(x);
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
template <class S, class F, class DX, class DY>
struct UserZip {
  static constexpr const char* name = "zip";
  F function;
  DX dfdx;
  DY dfdy;
  template <class Fn>
  struct binary {
    Fn fn;
    S operator()(S x, S y) const { return fn(x, y); }
  };
  template <class Fn>
  static auto apply(const Fn& fn, const auto& x, const auto& y) {
    using elementwise::is_plain_scalar;
    if constexpr (is_plain_scalar<decltype(x)>)
      return y.unaryExpr([fn, x](S v) { return fn(S(x), v); });
    else if constexpr (is_plain_scalar<decltype(y)>)
      return x.unaryExpr([fn, y](S v) { return fn(v, S(y)); });
    else
      return x.binaryExpr(y, binary<Fn>{fn});
  }
  template <class X, class Y> auto value(const X& x, const Y& y) const { return apply(function, x, y); }
  template <class X, class Y> auto d_left(const X& x, const Y& y) const { return apply(dfdx, x, y); }
  template <class X, class Y> auto d_right(const X& x, const Y& y) const { return apply(dfdy, x, y); }
};

// Comparisons build masks for `where`; they are not differentiated.
struct Greater { template <class X, class Y> auto value(const X& x, const Y& y) const { return x > y; } };
struct GreaterEqual { template <class X, class Y> auto value(const X& x, const Y& y) const { return x >= y; } };
struct Less { template <class X, class Y> auto value(const X& x, const Y& y) const { return x < y; } };
struct LessEqual { template <class X, class Y> auto value(const X& x, const Y& y) const { return x <= y; } };
struct Equal { template <class X, class Y> auto value(const X& x, const Y& y) const { return x == y; } };
struct NotEqual { template <class X, class Y> auto value(const X& x, const Y& y) const { return x != y; } };

}  // namespace fusegrad::ops
