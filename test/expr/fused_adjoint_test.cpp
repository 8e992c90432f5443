// The fused adjoint (expr/lanes.hpp): an elementwise region's backward in one pass,
// and a full sum's gradients computed with its value. These check what the fusion must
// keep from the per-node path: every contribution of a leaf met twice, gradients added
// to earlier ones, single values' gradients as sums, stored values below the region,
// and the tail of a size that is not a multiple of the SIMD width.
#include <doctest/doctest.h>

#include <fusegrad/fusegrad.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace fg = fusegrad;

namespace {

template <class S>
fg::Tensor<S, 1> ramp(fg::Index n, S lo, S hi) {
  fg::EigenTensor<S, 1> v(n);
  for (fg::Index i = 0; i < n; ++i) v(i) = lo + (hi - lo) * S(i) / S(n > 1 ? n - 1 : 1);
  fg::Tensor<S, 1> t(std::move(v));
  t.requires_grad(true);
  return t;
}

// Sizes below, at and around every SIMD width (1, 2, 4, 8, 16 lanes).
const std::vector<fg::Index> sizes{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1000};

}  // namespace

TEST_CASE("a leaf used twice in a region receives both contributions, for every size") {
  for (fg::Index n : sizes) {
    auto x = ramp<double>(n, -2, 2);
    fg::Tensor<double, 0> loss = fg::sum(fg::exp(x) * fg::sin(x));
    loss.backward();
    double value = 0;
    for (fg::Index i = 0; i < n; ++i) {
      const double v = x.value()(i);
      value += std::exp(v) * std::sin(v);
      INFO("n = ", n, ", element ", i);
      CHECK(x.grad()(i) == doctest::Approx(std::exp(v) * (std::sin(v) + std::cos(v))).epsilon(1e-13));
    }
    CHECK(loss.item() == doctest::Approx(value).epsilon(1e-13));
  }
}

TEST_CASE("scalar parameters stretched over a vector get their gradients as sums") {
  for (fg::Index n : sizes) {
    auto y = ramp<double>(n, -1, 3);
    y.requires_grad(false);
    fg::Tensor<double, 0> mu(0.3), sigma(0.8);
    mu.requires_grad(true);
    sigma.requires_grad(true);
    fg::Tensor<double, 0> log_density = fg::sum(-0.5 * fg::square((y - mu) / sigma) - fg::log(sigma));
    log_density.backward();
    double d_mu = 0, d_sigma = 0;
    for (fg::Index i = 0; i < n; ++i) {
      const double z = (y.value()(i) - 0.3) / 0.8;
      d_mu += z / 0.8;
      d_sigma += z * z / 0.8 - 1 / 0.8;
    }
    INFO("n = ", n);
    CHECK(mu.grad()() == doctest::Approx(d_mu).epsilon(1e-12));
    CHECK(sigma.grad()() == doctest::Approx(d_sigma).epsilon(1e-12));
  }
}

TEST_CASE("a single value added everywhere gets the element count as its gradient, scaled by the seed") {
  for (fg::Index n : sizes) {
    auto x = ramp<float>(n, -1, 1);
    fg::Tensor<float, 0> b(0.5f), c(2.0f);
    b.requires_grad(true);
    c.requires_grad(true);
    // b's adjoint is the same in every element (counted); c's is x times a single value.
    fg::Tensor<float, 0> loss = 3.0f * fg::mean(fg::exp(x) + 2.0f * b - x / c);
    loss.backward();
    double x_sum = 0;
    for (fg::Index i = 0; i < n; ++i) x_sum += x.value()(i);
    INFO("n = ", n);
    CHECK(b.grad()() == doctest::Approx(6.0).epsilon(1e-6));
    CHECK(c.grad()() == doctest::Approx(3.0 * x_sum / 4.0 / double(n)).epsilon(1e-5).scale(1.0));
  }
}

