// The functional forms of reverse mode: grad, value_and_grad, vjp, jacobian and
// check_gradients.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include <cmath>

namespace fg = fusegrad;

TEST_CASE("grad of a single expression needs no tape and leaves the inputs untouched") {
  fg::Tensor<double, 1> x{0.5, -1.0, 2.0};
  const auto g = fg::grad([](const auto& v) { return fg::sum(fg::exp(v) * fg::sin(v)); }, x);
  for (int i = 0; i < 3; ++i) {
    const double v = x(i);
    CHECK(g(i) == doctest::Approx(std::exp(v) * (std::sin(v) + std::cos(v))));
  }
  CHECK_FALSE(x.requires_grad());
}

TEST_CASE("value_and_grad of several inputs returns the value and a gradient per input") {
  fg::Tensor<double, 2> a{{1, 2}, {3, 4}};
  fg::Tensor<double, 1> b{0.5, -0.5};
  const auto [value, gradients] = fg::value_and_grad([](const auto& x, const auto& y) { return fg::sum(x * y); }, a, b);
  CHECK(value == doctest::Approx(0.5 * 1 - 0.5 * 2 + 0.5 * 3 - 0.5 * 4));
  const auto& [ga, gb] = gradients;
  CHECK(ga(1, 0) == 0.5);
  CHECK(ga(1, 1) == -0.5);
  CHECK(gb(0) == 4.0);
  CHECK(gb(1) == 6.0);
}

TEST_CASE("gradients returned by grad and vjp stay as they were through later calls") {
  // The result owns the storage the reverse pass accumulated into; later calls, which
  // reuse pooled buffers of the same size, must not write into it.
  fg::Tensor<double, 1> x{0.5, -1.0, 2.0, 3.0};
  const auto f = [](const auto& v) { return fg::sum(fg::square(v) * 1.5); };
  const auto first = fg::grad(f, x);
  const auto [value, first_vjp] = fg::vjp([](const auto& v) { return fg::square(v); }, x, fg::Tensor<double, 1>{1, 1, 1, 1});
  for (int k = 0; k < 3; ++k) {
    const auto again = fg::grad(f, fg::Tensor<double, 1>{7.0, 7.0, 7.0, 7.0});
    const auto unused = fg::vjp([](const auto& v) { return fg::square(v); }, x, fg::Tensor<double, 1>{9, 9, 9, 9});
    CHECK(again(2) == 21.0);
    CHECK(unused.second(0) == 9.0);
  }
  for (int i = 0; i < 4; ++i) {
    CHECK(first(i) == 3.0 * x(i));
    CHECK(first_vjp(i) == 2.0 * x(i));
  }
  CHECK(value(3) == 9.0);
}

TEST_CASE("grad of a function with statements and a loop uses the tape") {
  fg::Tensor<double, 1> x{0.1, 0.2};
  auto f = [](const fg::Tensor<double, 1>& v) {
    fg::Tensor<double, 1> h = v;
    for (int i = 0; i < 3; ++i) h = fg::tanh(h) * 2.0;
    return fg::Tensor<double, 0>(fg::sum(h));
  };
  const auto report = fg::check_gradients(f, x);
  CHECK(report.within(1e-7));
  const auto g = fg::grad(f, x);
  for (int i = 0; i < 2; ++i) {
    double h = x(i), derivative = 1;
    for (int k = 0; k < 3; ++k) derivative *= 2 * (1 - std::tanh(h) * std::tanh(h)), h = 2 * std::tanh(h);
    CHECK(g(i) == doctest::Approx(derivative));
  }
}

TEST_CASE("vjp returns the value and u^T J, and rejects u of the wrong shape") {
  fg::Tensor<double, 1> x{1.0, 2.0, 3.0};
  fg::EigenTensor<double, 1> u(3);
  u.setValues({1.0, 0.0, 2.0});
  const auto [value, pulled] = fg::vjp([](const auto& v) { return fg::square(v); }, x, u);
  CHECK(value(2) == 9.0);
  CHECK(pulled(0) == 2.0);
  CHECK(pulled(1) == 0.0);
  CHECK(pulled(2) == 12.0);
  fg::EigenTensor<double, 1> wrong(2);
  wrong.setZero();
  CHECK_THROWS_AS(fg::vjp([](const auto& v) { return fg::square(v); }, x, wrong), fg::shape_error);
}

TEST_CASE("the jacobian of an elementwise map is diagonal and equal to the derivative") {
  fg::Tensor<double, 1> x{0.3, -0.7, 1.1, 0.0};
  const auto j = fg::jacobian([](const auto& v) { return fg::sin(v); }, x);
  CHECK(j.dimension(0) == 4);
  CHECK(j.dimension(1) == 4);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) CHECK(j(r, c) == doctest::Approx(r == c ? std::cos(x(c)) : 0.0));
}

TEST_CASE("the jacobian of a rectangular function matches its closed form") {
  // f(x) = A x with A 2 x 3: J = A.
  fg::Tensor<double, 2> a{{1, 2, 3}, {4, 5, 6}};
  fg::Tensor<double, 1> x{1.0, 1.0, 1.0};
  const auto j = fg::jacobian([&](const auto& v) { return fg::matmul(a, v); }, x);
  CHECK(j.dimension(0) == 2);
  CHECK(j.dimension(1) == 3);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) CHECK(j(r, c) == doctest::Approx(a(r, c)));
}

TEST_CASE("check_gradients reports agreement for a correct gradient") {
  fg::Tensor<double, 2> w{{0.1, -0.3}, {0.7, 0.2}};
  fg::Tensor<double, 1> b{0.5, -0.1};
  const auto report =
      fg::check_gradients([](const auto& m, const auto& v) { return fg::sum(fg::tanh(fg::matmul(m, v) + v)); }, w, b);
  CHECK(report.within(1e-7));
  CHECK(report.input >= 0);
}

TEST_CASE("check_gradients reports where a wrong derivative disagrees") {
  fg::Tensor<double, 1> x{0.5, 1.5};
  // A user map with a deliberately wrong derivative: 2x instead of 3x^2.
  auto f = [](const auto& v) {
    return fg::sum(fg::map(v, [](double t) { return t * t * t; }, [](double t) { return 2 * t; }));
  };
  const auto report = fg::check_gradients(f, x);
  CHECK_FALSE(report.within(1e-3));
  CHECK(report.input == 0);
  CHECK(report.element == 1);  // 3 * 1.5^2 - 2 * 1.5 = 3.75 is the larger error
  CHECK(report.numeric == doctest::Approx(3 * 1.5 * 1.5).epsilon(1e-6));
  CHECK(report.reverse == doctest::Approx(3.0));
}

TEST_CASE("grad of a function returning an expression over tensors its statements produced reaches the inputs") {
  fg::Tensor<double, 1> x{0.1, -0.2};
  auto f = [](const fg::Tensor<double, 1>& v) {
    fg::Tensor<double, 1> h = fg::tanh(v);
    return fg::sum(h * h);  // an expression whose leaf h came from a statement
  };
  const auto g = fg::grad(f, x);
  for (int i = 0; i < 2; ++i) {
    const double t = std::tanh(x(i));
    CHECK(g(i) == doctest::Approx(2 * t * (1 - t * t)));
  }
}
