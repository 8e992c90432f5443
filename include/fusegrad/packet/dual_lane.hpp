// SPDX-License-Identifier: MPL-2.0
#pragma once
// A Lane of dual numbers: a packet of values and a packet of tangents (DualPacket),
// answering the same calls as a Lane of plain numbers, so that the rules of ops/ run on
// dual numbers a SIMD packet at a time. Each call computes the value with the packet
// functions the plain lane uses and the tangent by the same calculus as Dual<S>
// (core/dual.hpp): f(a) = (f(v), f'(v) t).
//
// A function this file does not know (a user's map or zip, pow) is applied one dual
// number at a time, as Eigen would: correct, only not vectorised.
#include "../core/dual.hpp"
#include "lane.hpp"
#include "../core/vector_math.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad {

namespace dual_lane_detail {

template <class D>
D power(const D& a, const D& b) {
  return pow(a, b);
}

}  // namespace dual_lane_detail

template <class S, class P>
struct Lane<Dual<S>, DualPacket<P>> {
  using Scalar = Dual<S>;
  using Packet = DualPacket<P>;
  Packet packet;

  Lane() = default;
  explicit Lane(const Packet& p) : packet(p) {}
  Lane(const P& value, const P& tangent) : packet{value, tangent} {}

  const P& v() const { return packet.value; }
  const P& t() const { return packet.tangent; }
  static P splat(S x) { return Eigen::internal::pset1<P>(x); }
  static P mul(const P& a, const P& b) { return Eigen::internal::pmul(a, b); }
  template <class F>
  static P real(const F& f, const P& x) {
    return lanes::apply<S, P>(f, x);
  }

  // (f(v), f'(v) t) for the functions the rules call through unaryExpr; any other
  // function, one dual number at a time.
  template <class F>
  Lane unaryExpr(const F& f) const {
    if constexpr (std::is_same_v<F, vector_math::exp_op<Scalar>>) {
      const P e = real(vector_math::exp_op<S>(), v());
      return {e, mul(e, t())};
    } else if constexpr (std::is_same_v<F, vector_math::sin_op<Scalar>>) {
      P s, c;  // one sincos for the value and the derivative
      lanes::sin_and_cos<S, P>(v(), s, c);
      return {s, mul(c, t())};
    } else if constexpr (std::is_same_v<F, vector_math::cos_op<Scalar>>) {
      P s, c;
      lanes::sin_and_cos<S, P>(v(), s, c);
      return {c, Eigen::internal::pnegate(mul(s, t()))};
    } else if constexpr (std::is_same_v<F, vector_math::tan_op<Scalar>>) {
      const P y = real(vector_math::tan_op<S>(), v());
      return {y, mul(Eigen::internal::pmadd(y, y, splat(1)), t())};
    } else if constexpr (std::is_same_v<F, vector_math::tanh_op<Scalar>>) {
      return tanh();
    } else if constexpr (std::is_same_v<F, vector_math::sigmoid_op<Scalar>>) {
      return sigmoid();
    } else if constexpr (std::is_same_v<F, vector_math::softplus_op<Scalar>>) {
      return {real(vector_math::softplus_op<S>(), v()), mul(real(vector_math::sigmoid_op<S>(), v()), t())};
    } else if constexpr (std::is_same_v<F, vector_math::log_op<Scalar>>) {
      return log();
    } else if constexpr (std::is_same_v<F, vector_math::sqrt_op<Scalar>>) {
      return sqrt();
    } else {
      return each([&f](const Scalar& a) { return Scalar(f(a)); });
    }
  }
  template <class F>
  Lane binaryExpr(const Lane& y, const F& f) const {
    constexpr int width = lanes::width<Scalar, Packet>;
    Scalar a[width], b[width];
    lanes::store<Scalar, Packet>(a, packet);
    lanes::store<Scalar, Packet>(b, y.packet);
    for (int k = 0; k < width; ++k) a[k] = f(a[k], b[k]);
    return Lane(lanes::load<Scalar, Packet>(a));
  }
  template <class F>
  Lane each(const F& f) const {
    constexpr int width = lanes::width<Scalar, Packet>;
    Scalar a[width];
    lanes::store<Scalar, Packet>(a, packet);
    for (Scalar& x : a) x = f(x);
    return Lane(lanes::load<Scalar, Packet>(a));
  }
  Lane constant(Scalar value) const { return Lane(lanes::broadcast<Scalar, Packet>(value)); }

