#pragma once
// The generic checker every primitive goes through (in the spirit of Stan's expect_ad):
// the reverse-mode gradient of <f(inputs), W>, for random weights W, is compared with
// central finite differences, element by element, for every input.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>
#include <algorithm>

namespace fusegrad::testing {

template <class S>
struct tolerance;
template <>
struct tolerance<double> {
  static constexpr double step = 1e-6, relative = 1e-6, absolute = 1e-7;
};
template <>
struct tolerance<float> {
  static constexpr double step = 1e-2, relative = 3e-2, absolute = 3e-3;
};

// Values drawn for inputs: `mixed` avoids a neighbourhood of 0 (so kinks of relu, abs,
// max are not straddled by a difference step); `positive` stays inside domains like log's.
// `distinct` spreads values at least 2/size apart, so that no step crosses a tie of
// max or min.
enum class domain { mixed, positive, any, distinct };

inline std::mt19937_64& engine() {
  static std::mt19937_64 e{42};
  return e;
}

template <class S, int R>
Tensor<S, R> random_tensor(const Shape<R>& dims, domain d = domain::mixed) {
  EigenTensor<S, R> v(dims);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (d == domain::distinct) {
    std::vector<Index> order(v.size());
    for (Index i = 0; i < v.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), engine());
    for (Index i = 0; i < v.size(); ++i) v.data()[i] = S(-1 + 2 * (order[i] + 0.5) / double(v.size()));
  }
  for (Index i = 0; i < v.size() && d != domain::distinct; ++i) {
    const double r = u(engine());
    switch (d) {
      case domain::mixed: {
        // On a grid of step 0.1 from 0.2, jittered by at most 0.02: kinks placed between
        // grid points (at 0.x5) are never within a difference step of an input.
        const int k = int(u(engine()) * 17);
        v.data()[i] = S((r < 0.5 ? -1 : 1) * (0.2 + 0.1 * k + 0.04 * (u(engine()) - 0.5)));
        break;
      }
      case domain::positive: v.data()[i] = S(0.3 + 1.7 * r); break;
      case domain::any: v.data()[i] = S(2 * r - 1); break;
      case domain::distinct: break;
    }
  }
  Tensor<S, R> t(std::move(v));
  t.requires_grad(true);
  return t;
}

template <class S, int R>
EigenTensor<S, R> random_weights(const Shape<R>& dims) {
  EigenTensor<S, R> w(dims);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = S(u(engine()));
  return w;
}

// <out, weights>, summed in long double.
template <class S>
long double weighted_sum(const S* out, const S* weights, Index size) {
  long double total = 0;
  for (Index i = 0; i < size; ++i) total += (long double)out[i] * weights[i];
  return total;
}

inline bool close(double a, double b, double relative, double absolute, double scale) {
  return std::abs(a - b) <= absolute * scale + relative * std::max(std::abs(a), std::abs(b));
}

// The comparison itself is compiled once per test file, not once per function checked:
// what depends on the function (its expression types) is only evaluating it, which
// reaches the comparison through `weighted_output`, and each input's scalar type, which
// reaches it through `read` and `write`.

// One input of the checked function: its value buffer (perturbed in place) and its
// reverse-mode gradient.
struct checked_input {
  void* values;
  Index size;
  double (*read)(const void* values, Index i);
  void (*write)(void* values, Index i, double v);
  std::vector<double> reverse;
};

template <class S>
double read_element(const void* values, Index i) {
  return double(static_cast<const S*>(values)[i]);
}
template <class S>
void write_element(void* values, Index i, double v) {
  static_cast<S*>(values)[i] = S(v);
}

// An input tensor after the reverse pass, as a checked_input.
template <class S, int R>
checked_input checked_input_of(Tensor<S, R>& input) {
  auto& value = input.mutable_value();
  const auto& gradient = input.grad();
  return {value.data(), value.size(), &read_element<S>, &write_element<S>,
          std::vector<double>(gradient.data(), gradient.data() + gradient.size())};
}

// A non-owning reference to a callable returning <f(inputs), W> at the inputs' values.
class weighted_output_ref {
 public:
  template <class F>
  explicit weighted_output_ref(F& f)
      : object_(&f), call_([](void* object) -> long double { return (*static_cast<F*>(object))(); }) {}
  long double operator()() const { return call_(object_); }

 private:
  void* object_;
  long double (*call_)(void*);
};

struct difference_tolerance {
  double step, relative, absolute;
};

// Element by element, for every input: the reverse-mode gradient against the central
// difference of <f, W> with step tolerance.step * max(1, |x|).
inline void compare_with_central_differences(const std::string& name, std::vector<checked_input>& inputs,
                                             const difference_tolerance& tolerance,
                                             weighted_output_ref weighted_output) {
  const double scale = 1.0;
  for (std::size_t which = 0; which < inputs.size(); ++which) {
    checked_input& input = inputs[which];
    for (Index i = 0; i < input.size; ++i) {
      const double original = input.read(input.values, i);
      const double h = tolerance.step * std::max(1.0, std::abs(original));
      long double plus, minus;
      {
        no_grad off;
        input.write(input.values, i, original + h);
        plus = weighted_output();
        input.write(input.values, i, original - h);
        minus = weighted_output();
        input.write(input.values, i, original);
      }
      const double numeric = double((plus - minus) / (2 * h));
      const double reverse = input.reverse[std::size_t(i)];
      INFO(name, ": input ", int(which), " element ", i, " at ", original);
      CHECK_MESSAGE(close(reverse, numeric, tolerance.relative, tolerance.absolute, scale),
                    "reverse mode ", reverse, " vs central difference ", numeric);
    }
  }
}

// Checks every input's reverse-mode gradient of f against central differences; returns
// the weights used so that callers can also check closed forms.
template <class F, class... Inputs>
auto expect_gradients_match_differences(const std::string& name, F f, Inputs... inputs) {
  using Out = decltype(eval(f(inputs...)));
  using S = typename Out::Scalar;
  using Tol = tolerance<S>;
  (inputs.zero_grad(), ...);
  Out out = eval(f(inputs...));
  const auto weights = random_weights<S, Out::rank>(out.dimensions());
  out.backward(weights);
  std::vector<checked_input> checked{checked_input_of(inputs)...};
  auto weighted = [&] {
    const auto value = eval(f(inputs...));
    return weighted_sum(value.data(), weights.data(), weights.size());
  };
  compare_with_central_differences(name, checked, {Tol::step, Tol::relative, Tol::absolute},
                                   weighted_output_ref(weighted));
  return weights;
}

// Calls body(std::integral_constant<int, R>) for R = 0 .. 4 (0 .. 2 for float, whose
// kernels are the same templates: this keeps the build short).
template <class S, class Body>
void for_ranks_0_to_4(Body body) {
  body(std::integral_constant<int, 0>{});
  body(std::integral_constant<int, 1>{});
  body(std::integral_constant<int, 2>{});
  if constexpr (std::is_same_v<S, double>) {
    body(std::integral_constant<int, 3>{});
    body(std::integral_constant<int, 4>{});
  }
}

// A small shape of each rank, of sizes that make transposition mistakes visible.
template <int R>
Shape<R> sample_shape() {
  if constexpr (R == 0) return {};
  else if constexpr (R == 1) return {5};
  else if constexpr (R == 2) return {3, 4};
  else if constexpr (R == 3) return {2, 3, 2};
  else return {2, 1, 3, 2};
}

}  // namespace fusegrad::testing
