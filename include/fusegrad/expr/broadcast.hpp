// SPDX-License-Identifier: MPL-2.0
#pragma once
// How an operand of an elementwise node meets the node's broadcast shape: forward,
// stretched (lazily) over the output; backward, its contribution summed back over the
// dimensions it was stretched along.
#include "../core/reduction_plan.hpp"
#include "../core/shape.hpp"
#include "../ops/reduction.hpp"
#include "node.hpp"

namespace fusegrad::expr {

// The operand's value stretched, lazily, over the output shape (an Eigen expression).
template <std::size_t R, class Child>
auto stretched(const Child& child, const Shape<R>& out) {
  const Shape<R> promoted = promote<int(R)>(child.dims());
  decltype(auto) value = child.forward();
  using Value = std::remove_cvref_t<decltype(value)>;
  // Through TensorBase: an Eigen broadcast expression hides broadcast(factors) behind
  // its own accessor of the same name.
  const auto& base = static_cast<const Eigen::TensorBase<Value, Eigen::ReadOnlyAccessors>&>(value);
  if constexpr (Child::rank == int(R))
    return base.broadcast(broadcast_factors(promoted, out));
  else
    return base.reshape(promoted).broadcast(broadcast_factors(promoted, out));
}

// The operand's value as an Eigen expression of the output shape, or a plain number
// where it is one (a constant, or a stored single value).
// (decltype(auto): a leaf's value is returned by reference, never copied.)
template <std::size_t R, class Child>
decltype(auto) operand_at(const Child& child, const Shape<R>& out) {
  if constexpr (is_constant<Child>) {
    return child.value;
  } else if constexpr (R == 0) {
    return child.forward();  // Eigen cannot broadcast to rank 0, and need not
  } else if constexpr (Child::rank == 0 && is_stored<Child>) {
    // One stored value stretched over the output: a plain number in the expression,
    // which Eigen vectorises (its broadcast of a single element is slow).
    return child.forward()();
  } else {
    return stretched(child, out);
  }
}

// The sum of a contribution (an Eigen expression of shape `out`): evaluated into scratch
// unless it is a tensor, then summed by Eigen's dense reduction, which is compiled once
// per scalar type rather than once per expression as its tensor reduction would be.
template <class S, class E, std::size_t R>
S sum_of(const E& contribution, const std::array<Index, R>& out) {
  const Index n = element_count(out);
  if constexpr (std::is_same_v<E, EigenTensor<S, int(R)>>) {
    return Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(contribution.data(), n).sum();
  } else {
    pool::Scratch<S, int(R)> evaluated(out);
    evaluate_into(evaluated.tensor, contribution);
    return Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(evaluated.tensor.data(), n).sum();
  }
}

// Sums `contribution` (of shape `out`) over the dimensions along which `promoted` was
// stretched, into a tensor of the child's own shape.
// (It takes an evaluated tensor: one instantiation per rank pair, not per expression,
// keeps builds short; the stretched case pays one pass for it.)
template <class S, int Rc, int R>
EigenTensor<S, Rc> sum_to_shape(const EigenTensor<S, R>& contribution, const Shape<Rc>& child,
                                const Shape<R>& promoted, const Shape<R>& out) {
  EigenTensor<S, Rc> result = pool::take<S, Rc>(child);
  const Index total = element_count(out), kept = element_count(promoted);
  // The stretched dimensions are all leading or all trailing: a 2-D reduction that
  // Eigen vectorizes.
  int first_stretched = int(R), last_stretched = -1;
  for (int i = 0; i < int(R); ++i)
    if (promoted[i] != out[i]) first_stretched = std::min(first_stretched, i), last_stretched = i;
  bool leading = true, trailing = true;
  for (int i = 0; i < int(R); ++i) {
    const bool stretched = promoted[i] != out[i];
    if (stretched == (i > last_stretched)) leading = false;
    if (stretched == (i < first_stretched)) trailing = false;
  }
  if (kept == 0 || total == 0) {
    result.setZero();
  } else if (kept == 1) {
    result.setConstant(sum_of<S>(contribution, out));
  } else if (leading || trailing) {
    // Column or row sums of the contribution viewed as a row-major matrix (Eigen's dense
    // path vectorizes both; its tensor reduction over a leading dimension does not).
    using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    if (leading) {
      Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>> out(result.data(), kept);
      out.noalias() = Eigen::Map<const M>(contribution.data(), total / kept, kept).colwise().sum();
    } else {
      Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>> out(result.data(), kept);
      out.noalias() = Eigen::Map<const M>(contribution.data(), kept, total / kept).rowwise().sum();
    }
  } else {
    // General pattern: fusegrad's own sum over the stretched dimensions.
    std::array<Index, R> axes;
    int stretched = 0;
    for (int i = 0; i < R; ++i)
      if (promoted[i] != out[i]) axes[stretched++] = i;
    ops::Sum{}.evaluate(contribution.data(), reducing::plan(out.data(), R, axes.data(), stretched), result.data());
  }
  return result;
}

// Passes an operand its share of the gradient, reduced to its shape if it was stretched.
template <std::size_t R, class Child, class E>
void send_to(const Child& child, const E& contribution, const Shape<R>& out) {
  if constexpr (R == 0) {
    child.backward(contribution);
  } else if constexpr (!is_constant<Child>) {
    // An empty region sends nothing: the operand's share is zero, which a gradient
    // never reached already is (and Eigen cannot stretch an empty operand).
    if (!child.needs_grad() || element_count(out) == 0) return;
    const Shape<R> promoted = promote<int(R)>(child.dims());
    if (promoted == out) {
      if constexpr (Child::rank == int(R))
        child.backward(contribution);
      else
        child.backward(contribution.reshape(child.dims()));
    } else if (element_count(promoted) == 1) {
      // A single value stretched over the output (a scalar parameter): its gradient is
      // one vectorised sum of the contribution, with no tensor in between.
      using S = typename Child::Scalar;
      const S t = sum_of<S>(contribution, out);
      if constexpr (requires { child.variable->accumulate_in_place([](EigenTensor<S, Child::rank>&, bool) {}); }) {
        child.variable->accumulate_in_place([t](EigenTensor<S, Child::rank>& g, bool add) { g.data()[0] = add ? g.data()[0] + t : t; });
      } else {
        pool::Scratch<S, Child::rank> reduced(child.dims());
        reduced.tensor.setConstant(t);
        child.backward(reduced.tensor);
      }
    } else {
      using S = typename Child::Scalar;
      if constexpr (std::is_same_v<E, EigenTensor<S, int(R)>>) {
        // Already a tensor: no copy before the reduction.
        pool::Recycled<S, Child::rank> reduced(sum_to_shape<S, Child::rank, int(R)>(contribution, child.dims(), promoted, out));
        child.backward(reduced.tensor);
      } else {
        pool::Scratch<S, int(R)> evaluated(out);
        evaluate_into(evaluated.tensor, contribution);
        pool::Recycled<S, Child::rank> reduced(sum_to_shape<S, Child::rank, int(R)>(evaluated.tensor, child.dims(), promoted, out));
        child.backward(reduced.tensor);
      }
    }
  }
}

}  // namespace fusegrad::expr
