// SPDX-License-Identifier: MPL-2.0
#pragma once
// Your own operations: fg::apply(op, inputs...) runs op.forward on the inputs' values and
// records op.backward for the reverse pass, so that code fusegrad cannot see into (an
// Eigen solver, a simulator, a C library returning its own gradient) takes part in a
// graph like a built-in operation. The op object is the context: forward stores in its
// members whatever backward needs, as torch.autograd.Function's ctx does.
//
//   struct Solve {
//     static constexpr const char* name = "solve";            // optional, for messages
//     Eigen::LLT<Eigen::MatrixXd> llt;  fg::EigenTensor<double, 1> x;
//     fg::EigenTensor<double, 1> forward(const fg::EigenTensor<double, 2>& A,
//                                        const fg::EigenTensor<double, 1>& b);
//     std::tuple<fg::EigenTensor<double, 2>, fg::EigenTensor<double, 1>>
//     backward(const fg::EigenTensor<double, 1>& g, const std::array<bool, 2>& needs);
//   };
//   fg::Tensor<double, 1> x = fg::apply(Solve{}, A, b);
//
// Forward mode (dual tensors): a forward generic in its scalar type runs on the duals
// directly; otherwise a member jvp(tangents...) gives the output's tangent (called after
// forward on the values, so it can use what forward stored). Second order (hvp, hessian)
// runs backward on dual tensors and so needs a backward generic in its scalar type.
// Where the op has neither, those calls throw a graph_error that names it.
#include <array>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "tensor.hpp"

namespace fusegrad {

namespace function_detail {

template <class Op>
std::string name_of() {
  if constexpr (requires { Op::name; })
    return std::string("custom function '") + Op::name + "'";
  else
    return "a custom function (give it `static constexpr const char* name` to be named here)";
}

template <class T>
struct tensor_traits;
template <class S, int R>
struct tensor_traits<Eigen::Tensor<S, R, Eigen::RowMajor>> {
  using Scalar = S;
  static constexpr int rank = R;
};

using fusegrad::detail::as_tensor;

// The gradients backward returned, as a tuple even for a single input.
template <std::size_t N, class G>
auto as_tuple(G&& gradients) {
  if constexpr (N == 1 && !requires { std::tuple_size<std::remove_cvref_t<G>>::value; })
    return std::make_tuple(std::forward<G>(gradients));
  else
    return std::forward<G>(gradients);
}

template <class Op, class G, std::size_t N>
auto call_backward(Op& op, const G& g, const std::array<bool, N>& needs) {
  if constexpr (requires { op.backward(g, needs); })
    return as_tuple<N>(op.backward(g, needs));
  else
    return as_tuple<N>(op.backward(g));
}

// Whether a tuple of gradients, or one gradient, is of scalar type S. (An op written for
// double accepts dual tensors through Eigen's converting constructor and returns double:
// the result's type is what tells a generic op from one that is not.)
template <class T, class S>
inline constexpr bool holds_scalar = [] {
  if constexpr (requires { typename T::Scalar; })
    return std::is_same_v<typename T::Scalar, S>;
  else
    return []<std::size_t... K>(std::index_sequence<K...>) {
      return (std::is_same_v<typename std::tuple_element_t<K, T>::Scalar, S> && ...);
    }(std::make_index_sequence<std::tuple_size_v<T>>{});
}();

template <class Op, class G, std::size_t N>
consteval bool backward_runs_on() {
  using S = typename G::Scalar;
  if constexpr (requires(Op& op, const G& g, const std::array<bool, N>& needs) { op.backward(g, needs); })
    return holds_scalar<decltype(std::declval<Op&>().backward(std::declval<const G&>(),
                                                              std::declval<const std::array<bool, N>&>())),
                        S>;
  else if constexpr (requires(Op& op, const G& g) { op.backward(g); })
    return holds_scalar<decltype(std::declval<Op&>().backward(std::declval<const G&>())), S>;
  else
    return false;
}

// Whether op.forward runs on the inputs' own scalar type (generic, or written for it).
template <class Op, class S, class... Values>
consteval bool forward_runs_on() {
  if constexpr (requires(Op& op, const Values&... v) { op.forward(v...); })
    return holds_scalar<decltype(std::declval<Op&>().forward(std::declval<const Values&>()...)), S>;
  else
    return false;
}

template <class Dims>
[[noreturn]] void throw_gradient_shape(const std::string& name, std::size_t input, const Dims& expected,
                                       const Dims& got) {
  throw shape_error("fusegrad: " + name + ": backward returned a gradient of shape " + format_shape(got) +
                    " for input " + std::to_string(input) + " of shape " + format_shape(expected));
}

// The recorded call: given the output's gradient, op.backward gives the inputs' gradients.
template <class Op, class S, int R, class... Inputs>
struct FunctionStatement final : GraphNode {
  static constexpr std::size_t N = sizeof...(Inputs);
  std::shared_ptr<Op> op;
  std::tuple<std::shared_ptr<Variable<typename Inputs::Scalar, Inputs::rank>>...> inputs;
  std::array<std::uint64_t, N> versions;
  std::array<bool, N> needs;
  Variable<S, R>* output;  // owns this node

