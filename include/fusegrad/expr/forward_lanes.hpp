// SPDX-License-Identifier: MPL-2.0
#pragma once
// Evaluating an elementwise region in one SIMD pass, a packet at a time, with the same
// ops/ rules and operands as the fused adjoint (expr/lanes.hpp). Every region's value is
// computed here (Tensor assignment, evaluate_node), so Eigen's evaluator is compiled only
// for expressions that are not regions (a statement's compile time is mostly its
// instantiations, and a region would otherwise have both):
//
// - Dual tensors (Tensor<Dual<S>, R>, forward mode). Eigen has no packets for Dual<S>,
//   so a dual expression left to Eigen runs one element at a time, with the standard
//   library's scalar sin, exp, tanh. Here every node applies its rule's value to lanes
//   of dual numbers (packet/dual_lane.hpp): a packet of values and a packet of tangents,
//   each primitive's tangent rule next to its value.
// - Plain regions with an operand stretched along leading dimensions (a bias over a
//   batch): a row of the operand is read per row of the region, where Eigen's
//   broadcasting evaluator computes an index per element.
// - Other plain regions: the same vector functions Eigen's evaluator would call, one
//   chunk of elements per thread.
#include <algorithm>
#include <limits>
#include <memory>

#include "../core/threads.hpp"
#include "lanes.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad::expr {

template <class N>
struct ForwardEvaluator;

// A leaf or stored value: read from storage (StoredValues, expr/lanes.hpp).
// An operand stretched in a way rows do not cover is read from a stretched copy
// (Expansion, expr/region.hpp).
template <class N>
  requires stored_tensor<N>
struct ForwardEvaluator<N> : StoredValues<typename N::Scalar, N::rank> {
  using S = typename N::Scalar;
  std::shared_ptr<Expansion<S>> expansion;
  ForwardEvaluator(const N& node, const RegionLayout& layout)
      : StoredValues<S, N::rank>(node.forward().data(), element_count(node.dims()), layout.size) {
    if constexpr (N::rank > 0) {
      if (layout.expands && reading_of(node.dims(), layout) == operand_reading::expanded) {
        expansion = pool::make_shared<Expansion<S>>(this->values, node.dims().data(), N::rank, layout, false);
        this->values = expansion->values.data();
        this->by_row = false;
      }
    }
  }
  template <class P>
  lane_value<N, P> at(Index i) const {
    return this->template read<P>(i);
  }
};

template <class D>
struct ForwardEvaluator<Constant<D>> {
  D constant;
  ForwardEvaluator(const Constant<D>& c, const RegionLayout&) : constant(c.value) {}
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
  ForwardEvaluator(const Map<Rule, Child>& node, const RegionLayout& layout)
      : rule(node.rule), child(node.child, layout) {}
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
  ForwardEvaluator(const Zip<Rule, Left, Right>& node, const RegionLayout& layout)
      : rule(node.rule), left(node.left, layout), right(node.right, layout) {}
  void start_row(Index first) {
    left.start_row(first);
    right.start_row(first);
  }
  template <class P>
  Lane<D, P> at(Index i) const {
    return Lane<D, P>(rule.value(left.template at<P>(i), right.template at<P>(i)));
  }
};

// Where a pass writes: storage of the region's scalar type, or, for a dual region, its
// values and tangents into two arrays (fg::jvp's results: no interleaved scratch, and no
// pass to split it afterwards).
template <class D>
struct Interleaved {
  D* data;
  template <class P>
  void packet(Index i, const P& p) const {
    lanes::store<D, P>(data + i, p);
  }
  void one(Index i, const D& x) const { data[i] = x; }
};
template <class S>
struct SplitDuals {
  S* values;
  S* tangents;
  template <class P>
  void packet(Index i, const DualPacket<P>& p) const {
    Eigen::internal::pstoreu(values + i, p.value);
    Eigen::internal::pstoreu(tangents + i, p.tangent);
  }
  void one(Index i, const Dual<S>& x) const { values[i] = x.value, tangents[i] = x.tangent; }
};

// Evaluates the region's elements [first, last) into `to`, a packet at a time.
template <class N, class To>
void evaluate_lane_range(const ForwardEvaluator<N>& plan, To to, Index first, Index last) {
  using D = typename N::Scalar;
  using P = lane_packet_t<D>;
  constexpr Index width = lanes::width<D, P>;
  Index i = first;
  for (; i + width <= last; i += width) to.packet(i, plan.template at<P>(i).packet);
  for (; i < last; ++i) to.one(i, plan.template at<D>(i).packet);
}

