// SPDX-License-Identifier: MPL-2.0
#pragma once
// The plan of the fused passes (expr/sweep.hpp runs them). The fused adjoint is the
// backward of an elementwise region (maps and zips over leaves, constants, stored values
// and single values stretched over the region) in ONE pass over memory, one SIMD packet
// at a time.
//
// Per packet, a forward sweep computes every node's value in registers and records the
// operands each node's derivative needs; a reverse sweep then runs the same rules'
// derivatives from the seed down to the leaves. So each transcendental is computed
// once per backward, a leaf used twice (x in exp(x) * sin(x)) receives both
// contributions in the same pass, and a single value stretched over the region (a
// scalar parameter) gets its gradient as a sum kept in a register, with no
// region-sized temporary. The rules themselves are those of ops/: they run on Lanes
// (packet/lane.hpp), which answer the same calls as Eigen expressions.
//
// How a node is evaluated here lives in its LaneEvaluator, as Eigen keeps evaluators
// apart from expressions. The evaluator is a plan built once per backward (pointers,
// and whether a gradient is assigned or added); the values of one packet live in a
// `record`, a plain local struct, and the running sums of single values' gradients in a
// small local array indexed by compile-time slots, which the compiler keeps in
// registers.
//
// A full sum (or mean) of a region that needs a gradient runs the region's adjoint in
// the same pass as its value, seeded with 1, into buffers kept until backward
// (`PendingGradients`): backward then only scales them by the upstream gradient, or,
// when that is 1 and a variable has no gradient yet, hands the buffer over. The price
// is paid even if backward never comes: one pass's worth of derivative work and the
// buffers' memory until the statement is freed.
//
// Every region (expr/region.hpp: maps and zips over stored values and constants, of a
// floating-point or dual scalar type) takes it, whatever its broadcasting: operands that
// cover the region or its rows are read in place, others through stretched copies
// (RegionLayout, Expansion). Other expressions take the per-node path (Map::backward,
// Zip::backward).
#include <memory>
#include <optional>
#include <vector>

#include "../packet/dual_lane.hpp"
#include "../core/pool.hpp"
#include "map.hpp"
#include "pending_gradients.hpp"
#include "region.hpp"
#include "zip.hpp"

// Packet types carry alignment attributes that template arguments drop; harmless here,
// as Eigen notes for its own packet templates.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad::expr {

// A node's value in one packet: a lane, or a plain number for a single value.
template <class N, class P>
using lane_value = std::conditional_t<N::rank == 0, typename N::Scalar, Lane<typename N::Scalar, P>>;

template <class N>
struct LaneEvaluator;

// A record field a node's derivative does not read.
struct Unused {};

// The form of a node's value in one packet inside the fused pass: a single value, a
// lane, or a scaled lane (packet/lane.hpp), as its evaluator's value() returns it.
template <class N, class P>
using value_form = decltype(std::declval<const LaneEvaluator<N>&>().template value<true, P>(
    std::declval<typename LaneEvaluator<N>::template record<P>&>(), Index()));

// What a full sum adds for a node in one packet (its value, or less: see
// LaneEvaluator<Zip>::summand), with `shift` gathering what it adds per element on top.
template <class E, class R, class S>
auto lane_summand(const E& evaluator, R& record, Index i, S& shift) {
  if constexpr (requires { evaluator.summand(record, i, shift); })
    return evaluator.summand(record, i, shift);
  else
    return evaluator.template value<true>(record, i);
}

// An adjoint in the pass is a lane; or one value shared by every element (a constant
// seed passed through partials that are single values); or a lane times such a shared
// value (ScaledLane, packet/lane.hpp), multiplied out only where a lane must be stored. A
// single value's running sum adds the lanes and multiplies by the shared factor once,
// after the pass, and counts shared values instead of adding them: per packet,
// -0.5 (x - mu)^2 / sigma^2 then costs mu and sigma one addition each.
template <class S, class P, class A>
Lane<S, P> multiplied_out(const A& adjoint) {
  if constexpr (std::is_same_v<A, S>)
    return Lane<S, P>(lanes::broadcast<S, P>(adjoint));
  else if constexpr (lanes::is_scaled<A>)
    return adjoint.multiplied();
  else
    return adjoint;
}

