// SPDX-License-Identifier: MPL-2.0
#pragma once
// Transcendental functions for Eigen's packet (SIMD) path. Eigen 3.4 evaluates sin,
// cos, tan and (for double) tanh one element at a time, and one such function in a
// fused expression makes Eigen evaluate the whole expression one element at a time.
// With SLEEF (FUSEGRAD_HAS_SLEEF, set by the build when libsleef is found) these
// functors give Eigen a packet path, at most 1 ulp from the exact result; without it
// they are scalar and behave as Eigen's own. On that path sin, cos and tan are SLEEF's;
// tanh is fusegrad's own (below), 2.5 to 3 times faster than SLEEF's and as accurate.
#include <cmath>
#include <limits>

#include "config.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif
#if defined(FUSEGRAD_HAS_SLEEF)
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
// sin and cos of one argument in one call: about the cost of sin alone (AVX-512 double:
// 1.7 ns per element, against 5.5 ns for sin and cos apart), each within 1 ulp.
inline void sincos(__m128d x, __m128d& s, __m128d& c) { const auto r = Sleef_sincosd2_u10(x); s = r.x, c = r.y; }
inline void sincos(__m128 x, __m128& s, __m128& c) { const auto r = Sleef_sincosf4_u10(x); s = r.x, c = r.y; }
#if defined(__AVX__)
inline __m256d sin(__m256d x) { return Sleef_sind4_u10(x); }
inline __m256 sin(__m256 x) { return Sleef_sinf8_u10(x); }
inline __m256d cos(__m256d x) { return Sleef_cosd4_u10(x); }
inline __m256 cos(__m256 x) { return Sleef_cosf8_u10(x); }
inline __m256d tan(__m256d x) { return Sleef_tand4_u10(x); }
inline __m256 tan(__m256 x) { return Sleef_tanf8_u10(x); }
inline void sincos(__m256d x, __m256d& s, __m256d& c) { const auto r = Sleef_sincosd4_u10(x); s = r.x, c = r.y; }
inline void sincos(__m256 x, __m256& s, __m256& c) { const auto r = Sleef_sincosf8_u10(x); s = r.x, c = r.y; }
#endif
#if defined(__AVX512F__)
inline __m512d sin(__m512d x) { return Sleef_sind8_u10(x); }
inline __m512 sin(__m512 x) { return Sleef_sinf16_u10(x); }
inline __m512d cos(__m512d x) { return Sleef_cosd8_u10(x); }
inline __m512 cos(__m512 x) { return Sleef_cosf16_u10(x); }
inline __m512d tan(__m512d x) { return Sleef_tand8_u10(x); }
inline __m512 tan(__m512 x) { return Sleef_tanf16_u10(x); }
inline void sincos(__m512d x, __m512d& s, __m512d& c) { const auto r = Sleef_sincosd8_u10(x); s = r.x, c = r.y; }
inline void sincos(__m512 x, __m512& s, __m512& c) { const auto r = Sleef_sincosf16_u10(x); s = r.x, c = r.y; }
#endif

