// Reductions, softmax and log_softmax at extreme inputs: one extreme element among 36
// ordinary ones (0.5), inside a SIMD packet and in the scalar tail; the value against
// a reference computed in long double, the gradient at the extreme element and at an
// ordinary one; full reductions (the fused pass where one exists), reductions along a
// dimension, and forward mode.
#include "extreme_table.hpp"

namespace fg = fusegrad;
using fg::testing::matches;

namespace {

using Long = long double;
constexpr fg::Index n = fg::testing::table_size;
constexpr Long fill = 0.5L;

// What a reduction row expects: its value, and its derivative at the extreme element and
// at an ordinary one.
template <class T>
struct ReductionRow {
  std::string function;
  T input;
  T value;
  T derivative_at_input;
  T derivative_elsewhere;
  // Reverse mode divides the product by the element: a product that underflows to 0
  // without a zero element (a subnormal times 0.5^36) gives 0 there, where forward mode,
  // which multiplies, has the product of the others.
  bool reverse_gives_zero_at_input = false;
};

// The reference of each reduction over 36 fills and the input v, in long double.
template <class T>
ReductionRow<T> reference(const std::string& f, T input) {
  const Long v = input, others = Long(n - 1);
  auto row = [&](Long value, Long at, Long elsewhere) {
    return ReductionRow<T>{f, input, T(value), T(at), T(elsewhere)};
  };
  if (f == "sum") return row(others * fill + v, 1, 1);
  if (f == "mean") return row((others * fill + v) / Long(n), 1 / Long(n), 1 / Long(n));
  if (std::isnan(v)) return row(v, v, v);  // NaN propagates; the derivatives are not checked
  if (f == "max" || f == "min") {
    const bool input_selected = f == "max" ? v > fill : v < fill;
    return input_selected ? row(v, 1, 0) : row(fill, 0, 1 / others);
  }
  if (f == "prod") {
    const Long product_of_fills = std::pow(fill, others);
    ReductionRow<T> r = row(product_of_fills * v, product_of_fills, product_of_fills / fill * v);
    r.reverse_gives_zero_at_input = T(product_of_fills * v) == T(0) && v != 0;
    return r;
  }
  // logsumexp, stably; its gradient is softmax. At +inf the value is +inf and the
  // gradient NaN there (exp(inf - inf)), 0 elsewhere.
  if (std::isinf(v) && v > 0) return row(v, std::numeric_limits<Long>::quiet_NaN(), 0);
  const Long m = std::max(v, fill);
  const Long total = others * std::exp(fill - m) + std::exp(v - m);
  return row(m + std::log(total), std::exp(v - m) / total, std::exp(fill - m) / total);
}

template <class T>
bool close(T actual, T expected) {
  // Sums of 37 elements in another order, and products through the subnormals, differ
  // by more than an ulp or two.
  return matches(actual, expected, 64) ||
         std::abs(double(actual) - double(expected)) <= 4 * double(std::numeric_limits<T>::denorm_min());
}

template <class T>
bool derivative_close(T actual, T expected, T input) {
  return std::isnan(input) || close(actual, expected);
}

template <class T, class F>
void check_reduction(const ReductionRow<T>& row, const F& f) {
  for (fg::Index at : {fg::Index(3), n - 1}) {
    const fg::Index other = at == 3 ? 0 : 3;
    INFO(row.function, " with ", double(row.input), " at element ", at, ": expected ", double(row.value),
         ", derivative ", double(row.derivative_at_input), " there and ", double(row.derivative_elsewhere),
         " elsewhere");
    fg::Tensor<T, 1> x = fg::testing::with_input_at(at, row.input, T(fill));
    x.requires_grad(true);
    const T reverse_at_input = row.reverse_gives_zero_at_input ? T(0) : row.derivative_at_input;
    {
      fg::Tensor<T, 0> y = f(x);
      y.backward();
      INFO("full: ", double(y.item()), ", derivative ", double(x.grad()(at)), " and ", double(x.grad()(other)));
      CHECK(close(y.item(), row.value));
      CHECK(derivative_close(x.grad()(at), reverse_at_input, row.input));
      CHECK(derivative_close(x.grad()(other), row.derivative_elsewhere, row.input));
      x.zero_grad();
    }
    {
      // Along a dimension: the per-node backward.
      fg::Tensor<T, 1> y = f(fg::reshape(x, fg::Shape<2>{1, n}), fg::dims(1));
      y.backward();
      INFO("along a dimension: ", double(y(0)), ", derivative ", double(x.grad()(at)), " and ",
           double(x.grad()(other)));
      CHECK(close(y(0), row.value));
      CHECK(derivative_close(x.grad()(at), reverse_at_input, row.input));
      CHECK(derivative_close(x.grad()(other), row.derivative_elsewhere, row.input));
      x.zero_grad();
    }
    {
      // Along the leading dimension, beside a second column of fills: the loops over
      // runs of kept elements (the inner run is a row of 2).
      fg::EigenTensor<T, 2> columns(n, 2);
      for (fg::Index i = 0; i < n; ++i) columns(i, 0) = x.value()(i), columns(i, 1) = T(fill);
      fg::Tensor<T, 2> beside(columns);
      beside.requires_grad(true);
      fg::Tensor<T, 1> y = f(beside, fg::dims(0));
      fg::EigenTensor<T, 1> seed(2);
      seed.setValues({T(1), T(0)});
      y.backward(seed);
      INFO("along the leading dimension: ", double(y(0)), ", derivative ", double(beside.grad()(at, 0)), " and ",
           double(beside.grad()(other, 0)));
      CHECK(close(y(0), row.value));
      CHECK(derivative_close(beside.grad()(at, 0), reverse_at_input, row.input));
      CHECK(derivative_close(beside.grad()(other, 0), row.derivative_elsewhere, row.input));
    }
    {
      // Not differentiated, of an expression: the value alone (a full sum in one pass
      // over the region; the other rules over the region evaluated once).
      fg::no_grad values_only;
      fg::Tensor<T, 0> y = f(x * T(1));
      INFO("value only: ", double(y.item()));
      CHECK(close(y.item(), row.value));
    }
    {
      fg::Tensor<T, 1> direction = fg::Tensor<T, 1>::constant({n}, T(0));
      direction.mutable_value()(at) = T(1);
      const auto [value, tangent] = fg::jvp([&f](const auto& a) { return f(a); }, x.detach(), direction);
      INFO("forward mode: ", double(value()), ", tangent ", double(tangent()));
      CHECK(close(value(), row.value));
      CHECK(derivative_close(tangent(), row.derivative_at_input, row.input));
    }
  }
}

template <class T, class F>
void check_reduction_at_extremes(const std::string& name, const F& f) {
  std::vector<ReductionRow<T>> rows;
  for (T v : fg::testing::extreme_inputs<T>()) rows.push_back(reference<T>(name, v));
  for (const auto& row : rows) check_reduction(row, f);
}

}  // namespace

