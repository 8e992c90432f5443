// SPDX-License-Identifier: MPL-2.0
#pragma once
// The fused passes over an elementwise region, given its plan (expr/lanes.hpp): the
// seeds they start from, the sweep of a region a packet at a time (split into chunks for
// threads, and into rows for row operands), the fused adjoint (fused_backward), a full
// sum computed with its gradients (sum_with_gradients), and the delivery of those
// gradients at backward (deliver).
#include <algorithm>

#include "../core/threads.hpp"
#include "lanes.hpp"

// Packet types carry alignment attributes that template arguments drop; harmless here,
// as Eigen notes for its own packet templates.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad::expr {

// The seed of the pass, g, read a packet at a time through Eigen's own evaluator (g may
// be a stored gradient or a lazy expression such as a constant).
template <class S, class G>
struct ExpressionSeed {
  Eigen::TensorEvaluator<const G, Eigen::DefaultDevice> g;
  explicit ExpressionSeed(const G& expression) : g(expression, Eigen::DefaultDevice()) { g.evalSubExprsIfNeeded(nullptr); }
  ~ExpressionSeed() { g.cleanup(); }
  template <class P>
  Lane<S, P> at(Index i) const {
    if constexpr (lanes::is_scalar_lane<S, P>) {
      return Lane<S, P>(g.coeff(i));
    } else if constexpr (decltype(g)::PacketAccess) {
      return Lane<S, P>(g.template packet<Eigen::Unaligned>(i));
    } else {
      S values[lanes::width<S, P>];
      for (int k = 0; k < lanes::width<S, P>; ++k) values[k] = g.coeff(i + k);
      return Lane<S, P>(lanes::load<S, P>(values));
    }
  }
};

template <class S>
struct ConstantSeed {
  S value;
  template <class P>
  S at(Index) const { return value; }
};

// What one pass over part of a region gathers: the running sums of single values'
// gradients (by slot) and the sum of the values.
template <class N>
struct SweepSums {
  using S = typename N::Scalar;
  using P = lane_packet_t<S>;
  static constexpr int slots = LaneEvaluator<N>::slots > 0 ? LaneEvaluator<N>::slots : 1;
  SlotSum<S, P> sums[slots], other_sums[slots];
  SlotSum<S, S> tail_sums[slots];
  S total = 0;
  void collect_into(LaneEvaluator<N>& plan) const {
    plan.collect(sums);
    plan.collect(other_sums);
    plan.collect(tail_sums);
  }
};

