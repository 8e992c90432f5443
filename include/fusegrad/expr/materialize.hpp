// SPDX-License-Identifier: MPL-2.0
#pragma once
// A rank-0 subexpression stretched over a tensor (log(sigma) in y / sigma - log(sigma))
// would be recomputed for every element it is stretched over; it is evaluated once, in
// prepare(), and read from there.
#include <memory>

#include "node.hpp"

namespace fusegrad::expr {

template <class Child>
struct Materialize : expression_base {
  using Scalar = typename Child::Scalar;
  static constexpr int rank = Child::rank;
  Child child;
  std::shared_ptr<EigenTensor<Scalar, rank>> cache = pool::make_cache<Scalar, rank>();

  explicit Materialize(Child c) : child(std::move(c)) {}
  const Shape<rank>& dims() const { return child.dims(); }
  void prepare() const {
    child.prepare();
    pool::fit(*cache, child.dims());
    evaluate_into(*cache, child.forward());
  }
  const EigenTensor<Scalar, rank>& forward() const { return *cache; }
  bool needs_grad() const { return child.needs_grad(); }
  int gradient_paths() const { return child.gradient_paths(); }
  template <class G>
  void backward(const G& g) const {
    child.backward(g);
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    child.for_each_leaf(f);
  }
};

// An operand of an elementwise node: rank-0 expressions are evaluated once.
template <class N>
auto operand_node(N node) {
  if constexpr (N::rank == 0 && !is_stored<N> && !is_constant<N> && !std::is_same_v<typename N::Scalar, bool>)
    return Materialize<N>(std::move(node));
  else
    return node;
}

}  // namespace fusegrad::expr
