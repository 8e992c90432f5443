// SPDX-License-Identifier: MPL-2.0
#pragma once
// Softmax cross-entropy against integer labels as one recorded statement. Per row i of
// logits x (batch B, classes C), with m_i the row's largest value (0 when it is not
// finite) and s_i = sum_j exp(x_ij - m_i):
//   loss_i = log(s_i) - (x_i,label_i - m_i)
//   d loss_i / d x_ij = exp(x_ij - m_i) / s_i - [j == label_i]
// and the loss is scale * sum_i loss_i (scale 1/B for the mean, 1 for the sum).
//
// The composition log_softmax + one-hot product needs a one-hot tensor, a broadcast
// log-sum-exp and four statements; here the forward pass writes the gradient's direction
// (softmax - one-hot) * scale as it goes, and backward is one product by the output's
// gradient, feeding the logits' statement (the product that makes them) directly.
// Forward mode and second order come from running the same code on dual numbers: m is
// held constant (the loss does not depend on it), everything else is differentiated.
#include <cmath>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "../tape/tensor.hpp"

namespace fusegrad {
namespace nn_detail {

template <class S>
using RowMatrixMap = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <class S>
using ConstRowMatrixMap = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// The recorded statement: the logits' gradient is g * direction.
template <class S>
struct LabelCrossEntropyStatement final : GraphNode {
  std::shared_ptr<Variable<S, 2>> logits;
  std::uint64_t logits_version;
  EigenTensor<S, 2> direction;  // (softmax - one-hot) * scale, from the pool
  Variable<S, 0>* output;       // owns this node

  LabelCrossEntropyStatement(std::shared_ptr<Variable<S, 2>> in, EigenTensor<S, 2>&& d, Variable<S, 0>* out)
      : GraphNode(out), logits(std::move(in)), direction(std::move(d)), output(out) {
    logits_version = logits->version;
    sequence = detail::next_sequence();
  }
  ~LabelCrossEntropyStatement() override {
    if (direction.size()) pool::give(std::move(direction));
  }

  void run_backward() override {
    if (!output->has_grad) return;
    if (released) throw_freed_graph();
    const S g = output->grad();
    if (exactly_one(g))
      logits->accumulate(direction);  // backward() from the loss itself: no product
    else
      logits->accumulate(direction * g);
    output->release_grad();
  }
  void visit_inputs(const InputVisitor& visit) const override {
    if (!released) visit(*logits, logits_version);
  }
  void release() override {
    released = true;
    if (direction.size()) pool::give(std::move(direction));
    logits.reset();
  }
};

// The loss of x against labels; when `direction` is not null, also (softmax - one-hot) *
// scale into it (of x's shape). Scratch comes from the pool: nothing is allocated once warm.
template <class S, class I>
S label_cross_entropy_forward(const EigenTensor<S, 2>& x, std::span<const I> labels,
                              typename real_of<S>::type scale, S* direction) {
  using Real = typename real_of<S>::type;
  using Column = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
  const Index rows = x.dimension(0), classes = x.dimension(1);
  if (rows == 0) return S(0) * S(scale);  // the mean of nothing: 0 * inf = NaN
  std::optional<pool::Recycled<S, 2>> exponentials;
  if (!direction) direction = exponentials.emplace(Shape<2>{rows, classes}).tensor.data();
  pool::Recycled<S, 2> per_row(Shape<2>{2, rows});
  Column shift(per_row.tensor.data(), rows), sums(per_row.tensor.data() + rows, rows);
  ConstRowMatrixMap<S> logits(x.data(), rows, classes);
  RowMatrixMap<S> e(direction, rows, classes);
  for (Index i = 0; i < rows; ++i) {
    using std::isfinite;
    const Real m = value_part(logits.row(i).maxCoeff());
    shift[i] = S(isfinite(m) ? m : Real(0));  // a constant: tangent 0 on dual numbers
  }
  e = (logits.colwise() - shift).exp();
  sums = e.rowwise().sum();
  S total = S(0);
  for (Index i = 0; i < rows; ++i) {
    using std::log;
    total += log(sums[i]) - (logits(i, Index(labels[i])) - shift[i]);
  }
  if (!exponentials) {
    sums = sums.inverse() * S(scale);  // in place: a replicated expression would be evaluated into a new array
    e.colwise() *= sums;
    for (Index i = 0; i < rows; ++i) e(i, Index(labels[i])) -= S(scale);
  }
  return total * S(scale);
}

// Integer types a label can have: any but bool and the character types.
template <class I>
concept label_integer = std::integral<I> && !std::same_as<I, bool> && !std::same_as<I, char> &&
                        !std::same_as<I, signed char> && !std::same_as<I, unsigned char> &&
                        !std::same_as<I, wchar_t> && !std::same_as<I, char8_t> && !std::same_as<I, char16_t> &&
                        !std::same_as<I, char32_t>;

template <class I>
void check_labels(const Shape<2>& d, std::span<const I> labels) {
  if (Index(labels.size()) != d[0])
    throw shape_error("fusegrad: cross_entropy: " + std::to_string(labels.size()) + " labels for logits of shape " +
                      format_shape(d));
  for (Index i = 0; i < d[0]; ++i)
    if (std::cmp_less(labels[i], 0) || std::cmp_greater_equal(labels[i], d[1]))
      throw shape_error("fusegrad: cross_entropy: label " + std::to_string(labels[i]) + " of row " +
                        std::to_string(i) + " is not a class of logits of shape " + format_shape(d));
}

template <class S, class I>
Tensor<S, 0> label_cross_entropy(const Tensor<S, 2>& logits, std::span<const I> labels,
                                 typename real_of<S>::type scale) {
  const Shape<2> d = logits.dimensions();  // labels checked by the caller
  const bool record = grad_enabled() && logits.requires_grad();
  EigenTensor<S, 2> direction;
  if (record) direction = pool::take<S, 2>(d);
  Tensor<S, 0> out = Tensor<S, 0>::filled(Shape<0>{}, [&](EigenTensor<S, 0>& value) {
    value() = label_cross_entropy_forward(logits.value(), labels, scale, record ? direction.data() : nullptr);
  });
  if (record)
    out.record_producer([&](Variable<S, 0>* variable) {
      return make_graph_node<LabelCrossEntropyStatement<S>>(logits.leaf().variable, std::move(direction), variable);
    });
  return out;
}

}  // namespace nn_detail
}  // namespace fusegrad