// One pass over the elements [first, n) of the region: per packet, values forward, then
// the adjoint from the seed; with Sum, out.total is the sum of those values, summed in
// blocks so that rounding grows with the block count rather than with n.
template <bool Sum, class N, class Seed>
void sweep_part(const LaneEvaluator<N>& plan, Index first, Index n, const Seed& seed, SweepSums<N>& out) {
  using S = typename N::Scalar;
  using P = lane_packet_t<S>;
  constexpr Index width = lanes::width<S, P>, block = 256 * width;
  // The loops run on a copy of the plan that never leaves this function, so the compiler
  // knows the stores into gradients cannot change it and keeps its pointers and single
  // values in registers; what the loops gather goes to `out`, and from there to the plan.
  LaneEvaluator<N> work = plan;
  // The running sums of single values' gradients: small local arrays indexed by
  // constants once inlined, which the compiler keeps in registers (not `out`'s own: the
  // stores into gradients could alias those, and the sums would go through memory on
  // every packet; the normal log-density ran 2.5 times slower so).
  constexpr int slots = SweepSums<N>::slots;
  SlotSum<S, P> sums[slots], other_sums[slots];
  SlotSum<S, S> tail_sums[slots];
  S total = 0;
  Index i = first;
  while (i + width <= n) {
    const Index block_end = std::min(n, i + block), block_first = i;
    P block_sum = lanes::broadcast<S, P>(S(0)), other_block_sum = block_sum;
    S factor = S(1), shift = S(0);  // of a scaled value, and per element on top
    const auto packet_at = [&](Index at, P& sum_into, SlotSum<S, P>* sums_into) {
      // A record per packet: it dies with the packet, so the compiler keeps it in
      // registers instead of storing every field for the next one.
      typename LaneEvaluator<N>::template record<P> packet_record;
      if constexpr (Sum) {
        S packet_shift = S(0);
        const auto y = lane_summand(work, packet_record, at, packet_shift);
        shift = packet_shift;
        if constexpr (lanes::is_scaled<std::remove_cvref_t<decltype(y)>>)
          sum_into = lanes::add<S, P>(sum_into, y.lane.packet), factor = y.factor;
        else
          sum_into = lanes::add<S, P>(sum_into, y.packet);
      } else {
        work.template value<false>(packet_record, at);
      }
      work.adjoint_at(packet_record, seed.template at<P>(at), at, sums_into);
    };
    // Two packets at a time into separate running sums, so that an addition to a sum
    // need not wait for the previous one (a SIMD addition takes 3 to 4 cycles to finish,
    // and starting one takes 1 or less).
    for (; i + 2 * width <= block_end; i += 2 * width) {
      packet_at(i, block_sum, sums);
      packet_at(i + width, other_block_sum, other_sums);
    }
    if (i + width <= block_end) {
      packet_at(i, block_sum, sums);
      i += width;
    }
    if constexpr (Sum)
      total += lanes::total<S, P>(lanes::add<S, P>(block_sum, other_block_sum)) * factor +
               shift * S(double(i - block_first));
  }
  for (; i < n; ++i) {
    typename LaneEvaluator<N>::template record<S> tail_record;
    if constexpr (Sum) {
      S element_shift = S(0);
      const Lane<S, S> y = lane_summand(work, tail_record, i, element_shift);
      total += y.packet + element_shift;
    } else {
      work.template value<false>(tail_record, i);
    }
    work.adjoint_at(tail_record, seed.template at<S>(i), i, tail_sums);
  }
  // Without single values there is nothing to hand over but the total (and copying the
  // unused sums, written a field at a time and read back a packet at a time, stalled
  // store forwarding for about 10 ns per call, measured on an 8-element statement).
  if constexpr (LaneEvaluator<N>::slots > 0) {
    for (int k = 0; k < slots; ++k) {
      out.sums[k] = sums[k];
      out.other_sums[k] = other_sums[k];
      out.tail_sums[k] = tail_sums[k];
    }
  }
  out.total = total;
}

// sweep_part over [first, n), collected into the plan. A large region is split into one
// chunk per thread (core/threads.hpp), at block boundaries so that only the last has a
// scalar tail; chunks write disjoint elements of every gradient, and their single-value
// sums and totals are combined in chunk order, so a given thread count always gives the
// same result.
template <bool Sum, class N, class Seed>
typename N::Scalar sweep(LaneEvaluator<N>& plan, Index first, Index n, const Seed& seed) {
  using S = typename N::Scalar;
  constexpr Index block = 256 * lanes::width<S, lane_packet_t<S>>;
  const int chunks = threads::chunks_for(n - first);
  if (chunks == 1) {
    SweepSums<N> part;
    sweep_part<Sum>(plan, first, n, seed, part);
    part.collect_into(plan);
    return part.total;
  }
  constexpr int most_chunks = 64;
  SweepSums<N> parts[most_chunks];
  const int used = chunks < most_chunks ? chunks : most_chunks;
  const Index blocks = (n - first + block - 1) / block;
  const auto bound = [&](int c) { return c == used ? n : std::min(n, first + blocks * c / used * block); };
  const LaneEvaluator<N>& shared_plan = plan;
  threads::run_chunks(used, [&](int c) { sweep_part<Sum>(shared_plan, bound(c), bound(c + 1), seed, parts[c]); });
  S total = 0;
  for (int c = 0; c < used; ++c) {
    parts[c].collect_into(plan);
    total += parts[c].total;
  }
  return total;
}

// sweep over the elements [first, last), a row at a time when the layout has row
// operands (first is then the start of a row).
template <bool Sum, class N, class Seed>
typename N::Scalar sweep_rows(LaneEvaluator<N>& plan, Index first, Index last, const Seed& seed,
                              const RegionLayout& layout) {
  if (layout.row_length == 0) return sweep<Sum>(plan, first, last, seed);
  typename N::Scalar total = 0;
  for (Index start = first; start < last; start += layout.row_length) {
    plan.start_row(start);
    total += sweep<Sum>(plan, start, std::min(last, start + layout.row_length), seed);
  }
  return total;
}

