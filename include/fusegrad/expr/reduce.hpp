// SPDX-License-Identifier: MPL-2.0
#pragma once
// A reduction node. Its value is evaluated once, in prepare(), into a cache that the
// enclosing expression reads (a reduction bounds a fused region, and Eigen would
// otherwise recompute a lazy reduction for every element that reads it). Backward, the
// upstream gradient is stretched back over the reduced dimensions and multiplied by the
// rule's partial derivative. The rules' loops (ops/reduction.hpp) read the operand as
// contiguous memory: a stored tensor's own, or the operand's expression evaluated once.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "../core/reduction_plan.hpp"
#include "../ops/markers.hpp"
#include "../ops/reduction.hpp"
#include "../ops/unary.hpp"
#include "../ops/binary.hpp"
#include "forward_lanes.hpp"
#include "sweep.hpp"

namespace fusegrad::expr {

// An operand's value as contiguous row-major memory: a stored tensor's own storage, or
// the operand evaluated into scratch (one SIMD pass for an elementwise region).
template <class S, int R>
struct Contiguous {
  std::optional<pool::Scratch<S, R>> evaluated;
  const S* data;
  template <class N>
  explicit Contiguous(const N& node) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(node.forward())>, EigenTensor<S, R>>) {
      data = node.forward().data();
    } else {
      evaluate_node(node, evaluated.emplace(node.dims()).tensor);
      data = evaluated->tensor.data();
    }
  }
};

// A reduction's shapes, from its operand's shape and dimension list: computed and
// checked by code that depends on the ranks alone, not on the operand's type.
template <int In, int K>
struct ReductionShapes {
  std::array<Index, K> axes;  // sorted
  Shape<In> kept;             // the operand's shape with reduced dimensions set to 1
  Shape<In> stretch;          // the reduced dimensions' sizes, 1 elsewhere
  Shape<In - K> reduced;

  ReductionShapes(const Shape<In>& in, std::array<Index, K> listed, const char* name, bool has_value_of_nothing)
      : axes(listed) {
    std::sort(axes.begin(), axes.end());
    for (int i = 0; i < K; ++i) {
      if (axes[i] < 0 || axes[i] >= In || (i > 0 && axes[i] == axes[i - 1]))
        throw shape_error(std::string("fusegrad: ") + name + ": dimension list " + format_shape(listed) +
                          " is not a set of distinct dimensions of an operand of shape " + format_shape(in));
    }
    kept = in;
    stretch.fill(1);
    for (Index a : axes) kept[a] = 1, stretch[a] = in[a];
    for (int i = 0, j = 0; i < In; ++i)
      if (!std::binary_search(axes.begin(), axes.end(), Index(i))) reduced[j++] = in[i];
    if (!has_value_of_nothing && element_count(in) == 0 && element_count(reduced) > 0)
      throw shape_error(std::string("fusegrad: ") + name + ": an operand of shape " + format_shape(in) +
                        " reduced over dimensions " + format_shape(axes) + " has empty slices, and the " + name +
                        " of no elements is undefined");
  }
};

// A reduction's value, and what a full sum, mean or logsumexp computed with its
// gradients keeps for backward. Pooled per scalar type and rank: the next reduction
// reuses it, value storage and all, once released.
template <class S, int R>
struct ReductionCache {
  EigenTensor<S, R> value;
  std::optional<PendingGradients<S>> pending;
  S shift = 0, exponential_sum = 0;  // of a logsumexp computed with its gradients

  static std::shared_ptr<ReductionCache> acquire() {
    return pool::recycled(pool::acquire<ReductionCache>([](const ReductionCache&) { return true; }),
                          [](ReductionCache& c) { c.pending.reset(); });
  }
};

template <class Rule, class Child, int K, bool Keep>
struct Reduce : expression_base, ReductionShapes<Child::rank, K> {
  using Scalar = typename Child::Scalar;
  static constexpr int input_rank = Child::rank;
  static constexpr int reduced_rank = input_rank - K;
  static constexpr int rank = Keep ? input_rank : reduced_rank;
  static_assert(K <= input_rank, "fusegrad: a reduction lists more dimensions than its operand has");
  static constexpr bool has_value_of_nothing = requires(const Rule& r) { r.template of_nothing<Scalar>(); };
  using Shapes = ReductionShapes<input_rank, K>;
  using Shapes::axes;
  using Shapes::kept;
  using Shapes::reduced;
  using Shapes::stretch;

