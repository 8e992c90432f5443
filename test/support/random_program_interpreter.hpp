#pragma once
// The interpreter of random programs (random_program.hpp) for one scalar type S: the
// catalogue's primitives and forms as fusegrad expressions over a std::variant of
// Tensor<S, 0..3>. Included only by random_program_{double,float,dual}.cpp, each of
// which instantiates it once.
#include <fusegrad/fusegrad.hpp>

#include <cmath>
#include <utility>
#include <variant>

#include "random_program.hpp"

namespace fusegrad::testing::random_programs {

// The user functions of fg::map and fg::zip, generic so that dual numbers go through them.
struct user_function {
  template <class V> V operator()(V v) const {
    using std::sin;
    return sin(v) * v + v * v * V(0.5);
  }
};
struct user_derivative {
  template <class V> V operator()(V v) const {
    using std::cos;
    using std::sin;
    return cos(v) * v + sin(v) + v;
  }
};
struct user_pair_function {
  template <class V> V operator()(V a, V b) const {
    using std::sin;
    return a * b + sin(a);
  }
};
struct user_pair_first {
  template <class V> V operator()(V a, V b) const {
    using std::cos;
    return b + cos(a);
  }
};
struct user_pair_second {
  template <class V> V operator()(V a, V) const { return a; }
};

struct no_operand {};

template <std::size_t N>
std::array<Index, N> first_ints(const node& n, std::size_t from = 0) {
  std::array<Index, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = n.ints[from + i];
  return out;
}

// Primitive I's expression on operands x and y (tensors or expressions).
template <int I, class X, class Y>
auto apply(const node& n, X&& x, Y&& y) {
  constexpr signature s = primitives[I];
  constexpr op c = s.code;
  if constexpr (c == op::exp) return fusegrad::exp(x);
  else if constexpr (c == op::log) return fusegrad::log(fusegrad::square(x) + 1.0);
  else if constexpr (c == op::log_input) return fusegrad::log(x);
  else if constexpr (c == op::sin) return fusegrad::sin(x);
  else if constexpr (c == op::cos) return fusegrad::cos(x);
  else if constexpr (c == op::tanh) return fusegrad::tanh(x);
  else if constexpr (c == op::sigmoid) return fusegrad::sigmoid(x);
  else if constexpr (c == op::softplus) return fusegrad::softplus(x);
  else if constexpr (c == op::log_sigmoid) return fusegrad::log_sigmoid(x);
  else if constexpr (c == op::relu) return fusegrad::relu(x);
  else if constexpr (c == op::sqrt) return fusegrad::sqrt(fusegrad::square(x) + 0.5);
  else if constexpr (c == op::sqrt_input) return fusegrad::sqrt(x);
  else if constexpr (c == op::abs) return fusegrad::abs(x);
  else if constexpr (c == op::square) return fusegrad::square(x);
  else if constexpr (c == op::pow_number) return fusegrad::pow(fusegrad::square(x) + 0.5, n.number);
  else if constexpr (c == op::negate) return -x;
  else if constexpr (c == op::clamp) return fusegrad::clamp(x, n.number, n.number + 1.0);
  else if constexpr (c == op::user_map) return fusegrad::map(x, user_function{}, user_derivative{});
  else if constexpr (c == op::add) return x + y;
  else if constexpr (c == op::subtract) return x - y;
  else if constexpr (c == op::multiply) return x * y;
  else if constexpr (c == op::divide) return x / (fusegrad::square(y) + 0.5);
  else if constexpr (c == op::divide_by_input) return x / y;
  else if constexpr (c == op::maximum) return fusegrad::maximum(x, y);
  else if constexpr (c == op::minimum) return fusegrad::minimum(x, y);
  else if constexpr (c == op::where) return fusegrad::where(x < n.number, x, y);
  else if constexpr (c == op::pow) return fusegrad::pow(fusegrad::square(x) + 0.5, y);
  else if constexpr (c == op::user_zip)
    return fusegrad::zip(x, y, user_pair_function{}, user_pair_first{}, user_pair_second{});
  else if constexpr (c == op::sum || c == op::mean || c == op::max || c == op::min || c == op::prod ||
                     c == op::logsumexp) {
    auto reduce = [&](auto... options) {
      if constexpr (c == op::sum) return fusegrad::sum(std::forward<X>(x), options...);
      else if constexpr (c == op::mean) return fusegrad::mean(std::forward<X>(x), options...);
      else if constexpr (c == op::max) return fusegrad::max(std::forward<X>(x), options...);
      else if constexpr (c == op::min) return fusegrad::min(std::forward<X>(x), options...);
      else if constexpr (c == op::prod) return fusegrad::prod(std::forward<X>(x), options...);
      else return fusegrad::logsumexp(std::forward<X>(x), options...);
    };
    if constexpr (s.variant == all) return reduce();
    else if constexpr (s.variant == all_kept) return reduce(keep_dims);
    else if constexpr (s.variant == one) return reduce(dims(n.ints[0]));
    else if constexpr (s.variant == one_kept) return reduce(dims(n.ints[0]), keep_dims);
    else return reduce(dims(n.ints[0], n.ints[1]));
  } else if constexpr (c == op::reshape) return fusegrad::reshape(x, first_ints<s.out>(n));
  else if constexpr (c == op::permute) return fusegrad::permute(x, first_ints<s.a>(n));
  else if constexpr (c == op::slice) return fusegrad::slice(x, first_ints<s.a>(n), first_ints<s.a>(n, s.a));
  else if constexpr (c == op::pad) {
    std::array<std::pair<Index, Index>, s.a> paddings;
    for (int i = 0; i < s.a; ++i) paddings[i] = {n.ints[2 * i], n.ints[2 * i + 1]};
    return fusegrad::pad(x, paddings);
  } else if constexpr (c == op::concat || c == op::stack) {
    using T = std::remove_cvref_t<X>;
    std::vector<T> parts{x, y};
    if (n.ints[1]) parts.push_back(x);  // an operand used twice
    if constexpr (c == op::concat) return fusegrad::concat(parts, n.ints[0]);
    else return fusegrad::stack(parts, n.ints[0]);
  } else if constexpr (c == op::reverse) {
    if constexpr (s.variant == 0) return fusegrad::reverse(x);
    else return fusegrad::reverse(x, dims(n.ints[0]));
  } else if constexpr (c == op::broadcast_to) return fusegrad::broadcast_to(x, first_ints<s.out>(n));
  else if constexpr (c == op::matmul) return fusegrad::matmul(x, y);
  else if constexpr (c == op::dot) return fusegrad::dot(x, y);
  else if constexpr (c == op::outer) return fusegrad::outer(x, y);
  else if constexpr (c == op::tensordot) {
    std::array<std::array<Index, 2>, s.variant> axes;
    for (int i = 0; i < s.variant; ++i) axes[i] = {n.ints[2 * i], n.ints[2 * i + 1]};
    return fusegrad::tensordot(x, y, axes);
  } else if constexpr (c == op::softmax) return fusegrad::softmax(x, int(n.ints[0]));
  else if constexpr (c == op::log_softmax) return fusegrad::log_softmax(x, int(n.ints[0]));
  else if constexpr (c == op::mse) return fusegrad::mse(x, y);
  else if constexpr (c == op::cross_entropy_labels) {
    std::vector<int> labels(n.ints.begin() + 1, n.ints.end());
    return fusegrad::cross_entropy(x, labels, n.ints[0] ? loss_reduction::sum : loss_reduction::mean);
  } else {
    static_assert(c == op::cross_entropy_probabilities);
    return fusegrad::cross_entropy(x, y, n.ints[0] ? loss_reduction::sum : loss_reduction::mean);
  }
}

template <class S>
struct interpreter {
  template <int R>
  using T = Tensor<S, R>;
  using Any = std::variant<T<0>, T<1>, T<2>, T<3>>;
  using Values = std::vector<Any>;

