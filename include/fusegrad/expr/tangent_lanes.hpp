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

#pragma once
// Forward mode in one SIMD pass: evaluating an elementwise region on dual tensors
// (Tensor<Dual<S>, R>) computes values and tangents a packet of plain S at a time.
//
// Eigen has no packets for Dual<S>, so a dual expression left to Eigen runs one element
// at a time, with the standard library's scalar sin, exp, tanh. Here every node applies
// its ops/ rule's value to lanes of dual numbers (core/dual_lane.hpp): a packet of
// values and a packet of tangents, each primitive's tangent rule next to its value.
//
// A region qualifies on the same terms as the fused adjoint (expr/lanes.hpp): maps and
// zips over leaves, constants and stored values that cover the region or are single
// values.
#include "lanes.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad::expr {

template <class N>
struct TangentEvaluator;

// A leaf or stored value: read from storage; a single value is read once.
template <class N>
  requires stored_tensor<N>
struct TangentEvaluator<N> {
  using D = typename N::Scalar;
  const D* values;
  D single;
  explicit TangentEvaluator(const N& node) : values(node.forward().data()), single(values[0]) {}
  template <class P>
  lane_value<N, P> at(Index i) const {
    if constexpr (N::rank == 0)
      return single;
    else
      return Lane<D, P>(lanes::load<D, P>(values + i));
  }
};

template <class D>
struct TangentEvaluator<Constant<D>> {
  D constant;
  explicit TangentEvaluator(const Constant<D>& c) : constant(c.value) {}
  template <class P>
  D at(Index) const {
    return constant;
  }
};

template <class Rule, class Child>
struct TangentEvaluator<Map<Rule, Child>> {
  using D = typename Map<Rule, Child>::Scalar;
  const Rule& rule;
  TangentEvaluator<Child> child;
  explicit TangentEvaluator(const Map<Rule, Child>& node) : rule(node.rule), child(node.child) {}
  template <class P>
  Lane<D, P> at(Index i) const {
    return Lane<D, P>(rule.value(child.template at<P>(i)));
  }
};

template <class Rule, class Left, class Right>
struct TangentEvaluator<Zip<Rule, Left, Right>> {
  using D = typename Zip<Rule, Left, Right>::Scalar;
  const Rule& rule;
  TangentEvaluator<Left> left;
  TangentEvaluator<Right> right;
  explicit TangentEvaluator(const Zip<Rule, Left, Right>& node) : rule(node.rule), left(node.left), right(node.right) {}
  template <class P>
  Lane<D, P> at(Index i) const {
    return Lane<D, P>(rule.value(left.template at<P>(i), right.template at<P>(i)));
  }
};

template <class N>
inline constexpr bool tangent_region = is_dual<typename N::Scalar> && N::rank > 0 && is_elementwise<N> && lane_fusable<N>;

// destination = node (already prepared), for a dual elementwise region: one SIMD pass
// computing values and tangents together. Returns false when the region does not
// qualify (the caller evaluates through Eigen).
template <class N, class Out>
bool evaluate_tangents(const N& node, Out* destination) {
  if constexpr (!tangent_region<N>) {
    return false;
  } else {
    using D = typename N::Scalar;
    using P = lane_packet_t<D>;
    constexpr Index width = lanes::width<D, P>;
    const Index n = element_count(node.dims());
    if (!lane_ready(node, n)) return false;
    const TangentEvaluator<N> plan(node);
    Index i = 0;
    for (; i + width <= n; i += width) lanes::store<D, P>(destination + i, plan.template at<P>(i).packet);
    for (; i < n; ++i) destination[i] = plan.template at<D>(i).packet;
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
