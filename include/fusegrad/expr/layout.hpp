// SPDX-License-Identifier: MPL-2.0
#pragma once
// Layout operations as expression nodes: reshape, permute (transpose), broadcast_to,
// slice, pad, reverse, concat and stack. Each node's forward is a lazy Eigen expression
// of its operand's (so it fuses with the elementwise expressions around it), and its
// backward is the adjoint layout operation applied lazily to the upstream gradient:
//
//   reshape        x.reshape(shape)              g.reshape(x's shape)
//   permute        x.shuffle(perm)               g.shuffle(inverse of perm)
//   broadcast_to   x stretched (as stretched)   g summed back to x's shape (send_to)
//   slice          x.slice(offsets, extents)     g padded with zeros to x's shape
//   pad            x.pad(paddings)               g.slice(before, x's shape)
//   reverse        x.reverse(flags)              g.reverse(flags)
//   concat, stack  evaluated in prepare()        each operand gets its slice of g
//
// concat and stack take a run-time number of operands, which no single Eigen expression
// can represent: they evaluate into a cache in prepare(), as a reduction does.
#include <algorithm>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "broadcast.hpp"
#include "functions.hpp"

namespace fusegrad::expr {

// The type of the values behind a node: a mask (Scalar bool) remembers the type it
// compared, so that `where` can use a permuted or reshaped mask as it uses a mask.
template <class Child>
struct values_of {
  using type = typename Child::Scalar;
};
template <class Child>
requires requires { typename Child::Value; }
struct values_of<Child> {
  using type = typename Child::Value;
};

// What every layout node shares: one operand, a shape of rank R checked at
// construction, and gradients flowing through to the operand's leaves.
template <class Child, int R>
struct LayoutNode : expression_base {
  using Scalar = typename Child::Scalar;
  using Value = typename values_of<Child>::type;
  static constexpr int rank = R;
  Child child;
  Shape<R> shape;

  LayoutNode(Child c, const Shape<R>& s) : child(std::move(c)), shape(s) {}

  const Shape<R>& dims() const { return shape; }
  void prepare() const { child.prepare(); }
  bool needs_grad() const { return child.needs_grad(); }
  int gradient_paths() const { return child.gradient_paths(); }
  template <class F>
  void for_each_leaf(F&& f) const {
    child.for_each_leaf(f);
  }
};

namespace layout {

template <class A>
std::string format_list(const A& values) {
  return format_shape(values);
}

template <std::size_t R>
std::string format_paddings(const std::array<std::pair<Index, Index>, R>& paddings) {
  std::string out = "(";
  for (std::size_t i = 0; i < R; ++i)
    out += (i ? ", (" : "(") + std::to_string(paddings[i].first) + ", " + std::to_string(paddings[i].second) + ")";
  return out + (R == 1 ? ",)" : ")");
}

// The target of a reshape with at most one -1 (inferred, as in NumPy) resolved.
template <std::size_t Rin, std::size_t R>
Shape<R> reshape_target(const Shape<Rin>& in, const Shape<R>& requested) {
  Shape<R> target = requested;
  int inferred = -1;
  Index known = 1;
  bool valid = true;
  for (int i = 0; i < int(R); ++i) {
    if (requested[i] == -1 && inferred < 0)
      inferred = i;
    else if (requested[i] < 0)
      valid = false;
    else if (requested[i] > 0 && known > std::numeric_limits<Index>::max() / requested[i])
      valid = false;  // more elements than an Index counts: not the operand's count
    else
      known *= requested[i];
  }
  const Index count = element_count(in);
  if (valid && inferred >= 0) {
    if (known != 0 && count % known == 0)
      target[inferred] = count / known;
    else
      valid = false;
  }
  if (valid) checked_element_count(target, "reshape");
  if (!valid || element_count(target) != count)
    throw shape_error("fusegrad: reshape: cannot reshape an operand of shape " + format_shape(in) + " (" +
                      std::to_string(count) + " elements) into shape " + format_shape(requested));
  return target;
}

// Eigen's TensorReverseOp has an accessor reverse() that hides TensorBase::reverse(dims)
// (and TensorBroadcastingOp's broadcast() hides broadcast(factors)): reversing what is
// already a reversal (reverse of reverse, or its backward) goes through the base class.
template <class E, class Flags>
auto reversed(const E& e, const Flags& flags) {
  return static_cast<const Eigen::TensorBase<E, Eigen::ReadOnlyAccessors>&>(e).reverse(flags);
}

}  // namespace layout

// ---------------------------------------------------------------------------------
// reshape: the same elements in the same row-major order, other dimensions.
template <class Child, int R>
struct Reshape : LayoutNode<Child, R> {
  Reshape(Child c, const Shape<R>& requested) : LayoutNode<Child, R>(std::move(c), Shape<R>{}) {
    this->shape = layout::reshape_target(this->child.dims(), requested);
  }