// Runs the fused adjoint of region `node` (lane_region) seeded with g.
template <class N, class G>
void fused_backward(const N& node, const G& g) {
  static_assert(lane_region<N>);
  using S = typename N::Scalar;
  const RegionLayout layout = region_layout(node);
  if (!layout.ready) return;  // an empty region: no operand receives anything
  const ExpressionSeed<S, G> seed(g);
  LaneEvaluator<N> plan(node, layout, nullptr);
  sweep_rows<false>(plan, 0, layout.size, seed, layout);
  plan.finish();
}

// Whether the fused pass takes the region: its scalar type and nodes (lane_region), and
// operands that cover it or its rows (region_layout).
template <class N>
bool lane_pass_qualifies(const N& node) {
  if constexpr (!lane_region<N>) {
    return false;
  } else {
    const RegionLayout layout = region_layout(node);
    return layout.ready && !layout.expands;
  }
}

// Marks the row-blocked products among the region's operands (before they are
// prepared: their rows are then computed during the pass) and returns how to block the
// region, or elements_per_row 0 when nothing is blocked. Call only on a region for which
// lane_pass_qualifies holds, and follow with sum_with_gradients.
template <class N>
RowBlocking defer_row_products(const N& node) {
  if constexpr (row_blocked<N>) {
    const RowBlocking blocking = node.row_blocking();
    if (blocking.elements_per_row > 0) node.defer_rows(true);
    return blocking;
  } else {
    return {};
  }
}
template <class Rule, class Child>
RowBlocking defer_row_products(const Map<Rule, Child>& node) {
  return defer_row_products(node.child);
}
template <class Rule, class Left, class Right>
RowBlocking defer_row_products(const Zip<Rule, Left, Right>& node) {
  const RowBlocking a = defer_row_products(node.left);
  const RowBlocking b = defer_row_products(node.right);
  if (a.elements_per_row == 0) return b;
  if (b.elements_per_row == 0) return a;
  // Operands that cover the region have its shape, so their rows have the same length.
  return {a.elements_per_row, std::min(a.rows_per_block, b.rows_per_block)};
}
template <class N>
void end_row_products(const N& node) {
  if constexpr (row_blocked<N>) node.defer_rows(false);
}
template <class Rule, class Child>
void end_row_products(const Map<Rule, Child>& node) {
  end_row_products(node.child);
}
template <class Rule, class Left, class Right>
void end_row_products(const Zip<Rule, Left, Right>& node) {
  end_row_products(node.left);
  end_row_products(node.right);
}

// The sum of a region's values, with its gradients for seed `scale` computed in the
// same pass into `pending` (a mean passes 1/n); false when the region does not qualify.
// With `blocking` from defer_row_products, the pass runs a block of rows at a time, each
// block's products computed just before it and their adjoints gathered just after.
template <class N, class S>
bool sum_with_gradients(const N& node, S scale, S& sum, PendingGradients<S>& pending, RowBlocking blocking = {}) {
  if constexpr (!lane_region<N>) {
    return false;
  } else {
    const RegionLayout layout = region_layout(node);
    if (!layout.ready || layout.expands) return false;
    const Index n = layout.size;
    LaneEvaluator<N> plan(node, layout, &pending);
    const ConstantSeed<S> seed{scale};
    if (blocking.elements_per_row == 0) {
      sum = sweep_rows<true>(plan, 0, n, seed, layout);
      return true;
    }
    // A blocked product's rows are the region's rows: a row operand's row length divides
    // them (it is 1 or the row's length).
    const Index rows = n / blocking.elements_per_row;
    sum = 0;
    for (Index row = 0; row < rows; row += blocking.rows_per_block) {
      const Index end = std::min(rows, row + blocking.rows_per_block);
      plan.rows_ready(row, end);
      sum += sweep_rows<true>(plan, row * blocking.elements_per_row, end * blocking.elements_per_row, seed, layout);
      plan.rows_done(row, end);
    }
    end_row_products(node);
    return true;
  }
}