TEST_CASE("a second backward without zero_grad adds to the first") {
  auto x = ramp<double>(37, -1, 1);
  for (int pass = 1; pass <= 2; ++pass) {
    fg::Tensor<double, 1> y = fg::tanh(x) * x;  // a statement: the region is seeded by y's gradient
    fg::Tensor<double, 0> loss = fg::sum(y);
    loss.backward();
    for (fg::Index i = 0; i < 37; ++i) {
      const double v = x.value()(i), t = std::tanh(v);
      CHECK(x.grad()(i) == doctest::Approx(pass * (t + v * (1 - t * t))).epsilon(1e-12));
    }
  }
  x.zero_grad();
  fg::Tensor<double, 0> again = fg::sum(x * x);
  again.backward();
  CHECK(x.grad()(5) == doctest::Approx(2 * x.value()(5)));
}

TEST_CASE("the gradients of a full sum are scaled by the gradient flowing into the sum") {
  auto x = ramp<double>(21, 0.1, 2);
  fg::Tensor<double, 0> s = fg::sum(fg::log(x) * x);  // computed with its gradients (seed 1)
  fg::Tensor<double, 0> loss = 3.0 * s * s;            // d loss / d s = 6 s
  loss.backward();
  const double ds = 6 * s.item();
  for (fg::Index i = 0; i < 21; ++i) {
    const double v = x.value()(i);
    CHECK(x.grad()(i) == doctest::Approx(ds * (std::log(v) + 1)).epsilon(1e-12));
  }
}

TEST_CASE("a mean computed with its gradients divides them by the count") {
  auto x = ramp<float>(19, -1, 1);
  fg::Tensor<float, 0> m = fg::mean(fg::square(x) + x);
  m.backward();
  for (fg::Index i = 0; i < 19; ++i)
    CHECK(x.grad()(i) == doctest::Approx((2 * x.value()(i) + 1) / 19).epsilon(1e-5));
}

TEST_CASE("backward twice through a retained graph gives the same gradient twice") {
  auto x = ramp<double>(11, -1, 1);
  fg::Tensor<double, 0> loss = fg::sum(fg::sin(x) * x);
  loss.backward(fg::retain_graph);
  const std::vector<double> first(x.grad().data(), x.grad().data() + 11);
  x.zero_grad();
  loss.backward();
  for (fg::Index i = 0; i < 11; ++i) CHECK(x.grad()(i) == doctest::Approx(first[i]).epsilon(1e-13));
}

TEST_CASE("a stored value inside a region passes its gradient on to what it was computed from") {
  auto x = ramp<double>(13, -1, 1);
  // sum(x) is evaluated before the region; d/dx_i sum(x * sum(x)) = 2 sum(x) for every i
  fg::Tensor<double, 0> loss = fg::sum(x * fg::sum(x));
  loss.backward();
  double total = 0;
  for (fg::Index i = 0; i < 13; ++i) total += x.value()(i);
  for (fg::Index i = 0; i < 13; ++i) CHECK(x.grad()(i) == doctest::Approx(2 * total).epsilon(1e-12));
}

TEST_CASE("the fused pass and the per-node path of a stretched operand agree") {
  constexpr fg::Index n = 29;
  auto x = ramp<double>(n, -1.5, 1.5);
  fg::Tensor<double, 0> fused = fg::sum(fg::exp(x) * fg::cos(x) / (1.0 + x * x));
  fused.backward();
  const std::vector<double> once(x.grad().data(), x.grad().data() + n);
  x.zero_grad();
  // x as a column stretched over two columns: the region no longer qualifies (a reshape,
  // and an operand stretched along its last dimension) and each node passes its own
  // gradient; every element appears twice.
  const auto columns = fg::Tensor<double, 2>::zeros(n, 2);
  const auto x2 = fg::reshape(x, {n, 1}) + columns;
  fg::Tensor<double, 0> twice = fg::sum(fg::exp(x2) * fg::cos(x2) / (1.0 + x2 * x2));
  twice.backward();
  for (fg::Index i = 0; i < n; ++i) CHECK(x.grad()(i) == doctest::Approx(2 * once[i]).epsilon(1e-12));
  CHECK(twice.item() == doctest::Approx(2 * fused.item()).epsilon(1e-12));
}