// upstream * derivative, each a single value (S), a lane or a scaled lane: the products
// of packet/lane.hpp keep single factors apart (a dual lane times a single value is
// multiplied out: dual lanes have their own product).
template <class S, class P, class A, class D>
auto adjoint_chain(const A& upstream, const D& derivative) {
  if constexpr (ops::is_one<D>)
    return upstream;
  else if constexpr (ops::is_minus_one<D>)
    return A(-upstream);
  else
    return upstream * derivative;
}

// A single value's gradient over the pass, in one of three forms by what its adjoint is
// (one form per slot: a slot is reached from one place, always with the same type).
template <class S, class P>
struct SlotSum {
  P lanes = lanes::broadcast<S, P>(S(0));
  S factor = S(1);  // of scaled lanes
  S shared = S(0);  // of a shared value, counted
  Index count = 0;

  template <class A>
  void add(const A& adjoint) {
    if constexpr (std::is_same_v<A, S>) {
      shared = adjoint, ++count;
    } else if constexpr (lanes::is_scaled<A>) {
      lanes = lanes::add<S, P>(lanes, adjoint.lane.packet), factor = adjoint.factor;
    } else {
      lanes = lanes::add<S, P>(lanes, adjoint.packet);
    }
  }
  S total() const {
    S sum = lanes::total<S, P>(lanes) * factor;
    if (count > 0) sum = sum + shared * S(double(count) * lanes::width<S, P>);
    return sum;
  }
};

// A product whose rows can be computed a block at a time (a matrix times a vector or a
// matrix, contract.hpp). Inside a full sum with gradients, its rows are computed a block
// at a time with the region's pass, and the adjoint of its right operand gathered from
// the same block (A_block^T G_block) while the block of A is still in cache: A is read
// from memory once per backward instead of twice.
struct RowBlocking {
  Index elements_per_row = 0;  // 0: not blocked
  Index rows_per_block = 0;
};
template <class N>
concept row_blocked = requires(const N& node, const typename N::Scalar* adjoint, Index first, Index last) {
  { node.row_blocking() } -> std::same_as<RowBlocking>;
  { node.rows_deferred() } -> std::same_as<bool>;
  node.defer_rows(true);
  node.forward_rows(first, last);
  node.gather_rows(adjoint, first, last);
  { node.has_gathered_rows() } -> std::same_as<bool>;
};

// An operand's values as a fused pass reads them: a single value once (not through a
// pointer per packet), a row operand (RegionLayout) at i - offset, with offset the start
// of the row being swept. Shared by the reverse pass (StoredOperand) and by evaluation
// (expr/forward_lanes.hpp).
template <class S, int R>
struct StoredValues {
  const S* values;
  S single;
  bool by_row;
  Index offset = 0;

  StoredValues(const S* v, Index size, Index region_size)
      : values(v), single(v[0]), by_row(R > 0 && size != region_size) {}
  void start_row(Index first) {
    if (by_row) offset = first;
  }
  template <class P>
  std::conditional_t<R == 0, S, Lane<S, P>> read(Index i) const {
    if constexpr (R == 0)
      return single;
    else
      return Lane<S, P>(lanes::load<S, P>(values + (i - offset)));
  }
};

// What every operand read from storage shares: its values, and for a single value
// (rank 0) the running sum of its gradient, kept in the sweep's `sums` and collected
// into `single_total`, or into its pending entry when the gradients are computed ahead.
// A row operand's gradient is added to at i - offset, as its values are read. An
// operand stretched otherwise is read from its Expansion (region.hpp), which gathers its
// gradient over the region (never in a pass whose gradients are computed ahead:
// sum_with_gradients declines such regions).
template <class S, int R>
struct StoredOperand : StoredValues<S, R> {
  bool receives;  // whether a gradient flows into it
  PendingGradients<S>* deferred;
  std::size_t entry = 0;
  S single_total = 0;
  std::shared_ptr<Expansion<S>> expansion;  // shared by the plan's copies

  template <class P>
  struct record {};
  static constexpr int slots = R == 0 ? 1 : 0;

