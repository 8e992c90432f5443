// Second order: Hessian-vector products by forward-over-reverse (the reverse pass run on
// dual numbers) and Hessians, against closed forms and differences of gradients.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include "../support/random_values.hpp"

#include <cmath>

namespace fg = fusegrad;
using fg::testing::random_values;

namespace {

// H v from hvp (the fused reverse pass on dual numbers) equals central differences of
// the gradient along v, for a scalar f of 19 elements (two packets and a tail).
template <class F>
void check_hvp_of_scalar(const char* name, F f) {
  INFO(name);
  const fg::Tensor<double, 1> x(random_values<1>(fg::Shape<1>{19}, 6));
  const auto v = random_values<1>(fg::Shape<1>{19}, 7);
  const auto hv = fg::hvp(f, x, v);
  const double h = 1e-5;
  const fg::EigenTensor<double, 1> plus_point = x.value() + v * h, minus_point = x.value() - v * h;
  const auto plus = fg::grad(f, fg::Tensor<double, 1>(plus_point));
  const auto minus = fg::grad(f, fg::Tensor<double, 1>(minus_point));
  for (fg::Index i = 0; i < 19; ++i) {
    INFO("element ", i);
    CHECK(hv(i) == doctest::Approx((plus(i) - minus(i)) / (2 * h)).epsilon(1e-6));
  }
}

// The same for f = sum(g(x)).
template <class G>
void check_hvp(const char* name, G g) {
  check_hvp_of_scalar(name, [g](const auto& a) { return fg::sum(g(a)); });
}

}  // namespace

TEST_CASE("hvp agrees with differences of gradients on elementwise primitives") {
  check_hvp("exp sin cos", [](const auto& a) { return fg::exp(a) * fg::sin(a) - fg::cos(a * a); });
  check_hvp("log sqrt", [](const auto& a) { return fg::log(a) * fg::sqrt(a); });
  check_hvp("tanh sigmoid tan", [](const auto& a) { return fg::tanh(a * a) - fg::sigmoid(a) * fg::tan(a); });
  check_hvp("divide square", [](const auto& a) { return fg::square(a) / (a + 1.0) + 2.0 / a; });
  check_hvp("pow", [](const auto& a) { return fg::pow(a, 2.5) + fg::pow(a, a); });
  check_hvp("abs relu maximum", [](const auto& a) {
    return fg::abs(a - 0.9) * a + fg::relu(a - 0.9) * a + fg::maximum(a, 0.9) * a + fg::minimum(a * a, a);
  });
  check_hvp("clamp where", [](const auto& a) { return fg::clamp(a, 0.5, 1.2) * a + fg::where(a > 0.9, a * a * a, -a); });
  check_hvp("user map", [](const auto& a) {
    return fg::map(a, [](const auto& t) { return t * t * t; }, [](const auto& t) { return 3.0 * t * t; }) * a;
  });
}

TEST_CASE("the Hessian of x^T A x is A + A^T") {
  fg::Tensor<double, 2> a{{1, 2, 0}, {-1, 3, 4}, {0.5, 0, 2}};
  fg::Tensor<double, 1> x{0.2, -0.4, 1.0};
  const auto h = fg::hessian([&](const auto& v) { return fg::dot(v, fg::matmul(a, v)); }, x);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(h(i, j) == doctest::Approx(a(i, j) + a(j, i)));
}

TEST_CASE("the Hessian of the Rosenbrock function equals its closed form") {
  fg::Tensor<double, 1> x{0.5, -1.0, 2.0, 0.3};
  auto rosenbrock = [](const auto& p) {
    auto head = fg::slice(p, {0}, {3});
    auto tail = fg::slice(p, {1}, {3});
    return fg::sum(100.0 * fg::square(tail - fg::square(head)) + fg::square(1.0 - head));
  };
  const auto h = fg::hessian(rosenbrock, x);
  const int n = 4;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double expected = 0;
      if (i == j) {
        if (i < n - 1) expected += 1200 * x(i) * x(i) - 400 * x(i + 1) + 2;
        if (i > 0) expected += 200;
      } else if (j == i + 1) {
        expected = -400 * x(i);
      } else if (i == j + 1) {
        expected = -400 * x(j);
      }
      CHECK(h(i, j) == doctest::Approx(expected));
    }
}

