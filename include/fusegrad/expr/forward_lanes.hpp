// SPDX-License-Identifier: MPL-2.0
#pragma once
// Evaluating an elementwise region in one SIMD pass, a packet at a time, with the same
// ops/ rules and operands as the fused adjoint (expr/lanes.hpp). Two cases take it:
//
// - Dual tensors (Tensor<Dual<S>, R>, forward mode). Eigen has no packets for Dual<S>,
//   so a dual expression left to Eigen runs one element at a time, with the standard
//   library's scalar sin, exp, tanh. Here every node applies its rule's value to lanes
//   of dual numbers (core/dual_lane.hpp): a packet of values and a packet of tangents,
//   each primitive's tangent rule next to its value.
// - Plain regions with an operand stretched along leading dimensions (a bias over a
//   batch): a row of the operand is read per row of the region, where Eigen's
//   broadcasting evaluator computes an index per element. Regions whose operands all
//   cover them stay with Eigen's evaluator, as fast there.
//
// A region qualifies on the same terms as the fused adjoint (region_layout).
#include "lanes.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad::expr {

template <class N>
struct ForwardEvaluator;

// A leaf or stored value: read from storage (StoredValues, expr/lanes.hpp).
template <class N>
  requires stored_tensor<N>
struct ForwardEvaluator<N> : StoredValues<typename N::Scalar, N::rank> {
  ForwardEvaluator(const N& node, Index count)
      : StoredValues<typename N::Scalar, N::rank>(node.forward().data(), element_count(node.dims()), count) {}
  template <class P>
  lane_value<N, P> at(Index i) const {
    return this->template read<P>(i);
  }
};

template <class D>
struct ForwardEvaluator<Constant<D>> {
  D constant;
  ForwardEvaluator(const Constant<D>& c, Index) : constant(c.value) {}
  void start_row(Index) {}
  template <class P>
  D at(Index) const {
    return constant;
  }
};

template <class Rule, class Child>
struct ForwardEvaluator<Map<Rule, Child>> {
  using D = typename Map<Rule, Child>::Scalar;
  const Rule& rule;
  ForwardEvaluator<Child> child;
  ForwardEvaluator(const Map<Rule, Child>& node, Index count) : rule(node.rule), child(node.child, count) {}
  void start_row(Index first) { child.start_row(first); }
  template <class P>
  Lane<D, P> at(Index i) const {
    return Lane<D, P>(rule.value(child.template at<P>(i)));
  }
};

template <class Rule, class Left, class Right>
struct ForwardEvaluator<Zip<Rule, Left, Right>> {
  using D = typename Zip<Rule, Left, Right>::Scalar;
  const Rule& rule;
  ForwardEvaluator<Left> left;
  ForwardEvaluator<Right> right;
  ForwardEvaluator(const Zip<Rule, Left, Right>& node, Index count)
      : rule(node.rule), left(node.left, count), right(node.right, count) {}
  void start_row(Index first) {
    left.start_row(first);
    right.start_row(first);
  }
  template <class P>
  Lane<D, P> at(Index i) const {
    return Lane<D, P>(rule.value(left.template at<P>(i), right.template at<P>(i)));
  }
};

// destination = node (already prepared), in one SIMD pass when the region qualifies
// (see the top of this file); returns false otherwise (the caller evaluates through
// Eigen).
template <class N, class Out>
bool evaluate_lanes(const N& node, Out* destination) {
  if constexpr (!lane_region<N>) {
    return false;
  } else {
    using D = typename N::Scalar;
    using P = lane_packet_t<D>;
    constexpr Index width = lanes::width<D, P>;
    const RegionLayout layout = region_layout(node);
    if (!layout.ready || layout.expands) return false;  // Eigen's broadcasting evaluates it
    if constexpr (!is_dual<D>)
      if (layout.row_length == 0) return false;
    const Index n = element_count(node.dims());
    const Index row = layout.row_length > 0 ? layout.row_length : n;
    ForwardEvaluator<N> plan(node, n);
    for (Index start = 0; start < n; start += row) {
      plan.start_row(start);
      const Index end = start + row;
      Index i = start;
      for (; i + width <= end; i += width) lanes::store<D, P>(destination + i, plan.template at<P>(i).packet);
      for (; i < end; ++i) destination[i] = plan.template at<D>(i).packet;
    }
    return true;
  }
}

// destination = node (prepared; destination of its dimensions): one SIMD pass where
// evaluate_lanes takes the region, Eigen's evaluator otherwise.
template <class N, class S, int R>
void evaluate_node(const N& node, EigenTensor<S, R>& destination) {
  if constexpr (lane_region<N>)
    if (evaluate_lanes(node, destination.data())) return;
  evaluate_into(destination, node.forward());
}

}  // namespace fusegrad::expr

#pragma GCC diagnostic pop