  Lane exp() const { return unaryExpr(vector_math::exp_op<S>()); }
  Lane log() const { return {real(vector_math::log_op<S>(), v()), Eigen::internal::pdiv(t(), v())}; }
  Lane sqrt() const {
    const P r = real(vector_math::sqrt_op<S>(), v());
    return {r, Eigen::internal::pdiv(t(), Eigen::internal::padd(r, r))};
  }
  Lane rsqrt() const {  // r = v^-1/2, r' = -r / (2 v)
    const P r = Eigen::internal::pdiv(splat(1), real(vector_math::sqrt_op<S>(), v()));
    return {r, Eigen::internal::pdiv(mul(mul(r, splat(S(-0.5))), t()), v())};
  }
  Lane square() const { return {mul(v(), v()), mul(Eigen::internal::padd(v(), v()), t())}; }
  Lane cube() const {
    const P s = mul(v(), v());
    return {mul(s, v()), mul(mul(s, splat(3)), t())};
  }
  Lane inverse() const {
    const P q = Eigen::internal::pdiv(splat(1), v());
    return {q, Eigen::internal::pnegate(mul(mul(q, q), t()))};
  }
  Lane abs() const {  // the tangent times sign(v), 0 at 0 as in reverse mode
    const P negative = Eigen::internal::pcmp_lt(v(), splat(0));
    const P positive = Eigen::internal::pcmp_lt(splat(0), v());
    return {Eigen::internal::pabs(v()), Eigen::internal::por(Eigen::internal::pand(positive, t()),
                                                               Eigen::internal::pand(negative, Eigen::internal::pnegate(t())))};
  }
  Lane sign() const {
    const P one = splat(1);
    const P positive = Eigen::internal::pand(Eigen::internal::pcmp_lt(splat(0), v()), one);
    const P negative = Eigen::internal::pand(Eigen::internal::pcmp_lt(v(), splat(0)), one);
    return {Eigen::internal::psub(positive, negative), splat(0)};
  }
  Lane sigmoid() const {
    const P s = real(vector_math::sigmoid_op<S>(), v());
    return {s, mul(mul(s, Eigen::internal::psub(splat(1), s)), t())};
  }
  Lane tanh() const {
    const P y = real(vector_math::tanh_op<S>(), v());
    return {y, mul(Eigen::internal::psub(splat(1), mul(y, y)), t())};
  }
  Lane pow(Scalar exponent) const {
    return each([exponent](const Scalar& a) { return dual_lane_detail::power(a, exponent); });
  }
  // NaN handling as Dual's own comparisons: by value, the first operand kept when
  // unordered (std::max and std::min).
  template <int Nan = Eigen::PropagateFast> Lane cwiseMax(const Lane& y) const {
    const P take_y = Eigen::internal::pcmp_lt(v(), y.v());
    return {Eigen::internal::pselect(take_y, y.v(), v()), Eigen::internal::pselect(take_y, y.t(), t())};
  }
  template <int Nan = Eigen::PropagateFast> Lane cwiseMax(Scalar y) const { return cwiseMax<Nan>(constant(y)); }
  template <int Nan = Eigen::PropagateFast> Lane cwiseMin(const Lane& y) const {
    const P take_y = Eigen::internal::pcmp_lt(y.v(), v());
    return {Eigen::internal::pselect(take_y, y.v(), v()), Eigen::internal::pselect(take_y, y.t(), t())};
  }
  template <int Nan = Eigen::PropagateFast> Lane cwiseMin(Scalar y) const { return cwiseMin<Nan>(constant(y)); }