// tanh. SLEEF's (Sleef_tanhd8_u10) costs about 3.1 ns per double (AVX-512, 4.3 with
// AVX2), more than the exp-based formula people write by hand, so tanh has its own packet
// code: about 1.15 ns per double with AVX-512 (1.7 with AVX2; float 0.48 and 0.73, SLEEF
// 1.44 and 1.95), at most 0.92 ulp from the exact tanh (SLEEF u10: 1.0; 1.12 in builds
// without FMA) over 10^7 arguments spread log-uniformly from 1e-310 to 30, both signs.
// It needs no SLEEF, only SSE2 (and AVX/AVX2/AVX-512 where compiled for).
//
// With a = |x| and s = z*z, both branches share one rational function of s,
//   P(s)/Q(s) ~ (tanh(z) - z)/z^3,
// the Pade approximant from Lambert's continued fraction tanh z = z/(1 + z^2/(3 + z^2/(5 +
// ...))), scaled to integer coefficients (exact in double and float), relative error
// below 1e-17 (double) and 3e-9 (float) for |z| < 0.55:
//   a < 0.55:  tanh(a) = a + a*s*P/Q, with z = a. The term added to a is under a tenth of
//              it, so its rounding errors count little; tiny and denormal a give a.
//   a >= 0.55: tanh(a) = 1 - q, q = 2E/(1 + E), E = exp(-2a) = 2^k e^(2z) with k integer,
//              |z| <= ln2/4 and e^(2z) = (1 + T)/(1 - T), T = tanh(z) = z(Q + sP)/Q.
//              So q = 2^(k+1) A/(2^k A + B) with A = Q + z(Q + sP), B = Q - z(Q + sP).
//              Above 0.55 tanh is at least 1/2, so there is no cancellation in 1 - q,
//              but near 0.55 q is about 1/2 and its own rounding errors (A, B, the
//              denominator, the quotient: up to 1.7 ulp of the result) count in full;
//              they are computed (two-sum, and the quotient's remainder by FMA) and
//              corrected. Both branches are then within 0.83 ulp (0.92 if the compiler
//              does not fuse multiply-adds).
// a is clamped at 20 (10 for float), where tanh already rounds to 1, so 2^k stays a
// normal number; inf gives 1. The sign of x is put back last (-0 stays -0), and NaN goes
// through the first branch and stays NaN.
namespace tanh_detail {

template <class S>
struct constants;
template <>
struct constants<double> {
  static constexpr double clamp = 20;
  // fma(a, -2/ln2, shifter) rounds -2a/ln2 to an integer k and leaves k + 1024 in the low
  // bits, from which power_of_two makes 2^(k+1).
  static constexpr double shifter = 0x1.8p52 + 1024;
  static constexpr double minus_two_over_ln2 = -0x1.71547652b82fep+1;
  // ln2/2 = hi + lo; hi has 32 trailing zero bits, so k*hi is exact even without FMA.
  static constexpr double half_ln2_hi = 0x1.62e42fee00000p-2, half_ln2_lo = 0x1.a39ef35793c76p-34;
  static constexpr double p[] = {-675675, -45045, -594, -1};          // P(s), lowest first
  static constexpr double q[] = {2027025, 945945, 51975, 630, 1};    // Q(s)
};
template <>
struct constants<float> {
  static constexpr float clamp = 10;
  static constexpr float shifter = 0x1.8p23f + 128;
  static constexpr float minus_two_over_ln2 = -0x1.715476p+1f;
  static constexpr float half_ln2_hi = 0x1.62e4p-2f, half_ln2_lo = 0x1.7f7d1cp-21f;
  static constexpr float p[] = {-315, -14};
  static constexpr float q[] = {945, 420, 15};
};

// 2^(k+1) from fma(a, -2/ln2, shifter): its low bits, moved into the exponent field.
inline __m128d power_of_two(__m128d v) { return _mm_castsi128_pd(_mm_slli_epi64(_mm_castpd_si128(v), 52)); }
inline __m128 power_of_two(__m128 v) { return _mm_castsi128_ps(_mm_slli_epi32(_mm_castps_si128(v), 23)); }
#if defined(__AVX2__)
inline __m256d power_of_two(__m256d v) { return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(v), 52)); }
inline __m256 power_of_two(__m256 v) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(v), 23)); }
#elif defined(__AVX__)
inline __m256d power_of_two(__m256d v) {
  return _mm256_set_m128d(power_of_two(_mm256_extractf128_pd(v, 1)), power_of_two(_mm256_castpd256_pd128(v)));
}
inline __m256 power_of_two(__m256 v) {
  return _mm256_set_m128(power_of_two(_mm256_extractf128_ps(v, 1)), power_of_two(_mm256_castps256_ps128(v)));
}
#endif
#if defined(__AVX512F__)
inline __m512d power_of_two(__m512d v) { return _mm512_castsi512_pd(_mm512_maskz_slli_epi64(0xFF, _mm512_castpd_si512(v), 52)); }
inline __m512 power_of_two(__m512 v) { return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, _mm512_castps_si512(v), 23)); }
#endif