  template <int I>
  static Any run_primitive(const node& n, const Values& v) {
    constexpr signature s = primitives[I];
    const auto& x = std::get<s.a>(v[n.args[0]]);
    if constexpr (s.b >= 0)
      return T<s.out>(apply<I>(n, x, std::get<s.b>(v[n.args[1]])));
    else
      return T<s.out>(apply<I>(n, x, no_operand{}));
  }

  // Operand `slot` of step J of form F: an earlier step's expression or a value.
  template <int F, int J, int Slot>
  static auto operand(const program& p, const statement& st, const Values& v) {
    constexpr step s = forms[F].steps[J];
    constexpr int which = Slot == 0 ? s.first : s.second;
    constexpr signature sig = primitives[s.primitive];
    if constexpr (which < 0)
      return no_operand{};
    else if constexpr (which >= 10)
      return step_expression<F, which - 10>(p, st, v);
    else
      return std::get<Slot == 0 ? sig.a : sig.b>(v[p.nodes[st.first + J].args[Slot]]);
  }

  template <int F, int J>
  static auto step_expression(const program& p, const statement& st, const Values& v) {
    constexpr step s = forms[F].steps[J];
    return apply<s.primitive>(p.nodes[st.first + J], operand<F, J, 0>(p, st, v), operand<F, J, 1>(p, st, v));
  }

