// SPDX-License-Identifier: MPL-2.0
#pragma once
// A plain operand meeting a dual one (a constant matrix inside a function being
// differentiated in forward mode) is read as dual numbers with zero tangent.
#include "../core/dual.hpp"
#include "node.hpp"

namespace fusegrad::expr {

template <class Child>
struct ToDual : expression_base {
  using Plain = typename Child::Scalar;
  using Scalar = Dual<Plain>;
  static constexpr int rank = Child::rank;
  Child child;

  explicit ToDual(Child c) : child(std::move(c)) {}
  const Shape<rank>& dims() const { return child.dims(); }
  void prepare() const { child.prepare(); }
  auto forward() const {
    return child.forward().unaryExpr([](const Plain& v) { return Scalar(v); });
  }
  bool needs_grad() const { return child.needs_grad(); }
  int gradient_paths() const { return child.gradient_paths(); }
  // The plain operand's gradient is the value part of the dual one.
  template <class G>
  void backward(const G& g) const {
    if (child.needs_grad()) child.backward(g.unaryExpr([](const Scalar& d) { return d.value; }));
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    child.for_each_leaf(f);
  }
};

// The scalar type two operands combine in: the dual one when one of them is dual.
template <class A, class B>
using promoted_scalar = std::conditional_t<is_dual<A>, A, B>;

// A node read in scalar type S: itself, or as dual numbers.
template <class S, class N>
auto in_scalar(N&& node) {
  using Plain = std::remove_cvref_t<N>;
  if constexpr (std::is_same_v<typename Plain::Scalar, S> || is_constant<Plain>)
    return Plain(std::forward<N>(node));
  else
    return ToDual<Plain>(std::forward<N>(node));
}

}  // namespace fusegrad::expr
