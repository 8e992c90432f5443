// SPDX-License-Identifier: MPL-2.0
#pragma once
// A Lane is one SIMD packet of values (or one value, for the tail of a loop) that
// answers the same calls as an Eigen tensor expression: x.exp(), x.square(),
// x.unaryExpr(f), x + y, x > s, ... Every elementwise rule in ops/ is written against
// that interface, so the very same rule code evaluates a whole tensor through Eigen or
// one packet in registers inside fusegrad's fused adjoint (expr/lanes.hpp). Each call
// goes through the Eigen functor that the tensor expression would use, so both paths
// compute the same numbers.
#include <type_traits>
#include <utility>

#include "../core/config.hpp"
#include "dual_packet.hpp"
#include "../core/vector_math.hpp"

// Packet types carry alignment attributes that template arguments drop; harmless here,
// as Eigen notes for its own packet templates.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad {

template <class S, class P>
struct Lane;

template <class S, class P>
struct LaneMask;

template <class S, class P>
struct ScaledLane;

namespace lanes {

template <class S, class P>
inline constexpr bool is_scalar_lane = std::is_same_v<S, P>;

template <class S, class P>
inline constexpr int width = Eigen::internal::unpacket_traits<P>::size;
template <class S, class P>
inline constexpr int width<S, DualPacket<P>> = Eigen::internal::unpacket_traits<P>::size;

// f applied to every element of x: its packet form when it has one, else one element
// at a time.
template <class S, class P, class F>
P apply(const F& f, const P& x) {
  if constexpr (is_scalar_lane<S, P>) {
    return f(x);
  } else if constexpr (Eigen::internal::functor_traits<F>::PacketAccess) {
    return f.packetOp(x);
  } else {
    alignas(64) S values[width<S, P>];
    Eigen::internal::pstore(values, x);
    for (S& v : values) v = f(v);
    return Eigen::internal::pload<P>(values);
  }
}

template <class S, class P, class F>
P apply(const F& f, const P& x, const P& y) {
  if constexpr (is_scalar_lane<S, P>) {
    return f(x, y);
  } else if constexpr (Eigen::internal::functor_traits<F>::PacketAccess) {
    return f.packetOp(x, y);
  } else {
    alignas(64) S a[width<S, P>], b[width<S, P>];
    Eigen::internal::pstore(a, x);
    Eigen::internal::pstore(b, y);
    for (int i = 0; i < width<S, P>; ++i) a[i] = f(a[i], b[i]);
    return Eigen::internal::pload<P>(a);
  }
}

template <class S, class P>
P broadcast(S value) {
  if constexpr (is_scalar_lane<S, P>)
    return value;
  else if constexpr (is_dual_packet<P>)
    return {Eigen::internal::pset1<decltype(P::value)>(value.value),
            Eigen::internal::pset1<decltype(P::value)>(value.tangent)};
  else
    return Eigen::internal::pset1<P>(value);
}

template <class S, class P>
P load(const S* at) {
  if constexpr (is_scalar_lane<S, P>) {
    return *at;
  } else if constexpr (is_dual_packet<P>) {
    P p;
    interleave::split<typename real_of<S>::type>(at, p.value, p.tangent);
    return p;
  } else
    return Eigen::internal::ploadu<P>(at);
}

template <class S, class P>
void store(S* at, const P& value) {
  if constexpr (is_scalar_lane<S, P>)
    *at = value;
  else if constexpr (is_dual_packet<P>)
    interleave::join<typename real_of<S>::type>(at, value.value, value.tangent);
  else
    Eigen::internal::pstoreu(at, value);
}

// The sum of a lane's elements.
template <class S, class P>
S total(const P& value) {
  if constexpr (is_scalar_lane<S, P>)
    return value;
  else if constexpr (is_dual_packet<P>)
    return S(Eigen::internal::predux(value.value), Eigen::internal::predux(value.tangent));
  else
    return Eigen::internal::predux(value);
}

template <class S, class P>
P add(const P& a, const P& b) {
  if constexpr (is_scalar_lane<S, P>)
    return a + b;
  else if constexpr (is_dual_packet<P>)
    return {Eigen::internal::padd(a.value, b.value), Eigen::internal::padd(a.tangent, b.tangent)};
  else
    return Eigen::internal::padd(a, b);
}

// sin x and cos x together: SLEEF's sincos on a packet, about the cost of sin alone
// where sin and cos apart cost three times as much; otherwise sin_op and cos_op.
template <class S, class P>
void sin_and_cos(const P& x, P& s, P& c) {
  if constexpr (!is_scalar_lane<S, P> && vector_math::vectorized) {
    vector_math::sincos(x, s, c);
  } else {
    s = apply<S, P>(vector_math::sin_op<S>(), x);
    c = apply<S, P>(vector_math::cos_op<S>(), x);
  }
}

}  // namespace lanes