  template <int F>
  static Any run_form(const program& p, const statement& st, const Values& v) {
    constexpr int last = forms[F].step_count - 1;
    constexpr signature s = primitives[forms[F].steps[last].primitive];
    return T<s.out>(step_expression<F, last>(p, st, v));
  }

  using PrimitiveEntry = Any (*)(const node&, const Values&);
  using FormEntry = Any (*)(const program&, const statement&, const Values&);
  template <int... I>
  static constexpr std::array<PrimitiveEntry, sizeof...(I)> primitive_table(std::integer_sequence<int, I...>) {
    return {&run_primitive<I>...};
  }
  template <int... F>
  static constexpr std::array<FormEntry, sizeof...(F)> form_table(std::integer_sequence<int, F...>) {
    return {&run_form<F>...};
  }

  // Runs the program on `inputs`; values[output] is the result. When `largest` is given,
  // it receives the largest magnitude among all values computed (infinity for a NaN).
  static Values run(const program& p, Values inputs, bool fused, double* largest = nullptr) {
    static constexpr auto primitive_entries = primitive_table(std::make_integer_sequence<int, primitive_count>{});
    static constexpr auto form_entries = form_table(std::make_integer_sequence<int, form_count>{});
    Values v = std::move(inputs);
    const std::size_t first_node = v.size();
    v.resize(first_node + p.nodes.size(), Any(T<0>(S(0))));
    for (const statement& st : p.statements) {
      if (fused && st.form >= 0) {
        const std::size_t id = first_node + std::size_t(st.first + st.count - 1);
        v[id] = form_entries[std::size_t(st.form)](p, st, v);
        if (largest) note_largest(v[id], *largest);
      } else {
        for (int k = st.first; k < st.first + st.count; ++k) {
          const node& n = p.nodes[std::size_t(k)];
          v[first_node + std::size_t(k)] = primitive_entries[std::size_t(n.primitive)](n, v);
          if (largest) note_largest(v[first_node + std::size_t(k)], *largest);
        }
      }
    }
    return v;
  }

  static double magnitude(const S& s) {
    if constexpr (requires { s.value; })
      return std::abs(double(s.value));
    else
      return std::abs(double(s));
  }
  static void note_largest(const Any& value, double& largest) {
    std::visit(
        [&](const auto& t) {
          for (Index i = 0; i < t.size(); ++i) {
            const double m = magnitude(t.data()[i]);
            largest = std::isnan(m) ? INFINITY : std::max(largest, m);
          }
        },
        value);
  }

  // A tensor of the given dimensions and row-major elements.
  static Any make(const Dims& dims, const std::vector<S>& elements) {
    auto build = [&]<int R>(std::integral_constant<int, R>) -> Any {
      Shape<R> shape;
      for (int i = 0; i < R; ++i) shape[i] = dims[std::size_t(i)];
      EigenTensor<S, R> t(shape);
      std::copy(elements.begin(), elements.end(), t.data());
      return T<R>(std::move(t));
    };
    switch (dims.size()) {
      case 0: return build(std::integral_constant<int, 0>{});
      case 1: return build(std::integral_constant<int, 1>{});
      case 2: return build(std::integral_constant<int, 2>{});
      default: return build(std::integral_constant<int, 3>{});
    }
  }

  // The output flattened to a vector (one type per rank, for the functional forms).
  static T<1> flattened(const Any& value) {
    return std::visit([](const auto& t) { return T<1>(fusegrad::reshape(t, std::array<Index, 1>{-1})); }, value);
  }
};

}  // namespace fusegrad::testing::random_programs