// Lane masks and reciprocals: Eigen's packet operations, except on 512 bits, where
// AVX-512's mask registers are used directly (Eigen's compare-and-select converts each
// mask to a vector and back, which made this function 2.5x slower), and the reciprocal
// is rcp14 with one Newton step (2^-28 is enough: the quotient is corrected once).
// (On 512 bits the zero-masked forms, every lane kept, compile to the same instructions
// as the plain ones, which make GCC 12 warn that their undefined fill may be used.)
template <class P> inline P at_least(const P& a, const P& b) { return Eigen::internal::pcmp_le(b, a); }
template <class M, class P> inline P select(const M& m, const P& a, const P& b) { return Eigen::internal::pselect(m, a, b); }
template <class M, class P> inline P keep(const M& m, const P& a) { return Eigen::internal::pand(m, a); }
template <class P> inline P smaller(const P& a, const P& b) { return Eigen::internal::pmin(a, b); }
template <class P> inline P reciprocal(const P& d) {
  using S = typename Eigen::internal::unpacket_traits<P>::type;
  return Eigen::internal::pdiv(Eigen::internal::pset1<P>(S(1)), d);
}
#if defined(__AVX512F__)
inline __mmask8 at_least(const __m512d& a, const __m512d& b) { return _mm512_cmp_pd_mask(b, a, _CMP_LE_OQ); }
inline __m512d select(__mmask8 m, const __m512d& a, const __m512d& b) { return _mm512_mask_blend_pd(m, b, a); }
inline __m512d keep(__mmask8 m, const __m512d& a) { return _mm512_maskz_mov_pd(m, a); }
inline __m512d smaller(const __m512d& a, const __m512d& b) { return _mm512_maskz_min_pd(0xFF, a, b); }
inline __m512 smaller(const __m512& a, const __m512& b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
inline __m512d reciprocal(const __m512d& d) {
  const __m512d r = _mm512_maskz_rcp14_pd(0xFF, d);
  return _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d, r, _mm512_set1_pd(1.0)), r);
}
inline __mmask16 at_least(const __m512& a, const __m512& b) { return _mm512_cmp_ps_mask(b, a, _CMP_LE_OQ); }
inline __m512 select(__mmask16 m, const __m512& a, const __m512& b) { return _mm512_mask_blend_ps(m, b, a); }
inline __m512 keep(__mmask16 m, const __m512& a) { return _mm512_maskz_mov_ps(m, a); }
inline __m512 reciprocal(const __m512& d) { return _mm512_maskz_rcp14_ps(0xFFFF, d); }  // 2^-14; float needs 2^-12
#endif

template <class P, class S, std::size_t N>
inline P polynomial(const P& s, const S (&c)[N]) {
  using namespace Eigen::internal;
  P r = pset1<P>(c[N - 1]);
  for (std::size_t i = N - 1; i-- > 0;) r = pmadd(r, s, pset1<P>(c[i]));
  return r;
}

template <class P>
inline P tanh(const P& x) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<P>::type;
  using C = constants<S>;
  const P sign = pand(x, pset1<P>(S(-0.0)));
  const P a = pabs(x);
  const auto large = at_least(a, pset1<P>(S(0.55)));  // false for NaN
  // Second branch: E = exp(-2a) = 2^k e^(2z), z = -a - k ln2/2.
  const P clamped = smaller(a, pset1<P>(C::clamp));
  const P shifted = pmadd(clamped, pset1<P>(C::minus_two_over_ln2), pset1<P>(C::shifter));
  const P k = psub(shifted, pset1<P>(C::shifter));
  P z = pmadd(k, pset1<P>(-C::half_ln2_hi), pnegate(clamped));
  z = pmadd(k, pset1<P>(-C::half_ln2_lo), z);
  z = select(large, z, a);
  const P s = pmul(z, z);
  const P p = polynomial(s, C::p);
  const P q = polynomial(s, C::q);
  const P m = pmul(z, pmadd(s, p, q));                        // Q T; |T| < 1/5 in the second branch
  const P A = padd(q, m), A_error = psub(m, psub(A, q));      // A + A_error = q + m
  const P B = psub(q, m), B_error = psub(psub(q, B), m);
  const P two_t = power_of_two(shifted);                      // 2^(k+1)
  const P t = pmul(two_t, pset1<P>(S(0.5)));
  const P tA = pmul(t, A);                                    // exact, and below B
  const P D = padd(B, tA), D_error = psub(tA, psub(D, B));
  // The quotient: P/Q in the first branch, q = 2tA/D in the second.
  const P numerator = select(large, pmul(two_t, A), p);
  const P denominator = select(large, D, q);