  Rule rule;
  Child child;
  std::shared_ptr<ReductionCache<Scalar, reduced_rank>> cache = ReductionCache<Scalar, reduced_rank>::acquire();
  // A full sum or mean of an elementwise region computes its gradients (for seed 1) in
  // the same pass as its value when a gradient is wanted; they wait in `pending`.
  static constexpr bool sums_with_gradients =
      reduced_rank == 0 && (std::is_same_v<Rule, ops::Sum> || std::is_same_v<Rule, ops::Mean>);
  // A full sum or mean of an elementwise region that is not differentiated (or does not
  // qualify for the pass with gradients) sums the region as it evaluates it.
  static constexpr bool value_in_one_pass = sums_with_gradients && lane_region<Child> && std::is_floating_point_v<Scalar> &&
                                            !std::is_same_v<std::remove_cvref_t<decltype(std::declval<const Child&>().forward())>,
                                                            EigenTensor<Scalar, input_rank>>;
  // A full logsumexp m + log(s), s = sum(exp(x - m)), computes the region exp(x - m) with
  // its gradients in one pass after the max: d/dx = exp(x - m) / s, so backward only
  // scales the stored exponentials by g / s.
  static constexpr bool shifted_exponentials =
      reduced_rank == 0 && std::is_same_v<Rule, ops::LogSumExp> && input_rank > 0;
  auto exponentials(Scalar shift) const {
    return Map<ops::Exp, Zip<ops::Subtract, Child, Constant<Scalar>>>(
        ops::Exp{}, Zip<ops::Subtract, Child, Constant<Scalar>>(ops::Subtract{}, child, Constant<Scalar>(shift)));
  }

  // (The shapes are computed from the operand before it is moved in.)
  Reduce(Rule r, Child c, std::array<Index, K> listed)
      : Shapes(c.dims(), listed, Rule::name, has_value_of_nothing), rule(std::move(r)), child(std::move(c)) {}

  // Stretches a tensor of the reduced shape over the operand's shape.
  template <class T>
  auto stretched(const T& t) const {
    return t.reshape(kept).broadcast(stretch);
  }
  reducing::Plan plan() const {
    static_assert(input_rank <= reducing::most_dimensions, "fusegrad: a reduction's operand has too many dimensions");
    return reducing::plan(child.dims().data(), input_rank, axes.data(), K);
  }