TEST_CASE("hvp equals the Hessian times v") {
  fg::Tensor<double, 1> x{0.3, 0.8, -0.5};
  auto f = [](const auto& p) { return fg::sum(fg::exp(p) * fg::sin(p)) + fg::logsumexp(p * p); };
  fg::EigenTensor<double, 1> v(3);
  v.setValues({1.0, -2.0, 0.5});
  const auto hv = fg::hvp(f, x, v);
  const auto h = fg::hessian(f, x);
  for (int i = 0; i < 3; ++i) {
    double expected = 0;
    for (int j = 0; j < 3; ++j) expected += h(i, j) * v(j);
    CHECK(hv(i) == doctest::Approx(expected));
  }
}

// Found while changing logsumexp's shift: a seed whose value is exactly 1 was taken as 1
// (Dual's == compares values), so its tangent, and with it a second-order term, was
// dropped. Here the seed of sum(exp(x)) is sum(x) = 1 with tangent sum(v) = 2.5.
TEST_CASE("hvp keeps the tangent of a seed whose value is exactly one") {
  const fg::Tensor<double, 1> x{0.25, 0.75, 0.0};
  const fg::EigenTensor<double, 1> v = fg::Tensor<double, 1>{1.0, -0.5, 2.0}.value();
  auto f = [](const auto& p) { return fg::sum(fg::exp(p)) * fg::sum(p); };
  const auto hv = fg::hvp(f, x, v);
  // H = diag(e^x) sum(x) + e^x 1^T + 1 (e^x)^T.
  double exp_dot_v = 0, sum_v = 0;
  for (fg::Index i = 0; i < 3; ++i) exp_dot_v += std::exp(x(i)) * v(i), sum_v += v(i);
  for (fg::Index i = 0; i < 3; ++i)
    CHECK(hv(i) == doctest::Approx(std::exp(x(i)) * v(i) + std::exp(x(i)) * sum_v + exp_dot_v).epsilon(1e-12));
}

TEST_CASE("hvp of logsumexp is diag(p) - p p^T also where one element holds all the mass") {
  auto f = [](const auto& p) { return fg::logsumexp(p); };
  const fg::EigenTensor<double, 1> v = fg::Tensor<double, 1>{1.0, -0.5, 2.0}.value();
  const auto all_on_first = fg::hvp(f, fg::Tensor<double, 1>{0.0, -1000.0, -2000.0}, v);
  for (fg::Index i = 0; i < 3; ++i) CHECK(all_on_first(i) == 0.0);
  const fg::Tensor<double, 1> x{0.3, -0.2, 0.9};
  const auto hv = fg::hvp(f, x, v);
  double total = 0, p_dot_v = 0;
  for (fg::Index i = 0; i < 3; ++i) total += std::exp(x(i));
  for (fg::Index i = 0; i < 3; ++i) p_dot_v += std::exp(x(i)) / total * v(i);
  for (fg::Index i = 0; i < 3; ++i) {
    const double p = std::exp(x(i)) / total;
    CHECK(hv(i) == doctest::Approx(p * v(i) - p * p_dot_v).epsilon(1e-12));
  }
}

// Two full reductions of the same input in one statement hand their gradients to the one
// leaf in turn: the second is added to the first, scaled by its seed (dual numbers here).
TEST_CASE("hvp agrees with differences of gradients where two reductions of one input meet") {
  check_hvp_of_scalar("sum and logsumexp", [](const auto& a) {
    return fg::sum(fg::exp(a) * fg::sin(a)) * 0.5 + fg::logsumexp(fg::square(a)) * 3.0;
  });
}