#if defined(__FMA__)
  const P inverse = reciprocal(denominator);
  const P quotient = pmul(numerator, inverse);
  const P remainder = pmadd(pnegate(quotient), denominator, numerator);  // exact
#else
  // Without FMA that remainder would not be exact: divide (correctly rounded) instead.
  const P inverse = pdiv(pset1<P>(S(1)), denominator);
  const P quotient = pdiv(numerator, denominator);
  const P remainder = pzero(quotient);
#endif
  // To the remainder numerator - quotient*denominator, the second branch adds the rounding
  // errors of A, B and D: 2t A_error in the numerator, t A_error + B_error + D_error in
  // the denominator.
  const P errors = pmadd(pnegate(quotient), pmadd(t, A_error, padd(D_error, B_error)), pmul(two_t, A_error));
  const P ratio = pmadd(padd(remainder, keep(large, errors)), inverse, quotient);
  const P result = select(large, psub(pset1<P>(S(1)), ratio), pmadd(pmul(a, s), ratio, a));
  return por(result, sign);
}

}  // namespace tanh_detail

inline __m128d tanh(__m128d x) { return tanh_detail::tanh(x); }
inline __m128 tanh(__m128 x) { return tanh_detail::tanh(x); }
#if defined(__AVX__)
inline __m256d tanh(__m256d x) { return tanh_detail::tanh(x); }
inline __m256 tanh(__m256 x) { return tanh_detail::tanh(x); }
#endif
#if defined(__AVX512F__)
inline __m512d tanh(__m512d x) { return tanh_detail::tanh(x); }
inline __m512 tanh(__m512 x) { return tanh_detail::tanh(x); }
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
template <class P> void sincos(const P&, P&, P&);
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
  // SLEEF's double tan gives 0 for the smallest subnormals; tan x = x below the
  // smallest normal number.
  template <class P> static P packet(const P& x) {
    using namespace Eigen::internal;
    using S = typename unpacket_traits<P>::type;
    return pselect(pcmp_lt(pabs(x), pset1<P>(std::numeric_limits<S>::min())), x, vector_math::tan(x));
  }
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

// exp. With AVX-512, fusegrad's own (below): 1.6 times faster than Eigen's packet exp
// for double (0.46 against 0.73 ns per element), at most 0.89 ulp from the exact exp for
// double and 0.92 for float (Eigen's float exp: 4 ulp near -84.7).
//   exp(x) = 2^k e^r, k = round(x / ln2), r = x - k ln2 (ln2 in two parts, so r is
//   exact), |r| <= ln2/2; e^r by its Taylor polynomial (degree 13 for double, 7 for
//   float: truncation under 0.2 ulp); 2^k applied by scalef, which rounds once, so
//   overflow gives inf and underflow denormals, then 0. x is clamped first to where
//   the result is already inf or 0; NaN stays NaN (min and max return their second
//   operand when one is NaN).
// Elsewhere, Eigen's packet exp, except where that is wrong: Eigen 3.4 clamps the
// argument of its double exp at about -708.4, so exp(-inf) and exp(-800) come out as
// 5.6e-309 instead of 0 (and logsumexp of -inf everywhere as -709 instead of -inf).
// Below the argument whose exp rounds to zero, the result is 0.
#if defined(__AVX512F__)
inline __m512d exponential(__m512d x) {
  x = _mm512_max_pd(_mm512_set1_pd(-746.0), _mm512_min_pd(_mm512_set1_pd(710.0), x));
  const __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(1.90821492927058770002e-10), r);
  constexpr double c[] = {1.0,           1.0,            1.0 / 2,         1.0 / 6,          1.0 / 24,
                          1.0 / 120,     1.0 / 720,      1.0 / 5040,      1.0 / 40320,      1.0 / 362880,
                          1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};
  __m512d p = _mm512_set1_pd(c[13]);
  for (int i = 12; i >= 0; --i) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[i]));
  return _mm512_scalef_pd(p, k);
}
inline __m512 exponential(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  constexpr float c[] = {1.0f, 1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
  __m512 p = _mm512_set1_ps(c[7]);
  for (int i = 6; i >= 0; --i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c[i]));
  return _mm512_scalef_ps(p, k);
}
#endif