  StoredOperand(const S* v, const Shape<R>& dims, const RegionLayout& layout, bool gradient_flows,
                PendingGradients<S>* pending)
      : StoredValues<S, R>(v, element_count(dims), layout.size), receives(gradient_flows), deferred(pending) {
    if constexpr (R == 0) {
      if (receives && deferred) {
        entry = deferred->entries.size();
        deferred->entries.emplace_back();
      }
    } else {
      if (layout.expands && reading_of(dims, layout) == operand_reading::expanded) {
        expansion = pool::make_shared<Expansion<S>>(v, dims.data(), R, layout, receives);
        this->values = expansion->values.data();
        this->by_row = false;
      }
    }
  }
  template <bool Needed, class P>
  std::conditional_t<R == 0, S, Lane<S, P>> value(record<P>&, Index i) const {
    return this->template read<P>(i);
  }
  // The rows [first, last) of a row-blocked product are about to be read, or have been.
  void rows_ready(Index, Index) const {}
  void rows_done(Index, Index) const {}
  template <class P>
  void collect(const SlotSum<S, P>* sums) {
    if constexpr (R == 0)
      if (receives) (deferred ? deferred->entries[entry].total : single_total) += sums[0].total();
  }
};

// A stored value other than a leaf: its gradient is gathered in a buffer (or, for a
// single value, a sum) and handed to the node's own backward when the pass is done.
template <class N>
struct LaneEvaluator : StoredOperand<typename N::Scalar, N::rank> {
  using S = typename N::Scalar;
  using Base = StoredOperand<S, N::rank>;
  const N& node;
  std::shared_ptr<EigenTensor<S, N::rank>> adjoint_buffer;  // shared by the plan's copies
  S* adjoint = nullptr;

  LaneEvaluator(const N& n, const RegionLayout& layout, PendingGradients<S>* pending)
      : Base(n.forward().data(), n.dims(), layout, n.needs_grad(), pending), node(n) {
    if constexpr (N::rank > 0) {
      if (!this->receives) return;
      if (pending) {
        adjoint = pending->template add_buffer<N::rank>(n.dims()).data;
      } else {
        adjoint_buffer = pool::make_shared_tensor<S, N::rank>(n.dims());
        adjoint = this->expansion ? this->expansion->adjoint.data() : adjoint_buffer->data();
      }
      if (this->by_row) std::fill_n(adjoint, element_count(n.dims()), S(0));  // every row adds
    }
  }
  template <class P, class A>
  void adjoint_at(typename Base::template record<P>&, const A& seed, Index i, SlotSum<S, P>* sums) {
    if constexpr (N::rank == 0) {
      sums[0].add(seed);
    } else {
      S* at = adjoint + (i - this->offset);
      P contribution = multiplied_out<S, P>(seed).packet;
      if (this->by_row) contribution = lanes::add<S, P>(lanes::load<S, P>(at), contribution);
      lanes::store<S, P>(at, contribution);
    }
  }
  void rows_ready(Index first, Index last) const {
    if constexpr (row_blocked<N>)
      if (node.rows_deferred()) node.forward_rows(first, last);
  }
  void rows_done(Index first, Index last) const {
    if constexpr (row_blocked<N>)
      if (node.rows_deferred()) node.gather_rows(adjoint, first, last);
  }
  void finish() {
    if (!this->receives || this->deferred) return;
    if constexpr (N::rank == 0) {
      pool::Scratch<S, 0> total(Shape<0>{});
      total.tensor() = this->single_total;
      node.backward(total.tensor);
    } else {
      if (this->expansion) this->expansion->sum_into(adjoint_buffer->data(), adjoint_buffer->size(), false);
      node.backward(*adjoint_buffer);
    }
  }
};

// A variable: read from its value, accumulated straight into its gradient. The first
// contribution of a backward is stored, later ones added (no zero fill).
template <class S, int R>
struct LaneEvaluator<Leaf<S, R>> : StoredOperand<S, R> {
  using Base = StoredOperand<S, R>;
  Variable<S, R>* variable;
  S* gradient = nullptr;
  bool add = false;