  auto forward() const { return this->child.forward().reshape(this->shape); }
  template <class G>
  void backward(const G& g) const {
    if (this->child.needs_grad()) this->child.backward(g.reshape(this->child.dims()));
  }
};

// ---------------------------------------------------------------------------------
// permute: result dimension i is the operand's dimension perm[i].
template <class Child>
struct Permute : LayoutNode<Child, Child::rank> {
  static constexpr int R = Child::rank;
  static_assert(R >= 1, "fusegrad: permute/transpose needs an operand of rank 1 or more");
  std::array<Index, R> permutation;
  std::array<Index, R> inverse;

  Permute(Child c, const std::array<Index, R>& perm)
      : LayoutNode<Child, R>(std::move(c), Shape<R>{}), permutation(perm) {
    std::array<bool, R> seen{};
    for (int i = 0; i < R; ++i) {
      const Index p = perm[i];
      if (p < 0 || p >= R || seen[p])
        throw shape_error("fusegrad: permute: " + layout::format_list(perm) +
                          " is not a permutation of the dimensions of an operand of shape " +
                          format_shape(this->child.dims()));
      seen[p] = true;
      inverse[p] = i;
      this->shape[i] = this->child.dims()[p];
    }
  }

  auto forward() const { return this->child.forward().shuffle(permutation); }
  template <class G>
  void backward(const G& g) const {
    if (this->child.needs_grad()) this->child.backward(g.shuffle(inverse));
  }
};

// ---------------------------------------------------------------------------------
// broadcast_to: the operand stretched to a target shape by NumPy's rules (leading
// dimensions added, size-1 dimensions stretched).
template <class Child, int R>
struct BroadcastTo : LayoutNode<Child, R> {
  static_assert(R >= Child::rank, "fusegrad: broadcast_to cannot lower the rank of its operand");

  BroadcastTo(Child c, const Shape<R>& target) : LayoutNode<Child, R>(std::move(c), target) {
    const Shape<R> promoted = promote<R>(this->child.dims());
    for (int i = 0; i < R; ++i)
      if (target[i] < 0 || (promoted[i] != target[i] && promoted[i] != 1))
        throw_shape_mismatch("broadcast_to", this->child.dims(), target);
    checked_element_count(target, "broadcast_to");
  }

  auto forward() const { return stretched(this->child, this->shape); }
  template <class G>
  void backward(const G& g) const {
    send_to(this->child, g, this->shape);
  }
};

// ---------------------------------------------------------------------------------
// slice: the block of the given extents at the given offsets (as Eigen's slice).
template <class Child>
struct Slice : LayoutNode<Child, Child::rank> {
  static constexpr int R = Child::rank;
  static_assert(R >= 1, "fusegrad: slice needs an operand of rank 1 or more");
  Shape<R> offsets;
  std::array<std::pair<Index, Index>, R> paddings;  // backward: back to the operand's shape

  Slice(Child c, const Shape<R>& offs, const Shape<R>& extents)
      : LayoutNode<Child, R>(std::move(c), extents), offsets(offs) {
    const Shape<R>& in = this->child.dims();
    for (int i = 0; i < R; ++i) {
      if (offs[i] < 0 || extents[i] < 0 || offs[i] > in[i] || extents[i] > in[i] - offs[i])
        throw shape_error("fusegrad: slice: offsets " + format_shape(offs) + " and extents " + format_shape(extents) +
                          " reach outside an operand of shape " + format_shape(in));
      paddings[i] = {offs[i], in[i] - offs[i] - extents[i]};
    }
  }

  auto forward() const { return this->child.forward().slice(offsets, this->shape); }
  template <class G>
  void backward(const G& g) const {
    if (this->child.needs_grad()) this->child.backward(g.pad(paddings));
  }
};

// ---------------------------------------------------------------------------------
// pad: zeros added before and after each dimension. An operand that is not stored is
// evaluated first, in prepare(): padding is the one layout operation whose result can
// be non-empty when its operand is empty, and Eigen cannot read an empty elementwise
// expression (its broadcast asserts), not even to pad it with zeros only.
template <class Child>
struct Pad : LayoutNode<Child, Child::rank> {
  static constexpr int R = Child::rank;
  static_assert(R >= 1, "fusegrad: pad needs an operand of rank 1 or more");
  using Values = std::conditional_t<std::is_same_v<typename Child::Scalar, bool>, bool, typename Child::Scalar>;
  std::array<std::pair<Index, Index>, R> paddings;
  Shape<R> before;  // backward: where the operand sits in the result
  std::shared_ptr<EigenTensor<Values, R>> cache;  // the evaluated operand, when it is not stored