TEST_CASE("a user's function in a region is called once per element, and only its derivative backward") {
  int calls = 0, derivative_calls = 0;
  auto f = [&calls](double v) { return ++calls, v * v * v; };
  auto df = [&derivative_calls](double v) { return ++derivative_calls, 3 * v * v; };
  auto x = ramp<double>(10, -1, 1);
  fg::Tensor<double, 0> loss = fg::sum(fg::map(x, f, df) * 2.0);
  CHECK(calls == 10);
  CHECK(derivative_calls == 10);  // a full sum computes its gradients with its value
  loss.backward();
  CHECK(calls == 10);
  CHECK(derivative_calls == 10);
  CHECK(x.grad()(0) == doctest::Approx(6.0));
}

TEST_CASE("no gradient is computed ahead under no_grad") {
  int derivative_calls = 0;
  auto df = [&derivative_calls](double v) { return ++derivative_calls, 2 * v; };
  auto x = ramp<double>(10, -1, 1);
  fg::no_grad off;
  fg::Tensor<double, 0> s = fg::sum(fg::map(x, [](double v) { return v * v; }, df));
  CHECK(derivative_calls == 0);
  CHECK(!s.requires_grad());
}

TEST_CASE("a full logsumexp computed with its gradients gives the softmax, scaled by the upstream gradient") {
  for (fg::Index n : sizes) {
    auto x = ramp<double>(n, -3, 2);
    fg::Tensor<double, 0> l = 2.0 * fg::logsumexp(x * 3.0);
    l.backward();
    double m = -INFINITY, s = 0;
    for (fg::Index i = 0; i < n; ++i) m = std::max(m, 3 * x.value()(i));
    for (fg::Index i = 0; i < n; ++i) s += std::exp(3 * x.value()(i) - m);
    INFO("n = ", n);
    CHECK(l.item() == doctest::Approx(2 * (m + std::log(s))).epsilon(1e-13));
    for (fg::Index i = 0; i < n; ++i)
      CHECK(x.grad()(i) == doctest::Approx(6 * std::exp(3 * x.value()(i) - m) / s).epsilon(1e-12));
  }
}

TEST_CASE("a logsumexp of a NaN is NaN, and of -inf everywhere is -inf") {
  fg::Tensor<double, 1> x{1.0, NAN, 2.0};
  x.requires_grad(true);
  fg::Tensor<double, 0> l = fg::logsumexp(x);
  l.backward();
  CHECK(std::isnan(l.item()));
  CHECK(std::isnan(x.grad()(0)));
  fg::Tensor<double, 1> y{-INFINITY, -INFINITY};
  y.requires_grad(true);
  fg::Tensor<double, 0> k = fg::logsumexp(y);
  CHECK(k.item() == -INFINITY);
}

TEST_CASE("forward over reverse through fused regions gives the closed-form Hessian-vector product") {
  // f(x) = sum(exp(x) sin(x)) + logsumexp(x): H = diag(2 exp(x) cos(x)) + diag(p) - p p^T,
  // p = softmax(x). On dual numbers the fused passes run a packet of values and one of
  // tangents at a time (sizes 1, 5, 19 take the packet loop and its tail).
  for (fg::Index n : {fg::Index(1), fg::Index(5), fg::Index(19)}) {
    auto x = ramp<double>(n, -1, 1.5);
    fg::EigenTensor<double, 1> v(n);
    for (fg::Index i = 0; i < n; ++i) v(i) = std::cos(double(i));
    auto f = [](const auto& p) { return fg::sum(fg::exp(p) * fg::sin(p)) + fg::logsumexp(p); };
    const auto hv = fg::hvp(f, x, v);
    double m = -INFINITY, s = 0, pv = 0;
    for (fg::Index i = 0; i < n; ++i) m = std::max(m, x.value()(i));
    for (fg::Index i = 0; i < n; ++i) s += std::exp(x.value()(i) - m);
    for (fg::Index i = 0; i < n; ++i) pv += std::exp(x.value()(i) - m) / s * v(i);
    for (fg::Index i = 0; i < n; ++i) {
      const double xi = x.value()(i), p = std::exp(xi - m) / s;
      INFO("n = ", n, ", element ", i);
      CHECK(hv(i) == doctest::Approx(2 * std::exp(xi) * std::cos(xi) * v(i) + p * v(i) - p * pv).epsilon(1e-12));
    }
  }
}

