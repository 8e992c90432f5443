// SPDX-License-Identifier: MPL-2.0
#pragma once
// Dual numbers: a value and a tangent (the derivative along one direction). A tensor of
// Dual<S> is a dual tensor: evaluating any fusegrad expression on it computes values
// and tangents together, in the same fused loop, which is forward mode; running the
// reverse pass on it differentiates the gradient along the tangent direction, which is
// forward-over-reverse (Hessian-vector products).
//
// The tangent rule of each primitive sits next to its value here: for f(a) it is
// f'(a) * a.tangent, the same derivative the reverse rules in ops/ use.
#include <cmath>
#include <limits>
#include <ostream>

#include "config.hpp"

namespace fusegrad {

/// A dual number: a value and a tangent (its derivative along one direction). A tensor
/// of `Dual<S>` runs forward mode (fg::jvp) and forward-over-reverse (fg::hvp).
template <class S>
struct Dual {
  /// The value.
  S value{};
  /// The derivative along the tangent direction.
  S tangent{};

  constexpr Dual() = default;
  /// A number as a constant: tangent 0.
  template <class T>
    requires std::is_arithmetic_v<T>
  constexpr Dual(T v) : value(static_cast<S>(v)) {}
  /// Value v with tangent t.
  constexpr Dual(S v, S t) : value(v), tangent(t) {}

  /// *this + b, tangents added.
  Dual& operator+=(const Dual& b) { return *this = *this + b; }
  /// *this - b, tangents subtracted.
  Dual& operator-=(const Dual& b) { return *this = *this - b; }
  /// *this * b, tangent by the product rule.
  Dual& operator*=(const Dual& b) { return *this = *this * b; }
  /// *this / b, tangent by the quotient rule.
  Dual& operator/=(const Dual& b) { return *this = *this / b; }

  friend Dual operator+(const Dual& a, const Dual& b) { return {a.value + b.value, a.tangent + b.tangent}; }
  friend Dual operator-(const Dual& a, const Dual& b) { return {a.value - b.value, a.tangent - b.tangent}; }
  friend Dual operator-(const Dual& a) { return {-a.value, -a.tangent}; }
  /// A zero tangent (a constant's) contributes nothing, also against an infinite or NaN
  /// value: 3 x at x = inf has the tangent 3, not 3 + inf 0 = NaN.
  static S times(S tangent, S value) { return tangent == S(0) ? S(0) : tangent * value; }
  friend Dual operator*(const Dual& a, const Dual& b) {
    return {a.value * b.value, times(a.tangent, b.value) + times(b.tangent, a.value)};
  }
  friend Dual operator/(const Dual& a, const Dual& b) {
    const S q = a.value / b.value;
    return {q, (a.tangent - times(b.tangent, q)) / b.value};
  }
  // Comparisons look at values only: they pick branches, they are not differentiated.
  friend bool operator<(const Dual& a, const Dual& b) { return a.value < b.value; }
  friend bool operator>(const Dual& a, const Dual& b) { return a.value > b.value; }
  friend bool operator<=(const Dual& a, const Dual& b) { return a.value <= b.value; }
  friend bool operator>=(const Dual& a, const Dual& b) { return a.value >= b.value; }
  friend bool operator==(const Dual& a, const Dual& b) { return a.value == b.value; }
  friend bool operator!=(const Dual& a, const Dual& b) { return a.value != b.value; }