TEST_CASE_TEMPLATE("sum and mean at extreme inputs", T, float, double) {
  check_reduction_at_extremes<T>("sum", [](const auto& x, auto... dims) { return fg::sum(x, dims...); });
  check_reduction_at_extremes<T>("mean", [](const auto& x, auto... dims) { return fg::mean(x, dims...); });
  // x + 0: a full sum of an elementwise region, whose gradients come with its value.
  check_reduction_at_extremes<T>("sum", [](const auto& x, auto... dims) { return fg::sum(x + 0, dims...); });
  check_reduction_at_extremes<T>("mean", [](const auto& x, auto... dims) { return fg::mean(x + 0, dims...); });
}

TEST_CASE_TEMPLATE("max and min at extreme inputs", T, float, double) {
  check_reduction_at_extremes<T>("max", [](const auto& x, auto... dims) { return fg::max(x, dims...); });
  check_reduction_at_extremes<T>("min", [](const auto& x, auto... dims) { return fg::min(x, dims...); });
}

TEST_CASE_TEMPLATE("prod at extreme inputs", T, float, double) {
  check_reduction_at_extremes<T>("prod", [](const auto& x, auto... dims) { return fg::prod(x, dims...); });
}

TEST_CASE_TEMPLATE("logsumexp at extreme inputs", T, float, double) {
  check_reduction_at_extremes<T>("logsumexp", [](const auto& x, auto... dims) { return fg::logsumexp(x, dims...); });
}

TEST_CASE_TEMPLATE("softmax and log_softmax at extreme inputs", T, float, double) {
  for (T v : fg::testing::extreme_inputs<T>()) {
    for (fg::Index at : {fg::Index(3), n - 1}) {
      const fg::Index other = at == 3 ? 0 : 3;
      INFO("softmax with ", double(v), " at element ", at);
      // p = softmax; at +inf the input's probability is inf/inf = NaN, as in the
      // formula; elsewhere the stable formula.
      const ReductionRow<T> lse = reference<T>("logsumexp", v);
      const T p_at = lse.derivative_at_input, p_other = lse.derivative_elsewhere;
      fg::Tensor<T, 1> x = fg::testing::with_input_at(at, v, T(fill));
      x.requires_grad(true);
      fg::Tensor<T, 1> p = fg::softmax(x, 0);
      CHECK(close(p(at), p_at));
      CHECK(close(p(other), p_other));
      fg::Tensor<T, 1> log_p = fg::log_softmax(x, 0);
      // log_softmax = x - logsumexp(x), finite where softmax underflows to 0.
      CHECK(close(log_p(other), T(fill - Long(lse.value))));
      if (!std::isinf(v) || v < 0) CHECK(close(log_p(at), T(Long(v) - Long(lse.value))));
      // The gradient of p[at]: p_at (delta - p).
      fg::Tensor<T, 1> seed = fg::Tensor<T, 1>::constant({n}, T(0));
      seed.mutable_value()(at) = T(1);
      p.backward(seed);
      const bool defined = !std::isnan(v) && !(std::isinf(v) && v > 0);
      if (defined) {
        CHECK(close(x.grad()(at), T(Long(p_at) * (1 - Long(p_at)))));
        CHECK(close(x.grad()(other), T(-Long(p_at) * Long(p_other))));
      }
    }
  }
}