namespace {

// f summed over its region (fused, values scaled by single values kept apart) against
// the same f with x and y as columns stretched over two columns (per-node path: every
// value and gradient doubles), for the sizes above.
template <class S, class F>
void expect_fused_matches_per_node(const char* name, F f, S lo, S hi, double tolerance) {
  for (fg::Index n : sizes) {
    auto x = ramp<S>(n, lo, hi), y = ramp<S>(n, hi, lo);
    fg::Tensor<S, 0> c(S(0.7));
    c.requires_grad(true);
    fg::Tensor<S, 0> fused = fg::sum(f(x, y, c));
    fused.backward();
    const std::vector<S> gx(x.grad().data(), x.grad().data() + n), gy(y.grad().data(), y.grad().data() + n);
    const S gc = c.grad()();
    x.zero_grad(), y.zero_grad(), c.zero_grad();
    const auto columns = fg::Tensor<S, 2>::zeros(n, 2);
    fg::Tensor<S, 0> twice = fg::sum(f(fg::reshape(x, {n, 1}) + columns, fg::reshape(y, {n, 1}) + columns, c));
    twice.backward();
    INFO(std::string(name), ", n = ", n);
    CHECK(double(twice.item()) == doctest::Approx(2 * double(fused.item())).epsilon(tolerance));
    CHECK(double(c.grad()()) == doctest::Approx(2 * double(gc)).epsilon(tolerance));
    for (fg::Index i = 0; i < n; ++i) {
      INFO("element ", i);
      CHECK(double(x.grad()(i)) == doctest::Approx(2 * double(gx[std::size_t(i)])).epsilon(tolerance));
      CHECK(double(y.grad()(i)) == doctest::Approx(2 * double(gy[std::size_t(i)])).epsilon(tolerance));
    }
  }
}

// Relu compares scaled values; products of scaled values keep both factors; division,
// sqrt, maximum and tanh multiply them out, negation keeps them; single values
// added on either side of a sum are counted, not added per element.
template <class S>
auto scaled_through_comparisons_and_products(const auto& x, const auto& y, fg::Tensor<S, 0>& c) {
  return fg::relu(x * c - S(1)) + (x * c) * (y * S(2)) * (c * x) - (x * c) / y;
}
template <class S>
auto scaled_through_functions(const auto& x, const auto& y, fg::Tensor<S, 0>& c) {
  return fg::sqrt(x / c) + fg::maximum(x * S(2), y * c) + fg::tanh(-(x / c)) * c;
}
template <class S>
auto shifted_on_both_sides(const auto& x, const auto& y, fg::Tensor<S, 0>& c) {
  return c + ((fg::square(x * c) + y * S(0.5)) - c * S(3));
}

}  // namespace

TEST_CASE("values scaled or shifted by single values give the per-node gradients through every kind of rule") {
  auto each = [](auto f) { return [f](const auto& x, const auto& y, auto& c) { return f(x, y, c); }; };
  expect_fused_matches_per_node<double>(
      "comparisons and products", each([](const auto& x, const auto& y, auto& c) {
        return scaled_through_comparisons_and_products<double>(x, y, c);
      }),
      0.25, 2.0, 1e-12);
  expect_fused_matches_per_node<double>(
      "functions", each([](const auto& x, const auto& y, auto& c) { return scaled_through_functions<double>(x, y, c); }),
      0.25, 2.0, 1e-12);
  expect_fused_matches_per_node<double>(
      "shifts", each([](const auto& x, const auto& y, auto& c) { return shifted_on_both_sides<double>(x, y, c); }),
      -2.0, 1.5, 1e-12);
  expect_fused_matches_per_node<float>(
      "shifts in float",
      each([](const auto& x, const auto& y, auto& c) { return shifted_on_both_sides<float>(x, y, c); }), -2.0f, 1.5f,
      1e-5);
}