  Pad(Child c, const std::array<std::pair<Index, Index>, R>& p)
      : LayoutNode<Child, R>(std::move(c), Shape<R>{}), paddings(p) {
    const Shape<R>& in = this->child.dims();
    for (int i = 0; i < R; ++i) {
      if (p[i].first < 0 || p[i].second < 0)
        throw shape_error("fusegrad: pad: paddings " + layout::format_paddings(p) +
                          " include a negative width (operand of shape " + format_shape(in) + ")");
      before[i] = p[i].first;
      if (p[i].first > std::numeric_limits<Index>::max() - in[i] ||
          p[i].second > std::numeric_limits<Index>::max() - in[i] - p[i].first)
        throw shape_error("fusegrad: pad: paddings " + layout::format_paddings(p) + " make dimension " +
                          std::to_string(i) + " of an operand of shape " + format_shape(in) +
                          " larger than an Index can count");
      this->shape[i] = in[i] + p[i].first + p[i].second;
    }
    checked_element_count(this->shape, "pad");
    if constexpr (!is_stored<Child>) cache = pool::make_cache<Values, R>();
  }

  void prepare() const {
    this->child.prepare();
    if constexpr (!is_stored<Child>) {
      pool::fit(*cache, this->child.dims());
      evaluate_into(*cache, this->child.forward());
    }
  }
  auto forward() const {
    if constexpr (is_stored<Child>)
      return this->child.forward().pad(paddings);
    else
      return static_cast<const EigenTensor<Values, R>&>(*cache).pad(paddings);
  }
  template <class G>
  void backward(const G& g) const {
    if (this->child.needs_grad()) this->child.backward(g.slice(before, this->child.dims()));
  }
};

// ---------------------------------------------------------------------------------
// reverse: the listed dimensions run backwards.
template <class Child>
struct Reverse : LayoutNode<Child, Child::rank> {
  static constexpr int R = Child::rank;
  static_assert(R >= 1, "fusegrad: reverse needs an operand of rank 1 or more");
  std::array<bool, R> flags{};

  template <std::size_t K>
  Reverse(Child c, const std::array<Index, K>& axes) : LayoutNode<Child, R>(std::move(c), Shape<R>{}) {
    this->shape = this->child.dims();
    for (Index a : axes) {
      if (a < 0 || a >= R || flags[a])
        throw shape_error("fusegrad: reverse: dimension list " + layout::format_list(axes) +
                          " is not a set of distinct dimensions of an operand of shape " + format_shape(this->shape));
      flags[a] = true;
    }
  }

  auto forward() const { return layout::reversed(this->child.forward(), flags); }
  template <class G>
  void backward(const G& g) const {
    if (this->child.needs_grad()) this->child.backward(layout::reversed(g, flags));
  }
};

// ---------------------------------------------------------------------------------
// concat and stack: operands of one type placed side by side along a dimension of the
// result (Out == rank for concat; Out == rank + 1 for stack, each operand then filling
// one index of the new dimension). The result is evaluated in prepare(); backward, each
// operand receives its block of g.
template <class Child, int Out>
struct Concat : expression_base {
  using Scalar = typename Child::Scalar;
  using Value = typename values_of<Child>::type;
  static constexpr int rank = Out;
  static constexpr int input_rank = Child::rank;
  static_assert(Out == input_rank || Out == input_rank + 1, "fusegrad: concat/stack: wrong result rank");

  std::vector<Child> operands;
  std::vector<Shape<Out>> offsets;  // each operand's block in the result
  std::vector<Shape<Out>> extents;
  Shape<Out> shape;
  std::shared_ptr<EigenTensor<Scalar, Out>> cache = pool::make_cache<Scalar, Out>();