  // value, then tangent = f'(value) * tangent.
  friend Dual exp(const Dual& a) {
    const S e = std::exp(a.value);
    return {e, e * a.tangent};
  }
  friend Dual log(const Dual& a) { return {std::log(a.value), a.tangent / a.value}; }
  friend Dual sin(const Dual& a) { return {std::sin(a.value), std::cos(a.value) * a.tangent}; }
  friend Dual cos(const Dual& a) { return {std::cos(a.value), -std::sin(a.value) * a.tangent}; }
  friend Dual tan(const Dual& a) {
    const S t = std::tan(a.value);
    return {t, (1 + t * t) * a.tangent};
  }
  friend Dual tanh(const Dual& a) {
    const S t = std::tanh(a.value);
    return {t, (1 - t * t) * a.tangent};
  }
  friend Dual sqrt(const Dual& a) {
    const S r = std::sqrt(a.value);
    return {r, a.tangent / (2 * r)};
  }
  // The tangent times sign(value): 0 at 0, as in reverse mode.
  friend Dual abs(const Dual& a) {
    return {std::abs(a.value), a.value > 0 ? a.tangent : a.value < 0 ? -a.tangent : S(0)};
  }
  friend Dual logistic(const Dual& a) {
    const S s = a.value >= 0 ? 1 / (1 + std::exp(-a.value)) : std::exp(a.value) / (1 + std::exp(a.value));
    return {s, s * (1 - s) * a.tangent};
  }
  // softplus(a) = log(1 + e^a), whose derivative is sigmoid(a), both from e^-|a|.
  friend Dual softplus(const Dual& a) {
    const S e = std::exp(-std::abs(a.value));
    const S s = a.value >= 0 ? 1 / (1 + e) : e / (1 + e);
    return {(a.value > 0 ? a.value : S(0)) + std::log1p(e), s * a.tangent};
  }
  // d/da a^b = b a^(b-1), 0 for b = 0 (not 0 * inf at a = 0).
  friend Dual pow(const Dual& a, const Dual& b) {
    const S p = std::pow(a.value, b.value);
    S t = b.value == S(0) ? S(0) : b.value * std::pow(a.value, b.value - 1) * a.tangent;
    if (b.tangent != S(0)) t += p * std::log(a.value) * b.tangent;
    return {p, t};
  }
  friend bool isnan(const Dual& a) { return std::isnan(a.value) || std::isnan(a.tangent); }
  friend bool isinf(const Dual& a) { return std::isinf(a.value); }
  friend bool isfinite(const Dual& a) { return std::isfinite(a.value); }
  friend std::ostream& operator<<(std::ostream& out, const Dual& a) {
    return out << a.value << "+" << a.tangent << "e";
  }
};

template <class T>
inline constexpr bool is_dual = false;
template <class S>
inline constexpr bool is_dual<Dual<S>> = true;

// The scalar types a Tensor may hold.
template <class S>
concept TensorScalar = std::is_floating_point_v<S> || is_dual<S>;

// The plain number type under a scalar (S for Dual<S>).
template <class S>
struct real_of {
  using type = S;
};
template <class S>
struct real_of<Dual<S>> {
  using type = S;
};

// The value part of a dual number or of a packet of them (DualPacket); a plain number or
// packet as it is.
template <class T>
auto value_part(const T& x) {
  if constexpr (requires { x.value; })
    return x.value;
  else
    return x;
}

// Whether s is exactly 1, a dual number with a zero tangent too: only then may a product
// by s be skipped. (Dual's == compares values only: a seed of value 1 whose tangent was
// not 0 lost its tangent, and hvp its second-order term.)
template <class S>
bool exactly_one(const S& s) {
  if constexpr (is_dual<S>)
    return s.value == 1 && s.tangent == 0;
  else
    return s == S(1);
}

}  // namespace fusegrad

namespace Eigen {
template <class S>
struct NumTraits<fusegrad::Dual<S>> : GenericNumTraits<fusegrad::Dual<S>> {
  using Real = fusegrad::Dual<S>;
  using NonInteger = fusegrad::Dual<S>;
  using Nested = fusegrad::Dual<S>;
  using Literal = S;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 2,
    AddCost = 2 * NumTraits<S>::AddCost,
    MulCost = 3 * NumTraits<S>::MulCost
  };
  static Real epsilon() { return NumTraits<S>::epsilon(); }
  static Real dummy_precision() { return NumTraits<S>::dummy_precision(); }
  static Real highest() { return NumTraits<S>::highest(); }
  static Real lowest() { return NumTraits<S>::lowest(); }
  static Real infinity() { return NumTraits<S>::infinity(); }
  static Real quiet_NaN() { return NumTraits<S>::quiet_NaN(); }
  static int digits10() { return NumTraits<S>::digits10(); }
};
}  // namespace Eigen
