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

template <class T>
long double weighted_sum(const T& out, const T& weights) {
  long double total = 0;
  for (Index i = 0; i < out.size(); ++i) total += (long double)out.data()[i] * weights.data()[i];
  return total;
}

inline bool close(double a, double b, double relative, double absolute, double scale) {
  return std::abs(a - b) <= absolute * scale + relative * std::max(std::abs(a), std::abs(b));
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
  const double scale = 1.0;

  auto check_input = [&](auto& input, int which) {
    auto& value = input.mutable_value();
    const auto analytic = input.grad();
    for (Index i = 0; i < value.size(); ++i) {
      const S original = value.data()[i];
      const double h = Tol::step * std::max(1.0, std::abs(double(original)));
      long double plus, minus;
      {
        no_grad off;
        value.data()[i] = S(original + h);
        plus = weighted_sum(eval(f(inputs...)).value(), weights);
        value.data()[i] = S(original - h);
        minus = weighted_sum(eval(f(inputs...)).value(), weights);
        value.data()[i] = original;
      }
      const double numeric = double((plus - minus) / (2 * h));
      const double reverse = double(analytic.data()[i]);
      INFO(name, ": input ", which, " element ", i, " at ", double(original));
      CHECK_MESSAGE(close(reverse, numeric, Tol::relative, Tol::absolute, scale),
                    "reverse mode ", reverse, " vs central difference ", numeric);
    }
  };
  int which = 0;
  (check_input(inputs, which++), ...);
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