template <class S, class P>
struct Lane {
  using Scalar = S;
  P packet;

  Lane() = default;
  explicit Lane(const P& p) : packet(p) {}

  template <class F> Lane unaryExpr(const F& f) const { return Lane(lanes::apply<S, P>(f, packet)); }
  template <class F> Lane binaryExpr(const Lane& y, const F& f) const {
    return Lane(lanes::apply<S, P>(f, packet, y.packet));
  }
  Lane constant(S value) const { return Lane(lanes::broadcast<S, P>(value)); }

  Lane exp() const { return unaryExpr(Eigen::internal::scalar_exp_op<S>()); }
  Lane log() const { return unaryExpr(vector_math::log_op<S>()); }
  Lane sqrt() const { return unaryExpr(vector_math::sqrt_op<S>()); }
  Lane rsqrt() const { return unaryExpr(Eigen::internal::scalar_rsqrt_op<S>()); }
  Lane square() const { return unaryExpr(Eigen::internal::scalar_square_op<S>()); }
  Lane cube() const { return unaryExpr(Eigen::internal::scalar_cube_op<S>()); }
  Lane inverse() const { return unaryExpr(Eigen::internal::scalar_inverse_op<S>()); }
  Lane abs() const { return unaryExpr(Eigen::internal::scalar_abs_op<S>()); }
  Lane sign() const { return unaryExpr(Eigen::internal::scalar_sign_op<S>()); }
  Lane sigmoid() const { return unaryExpr(vector_math::sigmoid_op<S>()); }
  Lane tanh() const { return unaryExpr(Eigen::internal::scalar_tanh_op<S>()); }
  Lane pow(S exponent) const {
    return unaryExpr(Eigen::internal::bind2nd_op<Eigen::internal::scalar_pow_op<S, S>>(exponent));
  }
  template <int Nan = Eigen::PropagateFast> Lane cwiseMax(const Lane& y) const {
    return binaryExpr(y, Eigen::internal::scalar_max_op<S, S, Nan>());
  }
  template <int Nan = Eigen::PropagateFast> Lane cwiseMax(S y) const { return cwiseMax<Nan>(constant(y)); }
  template <int Nan = Eigen::PropagateFast> Lane cwiseMin(const Lane& y) const {
    return binaryExpr(y, Eigen::internal::scalar_min_op<S, S, Nan>());
  }
  template <int Nan = Eigen::PropagateFast> Lane cwiseMin(S y) const { return cwiseMin<Nan>(constant(y)); }

  Lane operator-() const { return Lane(Eigen::internal::pnegate(packet)); }
  friend Lane operator+(const Lane& a, const Lane& b) { return Lane(Eigen::internal::padd(a.packet, b.packet)); }
  friend Lane operator-(const Lane& a, const Lane& b) { return Lane(Eigen::internal::psub(a.packet, b.packet)); }
  friend Lane operator*(const Lane& a, const Lane& b) { return Lane(Eigen::internal::pmul(a.packet, b.packet)); }
  friend Lane operator/(const Lane& a, const Lane& b) { return Lane(Eigen::internal::pdiv(a.packet, b.packet)); }
  friend Lane operator+(const Lane& a, S b) { return a + a.constant(b); }
  friend Lane operator-(const Lane& a, S b) { return a - a.constant(b); }
  // A lane times a single value stays a lane and a factor (ScaledLane, below).
  friend ScaledLane<S, P> operator*(const Lane& a, S b) { return {a, b}; }
  friend Lane operator/(const Lane& a, S b) { return a / a.constant(b); }
  friend Lane operator+(S a, const Lane& b) { return b.constant(a) + b; }
  friend Lane operator-(S a, const Lane& b) { return b.constant(a) - b; }
  friend ScaledLane<S, P> operator*(S a, const Lane& b) { return {b, a}; }
  friend Lane operator/(S a, const Lane& b) { return b.constant(a) / b; }

