// SPDX-License-Identifier: MPL-2.0
#pragma once
// An elementwise binary node with NumPy broadcasting: out = f(left, right), and each
// operand receives g times its partial, summed back to its own shape.
#include <algorithm>

#include "../core/elementwise.hpp"
#include "../ops/binary.hpp"
#include "../ops/markers.hpp"
#include "broadcast.hpp"
#include "region.hpp"

namespace fusegrad::expr {

template <class Rule, class Left, class Right>
struct Zip : expression_base {
  using Scalar = std::conditional_t<is_constant<Left>, typename Right::Scalar, typename Left::Scalar>;
  static constexpr int rank = std::max(Left::rank, Right::rank);
  static_assert(std::is_same_v<typename Left::Scalar, typename Right::Scalar>,
                "fusegrad: both operands of an elementwise operation must have the same scalar type");
  Rule rule;
  Left left;
  Right right;
  Shape<rank> shape;

  Zip(Rule r, Left l, Right rt)
      : rule(std::move(r)), left(std::move(l)), right(std::move(rt)),
        shape(broadcast_shapes(left.dims(), right.dims(), Rule::name)) {}

  const Shape<rank>& dims() const { return shape; }
  void prepare() const {
    left.prepare();
    right.prepare();
  }
  auto forward() const { return rule.value(operand_at(left, shape), operand_at(right, shape)); }
  bool needs_grad() const { return left.needs_grad() || right.needs_grad(); }
  int gradient_paths() const { return left.gradient_paths() + right.gradient_paths(); }
  template <class G>
  void backward(const G& g) const {
    if constexpr (lane_region<Zip>)
      fused_backward(*this, g);
    else
      backward_per_node(g);
  }
  // Outside fused regions: each operand receives g times its partial as an Eigen
  // expression, evaluated where it is used.
  template <class G>
  void backward_per_node(const G& g) const {
    if constexpr (!is_constant<Left>)
      if (left.needs_grad()) pass(left, g, rule.d_left(operand_at(left, shape), operand_at(right, shape)));
    if constexpr (!is_constant<Right>)
      if (right.needs_grad()) pass(right, g, rule.d_right(operand_at(left, shape), operand_at(right, shape)));
  }
  template <class Child, class G, class D>
  void pass(const Child& child, const G& g, const D& derivative) const {
    if constexpr (!ops::is_one<D> && !ops::is_minus_one<D>) {
      if (evaluate_before_passing<D>(child)) {
        pool::Scratch<Scalar, rank> evaluated(shape);
        evaluate_into(evaluated.tensor, g * derivative);
        send_to(child, evaluated.tensor, shape);
        return;
      }
    }
    send_to(child, ops::chain(g, derivative), shape);
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    left.for_each_leaf(f);
    right.for_each_leaf(f);
  }
};

// A comparison: a boolean mask for `where`, through which no gradient flows.
template <class Rule, class Left, class Right>
struct Compare : no_gradient {
  using Scalar = bool;
  using Value = std::conditional_t<is_constant<Left>, typename Right::Scalar, typename Left::Scalar>;
  static constexpr int rank = std::max(Left::rank, Right::rank);
  Rule rule;
  Left left;
  Right right;
  Shape<rank> shape;

  Compare(Rule r, Left l, Right rt)
      : rule(std::move(r)), left(std::move(l)), right(std::move(rt)),
        shape(broadcast_shapes(left.dims(), right.dims(), "comparison")) {}

  const Shape<rank>& dims() const { return shape; }
  void prepare() const {
    left.prepare();
    right.prepare();
  }
  auto forward() const {
    decltype(auto) a = operand_at(left, shape);
    decltype(auto) b = operand_at(right, shape);
    if constexpr (elementwise::is_plain_scalar<decltype(a)>)
      return rule.value(elementwise::lift(a, b), b);
    else if constexpr (elementwise::is_plain_scalar<decltype(b)>)
      return rule.value(a, elementwise::lift(b, a));
    else
      return rule.value(a, b);
  }
  // No gradient flows through a mask, but the backward of `where` reads it.
  template <class F>
  void for_each_leaf(F&& f) const {
    left.for_each_leaf(f);
    right.for_each_leaf(f);
  }
};

// where(cond, a, b): a where cond holds, else b; cond is a mask or a 0/1 tensor.
template <class Condition, class A, class B>
struct Where : expression_base {
  using Scalar = std::conditional_t<is_constant<A>, typename B::Scalar, typename A::Scalar>;
  static constexpr int rank = std::max({Condition::rank, A::rank, B::rank});
  Condition condition;
  A a;
  B b;
  Shape<rank> shape;

  Where(Condition c, A x, B y)
      : condition(std::move(c)), a(std::move(x)), b(std::move(y)),
        shape(broadcast_shapes(broadcast_shapes(condition.dims(), a.dims(), "where"), b.dims(), "where")) {}

  const Shape<rank>& dims() const { return shape; }
  void prepare() const {
    condition.prepare();
    a.prepare();
    b.prepare();
  }
  decltype(auto) mask() const {
    if constexpr (std::is_same_v<typename Condition::Scalar, bool>)
      return operand_at(condition, shape);
    else
      return operand_at(condition, shape) != typename Condition::Scalar(0);
  }
  auto forward() const {
    decltype(auto) c = mask();
    decltype(auto) x = operand_at(a, shape);
    decltype(auto) y = operand_at(b, shape);
    using elementwise::is_plain_scalar;
    if constexpr (is_plain_scalar<decltype(x)> && is_plain_scalar<decltype(y)>) {
      auto like = c.template cast<Scalar>();
      return c.select(like.constant(x), like.constant(y));
    } else if constexpr (is_plain_scalar<decltype(x)>) {
      return c.select(y.constant(x), y);
    } else if constexpr (is_plain_scalar<decltype(y)>) {
      return c.select(x, x.constant(y));
    } else {
      return c.select(x, y);
    }
  }
  bool needs_grad() const { return a.needs_grad() || b.needs_grad(); }
  int gradient_paths() const { return a.gradient_paths() + b.gradient_paths(); }
  template <class G>
  void backward(const G& g) const {
    if constexpr (!is_constant<A>)
      if (a.needs_grad()) send_to(a, mask().select(g, g.constant(Scalar(0))), shape);
    if constexpr (!is_constant<B>)
      if (b.needs_grad()) send_to(b, mask().select(g.constant(Scalar(0)), g), shape);
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    condition.for_each_leaf(f);
    a.for_each_leaf(f);
    b.for_each_leaf(f);
  }
};

}  // namespace fusegrad::expr
