#pragma once
// An elementwise unary node: out = f(child), d child = g * f'(child).
#include "../ops/markers.hpp"
#include "node.hpp"

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
  template <class G>
  void backward(const G& g) const {
    if (child.needs_grad()) child.backward(ops::chain(g, rule.derivative(child.forward())));
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    child.for_each_leaf(f);
  }
};

}  // namespace fusegrad::expr