  friend LaneMask<S, P> operator>(const Lane& a, const Lane& b) { return LaneMask<S, P>::less(b, a); }
  friend LaneMask<S, P> operator<(const Lane& a, const Lane& b) { return LaneMask<S, P>::less(a, b); }
  friend LaneMask<S, P> operator>=(const Lane& a, const Lane& b) { return LaneMask<S, P>::less_equal(b, a); }
  friend LaneMask<S, P> operator<=(const Lane& a, const Lane& b) { return LaneMask<S, P>::less_equal(a, b); }
  friend LaneMask<S, P> operator==(const Lane& a, const Lane& b) { return LaneMask<S, P>::equal(a, b); }
  friend LaneMask<S, P> operator!=(const Lane& a, const Lane& b) { return !LaneMask<S, P>::equal(a, b); }
  friend LaneMask<S, P> operator>(const Lane& a, S b) { return a > a.constant(b); }
  friend LaneMask<S, P> operator<(const Lane& a, S b) { return a < a.constant(b); }
  friend LaneMask<S, P> operator>=(const Lane& a, S b) { return a >= a.constant(b); }
  friend LaneMask<S, P> operator<=(const Lane& a, S b) { return a <= a.constant(b); }
  friend LaneMask<S, P> operator==(const Lane& a, S b) { return a == a.constant(b); }
  friend LaneMask<S, P> operator!=(const Lane& a, S b) { return a != a.constant(b); }
};

// Which elements of a lane satisfy a comparison; cast<S>() gives 1 and 0.
template <class S, class P>
struct LaneMask {
  // For packets, all bits set where true; for a single value, 1 or 0.
  P bits;

  static LaneMask less(const Lane<S, P>& a, const Lane<S, P>& b) {
    if constexpr (lanes::is_scalar_lane<S, P>)
      return {S(a.packet < b.packet)};
    else
      return {Eigen::internal::pcmp_lt(a.packet, b.packet)};
  }
  static LaneMask less_equal(const Lane<S, P>& a, const Lane<S, P>& b) {
    if constexpr (lanes::is_scalar_lane<S, P>)
      return {S(a.packet <= b.packet)};
    else
      return {Eigen::internal::pcmp_le(a.packet, b.packet)};
  }
  static LaneMask equal(const Lane<S, P>& a, const Lane<S, P>& b) {
    if constexpr (lanes::is_scalar_lane<S, P>)
      return {S(a.packet == b.packet)};
    else
      return {Eigen::internal::pcmp_eq(a.packet, b.packet)};
  }
  LaneMask operator!() const {
    if constexpr (lanes::is_scalar_lane<S, P>)
      return {S(1) - bits};
    else
      return {Eigen::internal::pandnot(Eigen::internal::ptrue(bits), bits)};
  }
  template <class T>
  Lane<S, P> cast() const {
    static_assert(std::is_same_v<T, S>, "fusegrad: a lane mask converts to its own scalar type only");
    if constexpr (lanes::is_scalar_lane<S, P>)
      return Lane<S, P>(bits);
    else
      return Lane<S, P>(Eigen::internal::pand(bits, Eigen::internal::pset1<P>(S(1))));
  }
  Lane<S, P> select(const Lane<S, P>& if_true, const Lane<S, P>& if_false) const {
    if constexpr (lanes::is_scalar_lane<S, P>)
      return bits != S(0) ? if_true : if_false;
    else
      return Lane<S, P>(Eigen::internal::pselect(bits, if_true.packet, if_false.packet));
  }
};

namespace lanes {

template <class T>
inline constexpr bool is_scaled = false;
template <class S, class P>
inline constexpr bool is_scaled<ScaledLane<S, P>> = true;

// A scaled lane multiplied out; anything else as it is.
template <class T>
decltype(auto) unscaled(const T& x) {
  if constexpr (is_scaled<T>)
    return x.multiplied();
  else
    return (x);
}

// A plain number or a dual number: what a lane's factor can be multiplied by.
template <class T>
inline constexpr bool is_number = std::is_arithmetic_v<T> || is_dual<T>;

// The operands of an operation on scaled lanes: one scaled lane, and another, a lane,
// or a number.
template <class A, class B>
concept scaled_operands = (is_scaled<A> || is_scaled<B>) &&
                          (is_scaled<A> || is_number<A> || requires { typename A::Scalar; }) &&
                          (is_scaled<B> || is_number<B> || requires { typename B::Scalar; });

}  // namespace lanes

// A lane times a single value, kept apart: the value is lane * factor. Rules make one
// wherever they multiply a lane by a single value (x * 2, x * (1 / sigma)), and it stays
// one through further such products, negation and squaring, so those cost a scalar
// multiplication per pass instead of a SIMD one per packet. Where a lane must hold the
// product (a transcendental, a sum with a lane, a store) it is multiplied out; a full
// sum of scaled lanes adds the lanes and applies the factor once, after the pass.
//
// Rounding differs from multiplying each element in order: (x f) g becomes x (f g),
// within an ulp or two.
template <class S, class P>
struct ScaledLane {
  using Scalar = S;
  Lane<S, P> lane;
  S factor;  // the same in every packet: made of single values and constants only