  FunctionStatement(std::shared_ptr<Op> o, const Inputs&... in, const std::array<bool, N>& n, Variable<S, R>* out)
      : GraphNode(out), op(std::move(o)), inputs(in.leaf().variable...), needs(n), output(out) {
    std::size_t k = 0;
    ((versions[k++] = in.leaf().variable->version), ...);
    sequence = detail::next_sequence();
  }

  void run_backward() override {
    if (!output->has_grad) return;
    if (released) throw_freed_graph();
    using G = EigenTensor<S, R>;
    // On dual numbers (second order), backward must also have seen the inputs' tangents:
    // a forward that ran on the values alone (with jvp) saved no tangents for it, and its
    // result would lack the second-order terms.
    constexpr bool forward_saw_duals = [] {
      if constexpr (requires { Op::runs_on_any_scalar; })
        return Op::runs_on_any_scalar;
      else
        return forward_runs_on<Op, S, typename Inputs::Value...>();
    }();
    if constexpr (!backward_runs_on<Op, G, N>() || !forward_saw_duals) {
      throw graph_error("fusegrad: " + name_of<Op>() +
                        ": second order (hvp, hessian) runs forward and backward on dual numbers; write both as "
                        "templates on the scalar type to allow it");
    } else {
      auto gradients = call_backward(*op, output->grad, needs);
      static_assert(std::tuple_size_v<decltype(gradients)> == N,
                    "fusegrad: a custom function's backward returns one gradient per input (a std::tuple)");
      // Every shape is checked before any gradient is added: a wrong one adds nothing.
      [&]<std::size_t... K>(std::index_sequence<K...>) {
        (check_shape<K>(std::get<K>(gradients)), ...);
        (deliver<K>(std::get<K>(gradients)), ...);
      }(std::index_sequence_for<Inputs...>{});
    }
    output->release_grad();
  }
  template <std::size_t K, class Gradient>
  void check_shape(const Gradient& gradient) const {
    if (!needs[K] || skips<K>()) return;
    const auto& variable = *std::get<K>(inputs);
    const auto expected = variable.dimensions();
    auto got = expected;
    for (std::size_t i = 0; i < got.size(); ++i) got[i] = gradient.dimension(int(i));
    if (got != expected) throw_gradient_shape(name_of<Op>(), K, expected, got);
  }
  template <std::size_t K, class Gradient>
  void deliver(const Gradient& gradient) const {
    if (needs[K] && !skips<K>()) std::get<K>(inputs)->accumulate(gradient);
  }
  // fg::checkpoint adds the gradients of leaves in place and returns nothing for them.
  template <std::size_t K>
  bool skips() const {
    if constexpr (requires { op->added_in_place[K]; })
      return op->added_in_place[K];
    else
      return false;
  }

