// SPDX-License-Identifier: MPL-2.0
#pragma once
// The leaves of expressions and what every expression node provides.
//
// A node is a small value type with
//   Scalar, rank                  its element type and compile-time rank
//   dims()                        its run-time dimensions, checked when it was built
//   prepare()                     evaluates the reductions inside it (they bound fused regions)
//   forward()                     an Eigen expression of its value, evaluated by assignment
//   needs_grad()                  whether any gradient flows through it
//   gradient_paths()              how many leaves below it receive a gradient (a leaf
//                                 used twice counts twice)
//   backward(g)                   given an Eigen expression g of d(out)/d(node), accumulates
//                                 into the gradients of the variables below it
//   for_each_leaf(f)              visits every variable below it, f(variable, version),
//                                 with the variable's version when the node was last
//                                 prepared (the tape checks that none changed since)
#include <memory>

#include "../core/config.hpp"
#include "../core/shape.hpp"
#include "../ops/markers.hpp"
#include "variable.hpp"

namespace fusegrad {

template <class S, int R>
class Tensor;

namespace expr {

template <class T>
concept Node = std::derived_from<std::remove_cvref_t<T>, expression_base> && requires(const T& node) {
  typename T::Scalar;
  { T::rank } -> std::convertible_to<int>;
  node.dims();
};

// A tensor's value inside an expression.
template <class S, int R>
struct Leaf : expression_base {
  using Scalar = S;
  static constexpr int rank = R;
  std::shared_ptr<Variable<S, R>> variable;
  Shape<R> shape;
  // The value's version when this leaf was last evaluated: its backward must read the
  // same value (tape/graph.hpp checks).
  mutable std::uint64_t version_read;

  explicit Leaf(std::shared_ptr<Variable<S, R>> v)
      : variable(std::move(v)), shape(variable->dimensions()), version_read(variable->version) {}

  const Shape<R>& dims() const { return shape; }
  void prepare() const {
    // The shapes of the nodes above were computed from `shape` when they were built.
    if (variable->dimensions() != shape) throw_resized_while_referenced(shape, variable->dimensions());
    version_read = variable->version;
  }
  const EigenTensor<S, R>& forward() const { return *variable->value; }
  bool needs_grad() const { return variable->tracks(); }
  int gradient_paths() const { return variable->tracks() ? 1 : 0; }
  template <class G>
  void backward(const G& g) const {
    if (variable->tracks()) variable->accumulate(g);
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    f(static_cast<VariableBase&>(*variable), version_read);
  }
};

// What a node through which no gradient flows answers (constants, masks).
struct no_gradient : expression_base {
  bool needs_grad() const { return false; }
  int gradient_paths() const { return 0; }
  template <class G>
  void backward(const G&) const {}
  template <class F>
  void for_each_leaf(F&&) const {}
};

// A scalar operand of an arithmetic expression (`x * 2`): it broadcasts like a rank-0
// tensor but enters Eigen expressions as a plain number.
template <class S>
struct Constant : no_gradient {
  using Scalar = S;
  static constexpr int rank = 0;
  S value;
  static constexpr Shape<0> shape{};

  explicit Constant(S v) : value(v) {}
  const Shape<0>& dims() const { return shape; }
  void prepare() const {}
  S forward() const { return value; }
};

template <class T>
inline constexpr bool is_constant = false;
template <class S>
inline constexpr bool is_constant<Constant<S>> = true;

// Nodes whose value is held in a tensor (forward() returns a reference to it): leaves,
// evaluated reductions and contractions.
template <class N>
inline constexpr bool is_stored = std::is_lvalue_reference_v<decltype(std::declval<const N&>().forward())>;

template <class T>
inline constexpr bool is_tensor = false;
template <class S, int R>
inline constexpr bool is_tensor<Tensor<S, R>> = true;

}  // namespace expr

// What the arithmetic operators and functions accept as a tensor operand.
template <class T>
concept Operand = expr::is_tensor<std::remove_cvref_t<T>> || expr::Node<std::remove_cvref_t<T>>;

template <class T>
concept Number = std::is_arithmetic_v<std::remove_cvref_t<T>>;

namespace detail {
// Binds to any type deriving from Eigen::DenseBase<D>, whatever D: a VectorBlock (a
// vector's segment, head or tail) derives from the DenseBase of the Block it extends,
// not from DenseBase<VectorBlock>.
template <class D>
void dense_base_probe(const Eigen::DenseBase<D>&);
}  // namespace detail

/// A dense Eigen matrix or vector, or an expression of them.
template <class T>
concept EigenDense = requires(const std::remove_cvref_t<T>& m) { detail::dense_base_probe(m); };

namespace expr {
// What an operation returns after a static_assert refused its arguments: a Tensor
// accepts it, so that the refusal is the one error the compiler prints.
struct refused {};

template <class T>
inline constexpr bool always_false = false;

// Operations take Eigen matrices too, only to refuse them with one sentence (instead of
// "no matching function" and a list of candidates).
// (A refused operation's result is taken too, and passed on without another error.)
template <class T>
concept OperandOrMatrix = Operand<T> || EigenDense<T> || std::is_same_v<std::remove_cvref_t<T>, refused>;
template <class... T>
inline constexpr bool any_refused = (std::is_same_v<std::remove_cvref_t<T>, refused> || ...);

}  // namespace expr

}  // namespace fusegrad

namespace fusegrad::expr {

// Tensors enter expressions as leaves; nodes as themselves, moved when they are
// temporaries (a node holds its leaves' shared pointers: a copy of a subexpression per
// operator would cost atomic reference counting that grows with the depth squared).
template <class T>
auto as_node(T&& operand) {
  using Plain = std::remove_cvref_t<T>;
  if constexpr (is_tensor<Plain>)
    return operand.leaf();
  else
    return Plain(std::forward<T>(operand));
}

template <class T>
using node_of = decltype(as_node(std::declval<const std::remove_cvref_t<T>&>()));

// The fused single-pass adjoint of an elementwise region (lanes.hpp, lane_region).
template <class N, class G>
void fused_backward(const N& node, const G& g);

// Backward through a node, the gradient reaching a child is g times a local derivative.
// When several leaves below the child receive it, each would recompute that product
// (transcendentals included) in its own pass; evaluating it once into a tensor is
// cheaper. A derivative of 1 or -1 leaves nothing to recompute.
template <class Derivative, class Child>
bool evaluate_before_passing(const Child& child) {
  return !ops::is_one<Derivative> && !ops::is_minus_one<Derivative> && child.gradient_paths() > 1;
}

}  // namespace fusegrad::expr