  Lane<S, P> multiplied() const {
    if constexpr (is_dual_packet<P>)
      return lane * factor;  // a dual lane's own product
    else
      return Lane<S, P>(Eigen::internal::pmul(lane.packet, lanes::broadcast<S, P>(factor)));
  }
  operator Lane<S, P>() const { return multiplied(); }

  ScaledLane square() const { return {lane.square(), factor * factor}; }
  ScaledLane operator-() const { return {lane, -factor}; }

  template <class F> Lane<S, P> unaryExpr(const F& f) const { return multiplied().unaryExpr(f); }
  template <class Y, class F> Lane<S, P> binaryExpr(const Y& y, const F& f) const {
    return multiplied().binaryExpr(lanes::unscaled(y), f);
  }
  Lane<S, P> constant(S value) const { return lane.constant(value); }
  Lane<S, P> exp() const { return multiplied().exp(); }
  Lane<S, P> log() const { return multiplied().log(); }
  Lane<S, P> sqrt() const { return multiplied().sqrt(); }
  Lane<S, P> rsqrt() const { return multiplied().rsqrt(); }
  Lane<S, P> cube() const { return multiplied().cube(); }
  Lane<S, P> inverse() const { return multiplied().inverse(); }
  Lane<S, P> abs() const { return multiplied().abs(); }
  Lane<S, P> sign() const { return multiplied().sign(); }
  Lane<S, P> sigmoid() const { return multiplied().sigmoid(); }
  Lane<S, P> tanh() const { return multiplied().tanh(); }
  Lane<S, P> pow(S exponent) const { return multiplied().pow(exponent); }
  template <int Nan = Eigen::PropagateFast, class Y> Lane<S, P> cwiseMax(const Y& y) const {
    return multiplied().template cwiseMax<Nan>(lanes::unscaled(y));
  }
  template <int Nan = Eigen::PropagateFast, class Y> Lane<S, P> cwiseMin(const Y& y) const {
    return multiplied().template cwiseMin<Nan>(lanes::unscaled(y));
  }
};

// Products keep the factor apart; everything else multiplies it out first.
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator*(const A& a, const B& b) {
  if constexpr (lanes::is_scaled<A> && lanes::is_scaled<B>) {
    return A{a.lane * b.lane, a.factor * b.factor};
  } else if constexpr (lanes::is_scaled<A>) {
    using S = typename A::Scalar;
    if constexpr (lanes::is_number<B>)
      return A{a.lane, a.factor * S(b)};
    else
      return A{a.lane * b, a.factor};
  } else {
    using S = typename B::Scalar;
    if constexpr (lanes::is_number<A>)
      return B{b.lane, S(a) * b.factor};
    else
      return B{a * b.lane, b.factor};
  }
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator/(const A& a, const B& b) {
  return lanes::unscaled(a) / lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator+(const A& a, const B& b) {
  return lanes::unscaled(a) + lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator-(const A& a, const B& b) {
  return lanes::unscaled(a) - lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator>(const A& a, const B& b) {
  return lanes::unscaled(a) > lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator<(const A& a, const B& b) {
  return lanes::unscaled(a) < lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator>=(const A& a, const B& b) {
  return lanes::unscaled(a) >= lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator<=(const A& a, const B& b) {
  return lanes::unscaled(a) <= lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator==(const A& a, const B& b) {
  return lanes::unscaled(a) == lanes::unscaled(b);
}
template <class A, class B>
  requires lanes::scaled_operands<A, B>
auto operator!=(const A& a, const B& b) {
  return lanes::unscaled(a) != lanes::unscaled(b);
}

// (sin x, cos x) of a lane of real numbers in one call, for the rules whose value and
// derivative are that pair (ops::Sin, ops::Cos): the fused adjoint needs both.
template <class S, class P>
  requires std::is_floating_point_v<S>
std::pair<Lane<S, P>, Lane<S, P>> sin_cos(const Lane<S, P>& x) {
  P s, c;
  lanes::sin_and_cos<S, P>(x.packet, s, c);
  return {Lane<S, P>(s), Lane<S, P>(c)};
}

}  // namespace fusegrad

#pragma GCC diagnostic pop