  const Shape<rank>& dims() const {
    if constexpr (Keep)
      return kept;
    else
      return reduced;
  }
  void prepare() const {
    if (element_count(child.dims()) == 0) {
      // Nothing to reduce (the operand, whose region Eigen could not evaluate, is not
      // read): every result, if any, is the rule's value of no elements.
      child.prepare();
      pool::fit(cache->value, reduced);
      cache->pending.reset();
      if constexpr (has_value_of_nothing) cache->value.setConstant(rule.template of_nothing<Scalar>());
      return;
    }
    // Matrix products in a summed region are computed a block of rows at a time during
    // its pass (expr/lanes.hpp, row_blocked): they are told so before being prepared.
    RowBlocking blocking;
    if constexpr (sums_with_gradients)
      if (grad_enabled() && child.needs_grad() && lane_pass_qualifies(child)) blocking = defer_row_products(child);
    child.prepare();
    pool::fit(cache->value, reduced);
    cache->pending.reset();
    if constexpr (sums_with_gradients) {
      if (grad_enabled() && child.needs_grad()) {
        const Scalar scale = std::is_same_v<Rule, ops::Mean> ? Scalar(1) / Scalar(element_count(child.dims())) : Scalar(1);
        Scalar total = 0;
        if (sum_with_gradients(child, scale, total, cache->pending.emplace(), blocking)) {
          cache->value() = total * scale;
          return;
        }
        cache->pending.reset();
      }
    }
    if constexpr (shifted_exponentials) {
      if (grad_enabled() && child.needs_grad() && lane_region<decltype(exponentials(0))>) {
        // A constant (no tangent on dual numbers): the result does not depend on it. (A
        // NaN that this max skips still reaches the sum below, and so the result.)
        const Scalar shift = Scalar(region_maximum(child));
        Scalar total = 0;
        using std::isfinite;
        if (isfinite(shift) && sum_with_gradients(exponentials(shift), Scalar(1), total, cache->pending.emplace())) {
          cache->shift = shift;
          cache->exponential_sum = total;
          using std::log;
          cache->value() = shift + log(total);
          return;
        }
        cache->pending.reset();
      }
    }
    if constexpr (input_rank == 0) {
      cache->value = child.forward();
    } else if constexpr (value_in_one_pass) {
      const Scalar total = region_sum(child);
      cache->value() = std::is_same_v<Rule, ops::Mean> ? total / Scalar(element_count(child.dims())) : total;
    } else {
      const Contiguous<Scalar, input_rank> x(child);
      rule.evaluate(x.data, plan(), cache->value.data());
    }
  }
  decltype(auto) forward() const {
    if constexpr (Keep)
      return cache->value.reshape(kept);
    else
      return static_cast<const EigenTensor<Scalar, reduced_rank>&>(cache->value);
  }
  bool needs_grad() const { return child.needs_grad(); }
  int gradient_paths() const { return child.gradient_paths(); }
  template <class G>
  void backward(const G& g) const {
    if (!child.needs_grad() || element_count(child.dims()) == 0) return;  // an empty operand has no gradient to fill
    if constexpr (input_rank == 0) {
      child.backward(g);
    } else {
      // The upstream gradient is small (reduced shape): evaluate it once rather than
      // let the broadcast recompute it for every element.
      pool::Scratch<Scalar, reduced_rank> upstream_buffer(reduced);
      auto& upstream = upstream_buffer.tensor;
      if constexpr (Keep)
        evaluate_into(upstream, g.reshape(reduced));
      else
        evaluate_into(upstream, g);
      if constexpr (sums_with_gradients) {
        if (cache->pending) {
          deliver(child, *cache->pending, upstream());
          cache->pending.reset();  // a second backward (retain_graph) takes the path below
          return;
        }
      }
      if constexpr (shifted_exponentials) {
        if (cache->pending) {
          deliver(exponentials(cache->shift), *cache->pending, upstream() / cache->exponential_sum);
          cache->pending.reset();
          return;
        }
      }
      const reducing::Plan p = plan();
      if constexpr (requires { rule.template uniform_partial<Scalar>(p); }) {
        // The same partial for every element: the stretched upstream gradient, lazily.
        const auto partial = rule.template uniform_partial<Scalar>(p);
        if constexpr (reduced_rank == 0)
          child.backward(ops::chain(Eigen::TensorMap<const EigenTensor<Scalar, input_rank>>(upstream.data(), child.dims())
                                        .constant(upstream()),
                                    partial));
        else
          child.backward(ops::chain(stretched(upstream), partial));
      } else {
        const Contiguous<Scalar, input_rank> x(child);
        const auto gradient_into = [&](Scalar* dx, bool add) {
          rule.gradient(x.data, cache->value.data(), upstream.data(), p, dx, add);
        };
        if constexpr (requires { child.variable->accumulate_in_place([](EigenTensor<Scalar, input_rank>&, bool) {}); }) {
          // A leaf: straight into its gradient, with no tensor in between.
          child.variable->accumulate_in_place(
              [&](EigenTensor<Scalar, input_rank>& g, bool add) { gradient_into(g.data(), add); });
        } else {
          pool::Scratch<Scalar, input_rank> contribution(child.dims());
          gradient_into(contribution.tensor.data(), false);
          child.backward(contribution.tensor);
        }
      }
    }
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    child.for_each_leaf(f);
  }
};

// The dimensions a reduction runs over: fg::dims(0, 2).
template <int K>
struct Axes {
  std::array<Index, K> values;
};

struct keep_dims_t {};

}  // namespace fusegrad::expr

namespace fusegrad {

/// The dimensions a reduction or reverse works on: fg::sum(x, fg::dims(0, 2)).
template <std::integral... I>
expr::Axes<sizeof...(I)> dims(I... axes) {
  return {{static_cast<Index>(axes)...}};
}

/// Keeps reduced dimensions as size 1: fg::sum(x, fg::dims(1), fg::keep_dims).
inline constexpr expr::keep_dims_t keep_dims{};

}  // namespace fusegrad
