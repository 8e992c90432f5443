// SPDX-License-Identifier: MPL-2.0
#pragma once
// An elementwise unary node: out = f(child), d child = g * f'(child).
#include "../ops/markers.hpp"
#include "node.hpp"
#include "region.hpp"

namespace fusegrad::expr {

template <class Rule, class Child>
struct Map : expression_base {
  using Scalar = typename Child::Scalar;
  static constexpr int rank = Child::rank;
  Rule rule;
  Child child;

  Map(Rule r, Child c) : rule(std::move(r)), child(std::move(c)) {}

  const Shape<rank>& dims() const { return child.dims(); }
  void prepare() const { child.prepare(); }
  auto forward() const { return rule.value(child.forward()); }
  bool needs_grad() const { return child.needs_grad(); }
  int gradient_paths() const { return child.gradient_paths(); }
  template <class G>
  void backward(const G& g) const {
    if (!child.needs_grad()) return;
    if constexpr (lane_region<Map>)
      fused_backward(*this, g);
    else
      backward_per_node(g);
  }
  // Outside fused regions (a map over a layout change or a `where`, of rank 0): the child
  // receives g times the derivative as an Eigen expression, evaluated where it is used.
  template <class G>
  void backward_per_node(const G& g) const {
    const auto derivative = rule.derivative(child.forward());
    if (evaluate_before_passing<decltype(derivative)>(child)) {
      if constexpr (!ops::is_one<decltype(derivative)> && !ops::is_minus_one<decltype(derivative)>) {
        pool::Scratch<Scalar, rank> evaluated(dims());
        evaluate_into(evaluated.tensor, g * derivative);
        child.backward(evaluated.tensor);
        return;
      }
    }
    child.backward(ops::chain(g, derivative));
  }
  // The backward when this map's value y is stored (it ends a statement) and the rule
  // can take f' from y.
  template <class G, class Y>
    requires requires(const Rule& r, const Y& y) { r.derivative_from_value(y); }
  void backward_from_value(const G& g, const Y& y) const {
    if (!child.needs_grad()) return;
    if (child.gradient_paths() > 1) {
      pool::Scratch<Scalar, rank> evaluated(dims());
      evaluate_into(evaluated.tensor, g * rule.derivative_from_value(y));
      child.backward(evaluated.tensor);
    } else {
      child.backward(g * rule.derivative_from_value(y));
    }
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    child.for_each_leaf(f);
  }
};

}  // namespace fusegrad::expr
