// SPDX-License-Identifier: MPL-2.0
#pragma once
// A packet of dual numbers as two packets of plain numbers: the values and the
// tangents. Dual<S> tensors store (value, tangent) pairs interleaved; SIMD code wants
// all values in one register and all tangents in another, so loading splits the pairs
// and storing joins them again (interleave::split/join, two permutes each way with
// the instruction sets Eigen vectorises double and float for).
//
// This lets forward mode (expr/forward_lanes.hpp) and the reverse pass on dual numbers
// (forward-over-reverse: hvp, hessian) run a packet of S at a time, where Eigen itself
// has no packets for Dual<S> and goes one element at a time.
#include <type_traits>

#include "../core/config.hpp"
#include "../core/dual.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad {

// P is a packet of plain numbers (Eigen's packet type for S).
template <class P>
struct DualPacket {
  P value;
  P tangent;
};

template <class P>
inline constexpr bool is_dual_packet = false;
template <class P>
inline constexpr bool is_dual_packet<DualPacket<P>> = true;

// The packet a lane of S holds: Eigen's for float and double, a pair of them for duals.
template <class S>
struct lane_packet {
  using type = typename Eigen::internal::packet_traits<S>::type;
};
template <class S>
struct lane_packet<Dual<S>> {
  using type = DualPacket<typename Eigen::internal::packet_traits<S>::type>;
};
template <class S>
using lane_packet_t = typename lane_packet<S>::type;

namespace interleave {

// Splitting interleaved (value, tangent) pairs into two packets and back. With the
// instruction sets Eigen vectorises double and float for, this is two loads and two
// permutes; elsewhere it goes through memory one element at a time.
#if defined(__AVX512F__)
inline void split(const double* from, __m512d& values, __m512d& tangents) {
  const __m512d a = _mm512_loadu_pd(from), b = _mm512_loadu_pd(from + 8);
  values = _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), b);
  tangents = _mm512_permutex2var_pd(a, _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15), b);
}
inline void join(double* to, __m512d values, __m512d tangents) {
  _mm512_storeu_pd(to, _mm512_permutex2var_pd(values, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), tangents));
  _mm512_storeu_pd(to + 8, _mm512_permutex2var_pd(values, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), tangents));
}
inline void split(const float* from, __m512& values, __m512& tangents) {
  const __m512 a = _mm512_loadu_ps(from), b = _mm512_loadu_ps(from + 16);
  values = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
  tangents = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
}
inline void join(float* to, __m512 values, __m512 tangents) {
  _mm512_storeu_ps(to, _mm512_permutex2var_ps(values, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), tangents));
  _mm512_storeu_ps(to + 16, _mm512_permutex2var_ps(values, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), tangents));
}
#endif
#if defined(__AVX2__)
// Within 128-bit halves unpack pairs up values and tangents; a cross-half permute puts
// them in order.
inline void split(const double* from, __m256d& values, __m256d& tangents) {
  const __m256d a = _mm256_loadu_pd(from), b = _mm256_loadu_pd(from + 4);
  values = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8);
  tangents = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8);
}
inline void join(double* to, __m256d values, __m256d tangents) {
  const __m256d v = _mm256_permute4x64_pd(values, 0xD8), t = _mm256_permute4x64_pd(tangents, 0xD8);
  _mm256_storeu_pd(to, _mm256_unpacklo_pd(v, t));
  _mm256_storeu_pd(to + 4, _mm256_unpackhi_pd(v, t));
}
#endif
#if defined(__SSE2__)
inline void split(const double* from, __m128d& values, __m128d& tangents) {
  const __m128d a = _mm_loadu_pd(from), b = _mm_loadu_pd(from + 2);
  values = _mm_unpacklo_pd(a, b);
  tangents = _mm_unpackhi_pd(a, b);
}
inline void join(double* to, __m128d values, __m128d tangents) {
  _mm_storeu_pd(to, _mm_unpacklo_pd(values, tangents));
  _mm_storeu_pd(to + 2, _mm_unpackhi_pd(values, tangents));
}
#endif

template <class S, class P>
inline constexpr bool has_permutes = requires(const S* from, S* to, P& p) {
  split(from, p, p);
  join(to, p, p);
};

// n duals at `from` into a packet of values and one of tangents.
template <class S, class P>
void split(const Dual<S>* from, P& values, P& tangents) {
  const S* flat = reinterpret_cast<const S*>(from);
  if constexpr (std::is_same_v<S, P>) {
    values = from->value;
    tangents = from->tangent;
  } else if constexpr (has_permutes<S, P>) {
    split(flat, values, tangents);
  } else {
    constexpr int width = Eigen::internal::unpacket_traits<P>::size;
    alignas(64) S v[width], t[width];
    for (int k = 0; k < width; ++k) v[k] = flat[2 * k], t[k] = flat[2 * k + 1];
    values = Eigen::internal::pload<P>(v);
    tangents = Eigen::internal::pload<P>(t);
  }
}

template <class S, class P>
void join(Dual<S>* to, const P& values, const P& tangents) {
  S* flat = reinterpret_cast<S*>(to);
  if constexpr (std::is_same_v<S, P>) {
    *to = Dual<S>(values, tangents);
  } else if constexpr (has_permutes<S, P>) {
    join(flat, values, tangents);
  } else {
    constexpr int width = Eigen::internal::unpacket_traits<P>::size;
    alignas(64) S v[width], t[width];
    Eigen::internal::pstore(v, values);
    Eigen::internal::pstore(t, tangents);
    for (int k = 0; k < width; ++k) flat[2 * k] = v[k], flat[2 * k + 1] = t[k];
  }
}

}  // namespace interleave

// values[i], tangents[i] = duals[i] for i < n, and back.
template <class S>
void split_duals(const Dual<S>* duals, S* values, S* tangents, Index n) {
  using P = typename Eigen::internal::packet_traits<S>::type;
  constexpr Index width = Eigen::internal::unpacket_traits<P>::size;
  Index i = 0;
  for (; i + width <= n; i += width) {
    P v, t;
    interleave::split<S, P>(duals + i, v, t);
    Eigen::internal::pstoreu(values + i, v);
    Eigen::internal::pstoreu(tangents + i, t);
  }
  for (; i < n; ++i) values[i] = duals[i].value, tangents[i] = duals[i].tangent;
}
template <class S>
void join_duals(const S* values, const S* tangents, Dual<S>* duals, Index n) {
  using P = typename Eigen::internal::packet_traits<S>::type;
  constexpr Index width = Eigen::internal::unpacket_traits<P>::size;
  Index i = 0;
  for (; i + width <= n; i += width)
    interleave::join<S, P>(duals + i, Eigen::internal::ploadu<P>(values + i), Eigen::internal::ploadu<P>(tangents + i));
  for (; i < n; ++i) duals[i] = Dual<S>(values[i], tangents[i]);
}

}  // namespace fusegrad

#pragma GCC diagnostic pop