  void visit_inputs(const InputVisitor& visit) const override {
    if (released) return;
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (visit(*std::get<K>(inputs), versions[K]), ...);
    }(std::index_sequence_for<Inputs...>{});
  }
  void release() override {
    released = true;
    op.reset();
    inputs = {};
  }
};

// op.forward on the inputs' values; on dual numbers, forward on the values and jvp on the
// tangents when forward is not generic.
template <class Op, class... Inputs>
auto evaluate(Op& op, const Inputs&... inputs) {
  using D = typename std::tuple_element_t<0, std::tuple<Inputs...>>::Scalar;
  if constexpr (forward_runs_on<Op, D, typename Inputs::Value...>()) {
    return op.forward(inputs.value()...);
  } else {
    if constexpr (!is_dual<D>) {
      static_assert(is_dual<D>, "fusegrad: fg::apply: op.forward cannot be called with the inputs' values "
                                "(const fg::EigenTensor<Scalar, Rank>& each, row-major)");
    } else {
      using Plain = typename real_of<D>::type;
      auto split = [](const auto& t) {
        using T = std::remove_cvref_t<decltype(t.value())>;
        constexpr int Rank = T::NumIndices;
        std::pair<EigenTensor<Plain, Rank>, EigenTensor<Plain, Rank>> parts{EigenTensor<Plain, Rank>(t.dimensions()),
                                                                          EigenTensor<Plain, Rank>(t.dimensions())};
        split_duals(t.data(), parts.first.data(), parts.second.data(), t.size());
        return parts;
      };
      auto parts = std::make_tuple(split(inputs)...);
      auto values = std::apply([&](auto&... p) { return op.forward(p.first...); }, parts);
      using Out = decltype(values);
      constexpr int Rank = tensor_traits<Out>::rank;
      if constexpr (!requires(const EigenTensor<Plain, Inputs::rank>&... tangents) { op.jvp(tangents...); }) {
        throw graph_error("fusegrad: " + name_of<Op>() +
                          ": forward mode (jvp, hvp, jacobian) needs a tangent rule: give the op a member "
                          "jvp(tangents...) returning the output's tangent, or write forward as a template on "
                          "the scalar type");
        return EigenTensor<D, Rank>();
      } else {
        auto tangents = std::apply([&](auto&... p) { return op.jvp(p.second...); }, parts);
        if (tangents.dimensions() != values.dimensions())
          throw_shape_mismatch(name_of<Op>() + ": jvp's tangent and forward's value", values.dimensions(),
                               tangents.dimensions());
        EigenTensor<D, Rank> joined(values.dimensions());
        join_duals(values.data(), tangents.data(), joined.data(), joined.size());
        return joined;
      }
    }
  }
}

}  // namespace function_detail

/// The output of op.forward on the inputs' values, as a Tensor; when a gradient is wanted,
/// the call is recorded and op.backward gives the inputs' gradients in the reverse pass.
/// Inputs may be tensors or expressions (evaluated first), of any ranks, of one scalar
/// type. Throws what op throws, and shape_error when backward returns a gradient of the
/// wrong shape (at backward, before any gradient of that call is added).
template <class Op, Operand... Inputs>
auto apply(Op op, const Inputs&... inputs) {
  static_assert(sizeof...(Inputs) >= 1, "fusegrad: fg::apply needs at least one input");
  auto tensors = std::make_tuple(function_detail::as_tensor(inputs)...);
  return std::apply(
      [&](const auto&... in) {
        using S = typename std::tuple_element_t<0, std::tuple<std::remove_cvref_t<decltype(in)>...>>::Scalar;
        static_assert((std::is_same_v<typename std::remove_cvref_t<decltype(in)>::Scalar, S> && ...),
                      "fusegrad: fg::apply: the inputs of a custom function must share one scalar type");
        auto shared = std::make_shared<Op>(std::move(op));
        auto value = function_detail::evaluate(*shared, in...);
        using Value = decltype(value);
        static_assert(std::is_same_v<typename function_detail::tensor_traits<Value>::Scalar, S>,
                      "fusegrad: fg::apply: op.forward must return a row-major fg::EigenTensor of the inputs' "
                      "scalar type");
        constexpr int R = function_detail::tensor_traits<Value>::rank;
        constexpr std::size_t N = sizeof...(Inputs);
        Tensor<S, R> out(std::move(value));
        const std::array<bool, N> needs{(grad_enabled() && in.requires_grad())...};
        bool any = false;
        for (bool n : needs) any = any || n;
        using Statement = function_detail::FunctionStatement<Op, S, R, std::remove_cvref_t<decltype(in)>...>;
        if (any)
          out.record_producer([&](Variable<S, R>* variable) {
            return make_graph_node<Statement>(std::move(shared), in..., needs, variable);
          });
        return out;
      },
      tensors);
}

namespace function_detail {

// The op behind fg::checkpoint: backward runs f again, recording this time, on fresh
// leaves sharing the inputs' values, and back-propagates through that second run.
template <class F, class... Inputs>
struct Recompute {
  static constexpr bool runs_on_any_scalar = true;  // f is run again on whatever it got
  F f;
  std::tuple<Inputs...> inputs;  // handles: the values are shared, not copied
  std::array<bool, sizeof...(Inputs)> added_in_place{};