  LaneEvaluator(const Leaf<S, R>& leaf, const RegionLayout& layout, PendingGradients<S>* pending)
      : Base(leaf.variable->value->data(), leaf.shape, layout, leaf.variable->tracks(), pending),
        variable(leaf.variable.get()) {
    if constexpr (R > 0) {
      if (!this->receives) return;
      if (this->expansion) {
        // Gathered over the region, summed into the gradient after the pass (finish).
        gradient = this->expansion->adjoint.data();
        return;
      }
      const Index size = variable->value->size();
      if (pending) {
        for (auto& earlier : pending->entries)
          if (earlier.variable == variable && !earlier.merged) gradient = earlier.data, add = true;
        if (add) {
          pending->entries.emplace_back().merged = true;
        } else {
          auto& entry = pending->template add_buffer<R>(variable->dimensions(), variable);
          if (!variable->has_grad && variable->grad.size() == size) {
            // A recycled variable keeps its old buffer: the same count, maybe other dimensions.
            variable->grad.resize(variable->dimensions());
            std::swap(pending->template buffer_of<R>(entry), variable->grad);
            entry.data = pending->template buffer_of<R>(entry).data();
            entry.give_back = &give_back_gradient_storage<S, R>;
            entry.lender = leaf.variable;
          }
          gradient = entry.data;
          if (this->by_row) std::fill_n(gradient, size, S(0)), add = true;  // every row adds
        }
      } else {
        add = variable->has_grad;
        if (!add) {
          pool::fit(variable->grad, variable->dimensions());
          variable->has_grad = true;  // a later occurrence of this leaf adds
          if (this->by_row) std::fill_n(variable->grad.data(), size, S(0)), add = true;
        }
        gradient = variable->grad.data();
      }
    }
  }
  template <class P, class A>
  void adjoint_at(typename Base::template record<P>&, const A& seed, Index i, SlotSum<S, P>* sums) {
    if constexpr (R == 0) {
      sums[0].add(seed);
    } else if (gradient) {
      S* at = gradient + (i - this->offset);
      P contribution = multiplied_out<S, P>(seed).packet;
      if (add) contribution = lanes::add<S, P>(lanes::load<S, P>(at), contribution);
      lanes::store<S, P>(at, contribution);
    }
  }
  void finish() {
    if constexpr (R == 0) {
      if (!this->receives || this->deferred) return;
      const S total = this->single_total;
      variable->accumulate_in_place([total](EigenTensor<S, R>& g, bool add_to) {
        g.data()[0] = add_to ? g.data()[0] + total : total;
      });
    } else {
      if (!this->receives || !this->expansion) return;
      const Expansion<S>& e = *this->expansion;
      variable->accumulate_in_place([&e](EigenTensor<S, R>& g, bool add_to) { e.sum_into(g.data(), g.size(), add_to); });
    }
  }
};

template <class S>
struct LaneEvaluator<Constant<S>> {
  S constant;
  template <class P>
  struct record {};
  LaneEvaluator(const Constant<S>& c, const RegionLayout&, PendingGradients<S>*) : constant(c.value) {}
  template <bool Needed, class P>
  S value(record<P>&, Index) const { return constant; }
  template <class P>
  void collect(const SlotSum<S, P>*) {}
  static constexpr int slots = 0;
  void finish() {}
  void start_row(Index) {}
  void rows_ready(Index, Index) const {}
  void rows_done(Index, Index) const {}
};

template <class Rule, class Child>
struct LaneEvaluator<Map<Rule, Child>> {
  using Node = Map<Rule, Child>;
  using S = typename Node::Scalar;
  const Node& node;
  LaneEvaluator<Child> child;
  bool needs;

  template <class P>
  using operand_form = value_form<Child, P>;
  template <class P>
  using form = std::remove_cvref_t<decltype(std::declval<const Rule&>().value(std::declval<const operand_form<P>&>()))>;
  LaneEvaluator(const Node& n, const RegionLayout& layout, PendingGradients<S>* pending)
      : node(n), child(n.child, layout, pending), needs(n.child.needs_grad()) {}
  // Whether the derivative reads the map's value y (tanh' = 1 - y^2), its operand x, or
  // neither (a constant derivative).
  static constexpr bool from_value = requires(const Rule& rule, const Lane<S, S>& y) {
    rule.derivative_from_value(y);
  };
  static constexpr bool constant_derivative =
      !from_value && (ops::is_one<decltype(std::declval<const Rule&>().derivative(std::declval<Lane<S, S>>()))> ||
                      ops::is_minus_one<decltype(std::declval<const Rule&>().derivative(std::declval<Lane<S, S>>()))>);
  static constexpr bool keeps_operand = !from_value && !constant_derivative;
  // Whether the rule computes value and derivative in one call on this lane (sin and
  // cos: one sincos, about the cost of sin alone); the record then keeps the derivative.
  template <class P>
  static constexpr bool paired = keeps_operand && requires(const Rule& rule, const operand_form<P>& x) {
    rule.value_and_derivative(x);
  };
  template <class P>
  static auto paired_derivative_form() {
    if constexpr (paired<P>)
      return std::remove_cvref_t<decltype(std::declval<const Rule&>().derivative(std::declval<const operand_form<P>&>()))>();
    else
      return Unused();
  }

