#pragma once
// Forward mode in one SIMD pass: evaluating an elementwise region on dual tensors
// (Tensor<Dual<S>, R>) computes values and tangents a packet of plain S at a time.
//
// Eigen has no packets for Dual<S>, so a dual expression left to Eigen runs one element
// at a time, with the standard library's scalar sin, exp, tanh. Here each operand's
// duals are split into a packet of values and a packet of tangents, and every node
// applies the same ops/ rules as the reverse pass: value = rule.value(x), tangent =
// rule.derivative(x) * x.tangent (for a zip, the sum over both operands). Derivatives
// readable from the value (exp, tanh) take it from there, so no transcendental is
// computed twice.
//
// A region qualifies on the same terms as the fused adjoint (expr/lanes.hpp): maps and
// zips over leaves, constants and stored values that cover the region or are single
// values.
#include "lanes.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad::expr {

// A value and its tangent, for a packet (V = Lane) or a single value (V = S).
template <class V>
struct TangentPair {
  V value;
  V tangent;
};

namespace tangent_detail {

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
  if constexpr (lanes::is_scalar_lane<S, P>) {
    values = from->value;
    tangents = from->tangent;
  } else if constexpr (has_permutes<S, P>) {
    split(flat, values, tangents);
  } else {
    constexpr int width = lanes::width<S, P>;
    alignas(64) S v[width], t[width];
    for (int k = 0; k < width; ++k) v[k] = flat[2 * k], t[k] = flat[2 * k + 1];
    values = Eigen::internal::pload<P>(v);
    tangents = Eigen::internal::pload<P>(t);
  }
}

template <class S, class P>
void join(Dual<S>* to, const P& values, const P& tangents) {
  S* flat = reinterpret_cast<S*>(to);
  if constexpr (lanes::is_scalar_lane<S, P>) {
    *to = Dual<S>(values, tangents);
  } else if constexpr (has_permutes<S, P>) {
    join(flat, values, tangents);
  } else {
    constexpr int width = lanes::width<S, P>;
    alignas(64) S v[width], t[width];
    Eigen::internal::pstore(v, values);
    Eigen::internal::pstore(t, tangents);
    for (int k = 0; k < width; ++k) flat[2 * k] = v[k], flat[2 * k + 1] = t[k];
  }
}

}  // namespace tangent_detail

// values[i], tangents[i] = duals[i] for i < n, and back.
template <class S>
void split_duals(const Dual<S>* duals, S* values, S* tangents, Index n) {
  using P = typename Eigen::internal::packet_traits<S>::type;
  constexpr Index width = lanes::width<S, P>;
  Index i = 0;
  for (; i + width <= n; i += width) {
    P v, t;
    tangent_detail::split<S, P>(duals + i, v, t);
    lanes::store<S, P>(values + i, v);
    lanes::store<S, P>(tangents + i, t);
  }
  for (; i < n; ++i) values[i] = duals[i].value, tangents[i] = duals[i].tangent;
}
template <class S>
void join_duals(const S* values, const S* tangents, Dual<S>* duals, Index n) {
  using P = typename Eigen::internal::packet_traits<S>::type;
  constexpr Index width = lanes::width<S, P>;
  Index i = 0;
  for (; i + width <= n; i += width)
    tangent_detail::join<S, P>(duals + i, lanes::load<S, P>(values + i), lanes::load<S, P>(tangents + i));
  for (; i < n; ++i) duals[i] = Dual<S>(values[i], tangents[i]);
}

// A rule on duals applied to plain numbers instead. Rules that name the scalar type
// only for casts (maximum, minimum) are rebound to S; rules holding dual parameters or
// a user's functions of duals (pow by a constant, clamp, map, zip) are left to Eigen's
// evaluation on duals, which keeps the parameters' own tangents.
template <class Rule>
struct real_rule {
  using type = Rule;
  static constexpr bool fusable = true;
};
template <class S>
struct real_rule<ops::Maximum<Dual<S>>> {
  using type = ops::Maximum<S>;
  static constexpr bool fusable = true;
};
template <class S>
struct real_rule<ops::Minimum<Dual<S>>> {
  using type = ops::Minimum<S>;
  static constexpr bool fusable = true;
};
template <class S>
struct real_rule<ops::PowScalar<S>> {
  static constexpr bool fusable = false;
};
template <class S>
struct real_rule<ops::Clamp<S>> {
  static constexpr bool fusable = false;
};
template <class S, class F, class DF>
struct real_rule<ops::UserMap<S, F, DF>> {
  static constexpr bool fusable = false;
};
template <class S, class F, class DX, class DY>
struct real_rule<ops::UserZip<S, F, DX, DY>> {
  static constexpr bool fusable = false;
};

template <class Rule>
typename real_rule<Rule>::type rebound(const Rule& rule) {
  if constexpr (std::is_same_v<typename real_rule<Rule>::type, Rule>)
    return rule;
  else
    return {};  // a rebound rule holds nothing
}