  Concat(std::vector<Child> children, Index dim) : operands(std::move(children)) {
    constexpr bool stacking = Out == input_rank + 1;
    const char* name = stacking ? "stack" : "concat";
    if (operands.empty()) throw shape_error(std::string("fusegrad: ") + name + ": needs at least one operand");
    const Shape<input_rank>& first = operands.front().dims();
    if (dim < 0 || dim >= Out)
      throw shape_error(std::string("fusegrad: ") + name + ": dimension " + std::to_string(dim) +
                        " is out of range for operands of shape " + format_shape(first) +
                        (stacking ? " (stacked result of rank " : " (rank ") + std::to_string(Out) + ")");
    Index position = 0;
    for (const Child& operand : operands) {
      const Shape<input_rank>& d = operand.dims();
      Shape<Out> block, at{};
      for (int i = 0, j = 0; i < Out; ++i) {
        if (stacking && i == dim) {
          block[i] = 1;
          continue;
        }
        block[i] = d[j];
        if (i != dim && d[j] != first[j])
          throw_shape_mismatch(std::string(name) + " along dimension " + std::to_string(dim), first, d);
        ++j;
      }
      at[dim] = position;
      if (block[dim] > std::numeric_limits<Index>::max() - position)
        throw shape_error(std::string("fusegrad: ") + name + ": the joined dimension " + std::to_string(dim) +
                          " would be larger than an Index can count");
      position += block[dim];
      offsets.push_back(at);
      extents.push_back(block);
    }
    shape = extents.front();
    shape[dim] = position;
    checked_element_count(shape, name);
  }

  const Shape<Out>& dims() const { return shape; }
  void prepare() const {
    pool::fit(*cache, shape);
    for (std::size_t k = 0; k < operands.size(); ++k) {
      operands[k].prepare();
      if (element_count(extents[k]) == 0) continue;
      if constexpr (Out == input_rank)
        cache->slice(offsets[k], extents[k]) = operands[k].forward();
      else
        cache->slice(offsets[k], extents[k]) = operands[k].forward().reshape(extents[k]);
    }
  }
  decltype(auto) forward() const { return static_cast<const EigenTensor<Scalar, Out>&>(*cache); }
  bool needs_grad() const {
    return std::any_of(operands.begin(), operands.end(), [](const Child& c) { return c.needs_grad(); });
  }
  int gradient_paths() const {
    int n = 0;
    for (const Child& c : operands) n += c.gradient_paths();
    return n;
  }
  template <class G>
  void backward(const G& g) const {
    for (std::size_t k = 0; k < operands.size(); ++k) {
      if (!operands[k].needs_grad()) continue;
      if constexpr (Out == input_rank)
        operands[k].backward(g.slice(offsets[k], extents[k]));
      else
        operands[k].backward(g.slice(offsets[k], extents[k]).reshape(operands[k].dims()));
    }
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    for (const Child& c : operands) c.for_each_leaf(f);
  }
};

template <class Node>
auto make_concat_leaves(const auto& tensors, Index dim) {
  using Leaf = decltype(std::begin(tensors)->leaf());
  std::vector<Leaf> leaves;
  leaves.reserve(std::size(tensors));
  for (const auto& t : tensors) leaves.push_back(t.leaf());
  return Node(std::move(leaves), dim);
}

}  // namespace fusegrad::expr