template <class S>
struct exp_op {
  static constexpr double underflow = std::is_same_v<S, float> ? -103.97208 : -745.1332191019412;
  // Eigen also clamps the argument at about the logarithm of the smallest normal number,
  // so results that should be subnormal come out as about 1e-308 (float: 3e-39, for
  // exp(-100) = 3.7e-44). There exp(x) = exp(x/2)^2, with x/2 in the normal range: the
  // square rounds once into the subnormals.
  static constexpr double smallest_normal_result = std::is_same_v<S, float> ? -87.33654 : -708.3964185322641;
  S operator()(S x) const {
    using std::exp;
    return exp(x);
  }
  template <class P>
  P packetOp(const P& x) const {
    if constexpr (requires { exponential(x); }) {
      return exponential(x);
    } else {
      using namespace Eigen::internal;
      P y = pexp(x);
      const P subnormal = pcmp_lt(x, pset1<P>(S(smallest_normal_result)));
      if (predux_any(subnormal)) {
        const P root = pexp(pmul(x, pset1<P>(S(0.5))));
        y = pselect(subnormal, pmul(root, root), y);
      }
      const P below = pcmp_lt(x, pset1<P>(S(underflow)));
      return pselect(below, pzero(x), y);
    }
  }
};

// log. Eigen's packet log treats a subnormal argument as the smallest normal number
// (log(1e-310) came out as -708.4, not -713.8). A subnormal x is scaled into the normal
// range first, by 2^digits (exact), and digits ln2 subtracted from the result; 0,
// negative numbers, inf and NaN take the same path and keep their results (-inf, NaN).
template <class S>
struct log_op {
  S operator()(S x) const {
    using std::log;  // and fusegrad's log for dual numbers
    return log(x);
  }
  template <class P>
  P packetOp(const P& x) const {
    using namespace Eigen::internal;
    constexpr int digits = std::numeric_limits<S>::digits;
    constexpr S scale = S(1ull << digits);
    constexpr S shift = S(digits * 0.693147180559945309417232121458176568L);
    const P subnormal = pcmp_lt(x, pset1<P>(std::numeric_limits<S>::min()));
    const P y = plog(pselect(subnormal, pmul(x, pset1<P>(scale)), x));
    return pselect(subnormal, psub(y, pset1<P>(shift)), y);
  }
};

// sqrt. Eigen's packet sqrt for float (EIGEN_FAST_MATH, its default) refines a
// reciprocal square root, which gives NaN at infinity; the instruction itself is
// correctly rounded and no slower on current processors. Eigen's double sqrt is the
// instruction already.
#if defined(__SSE2__)
inline __m128 hardware_sqrt(__m128 x) { return _mm_sqrt_ps(x); }
#endif
#if defined(__AVX__)
inline __m256 hardware_sqrt(__m256 x) { return _mm256_sqrt_ps(x); }
#endif
#if defined(__AVX512F__)
inline __m512 hardware_sqrt(__m512 x) { return _mm512_sqrt_ps(x); }
#endif
template <class S>
struct sqrt_op {
  S operator()(S x) const {
    using std::sqrt;
    return sqrt(x);
  }
  template <class P>
  P packetOp(const P& x) const {
    if constexpr (requires { hardware_sqrt(x); })
      return hardware_sqrt(x);
    else
      return Eigen::internal::psqrt(x);
  }
};