  template <class G, std::size_t N>
  auto backward(const G& g, const std::array<bool, N>& needs) {
    // Recording on for the second run, whatever the scope backward was called in.
    struct Recording {
      bool previous = detail::grad_mode_flag();
      Recording() { detail::grad_mode_flag() = true; }
      ~Recording() { detail::grad_mode_flag() = previous; }
    } recording;
    // What the second run's backward reaches of the enclosing graph (through tensors f
    // captured) is run but kept: another checkpoint capturing the same tensor may reach it.
    struct KeepEnclosing {
      std::uint64_t previous = detail::release_floor();
      KeepEnclosing() { detail::release_floor() = detail::sequence_counter().load(); }
      ~KeepEnclosing() { detail::release_floor() = previous; }
    } keep_enclosing;
    // Leaves (parameters) take part as themselves: their gradients are added in place by
    // the second run's backward, which stops at them. Other inputs are results of earlier
    // statements, which the second run must not reach: it sees fresh leaves sharing their
    // values, whose gradients are handed back (moved, not copied).
    auto leaves = std::apply(
        [&](const auto&... in) {
          std::size_t k = 0;
          return std::make_tuple([&](const auto& t) {
            const bool own_leaf = t.is_leaf();
            auto leaf = own_leaf ? t : t.detach();
            if (!own_leaf) leaf.requires_grad(needs[k]);
            ++k;
            return leaf;
          }(in)...);
        },
        inputs);
    auto output = std::apply([&](auto&... leaf) { return as_tensor(f(leaf...)); }, leaves);
    if (output.requires_grad()) output.backward(g);
    return [&]<std::size_t... K>(std::index_sequence<K...>) {
      return std::make_tuple([&](const auto& input, auto& leaf) {
        using Value = typename std::remove_cvref_t<decltype(leaf)>::Value;
        auto& variable = *leaf.leaf().variable;
        added_in_place[K] = input.is_leaf();
        if (input.is_leaf()) return Value();  // skipped: added in place
        if (!variable.has_grad) {
          Value zeros(input.dimensions());  // the second run did not reach it
          zeros.setZero();
          return zeros;
        }
        return Value(std::move(variable.grad));
      }(std::get<K>(inputs), std::get<K>(leaves))...);
    }(std::index_sequence_for<Inputs...>{});
  }
};

}  // namespace function_detail

/// f(inputs...) without keeping its intermediate results: f runs with recording off, and
/// runs again during backward (recording) to differentiate it. Gradients equal those
/// without checkpointing when f computes the same thing both times (no randomness or
/// state of its own). f takes the inputs as Tensors and returns a Tensor or an expression;
/// inputs may be tensors or expressions (evaluated first). Tensors of the enclosing graph
/// that f captures instead of taking as inputs are differentiated too.
template <class F, Operand... Inputs>
auto checkpoint(F f, const Inputs&... inputs) {
  auto tensors = std::make_tuple(function_detail::as_tensor(inputs)...);
  return std::apply(
      [&](const auto&... in) {
        using Op = function_detail::Recompute<F, std::remove_cvref_t<decltype(in)>...>;
        // Detached: when f returns a tensor it captured, the checkpoint's result must be a
        // new tensor, not that one with its producer replaced.
        auto output = [&] {
          no_grad off;
          return function_detail::as_tensor(f(in.detach()...)).detach();
        }();
        using Out = decltype(output);
        using S = typename Out::Scalar;
        constexpr int R = Out::rank;
        constexpr std::size_t N = sizeof...(Inputs);
        const std::array<bool, N> needs{(grad_enabled() && in.requires_grad())...};
        bool any = false;
        for (bool n : needs) any = any || n;
        if (any) {
          auto op = std::make_shared<Op>(Op{std::move(f), std::make_tuple(in...)});
          using Statement = function_detail::FunctionStatement<Op, S, R, std::remove_cvref_t<decltype(in)>...>;
          output.record_producer([&](Variable<S, R>* variable) {
            return make_graph_node<Statement>(std::move(op), in..., needs, variable);
          });
        }
        return output;
      },
      tensors);
}

}  // namespace fusegrad