// Hands the gradients in `pending` (for seed 1) to the region's leaves and stored values,
// scaled by `seed`, visiting them in the order the plan met them.
template <class N, class S>
void deliver(const N& node, PendingGradients<S>& pending, S seed) {
  if (!node.needs_grad()) return;
  auto& e = pending.entries[pending.cursor++];
  if constexpr (N::rank == 0) {
    pool::Scratch<S, 0> total(Shape<0>{});
    total.tensor() = seed * e.total;
    node.backward(total.tensor);
  } else {
    auto& buffer = pending.template buffer_of<N::rank>(e);
    if constexpr (row_blocked<N>) {
      // The right operand's adjoint was gathered during the pass (for seed 1).
      if (node.has_gathered_rows()) return node.backward_gathered(buffer, seed);
    }
    if (exactly_one(seed))
      node.backward(buffer);
    else
      node.backward(buffer * seed);
  }
}
// into = into * scale (+ addend, when not null), a SIMD packet at a time, dual numbers
// too (Eigen's evaluator takes dual numbers one at a time: this was 4% of an hvp).
template <class S>
void scale_and_add(S* into, S scale, const S* addend, Index n) {
  using P = lane_packet_t<S>;
  constexpr Index width = lanes::width<S, P>;
  // A scale of exactly 1 multiplies nothing (on dual numbers, an infinite gradient times
  // a zero tangent would give NaN); a dual lane times a single value keeps that rule.
  const bool scaled = !exactly_one(scale);
  Index i = 0;
  for (; i + width <= n; i += width) {
    Lane<S, P> a(lanes::load<S, P>(into + i));
    if (scaled) {
      if constexpr (is_dual<S>)
        a = a * scale;
      else
        a = a * a.constant(scale);
    }
    if (addend) a = a + Lane<S, P>(lanes::load<S, P>(addend + i));
    lanes::store<S, P>(into + i, a.packet);
  }
  for (; i < n; ++i) {
    const S scaled_value = scaled ? into[i] * scale : into[i];
    into[i] = addend ? scaled_value + addend[i] : scaled_value;
  }
}

template <class S, int R>
void deliver(const Leaf<S, R>& leaf, PendingGradients<S>& pending, S seed) {
  Variable<S, R>& v = *leaf.variable;
  if (!v.tracks()) return;
  auto& e = pending.entries[pending.cursor++];
  if constexpr (R == 0) {
    const S total = seed * e.total;
    v.accumulate_in_place([total](EigenTensor<S, R>& g, bool add) { g.data()[0] = add ? g.data()[0] + total : total; });
  } else if (!e.merged) {
    EigenTensor<S, R>& buffer = pending.template buffer_of<R>(e);
    if (e.give_back) {
      // The buffer is the gradient's own storage, lent at the forward: swap it back.
      e.give_back = nullptr;
      e.lender.reset();
      std::swap(v.grad, buffer);
      if (!v.has_grad) {
        if (!exactly_one(seed)) scale_and_add(v.grad.data(), seed, static_cast<const S*>(nullptr), v.grad.size());
        v.has_grad = true;
      } else {
        // v.grad * seed + what reached it since the forward
        scale_and_add(v.grad.data(), seed, buffer.data(), v.grad.size());
      }
    } else if (exactly_one(seed) && !v.has_grad) {
      std::swap(v.grad, buffer);  // the buffer becomes the gradient: no copy
      v.has_grad = true;
    } else if (exactly_one(seed)) {
      v.accumulate(buffer);
    } else {
      v.accumulate(buffer * seed);
    }
  }
}
template <class S>
void deliver(const Constant<S>&, PendingGradients<S>&, S) {}
template <class Rule, class Child, class S>
void deliver(const Map<Rule, Child>& node, PendingGradients<S>& pending, S seed) {
  deliver(node.child, pending, seed);
}
template <class Rule, class Left, class Right, class S>
void deliver(const Zip<Rule, Left, Right>& node, PendingGradients<S>& pending, S seed) {
  deliver(node.left, pending, seed);
  deliver(node.right, pending, seed);
}

}  // namespace fusegrad::expr

#pragma GCC diagnostic pop