  // A packet's record holds only what the derivative reads: a record the compiler can
  // split into registers costs no stores.
  template <class P>
  struct record {
    typename LaneEvaluator<Child>::template record<P> child;
    [[no_unique_address]] std::conditional_t<keeps_operand && !paired<P>, operand_form<P>, Unused> x;
    [[no_unique_address]] std::conditional_t<from_value, form<P>, Unused> y;
    [[no_unique_address]] decltype(paired_derivative_form<P>()) d;
  };

  // Needed: whether the parent reads this value; what is not read is not computed (a
  // user's function, or a transcendental, is not called for nothing).
  template <bool Needed, class P>
  form<P> value(record<P>& r, Index i) const {
    if constexpr (from_value) {
      r.y = node.rule.value(child.template value<true>(r.child, i));
      return r.y;
    } else if constexpr (paired<P>) {
      const auto x = child.template value<true>(r.child, i);
      if constexpr (Needed) {
        auto [y, d] = node.rule.value_and_derivative(x);
        r.d = d;
        return y;
      } else {
        r.d = node.rule.derivative(x);
        return form<P>();
      }
    } else if constexpr (keeps_operand) {
      r.x = child.template value<true>(r.child, i);
      if constexpr (Needed)
        return node.rule.value(r.x);
      else
        return form<P>();
    } else if constexpr (Needed) {
      return node.rule.value(child.template value<true>(r.child, i));
    } else {
      child.template value<false>(r.child, i);
      return form<P>();
    }
  }
  template <class P, class A>
  void adjoint_at(record<P>& r, const A& seed, Index i, SlotSum<S, P>* sums) {
    // Below a single value's running sum the call is unconditional: a sum updated under
    // a branch would live in memory rather than in a register. (What it gathers for a
    // value that needs no gradient is dropped in collect.)
    if constexpr (LaneEvaluator<Child>::slots == 0)
      if (!needs) return;
    if constexpr (from_value)
      child.adjoint_at(r.child, adjoint_chain<S, P>(seed, node.rule.derivative_from_value(r.y)), i, sums);
    else if constexpr (paired<P>)
      child.adjoint_at(r.child, adjoint_chain<S, P>(seed, r.d), i, sums);
    else
      child.adjoint_at(r.child, adjoint_chain<S, P>(seed, node.rule.derivative(r.x)), i, sums);
  }
  static constexpr int slots = LaneEvaluator<Child>::slots;
  template <class P>
  void collect(const SlotSum<S, P>* sums) {
    child.collect(sums);
  }
  void finish() { child.finish(); }
  void start_row(Index first) { child.start_row(first); }
  void rows_ready(Index first, Index last) const { child.rows_ready(first, last); }
  void rows_done(Index first, Index last) const { child.rows_done(first, last); }
};

template <class Rule, class Left, class Right>
struct LaneEvaluator<Zip<Rule, Left, Right>> {
  using Node = Zip<Rule, Left, Right>;
  using S = typename Node::Scalar;
  const Node& node;
  LaneEvaluator<Left> left;
  LaneEvaluator<Right> right;
  bool left_needs, right_needs;