namespace fusegrad {

/// reshape(x, {3, 4}): the count of dimensions fixes the new rank; one may be -1 (inferred).
template <Operand X, std::size_t N>
auto reshape(const X& x, const std::array<Index, N>& dims) {
  return expr::Reshape<expr::node_of<X>, int(N)>(expr::as_node(x), dims);
}
/// reshape with the dimensions as a braced list.
template <Operand X, std::size_t N>
auto reshape(const X& x, const Index (&dims)[N]) {
  return reshape(x, std::to_array(dims));
}

// The empty list of dimensions `{}` of a rank-0 operation (a braced list cannot make an
// empty std::array or C array).
struct no_dimensions {};

/// permute(x, {2, 0, 1}): result dimension i is x's dimension perm[i]. A rank-0 x is
/// returned as it is (permute(x, {}), as NumPy's).
template <Operand X, std::size_t N>
auto permute(const X& x, const std::array<Index, N>& perm) {
  using Node = expr::node_of<X>;
  static_assert(int(N) == Node::rank,
                "fusegrad: permute: the permutation must list every dimension of the operand once");
  if constexpr (N == 0)
    return expr::as_node(x);
  else
    return expr::Permute<Node>(expr::as_node(x), perm);
}
/// permute(x, {}) of a rank-0 x: x itself.
template <Operand X>
auto permute(const X& x, no_dimensions) {
  return permute(x, std::array<Index, 0>{});
}
/// permute with the order as a braced list.
template <Operand X, std::size_t N>
auto permute(const X& x, const Index (&perm)[N]) {
  return permute(x, std::to_array(perm));
}

/// transpose(x) of a matrix: permute(x, {1, 0}); of a rank-0 x, x.
template <Operand X>
auto transpose(const X& x) {
  constexpr int rank = expr::node_of<X>::rank;
  static_assert(rank == 2 || rank == 0,
                "fusegrad: transpose takes a matrix (rank 2) or a rank-0 tensor; use permute for other ranks");
  if constexpr (rank == 0)
    return expr::as_node(x);
  else
    return permute(x, std::array<Index, 2>{1, 0});
}

/// broadcast_to(x, {8, 3, 4}): x stretched to the target dimensions by NumPy's rules.
template <Operand X, std::size_t N>
auto broadcast_to(const X& x, const std::array<Index, N>& target) {
  using Node = expr::node_of<X>;
  static_assert(int(N) >= Node::rank, "fusegrad: broadcast_to: the target has fewer dimensions than the operand");
  if constexpr (N == 0)
    return expr::as_node(x);  // a rank-0 operand to shape {}: itself
  else
    return expr::BroadcastTo<Node, int(N)>(expr::as_node(x), target);
}
/// broadcast_to(x, {}) of a rank-0 x: x itself.
template <Operand X>
auto broadcast_to(const X& x, no_dimensions) {
  return broadcast_to(x, std::array<Index, 0>{});
}
/// broadcast_to with the target as a braced list.
template <Operand X, std::size_t N>
auto broadcast_to(const X& x, const Index (&target)[N]) {
  return broadcast_to(x, std::to_array(target));
}

/// slice(x, {offsets...}, {extents...}), as Eigen's slice.
template <Operand X, std::size_t N>
auto slice(const X& x, const std::array<Index, N>& offsets, const std::array<Index, N>& extents) {
  using Node = expr::node_of<X>;
  static_assert(int(N) == Node::rank, "fusegrad: slice: give one offset and one extent per dimension of the operand");
  return expr::Slice<Node>(expr::as_node(x), offsets, extents);
}
/// slice with offsets and extents as braced lists.
template <Operand X, std::size_t N>
auto slice(const X& x, const Index (&offsets)[N], const Index (&extents)[N]) {
  return slice(x, std::to_array(offsets), std::to_array(extents));
}

/// pad(x, {{1, 1}, {0, 2}}): zeros before and after each dimension.
template <Operand X, std::size_t N>
auto pad(const X& x, const std::array<std::pair<Index, Index>, N>& paddings) {
  using Node = expr::node_of<X>;
  static_assert(int(N) == Node::rank, "fusegrad: pad: give one (before, after) pair per dimension of the operand");
  return expr::Pad<Node>(expr::as_node(x), paddings);
}
/// pad with the (before, after) pairs as a braced list.
template <Operand X, std::size_t N>
auto pad(const X& x, const std::pair<Index, Index> (&paddings)[N]) {
  return pad(x, std::to_array(paddings));
}

/// reverse(x, fg::dims(0, 2)) reverses the listed dimensions; reverse(x), all of them.
template <Operand X, int K>
auto reverse(const X& x, expr::Axes<K> axes) {
  using Node = expr::node_of<X>;
  static_assert(K <= Node::rank, "fusegrad: reverse lists more dimensions than its operand has");
  return expr::Reverse<Node>(expr::as_node(x), axes.values);
}
/// x with every dimension reversed.
template <Operand X>
auto reverse(const X& x) {
  return expr::Reverse<expr::node_of<X>>(expr::as_node(x), expr::all_axes<expr::node_of<X>::rank>());
}

/// concat({a, b, c}, dim): tensors of equal shapes but along dim, joined along dim.
template <class S, int R>
auto concat(const std::vector<Tensor<S, R>>& tensors, Index dim = 0) {
  static_assert(R >= 1, "fusegrad: concat needs operands of rank 1 or more (stack joins rank-0 tensors)");
  return expr::make_concat_leaves<expr::Concat<expr::Leaf<S, R>, R>>(tensors, dim);
}
/// concat of a braced list of tensors.
template <class S, int R>
auto concat(std::initializer_list<Tensor<S, R>> tensors, Index dim = 0) {
  static_assert(R >= 1, "fusegrad: concat needs operands of rank 1 or more (stack joins rank-0 tensors)");
  return expr::make_concat_leaves<expr::Concat<expr::Leaf<S, R>, R>>(tensors, dim);
}

/// stack({a, b}, dim): tensors of one shape along a new dimension of size N at position dim.
template <class S, int R>
auto stack(const std::vector<Tensor<S, R>>& tensors, Index dim = 0) {
  return expr::make_concat_leaves<expr::Concat<expr::Leaf<S, R>, R + 1>>(tensors, dim);
}
/// stack of a braced list of tensors.
template <class S, int R>
auto stack(std::initializer_list<Tensor<S, R>> tensors, Index dim = 0) {
  return expr::make_concat_leaves<expr::Concat<expr::Leaf<S, R>, R + 1>>(tensors, dim);
}

}  // namespace fusegrad
