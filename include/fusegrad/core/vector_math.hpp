#pragma once
// Transcendental functions for Eigen's packet (SIMD) path. Eigen 3.4 evaluates sin,
// cos, tan and (for double) tanh one element at a time, and one such function in a
// fused expression makes Eigen evaluate the whole expression one element at a time.
// With SLEEF (FUSEGRAD_HAS_SLEEF, set by the build when libsleef is found) these
// functors give Eigen a packet path, at most 1 ulp from the exact result; without it
// they are scalar and behave as Eigen's own.
#include <cmath>

#include "config.hpp"

#if defined(FUSEGRAD_HAS_SLEEF)
#include <immintrin.h>
#include <sleef.h>
#endif

namespace fusegrad::vector_math {

#if defined(FUSEGRAD_HAS_SLEEF)
// One overload per SIMD width the compiler targets: Eigen's packet types for float and
// double are these intrinsic types.
inline __m128d sin(__m128d x) { return Sleef_sind2_u10(x); }
inline __m128 sin(__m128 x) { return Sleef_sinf4_u10(x); }
inline __m128d cos(__m128d x) { return Sleef_cosd2_u10(x); }
inline __m128 cos(__m128 x) { return Sleef_cosf4_u10(x); }
inline __m128d tan(__m128d x) { return Sleef_tand2_u10(x); }
inline __m128 tan(__m128 x) { return Sleef_tanf4_u10(x); }
inline __m128d tanh(__m128d x) { return Sleef_tanhd2_u10(x); }
inline __m128 tanh(__m128 x) { return Sleef_tanhf4_u10(x); }
#if defined(__AVX__)
inline __m256d sin(__m256d x) { return Sleef_sind4_u10(x); }
inline __m256 sin(__m256 x) { return Sleef_sinf8_u10(x); }
inline __m256d cos(__m256d x) { return Sleef_cosd4_u10(x); }
inline __m256 cos(__m256 x) { return Sleef_cosf8_u10(x); }
inline __m256d tan(__m256d x) { return Sleef_tand4_u10(x); }
inline __m256 tan(__m256 x) { return Sleef_tanf8_u10(x); }
inline __m256d tanh(__m256d x) { return Sleef_tanhd4_u10(x); }
inline __m256 tanh(__m256 x) { return Sleef_tanhf8_u10(x); }
#endif
#if defined(__AVX512F__)
inline __m512d sin(__m512d x) { return Sleef_sind8_u10(x); }
inline __m512 sin(__m512 x) { return Sleef_sinf16_u10(x); }
inline __m512d cos(__m512d x) { return Sleef_cosd8_u10(x); }
inline __m512 cos(__m512 x) { return Sleef_cosf16_u10(x); }
inline __m512d tan(__m512d x) { return Sleef_tand8_u10(x); }
inline __m512 tan(__m512 x) { return Sleef_tanf16_u10(x); }
inline __m512d tanh(__m512d x) { return Sleef_tanhd8_u10(x); }
inline __m512 tanh(__m512 x) { return Sleef_tanhf16_u10(x); }
#endif
inline constexpr bool vectorized = true;
#else
inline constexpr bool vectorized = false;
// Declared only so the functors below compile; without SLEEF no packet path is
// offered (has_packets is false) and these are never called.
template <class P> P sin(const P&);
template <class P> P cos(const P&);
template <class P> P tan(const P&);
template <class P> P tanh(const P&);
#endif

// The functions, each once for single elements (through ADL, so that dual numbers find
// fusegrad's own) and once for SIMD packets.
struct sine {
  template <class T> static T element(const T& x) { using std::sin; return sin(x); }
  template <class P> static P packet(const P& x) { return vector_math::sin(x); }
};
struct cosine {
  template <class T> static T element(const T& x) { using std::cos; return cos(x); }
  template <class P> static P packet(const P& x) { return vector_math::cos(x); }
};
struct tangent {
  template <class T> static T element(const T& x) { using std::tan; return tan(x); }
  template <class P> static P packet(const P& x) { return vector_math::tan(x); }
};
struct hyperbolic_tangent {
  template <class T> static T element(const T& x) { using std::tanh; return tanh(x); }
  template <class P> static P packet(const P& x) { return vector_math::tanh(x); }
};

// An Eigen functor: operator() for single elements, packetOp for SIMD packets.
template <class S, class Function>
struct function_op {
  S operator()(S x) const { return Function::element(x); }
  template <class P> P packetOp(const P& x) const { return Function::packet(x); }
};
template <class S> using sin_op = function_op<S, sine>;
template <class S> using cos_op = function_op<S, cosine>;
template <class S> using tan_op = function_op<S, tangent>;
template <class S> using tanh_op = function_op<S, hyperbolic_tangent>;

// exp through Eigen's packet exp, except where that is wrong: Eigen 3.4 clamps the
// argument of its double exp at about -708.4, so exp(-inf) and exp(-800) come out as
// 5.6e-309 instead of 0 (and logsumexp of -inf everywhere as -709 instead of -inf).
// Below the argument whose exp rounds to zero, the result is 0.
template <class S>
struct exp_op {
  static constexpr double underflow = std::is_same_v<S, float> ? -103.97208 : -745.1332191019412;
  S operator()(S x) const {
    using std::exp;
    return exp(x);
  }
  template <class P>
  P packetOp(const P& x) const {
    const P y = Eigen::internal::pexp(x);
    const P below = Eigen::internal::pcmp_lt(x, Eigen::internal::pset1<P>(S(underflow)));
    return Eigen::internal::pselect(below, Eigen::internal::pzero(x), y);
  }
};

// The packet path is offered only for float and double, and only with SLEEF.
template <class S>
inline constexpr bool has_packets =
    vectorized && (std::is_same_v<S, float> || std::is_same_v<S, double>);

}  // namespace fusegrad::vector_math

namespace Eigen::internal {
template <class S>
struct functor_traits<fusegrad::vector_math::exp_op<S>> {
  enum {
    Cost = functor_traits<scalar_exp_op<S>>::Cost + 2,
    PacketAccess = std::is_same_v<S, float> || std::is_same_v<S, double>
  };
};
template <class S, class Function>
struct functor_traits<fusegrad::vector_math::function_op<S, Function>> {
  enum { Cost = 25 * NumTraits<S>::MulCost, PacketAccess = fusegrad::vector_math::has_packets<S> };
};
}  // namespace Eigen::internal
