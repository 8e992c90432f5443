// SPDX-License-Identifier: MPL-2.0
#pragma once
// Functional forms of reverse mode: fg::grad, fg::value_and_grad, fg::vjp,
// the Jacobian by rows (fg::jacobian is in forward.hpp) and fg::check_gradients.
//
// Each takes a callable f and the tensors it is applied to. f sees fresh leaves that
// share the inputs' values (the caller's tensors and their gradients are untouched).
// When f returns a single expression, it is evaluated and differentiated directly, with
// nothing recorded on the tape; when it returns a Tensor (f ran statements), the tape's
// reverse pass is used.
#include <cmath>
#include <tuple>
#include <vector>

#include "../tape/tensor.hpp"

namespace fusegrad {

namespace functional_detail {

// A leaf with the same value as t, taking part in differentiation.
template <class S, int R>
Tensor<S, R> fresh_leaf(const Tensor<S, R>& t) {
  Tensor<S, R> leaf = t.detach();
  leaf.requires_grad(true);
  return leaf;
}

// Runs f on the leaves and, unless `seed` is nullptr, back-propagates it (a tensor of
// the output's shape; ones for `seed_ones`). Returns the output's value.
struct seed_ones_t {};
inline constexpr seed_ones_t seed_ones{};

// Whether an expression reads a tensor that statements produced: its gradient must then
// go on through the tape.
template <class N>
bool reads_recorded_tensors(const N& node) {
  bool recorded = false;
  node.for_each_leaf([&recorded](VariableBase& variable, std::uint64_t) { recorded = recorded || !variable.is_leaf(); });
  return recorded;
}

template <class F, class Seed, class... Leaves>
auto run(F& f, const Seed& seed, Leaves&... leaves) {
  auto result = f(leaves...);
  using Result = decltype(result);
  constexpr bool differentiate = !std::is_same_v<Seed, std::nullptr_t>;
  if constexpr (expr::Node<Result>) {
    if (differentiate && reads_recorded_tensors(result)) {
      // An expression over the results of statements (a Tensor assigned inside f, a
      // custom function's output): evaluated as one more statement, so that the reverse
      // pass reaches the statements behind it.
      Tensor<typename Result::Scalar, Result::rank> evaluated(std::move(result));
      auto run_evaluated = [&evaluated](Leaves&...) { return evaluated; };
      return run(run_evaluated, seed, leaves...);
    }
    using S = typename Result::Scalar;
    result.prepare();
    EigenTensor<S, Result::rank> value(result.dims());
    expr::evaluate_node(result, value);
    if constexpr (differentiate) {
      if (result.needs_grad()) {
        if constexpr (std::is_same_v<Seed, seed_ones_t>) {
          result.backward(value.constant(S(1)));
        } else {
          if (seed.dimensions() != value.dimensions())
            throw_shape_mismatch("seeding the reverse pass", value.dimensions(), seed.dimensions());
          result.backward(seed);
        }
      }
    }
    return value;
  } else {
    static_assert(expr::is_tensor<Result>, "fusegrad: the function must return a Tensor or an expression");
    if constexpr (differentiate) {
      if (result.requires_grad()) {
        if constexpr (std::is_same_v<Seed, seed_ones_t>)
          result.backward();
        else
          result.backward(seed);
      }
    }
    return typename Result::Value(result.value());
  }
}

// The gradient a private leaf accumulated, moved out: its storage becomes the result
// (a copy of every gradient was 7% of fg::grad's time on n = 10^4, and the copy's fresh
// memory could fault in page by page when the allocator had returned it to the system).
template <class S, int R>
EigenTensor<S, R> take_gradient(Tensor<S, R>& leaf) {
  return EigenTensor<S, R>(std::move(leaf.mutable_grad()));
}

template <class F, class... Inputs>
using output_of = decltype(run(std::declval<F&>(), nullptr, std::declval<Inputs&>()...));

}  // namespace functional_detail

/// The value and gradient of a scalar function: value_and_grad(f, x) gives (f(x),
/// d f / d x) with the gradient of x's shape; with several inputs, a tuple of gradients.
template <class F, Operand... Inputs>
auto value_and_grad(F f, const Inputs&... inputs) {
  static_assert(functional_detail::output_of<F, Inputs...>::NumIndices == 0,
                "fusegrad: grad and value_and_grad need a scalar (rank-0) function; use vjp or jacobian");
  auto leaves = std::make_tuple(functional_detail::fresh_leaf(inputs)...);
  auto value = std::apply([&](auto&... l) { return functional_detail::run(f, functional_detail::seed_ones, l...); },
                          leaves);
  auto gradients = std::apply([](auto&... l) { return std::make_tuple(functional_detail::take_gradient(l)...); }, leaves);
  if constexpr (sizeof...(Inputs) == 1)
    return std::make_pair(value(), std::get<0>(gradients));
  else
    return std::make_pair(value(), gradients);
}

/// The gradient of a scalar function: value_and_grad(f, inputs...).second.
template <class F, Operand... Inputs>
auto grad(F f, const Inputs&... inputs) {
  return value_and_grad(std::move(f), inputs...).second;
}

/// Vector-Jacobian product: (f(x), u^T J) for u of f(x)'s shape.
template <class F, class S, int R, class U>
auto vjp(F f, const Tensor<S, R>& x, const U& u) {
  using Out = functional_detail::output_of<F, Tensor<S, R>>;
  Out seed;
  if constexpr (expr::is_tensor<U>)
    seed = u.value();
  else
    seed = u;
  Tensor<S, R> leaf = functional_detail::fresh_leaf(x);
  auto value = functional_detail::run(f, seed, leaf);  // checks u's shape before the reverse pass
  return std::make_pair(value, functional_detail::take_gradient(leaf));
}

namespace functional_detail {
// f's value at x, without recording anything (the shape of what f returns).
template <class F, class S, int R>
auto value_at(F& f, const Tensor<S, R>& x) {
  no_grad off;
  Tensor<S, R> probe = x.detach();
  return run(f, nullptr, probe);
}

// The Jacobian by rows: one reverse pass per output element. `seed` is f's value at x,
// reused as the buffer of the one-hot seeds.
template <class F, class S, int R, class Out>
EigenTensor<S, 2> jacobian_by_rows(F f, const Tensor<S, R>& x, Out seed) {
  EigenTensor<S, 2> result(seed.size(), x.size());
  for (Index i = 0; i < seed.size(); ++i) {
    seed.setZero();
    seed.data()[i] = S(1);
    Tensor<S, R> leaf = functional_detail::fresh_leaf(x);
    functional_detail::run(f, seed, leaf);
    const EigenTensor<S, R>& row = leaf.grad();
    for (Index j = 0; j < x.size(); ++j) result(i, j) = row.data()[j];
  }
  return result;
}
}  // namespace functional_detail

/// The outcome of fg::check_gradients: the worst disagreement between reverse mode and
/// central differences, and where it occurred.
struct gradient_check_report {
  double worst_error = 0;  ///< |reverse - numeric| / max(1, |numeric|)
  int input = -1;          ///< which input, from 0
  Index element = -1;      ///< flat row-major index in that input
  double reverse = 0;  ///< the reverse-mode derivative there
  double numeric = 0;  ///< the central difference there
  /// Whether the worst error is at most tolerance.
  bool within(double tolerance) const { return worst_error <= tolerance; }
};

/// Compares the reverse-mode gradient of a scalar function with central differences at
/// every element of every input. The inputs are not modified.
template <class F, Operand... Inputs>
gradient_check_report check_gradients(F f, const Inputs&... inputs) {
  gradient_check_report report;
  const auto analytic = [&] {
    if constexpr (sizeof...(Inputs) == 1)
      return std::make_tuple(grad(f, inputs...));
    else
      return grad(f, inputs...);
  }();
  // Private copies, perturbed one element at a time.
  auto copies = std::make_tuple(Inputs(typename Inputs::Value(inputs.value()))...);
  auto evaluate = [&] {
    no_grad off;
    return std::apply([&](auto&... c) { return double(functional_detail::run(f, nullptr, c...)()); }, copies);
  };
  auto check_input = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
    auto& value = std::get<K>(copies).mutable_value();
    using S = typename std::remove_cvref_t<decltype(value)>::Scalar;
    const auto& gradient = std::get<K>(analytic);
    for (Index i = 0; i < value.size(); ++i) {
      const S original = value.data()[i];
      const double h = std::cbrt(double(std::numeric_limits<S>::epsilon())) * std::max(1.0, std::abs(double(original)));
      value.data()[i] = S(original + h);
      const double plus = evaluate();
      value.data()[i] = S(original - h);
      const double minus = evaluate();
      value.data()[i] = original;
      const double numeric = (plus - minus) / (2 * h), reverse = double(gradient.data()[i]);
      double error = std::abs(reverse - numeric) / std::max(1.0, std::abs(numeric));
      if (std::isnan(error)) error = INFINITY;  // a NaN on either side is the worst case
      if (report.input < 0 || error > report.worst_error) report = {error, int(K), i, reverse, numeric};
    }
  };
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    (check_input(std::integral_constant<std::size_t, K>{}), ...);
  }(std::index_sequence_for<Inputs...>{});
  return report;
}

}  // namespace fusegrad