namespace fusegrad::testing::random_programs {

template <class S>
std::vector<double> elements_of(const typename interpreter<S>::Any& value) {
  return std::visit(
      [](const auto& t) {
        std::vector<double> out(std::size_t(t.size()));
        for (Index i = 0; i < t.size(); ++i) {
          if constexpr (requires { t.data()[i].value; })
            out[std::size_t(i)] = double(t.data()[i].value);
          else
            out[std::size_t(i)] = double(t.data()[i]);
        }
        return out;
      },
      value);
}

template <class S>
std::vector<S> converted(const std::vector<double>& v) {
  return std::vector<S>(v.begin(), v.end());
}

template <class S>
typename interpreter<S>::Values inputs_of(const program& p, bool differentiable) {
  using I = interpreter<S>;
  typename I::Values inputs;
  for (std::size_t k = 0; k < p.inputs.size(); ++k) {
    inputs.push_back(I::make(p.inputs[k], converted<S>(p.values[k])));
    if (differentiable) std::visit([](auto& t) { t.requires_grad(true); }, inputs.back());
  }
  return inputs;
}

template <class S>
reverse_result reverse_with(const program& p, bool fused, const std::vector<double>& weights) {
  using I = interpreter<S>;
  reverse_result result;
  typename I::Values inputs = inputs_of<S>(p, true);
  if (!fused) {
    typename I::Values v = I::run(p, inputs, false, &result.largest);
    const typename I::Any& out = v[std::size_t(p.output)];
    result.value = elements_of<S>(out);
    std::visit(
        [&](const auto& t) {
          using Out = std::remove_cvref_t<decltype(t)>;
          typename Out::Value w(t.dimensions());
          for (Index i = 0; i < w.size(); ++i) w.data()[i] = S(weights[std::size_t(i)]);
          if (t.requires_grad()) Out(t).backward(w);
        },
        out);
  } else {
    // fg::vjp with input 0 as its argument; the other inputs are closed over and
    // collect their gradients on their own leaves.
    std::visit(
        [&](const auto& x0) {
          auto f = [&](const auto& leaf) {
            typename I::Values in = inputs;
            in[0] = leaf;
            typename I::Values v = I::run(p, std::move(in), true, &result.largest);
            return I::flattened(v[std::size_t(p.output)]);
          };
          EigenTensor<S, 1> u(Index(weights.size()));
          for (Index i = 0; i < u.size(); ++i) u.data()[i] = S(weights[std::size_t(i)]);
          auto [value, g0] = vjp(f, x0, u);
          result.value.assign(value.data(), value.data() + value.size());
          inputs[0] = std::remove_cvref_t<decltype(x0)>(std::move(g0));  // read back below as input 0's gradient
        },
        inputs[0]);
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    result.gradients.push_back(std::visit(
        [&](const auto& t) {
          if (fused && k == 0) return elements_of<S>(typename I::Any(t));
          std::vector<double> g;
          for (Index i = 0; i < t.size(); ++i) g.push_back(double(t.grad().data()[i]));
          return g;
        },
        inputs[k]));
  }
  return result;
}

template <class S>
std::vector<double> value_with(const program& p, const std::vector<std::vector<double>>& values) {
  using I = interpreter<S>;
  no_grad off;
  typename I::Values inputs;
  for (std::size_t k = 0; k < p.inputs.size(); ++k) inputs.push_back(I::make(p.inputs[k], converted<S>(values[k])));
  typename I::Values v = I::run(p, std::move(inputs), false);
  return elements_of<S>(v[std::size_t(p.output)]);
}

template <class S>
std::pair<std::vector<double>, std::vector<double>> jvp_with(const program& p,
                                                              const std::vector<std::vector<double>>& directions) {
  using D = Dual<S>;
  using I = interpreter<D>;
  typename I::Values duals;
  for (std::size_t k = 0; k < p.inputs.size(); ++k) {
    std::vector<D> d;
    for (std::size_t i = 0; i < p.values[k].size(); ++i) d.push_back(D(S(p.values[k][i]), S(directions[k][i])));
    duals.push_back(I::make(p.inputs[k], d));
  }
  typename interpreter<S>::Any x0 = interpreter<S>::make(p.inputs[0], converted<S>(p.values[0]));
  std::pair<std::vector<double>, std::vector<double>> result;
  std::visit(
      [&](const auto& x) {
        auto f = [&](const auto& dual) {
          typename I::Values in = duals;
          in[0] = dual;
          typename I::Values v = I::run(p, std::move(in), true);
          return I::flattened(v[std::size_t(p.output)]);
        };
        using X = std::remove_cvref_t<decltype(x)>;
        typename X::Value direction(x.dimensions());
        for (Index i = 0; i < direction.size(); ++i) direction.data()[i] = S(directions[0][std::size_t(i)]);
        auto [value, tangent] = jvp(f, x, direction);
        result.first.assign(value.data(), value.data() + value.size());
        result.second.assign(tangent.data(), tangent.data() + tangent.size());
      },
      x0);
  return result;
}

}  // namespace fusegrad::testing::random_programs