// `to` = region `node` (already prepared) in one SIMD pass, whatever its broadcasting
// (RegionLayout): a row at a time when operands are read by rows, else in one chunk of
// elements per thread (core/threads.hpp). The same rules and operands as the fused
// adjoint; Eigen's evaluator is not compiled for a region at all.
template <class N, class To>
void evaluate_lanes_to(const N& node, const To& to) {
  static_assert(lane_region<N>);
  using D = typename N::Scalar;
  const RegionLayout layout = region_layout(node);
  if (!layout.ready) return;  // nothing to evaluate
  const Index n = layout.size;
  ForwardEvaluator<N> plan(node, layout);
  if (layout.row_length > 0) {
    for (Index start = 0; start < n; start += layout.row_length) {
      plan.start_row(start);
      evaluate_lane_range(plan, to, start, start + layout.row_length);
    }
    return;
  }
  const int chunks = threads::chunks_for(n);
  constexpr Index step = 4 * lanes::width<D, lane_packet_t<D>>;
  const Index steps = (n + step - 1) / step;
  const auto bound = [&](int c) { return c == chunks ? n : std::min(n, steps * c / chunks * step); };
  threads::run_chunks(chunks, [&](int c) { evaluate_lane_range(plan, to, bound(c), bound(c + 1)); });
}

template <class N, class D>
void evaluate_lanes(const N& node, D* destination) {
  evaluate_lanes_to(node, Interleaved<D>{destination});
}

// Calls range(first, last) over the whole region on this thread, a row at a time when
// its operands are read by rows.
template <class Plan, class Range>
void over_rows(Plan& plan, const RegionLayout& layout, Range&& range) {
  if (layout.row_length > 0) {
    for (Index start = 0; start < layout.size; start += layout.row_length) {
      plan.start_row(start);
      range(start, start + layout.row_length);
    }
  } else {
    range(0, layout.size);
  }
}

// The largest value of region `node` (prepared), of the values alone for dual numbers,
// in one SIMD pass on this thread; -inf when it has no elements. A NaN may or may not be
// returned: callers that shift by the maximum see NaN elements in what they compute next.
// (Eigen's maximum() of a dual region runs one dual number at a time.)
template <class N>
auto region_maximum(const N& node) {
  using D = typename N::Scalar;
  using Real = typename real_of<D>::type;
  using P = lane_packet_t<D>;
  constexpr Index width = lanes::width<D, P>;
  Real best = -std::numeric_limits<Real>::infinity();
  const RegionLayout layout = region_layout(node);
  if (!layout.ready || layout.size == 0) return best;
  ForwardEvaluator<N> plan(node, layout);
  auto packet_best = Eigen::internal::pset1<decltype(value_part(plan.template at<P>(0).packet))>(best);
  const auto range = [&](Index first, Index last) {
    Index i = first;
    for (; i + width <= last; i += width)
      packet_best = Eigen::internal::pmax(packet_best, value_part(plan.template at<P>(i).packet));
    for (; i < last; ++i) best = std::max(best, value_part(plan.template at<D>(i).packet));
  };
  over_rows(plan, layout, range);
  return std::max(best, Eigen::internal::predux_max(packet_best));
}

// The sum of region `node` (prepared) of real numbers, in one SIMD pass on this thread,
// with two packet accumulators: a full sum that is not differentiated reads the region
// once and stores nothing.
template <class N>
typename N::Scalar region_sum(const N& node) {
  using S = typename N::Scalar;
  static_assert(std::is_floating_point_v<S>);
  using P = lane_packet_t<S>;
  constexpr Index width = lanes::width<S, P>;
  const RegionLayout layout = region_layout(node);
  if (!layout.ready || layout.size == 0) return S(0);
  ForwardEvaluator<N> plan(node, layout);
  P first_total = Eigen::internal::pset1<P>(S(0)), second_total = first_total;
  S tail = 0;
  const auto range = [&](Index first, Index last) {
    Index i = first;
    for (; i + 2 * width <= last; i += 2 * width) {
      first_total = Eigen::internal::padd(first_total, plan.template at<P>(i).packet);
      second_total = Eigen::internal::padd(second_total, plan.template at<P>(i + width).packet);
    }
    for (; i + width <= last; i += width) first_total = Eigen::internal::padd(first_total, plan.template at<P>(i).packet);
    for (; i < last; ++i) tail += plan.template at<S>(i).packet;
  };
  over_rows(plan, layout, range);
  return Eigen::internal::predux(Eigen::internal::padd(first_total, second_total)) + tail;
}

// destination = node (prepared; destination of its dimensions): one SIMD pass for an
// elementwise region, Eigen's evaluator for anything else.
template <class N, class S, int R>
void evaluate_node(const N& node, EigenTensor<S, R>& destination) {
  if constexpr (lane_region<N>)
    evaluate_lanes(node, destination.data());
  else
    evaluate_into(destination, node.forward());
}

}  // namespace fusegrad::expr

#pragma GCC diagnostic pop
