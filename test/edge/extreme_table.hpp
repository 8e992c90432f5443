#pragma once
// The table the extreme-value tests run: rows of (function, input, expected value,
// expected derivative), each checked on every path an elementwise function can take:
//   - plain evaluation (no gradient), in Eigen's packets or its scalar tail;
//   - the per-node backward (the operand a reshape, which the fused pass does not take);
//   - the fused backward of a statement (expr/lanes.hpp, values and gradients in lanes);
//   - the fused full sum, whose gradients are computed with its value;
//   - forward mode (jvp on dual numbers).
// The input sits in a vector of 37 elements, once at element 3 (inside a SIMD packet for
// every width) and once at element 36 (in the scalar tail for every width).
#include "../support/expectations.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace fusegrad::testing {

template <class T>
struct Row {
  std::string function;
  T input;
  T value;
  T derivative;
};

// 0, -0, subnormals (the smallest, a middle one, negative ones), the largest finite
// numbers, infinities and NaN.
template <class T>
std::vector<T> extreme_inputs() {
  using L = std::numeric_limits<T>;
  const T middle_subnormal = L::min() / T(1024);
  return {T(0),  T(-0.0),      L::denorm_min(), -L::denorm_min(), middle_subnormal, -middle_subnormal,
          L::max(), -L::max(), L::infinity(),   -L::infinity(),   L::quiet_NaN()};
}

// Equal as the table means it: NaN matches NaN, infinities and zeros match exactly
// (either sign of zero), anything else within a few units in the last place.
template <class T>
bool matches(T actual, T expected, double ulps = 4) {
  if (std::isnan(expected)) return std::isnan(actual);
  if (std::isinf(expected) || expected == T(0)) return actual == expected;
  return std::abs(double(actual) - double(expected)) <=
         ulps * double(std::numeric_limits<T>::epsilon()) * std::abs(double(expected));
}

// At a NaN input the value is NaN and the derivative is not specified: a rule that
// selects (relu, clamp, maximum) may give 0 there in one mode and pass the tangent on in
// another, and a NaN loss makes the gradient meaningless anyway.
template <class T>
bool derivative_matches(T actual, const Row<T>& row) {
  return std::isnan(row.input) || matches(actual, row.derivative);
}

inline constexpr Index table_size = 37;

template <class T>
Tensor<T, 1> with_input_at(Index at, T input, T fill) {
  Tensor<T, 1> x = Tensor<T, 1>::constant({table_size}, fill);
  x.mutable_value()(at) = input;
  return x;
}

// Checks one row on every path; `fill` is the other elements' value, `fill_value` and
// `fill_derivative` the function's value and derivative there.
template <class T, class F>
void check_row(const Row<T>& row, const F& f, T fill, T fill_value, T fill_derivative) {
  for (Index at : {Index(3), table_size - 1}) {
    INFO(row.function, " of ", double(row.input), " at element ", at, ": expected value ", double(row.value),
         ", derivative ", double(row.derivative));
    Tensor<T, 1> x = with_input_at(at, row.input, fill);
    {
      Tensor<T, 1> y = f(x);
      INFO("plain value ", double(y(at)));
      CHECK(matches(y(at), row.value));
    }
    x.requires_grad(true);
    {
      Tensor<T, 1> y = f(reshape(x, Shape<1>{table_size}));
      y.backward();
      INFO("per-node value ", double(y(at)), " derivative ", double(x.grad()(at)));
      CHECK(matches(y(at), row.value));
      CHECK(derivative_matches(x.grad()(at), row));
      CHECK(matches(x.grad()(at == 3 ? 0 : 3), fill_derivative));
      x.zero_grad();
    }
    {
      Tensor<T, 1> y = f(x);
      y.backward();
      INFO("fused backward derivative ", double(x.grad()(at)));
      CHECK(derivative_matches(x.grad()(at), row));
      CHECK(matches(x.grad()(at == 3 ? 0 : 3), fill_derivative));
      x.zero_grad();
    }
    {
      Tensor<T, 0> total = sum(f(x));
      total.backward();
      const T expected = T(table_size - 1) * fill_value + row.value;
      INFO("fused sum ", double(total.item()), " (expected ", double(expected), ") derivative ",
           double(x.grad()(at)));
      CHECK(matches(total.item(), expected, 64));
      CHECK(derivative_matches(x.grad()(at), row));
      CHECK(matches(x.grad()(at == 3 ? 0 : 3), fill_derivative));
      x.zero_grad();
    }
    {
      const auto [value, tangent] = jvp(f, x.detach(), Tensor<T, 1>::ones({table_size}));
      INFO("forward mode value ", double(value(at)), " tangent ", double(tangent(at)));
      CHECK(matches(value(at), row.value));
      CHECK(derivative_matches(tangent(at), row));
    }
  }
}

// The rows of a function at every extreme input, from references for its value and
// derivative (the C++ standard library's functions, or a stable formula), then checked.
template <class T, class F, class Value, class Derivative>
void check_function(const std::string& name, const F& f, const Value& value, const Derivative& derivative,
                    T fill = T(0.5)) {
  std::vector<Row<T>> rows;
  for (T x : extreme_inputs<T>()) rows.push_back({name, x, value(x), derivative(x)});
  for (const Row<T>& row : rows) check_row(row, f, fill, value(fill), derivative(fill));
}

// Rows written out: for the points where a derivative has to be decided.
template <class T, class F>
void check_rows(const std::vector<Row<T>>& rows, const F& f, T fill, T fill_value, T fill_derivative) {
  for (const Row<T>& row : rows) check_row(row, f, fill, fill_value, fill_derivative);
}

}  // namespace fusegrad::testing