// sigmoid, 1 / (1 + exp(-x)), as exp(x) / (1 + exp(x)) for negative x, whose exp(-x)
// would overflow. Eigen's packet logistic is used above a cutoff; below it, where
// sigmoid(x) = exp(x) to the last bit, exp_op, since Eigen's float logistic stops at
// about 3e-39 (sigmoid(-inf) gave 2.9e-39, not 0).
template <class T>
T logistic(T x) {
  using std::exp;
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  const T e = exp(x);
  return e / (T(1) + e);
}
template <class S>
struct sigmoid_op {
  static constexpr S cutoff = std::is_same_v<S, float> ? S(-80) : S(-700);
  S operator()(S x) const { return logistic(x); }  // and fusegrad's for dual numbers
  template <class P>
  P packetOp(const P& x) const {
    using namespace Eigen::internal;
    P y = scalar_logistic_op<S>().packetOp(x);
    const P small = pcmp_lt(x, pset1<P>(cutoff));
    if (predux_any(small)) y = pselect(small, exp_op<S>().packetOp(x), y);
    return y;
  }
};

// softplus, log(1 + e^x), as max(x, 0) + log1p(e^-|x|): e^x itself overflows for x above
// 709 (88 in float) and 1 + e^x rounds to 1 below -37 (-17), where softplus(x) = e^x.
// log1p(e) is log(u) e / (u - 1) with u = 1 + e (u - 1 is exact for e in [0, 1], and the
// ratio corrects log(u) for the rounding of u), or e where u rounds to 1.
template <class T>
T softplus(T x) {
  using std::abs;
  using std::exp;
  using std::log1p;
  return (x > T(0) ? x : T(0)) + log1p(exp(-abs(x)));  // NaN: log1p(NaN)
}
template <class S>
struct softplus_op {
  S operator()(S x) const { return softplus(x); }  // and fusegrad's for dual numbers
  template <class P>
  P packetOp(const P& x) const {
    using namespace Eigen::internal;
    const P one = pset1<P>(S(1));
    const P e = exp_op<S>().packetOp(pnegate(pabs(x)));
    const P u = padd(one, e);
    const P u_minus_one = psub(u, one);
    const P log1p_e =
        pselect(pcmp_eq(u_minus_one, pzero(x)), e, pmul(log_op<S>().packetOp(u), pdiv(e, u_minus_one)));
    return padd(pselect(pcmp_lt(pzero(x), x), x, pzero(x)), log1p_e);
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
template <class S>
struct functor_traits<fusegrad::vector_math::log_op<S>> {
  enum {
    Cost = functor_traits<scalar_log_op<S>>::Cost + 5,
    PacketAccess = std::is_same_v<S, float> || std::is_same_v<S, double>
  };
};
template <class S>
struct functor_traits<fusegrad::vector_math::sigmoid_op<S>> {
  enum {
    Cost = functor_traits<scalar_logistic_op<S>>::Cost + 2,
    PacketAccess = std::is_same_v<S, float> || std::is_same_v<S, double>
  };
};
template <class S>
struct functor_traits<fusegrad::vector_math::softplus_op<S>> {
  enum {
    Cost = int(functor_traits<scalar_exp_op<S>>::Cost) + int(functor_traits<scalar_log_op<S>>::Cost) + 12,
    PacketAccess = std::is_same_v<S, float> || std::is_same_v<S, double>
  };
};
template <class S>
struct functor_traits<fusegrad::vector_math::sqrt_op<S>> {
  enum {
    Cost = functor_traits<scalar_sqrt_op<S>>::Cost,
    PacketAccess = std::is_same_v<S, float> || std::is_same_v<S, double>
  };
};
template <class S, class Function>
struct functor_traits<fusegrad::vector_math::function_op<S, Function>> {
  enum { Cost = 25 * NumTraits<S>::MulCost, PacketAccess = fusegrad::vector_math::has_packets<S> };
};
}  // namespace Eigen::internal