  template <class P>
  using form = std::remove_cvref_t<decltype(std::declval<const Rule&>().value(
      std::declval<const value_form<Left, P>&>(), std::declval<const value_form<Right, P>&>()))>;
  LaneEvaluator(const Node& n, const RegionLayout& layout, PendingGradients<S>* pending)
      : node(n), left(n.left, layout, pending), right(n.right, layout, pending),
        left_needs(n.left.needs_grad()), right_needs(n.right.needs_grad()) {}
  // Add and subtract have constant partials: their operands are read only for the value.
  static constexpr bool constant_partials = [] {
    using L = lane_value<Left, S>;
    using R = lane_value<Right, S>;
    using DL = decltype(std::declval<const Rule&>().d_left(std::declval<L>(), std::declval<R>()));
    using DR = decltype(std::declval<const Rule&>().d_right(std::declval<L>(), std::declval<R>()));
    return (ops::is_one<DL> || ops::is_minus_one<DL>) && (ops::is_one<DR> || ops::is_minus_one<DR>);
  }();

  template <class P>
  struct record {
    typename LaneEvaluator<Left>::template record<P> left;
    typename LaneEvaluator<Right>::template record<P> right;
    [[no_unique_address]] std::conditional_t<constant_partials, Unused, value_form<Left, P>> a;
    [[no_unique_address]] std::conditional_t<constant_partials, Unused, value_form<Right, P>> b;
  };

  template <bool Needed, class P>
  form<P> value(record<P>& r, Index i) const {
    if constexpr (!constant_partials) {
      r.a = left.template value<true>(r.left, i);
      r.b = right.template value<true>(r.right, i);
      if constexpr (Needed)
        return node.rule.value(r.a, r.b);
      else
        return form<P>();
    } else if constexpr (Needed) {
      const auto a = left.template value<true>(r.left, i);
      return node.rule.value(a, right.template value<true>(r.right, i));
    } else {
      left.template value<false>(r.left, i);
      right.template value<false>(r.right, i);
      return form<P>();
    }
  }
  // A full sum of x + s or x - s, s a single value, is sum(x) + n s: the pass adds x's
  // lanes and counts s (into `shift`, per element) instead of adding it to every element.
  static constexpr bool adds = std::is_same_v<Rule, ops::Add>, subtracts = std::is_same_v<Rule, ops::Subtract>;
  static constexpr bool shifted_right = (adds || subtracts) && Left::rank > 0 && Right::rank == 0;
  static constexpr bool shifted_left = adds && Left::rank == 0 && Right::rank > 0;
  template <class P>
  auto summand(record<P>& r, Index i, S& shift) const {
    if constexpr (shifted_right) {
      const S s = right.template value<true>(r.right, i);
      shift = subtracts ? shift - s : shift + s;
      return lane_summand(left, r.left, i, shift);
    } else if constexpr (shifted_left) {
      shift = shift + left.template value<true>(r.left, i);
      return lane_summand(right, r.right, i, shift);
    } else {
      return value<true>(r, i);
    }
  }
  template <class P, class A>
  void adjoint_at(record<P>& r, const A& seed, Index i, SlotSum<S, P>* sums) {
    constexpr bool left_sums = LaneEvaluator<Left>::slots > 0, right_sums = LaneEvaluator<Right>::slots > 0;
    if constexpr (!is_constant<Left>)
      if (left_sums || left_needs) left.adjoint_at(r.left, adjoint_chain<S, P>(seed, node.rule.d_left(r.a, r.b)), i, sums);
    if constexpr (!is_constant<Right>)
      if (right_sums || right_needs) right.adjoint_at(r.right, adjoint_chain<S, P>(seed, node.rule.d_right(r.a, r.b)), i,
                                     sums + LaneEvaluator<Left>::slots);
  }
  static constexpr int slots = LaneEvaluator<Left>::slots + LaneEvaluator<Right>::slots;
  template <class P>
  void collect(const SlotSum<S, P>* sums) {
    left.collect(sums);
    right.collect(sums + LaneEvaluator<Left>::slots);
  }
  void finish() {
    left.finish();
    right.finish();
  }
  void start_row(Index first) {
    left.start_row(first);
    right.start_row(first);
  }
  void rows_ready(Index first, Index last) const {
    left.rows_ready(first, last);
    right.rows_ready(first, last);
  }
  void rows_done(Index first, Index last) const {
    left.rows_done(first, last);
    right.rows_done(first, last);
  }
};

}  // namespace fusegrad::expr

#pragma GCC diagnostic pop