  Lane operator-() const { return {Eigen::internal::pnegate(v()), Eigen::internal::pnegate(t())}; }
  friend Lane operator+(const Lane& a, const Lane& b) {
    return {Eigen::internal::padd(a.v(), b.v()), Eigen::internal::padd(a.t(), b.t())};
  }
  friend Lane operator-(const Lane& a, const Lane& b) {
    return {Eigen::internal::psub(a.v(), b.v()), Eigen::internal::psub(a.t(), b.t())};
  }
  friend Lane operator*(const Lane& a, const Lane& b) {
    return {mul(a.v(), b.v()), Eigen::internal::pmadd(a.t(), b.v(), mul(a.v(), b.t()))};
  }
  friend Lane operator/(const Lane& a, const Lane& b) {
    const P q = Eigen::internal::pdiv(a.v(), b.v());
    return {q, Eigen::internal::pdiv(Eigen::internal::psub(a.t(), mul(q, b.t())), b.v())};
  }
  friend Lane operator+(const Lane& a, Scalar b) { return a + a.constant(b); }
  friend Lane operator-(const Lane& a, Scalar b) { return a - a.constant(b); }
  // A single value with a zero tangent (a constant) scales the tangent alone: an
  // infinite value times it then keeps its tangent (3 x at x = inf: 3, not 3 + inf 0).
  friend Lane operator*(const Lane& a, Scalar b) {
    if (b.tangent == S(0)) return {mul(a.v(), splat(b.value)), mul(a.t(), splat(b.value))};
    return a * a.constant(b);
  }
  friend Lane operator/(const Lane& a, Scalar b) {
    if (b.tangent == S(0))
      return {Eigen::internal::pdiv(a.v(), splat(b.value)), Eigen::internal::pdiv(a.t(), splat(b.value))};
    return a / a.constant(b);
  }
  friend Lane operator+(Scalar a, const Lane& b) { return b.constant(a) + b; }
  friend Lane operator-(Scalar a, const Lane& b) { return b.constant(a) - b; }
  friend Lane operator*(Scalar a, const Lane& b) { return b * a; }
  friend Lane operator/(Scalar a, const Lane& b) { return b.constant(a) / b; }

  using Mask = LaneMask<Scalar, Packet>;
  friend Mask operator>(const Lane& a, const Lane& b) { return {Eigen::internal::pcmp_lt(b.v(), a.v())}; }
  friend Mask operator<(const Lane& a, const Lane& b) { return {Eigen::internal::pcmp_lt(a.v(), b.v())}; }
  friend Mask operator>=(const Lane& a, const Lane& b) { return {Eigen::internal::pcmp_le(b.v(), a.v())}; }
  friend Mask operator<=(const Lane& a, const Lane& b) { return {Eigen::internal::pcmp_le(a.v(), b.v())}; }
  friend Mask operator==(const Lane& a, const Lane& b) { return {Eigen::internal::pcmp_eq(a.v(), b.v())}; }
  friend Mask operator!=(const Lane& a, const Lane& b) { return !(a == b); }
  friend Mask operator>(const Lane& a, Scalar b) { return a > a.constant(b); }
  friend Mask operator<(const Lane& a, Scalar b) { return a < a.constant(b); }
  friend Mask operator>=(const Lane& a, Scalar b) { return a >= a.constant(b); }
  friend Mask operator<=(const Lane& a, Scalar b) { return a <= a.constant(b); }
  friend Mask operator==(const Lane& a, Scalar b) { return a == a.constant(b); }
  friend Mask operator!=(const Lane& a, Scalar b) { return a != a.constant(b); }
};

// Comparisons of dual lanes look at values only, as Dual's do.
template <class S, class P>
struct LaneMask<Dual<S>, DualPacket<P>> {
  P bits;  // all bits set where true

  LaneMask operator!() const { return {Eigen::internal::pandnot(Eigen::internal::ptrue(bits), bits)}; }
  template <class T>
  Lane<Dual<S>, DualPacket<P>> cast() const {
    static_assert(std::is_same_v<T, Dual<S>>, "fusegrad: a lane mask converts to its own scalar type only");
    return {Eigen::internal::pand(bits, Eigen::internal::pset1<P>(S(1))), Eigen::internal::pset1<P>(S(0))};
  }
  Lane<Dual<S>, DualPacket<P>> select(const Lane<Dual<S>, DualPacket<P>>& if_true,
                                      const Lane<Dual<S>, DualPacket<P>>& if_false) const {
    return {Eigen::internal::pselect(bits, if_true.v(), if_false.v()),
            Eigen::internal::pselect(bits, if_true.t(), if_false.t())};
  }
};

}  // namespace fusegrad

#pragma GCC diagnostic pop
