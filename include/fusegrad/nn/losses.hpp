// SPDX-License-Identifier: MPL-2.0
#pragma once
// Neural-network primitives, written as compositions of fusegrad's own nodes, so they
// fuse with the expressions around them and their gradients follow from the nodes':
//   log_softmax(x, d) = (x - m) - log(sum(exp(x - m), d)), m = max(x, d) held constant
//   softmax(x, d)     = exp(log_softmax(x, d))
//   cross_entropy     = -mean over the batch of sum(target * log_softmax(logits, 1)); against
//                       integer labels, one statement of its own (label_cross_entropy.hpp)
//   binary_cross_entropy_with_logits = mean of softplus(z) - y z
#include <ranges>
#include <span>
#include <string>
#include <vector>

#include "../expr/functions.hpp"
#include "../tape/tensor.hpp"
#include "label_cross_entropy.hpp"

namespace fusegrad {

/// How a loss combines the per-example losses of a batch.
enum class loss_reduction { mean, sum };

namespace detail {

// The largest element of every slice along `dim` (kept as a dimension of size 1), as a
// constant: log_softmax does not change when a slice is shifted by a constant, so the
// shift needs no gradient. A slice without a finite maximum (all -inf, or holding +inf
// or NaN) is shifted by 0, which leaves those values to decide its result.
template <class S, int R>
Tensor<S, R> constant_slice_max(const Tensor<S, R>& x, int dim) {
  no_grad constant;
  if (x.size() == 0 && dim >= 0 && dim < R) {
    // Slices of no elements have no max; their softmax is empty anyway (PyTorch's too).
    Shape<R> kept = x.dimensions();
    kept[dim] = 1;
    return Tensor<S, R>(kept);
  }
  Tensor<S, R> m = max(x, dims(dim), keep_dims);
  S* values = m.mutable_value().data();
  for (Index i = 0; i < m.size(); ++i) {
    using std::isfinite;
    if (!isfinite(values[i])) values[i] = S(0);
    if constexpr (is_dual<S>) values[i].tangent = 0;
  }
  return m;
}

template <class S, int R>
auto log_softmax_of_tensor(const Tensor<S, R>& x, int dim) {
  // (x - m) - log(sum(exp(x - m))) rather than x - logsumexp(x): the two terms are
  // computed from x - m, exactly 0 at the maximum, so a large x loses nothing to the
  // rounding of logsumexp(x) (softmax of logits 1e5 apart from each other by 0 in
  // float gave 0.4989, not 0.5).
  const auto shifted = x - constant_slice_max(x, dim);
  return shifted - log(sum(exp(shifted), dims(dim), keep_dims));
}

}  // namespace detail

// x is read twice: an expression (a matrix product, say) is evaluated once, as a
// statement of its own, rather than twice forward and twice backward.
/// log_softmax(x, dim) = x - logsumexp(x, dim), stably, with dim kept.
template <Operand X>
auto log_softmax(const X& x, int dim) {
  if constexpr (expr::is_tensor<X>)
    return detail::log_softmax_of_tensor(x, dim);
  else
    return detail::log_softmax_of_tensor(eval(x), dim);
}

/// softmax(x, dim) = e^x / sum(e^x) along dim, stably.
template <Operand X>
auto softmax(const X& x, int dim) {
  return exp(log_softmax(x, dim));
}

/// Cross-entropy of logits (batch, classes) against target probabilities of that shape.
template <Operand L, Operand T>
auto cross_entropy(const L& logits, const T& target, loss_reduction reduction = loss_reduction::mean) {
  using Node = expr::node_of<L>;
  static_assert(Node::rank == 2, "fusegrad: cross_entropy takes logits of shape (batch, classes)");
  const Shape<2> d = expr::as_node(logits).dims();
  const Shape<2> t = expr::as_node(target).dims();
  if (d != t) throw_shape_mismatch("cross_entropy", d, t);
  // A plain number also for dual logits (forward mode), whose scalar is not one. The
  // mean over an empty batch is 0 * -inf = NaN, as PyTorch's.
  using Real = typename real_of<typename Node::Scalar>::type;
  const Real scale = reduction == loss_reduction::mean ? Real(-1) / Real(d[0]) : Real(-1);
  return sum(target * log_softmax(logits, 1)) * scale;
}

namespace nn_detail {
// Labels given as a contiguous range of integers (std::vector, std::array, std::span, a
// C array), a dense Eigen vector of integers or a rank-1 Eigen::Tensor of integers.
template <class T>
concept contiguous_labels = std::ranges::contiguous_range<const T> && std::ranges::sized_range<const T> &&
                            label_integer<std::remove_cv_t<std::ranges::range_value_t<const T>>>;
template <class T>
concept eigen_vector_labels = EigenDense<T> && label_integer<typename T::Scalar> &&
                              (T::RowsAtCompileTime == 1 || T::ColsAtCompileTime == 1);
template <class T>
concept eigen_tensor_labels = requires(const T& t) {
  typename T::Scalar;
  t.data();
  t.size();
} && std::derived_from<T, Eigen::TensorBase<T, Eigen::ReadOnlyAccessors>> && T::NumIndices == 1 &&
                              label_integer<typename T::Scalar>;
template <class T>
concept label_sequence = contiguous_labels<T> || eigen_vector_labels<T> || eigen_tensor_labels<T>;

template <Operand L, class I>
auto cross_entropy_of_labels(const L& logits, std::span<const I> labels, loss_reduction reduction) {
  using Node = expr::node_of<L>;
  static_assert(Node::rank == 2, "fusegrad: cross_entropy takes logits of shape (batch, classes)");
  using Real = typename real_of<typename Node::Scalar>::type;
  const Shape<2> d = expr::as_node(logits).dims();
  check_labels(d, labels);  // before the logits are evaluated
  // The mean over an empty batch is 0 * inf = NaN, as PyTorch's.
  const Real scale = reduction == loss_reduction::mean ? Real(1) / Real(d[0]) : Real(1);
  return label_cross_entropy(detail::as_tensor(logits), labels, scale);
}
}  // namespace nn_detail

/// Cross-entropy of logits (batch, classes) against integer class labels, one per row:
/// one recorded statement (nn/label_cross_entropy.hpp), whose backward is the product of
/// the output's gradient by (softmax - one-hot) / batch, computed in the forward pass.
/// Throws shape_error for a label outside [0, classes) or a label count other than batch.
template <Operand L>
auto cross_entropy(const L& logits, const std::vector<int>& labels, loss_reduction reduction = loss_reduction::mean) {
  return nn_detail::cross_entropy_of_labels(logits, std::span<const int>(labels), reduction);
}

/// The same with labels of any integer type, given as a contiguous range (std::vector,
/// std::array, std::span), a dense Eigen vector (or vector expression) or a rank-1
/// Eigen::Tensor.
template <Operand L, class Labels>
  requires(nn_detail::label_sequence<Labels> && !std::is_same_v<Labels, std::vector<int>>)
auto cross_entropy(const L& logits, const Labels& labels, loss_reduction reduction = loss_reduction::mean) {
  if constexpr (nn_detail::contiguous_labels<Labels>) {
    using I = std::remove_cv_t<std::ranges::range_value_t<const Labels>>;
    return nn_detail::cross_entropy_of_labels(logits, std::span<const I>(std::ranges::data(labels), std::ranges::size(labels)), reduction);
  } else if constexpr (nn_detail::eigen_vector_labels<Labels>) {
    using I = typename Labels::Scalar;
    // A vector stored contiguously is read in place (a training loop passing an
    // Eigen::VectorXi allocates nothing); an expression or a strided view is copied first.
    if constexpr (requires { labels.data(); labels.innerStride(); }) {
      if (labels.innerStride() == 1 || labels.size() <= 1)
        return nn_detail::cross_entropy_of_labels(logits, std::span<const I>(labels.data(), std::size_t(labels.size())),
                                                  reduction);
    }
    Eigen::Matrix<I, Eigen::Dynamic, 1> plain(labels.size());
    for (Eigen::Index i = 0; i < labels.size(); ++i) plain[i] = labels(i);
    return nn_detail::cross_entropy_of_labels(logits, std::span<const I>(plain.data(), std::size_t(plain.size())), reduction);
  } else {
    using I = typename Labels::Scalar;
    return nn_detail::cross_entropy_of_labels(logits, std::span<const I>(labels.data(), std::size_t(labels.size())), reduction);
  }
}

/// Binary cross-entropy of logits z against targets y in [0, 1] of the same shape:
/// softplus(z) - y z per element (= -y log sigmoid(z) - (1 - y) log sigmoid(-z)),
/// averaged over all elements (mean) or summed; stable for logits of any magnitude.
template <Operand Z, Operand Y>
auto binary_cross_entropy_with_logits(const Z& logits, const Y& target,
                                      loss_reduction reduction = loss_reduction::mean) {
  using Node = expr::node_of<Z>;
  static_assert(Node::rank == expr::node_of<Y>::rank,
                "fusegrad: binary_cross_entropy_with_logits takes logits and targets of the same rank");
  const auto d = expr::as_node(logits).dims();
  const auto t = expr::as_node(target).dims();
  if (d != t) throw_shape_mismatch("binary_cross_entropy_with_logits", d, t);
  // The mean of no elements is 0 * inf = NaN, as PyTorch's.
  using Real = typename real_of<typename Node::Scalar>::type;
  Index count = 1;
  for (Index extent : d) count *= extent;
  const Real scale = reduction == loss_reduction::mean ? Real(1) / Real(count) : Real(1);
  return sum(softplus(logits) - target * logits) * scale;
}

/// Mean squared error.
template <class A, class B>
  requires ElementwisePair<A, B>
auto mse(const A& prediction, const B& target) {
  return mean(square(prediction - target));
}

}  // namespace fusegrad