template <class N>
inline constexpr bool tangent_fusable = stored_tensor<N>;
template <class S>
inline constexpr bool tangent_fusable<Constant<S>> = true;
template <class Rule, class Child>
inline constexpr bool tangent_fusable<Map<Rule, Child>> = real_rule<Rule>::fusable && tangent_fusable<Child>;
template <class Rule, class Left, class Right>
inline constexpr bool tangent_fusable<Zip<Rule, Left, Right>> =
    real_rule<Rule>::fusable && tangent_fusable<Left> && tangent_fusable<Right>;

template <class N>
struct TangentEvaluator;

// A leaf or stored value: read from storage; a single value is read once.
template <class N>
  requires stored_tensor<N>
struct TangentEvaluator<N> {
  using D = typename N::Scalar;
  using S = typename real_of<D>::type;
  const D* values;
  D single;
  explicit TangentEvaluator(const N& node) : values(node.forward().data()), single(values[0]) {}
  template <class P>
  auto at(Index i) const {
    if constexpr (N::rank == 0) {
      return TangentPair<S>{single.value, single.tangent};
    } else {
      TangentPair<Lane<S, P>> pair;
      tangent_detail::split<S, P>(values + i, pair.value.packet, pair.tangent.packet);
      return pair;
    }
  }
};

template <class D>
struct TangentEvaluator<Constant<D>> {
  using S = typename real_of<D>::type;
  D constant;
  explicit TangentEvaluator(const Constant<D>& c) : constant(c.value) {}
  template <class P>
  TangentPair<S> at(Index) const {
    return {constant.value, constant.tangent};
  }
};

template <class Rule, class Child>
struct TangentEvaluator<Map<Rule, Child>> {
  using S = typename real_of<typename Map<Rule, Child>::Scalar>::type;
  typename real_rule<Rule>::type rule;
  TangentEvaluator<Child> child;
  explicit TangentEvaluator(const Map<Rule, Child>& node) : rule(rebound(node.rule)), child(node.child) {}

  static constexpr bool from_value = requires(const typename real_rule<Rule>::type& r, const Lane<S, S>& y) {
    r.derivative_from_value(y);
  };

  template <class P>
  TangentPair<Lane<S, P>> at(Index i) const {
    const auto x = child.template at<P>(i);
    TangentPair<Lane<S, P>> y;
    y.value = Lane<S, P>(rule.value(x.value));
    if constexpr (from_value)
      y.tangent = Lane<S, P>(ops::chain(x.tangent, rule.derivative_from_value(y.value)));
    else
      y.tangent = Lane<S, P>(ops::chain(x.tangent, rule.derivative(x.value)));
    return y;
  }
};

template <class Rule, class Left, class Right>
struct TangentEvaluator<Zip<Rule, Left, Right>> {
  using S = typename real_of<typename Zip<Rule, Left, Right>::Scalar>::type;
  typename real_rule<Rule>::type rule;
  TangentEvaluator<Left> left;
  TangentEvaluator<Right> right;
  explicit TangentEvaluator(const Zip<Rule, Left, Right>& node) : rule(rebound(node.rule)), left(node.left), right(node.right) {}

  template <class P>
  TangentPair<Lane<S, P>> at(Index i) const {
    const auto a = left.template at<P>(i);
    const auto b = right.template at<P>(i);
    TangentPair<Lane<S, P>> y;
    y.value = Lane<S, P>(rule.value(a.value, b.value));
    y.tangent = Lane<S, P>(ops::chain(a.tangent, rule.d_left(a.value, b.value)) +
                           ops::chain(b.tangent, rule.d_right(a.value, b.value)));
    return y;
  }
};

template <class N>
inline constexpr bool tangent_region = is_dual<typename N::Scalar> && N::rank > 0 && is_elementwise<N> && tangent_fusable<N>;

// destination = node (already prepared), for a dual elementwise region: one SIMD pass
// computing values and tangents together. Returns false when the region does not
// qualify (the caller evaluates through Eigen).
template <class N, class D>
bool evaluate_tangents(const N& node, D* destination) {
  if constexpr (!tangent_region<N>) {
    return false;
  } else {
    using S = typename real_of<typename N::Scalar>::type;
    using P = typename Eigen::internal::packet_traits<S>::type;
    constexpr Index width = lanes::width<S, P>;
    const Index n = element_count(node.dims());
    if (!lane_ready(node, n)) return false;
    const TangentEvaluator<N> plan(node);
    Index i = 0;
    for (; i + width <= n; i += width) {
      const auto y = plan.template at<P>(i);
      tangent_detail::join<S, P>(destination + i, y.value.packet, y.tangent.packet);
    }
    for (; i < n; ++i) {
      const auto y = plan.template at<S>(i);
      tangent_detail::join<S, S>(destination + i, y.value.packet, y.tangent.packet);
    }
    return true;
  }
}

// destination = node (prepared; destination of its dimensions): fused forward mode for
// a dual elementwise region, Eigen's evaluator otherwise.
template <class N, class S, int R>
void evaluate_node(const N& node, EigenTensor<S, R>& destination) {
  if constexpr (tangent_region<N>)
    if (evaluate_tangents(node, destination.data())) return;
  evaluate_into(destination, node.forward());
}

}  // namespace fusegrad::expr

#pragma GCC diagnostic pop
