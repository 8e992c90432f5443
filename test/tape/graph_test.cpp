// The tape and the reverse pass: graphs with reuse, loops, deep chains, releasing the
// graph, misuse that must be refused, and the cost of the reverse pass.
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fg = fusegrad;
using fg::testing::elements;


namespace {

using Scalar = fg::Tensor<double, 0>;
using Vector = fg::Tensor<double, 1>;
using Matrix = fg::Tensor<double, 2>;

// Element-by-element comparison with a relative tolerance.
void check_close(const std::vector<double>& actual, const std::vector<double>& expected, double tolerance = 1e-12) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO("element ", i);
    CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(tolerance));
  }
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("reuse") {

TEST_CASE("a value feeding several consumers receives the sum of their gradients") {
  Vector x{0.5, -1.0, 2.0};
  x.requires_grad(true);
  Vector h = fg::exp(x);
  Vector doubled = h * 2.0;
  Vector wave = fg::sin(h);
  Vector squared = h * h;
  Scalar loss = fg::sum(doubled + wave + squared);
  loss.backward();
  // d/dx (2h + sin h + h^2) with h = e^x is (2 + cos h + 2h) e^x.
  std::vector<double> expected;
  for (double v : elements(x)) expected.push_back((2 + std::cos(std::exp(v)) + 2 * std::exp(v)) * std::exp(v));
  check_close(elements(x.grad()), expected);
}

TEST_CASE("an input used several times in one expression gets every use's gradient") {
  Vector x{1, 2, 3};
  x.requires_grad(true);
  Scalar loss = fg::sum(x * x * x + x * 5.0 - x);
  loss.backward();
  // 3x^2 + 4
  check_close(elements(x.grad()), {7, 16, 31});
}

TEST_CASE("an input used in several statements gets every statement's gradient") {
  Vector x{1, 2, 3};
  x.requires_grad(true);
  Vector squared = x * x;
  Vector cubed = squared * x;
  Vector total = cubed + x;
  Scalar loss = fg::sum(total * 2.0);
  loss.backward();
  // 2 (3x^2 + 1)
  check_close(elements(x.grad()), {8, 26, 56});
}

TEST_CASE("both operands of a statement may be the same intermediate") {
  Vector x{1, 2, 3};
  x.requires_grad(true);
  Vector h = x * 3.0;
  Vector y = h * h;  // 9 x^2
  Scalar loss = fg::sum(y);
  loss.backward();
  check_close(elements(x.grad()), {18, 36, 54});
}

}  // TEST_SUITE("reuse")

TEST_SUITE("loops and depth") {

TEST_CASE("a 50-step recurrence h = tanh(h) * w + b gets the gradient of a hand-written reverse recursion") {
  constexpr int steps = 50, rows = 3, cols = 4;
  fg::manual_seed(7);
  Matrix x = Matrix::random(rows, cols);
  Vector w = Vector::random(cols);  // broadcast over rows
  Scalar b = 0.25;                  // broadcast over everything
  x.requires_grad(true);
  w.requires_grad(true);
  b.requires_grad(true);

  Matrix h = x;
  for (int step = 0; step < steps; ++step) h = fg::tanh(h) * w + b;
  Scalar loss = fg::sum(h);
  loss.backward();

  // The same recurrence in plain C++: forward, keeping every h_k ...
  std::vector<std::vector<double>> hs{elements(x)};
  const std::vector<double> wv = elements(w);
  for (int step = 0; step < steps; ++step) {
    std::vector<double> next(rows * cols);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) next[i * cols + j] = std::tanh(hs.back()[i * cols + j]) * wv[j] + 0.25;
    hs.push_back(next);
  }
  check_close(elements(h), hs.back());
  // ... and backward: dh_{k+1}/dh_k = w (1 - tanh^2 h_k), dh_{k+1}/dw = tanh h_k, dh_{k+1}/db = 1.
  std::vector<double> gh(rows * cols, 1.0), gw(cols, 0.0);
  double gb = 0;
  for (int step = steps - 1; step >= 0; --step) {
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) {
        const int k = i * cols + j;
        const double t = std::tanh(hs[step][k]);
        gw[j] += gh[k] * t;
        gb += gh[k];
        gh[k] *= wv[j] * (1 - t * t);
      }
  }
  check_close(elements(x.grad()), gh, 1e-10);
  check_close(elements(w.grad()), gw, 1e-10);
  CHECK(b.grad()() == doctest::Approx(gb).epsilon(1e-10));
}

TEST_CASE("a chain of 100000 multiplications runs backward and is destroyed without overflowing the stack") {
  constexpr int depth = 100000;
  Vector x{1, 2};
  x.requires_grad(true);
  {
    Vector h = x;
    for (int i = 0; i < depth; ++i) h = h * 1.0000001;
    Scalar loss = fg::sum(h);
    loss.backward();
  }  // the chain is destroyed here
  const double factor = std::pow(1.0000001, depth);
  check_close(elements(x.grad()), {factor, factor}, 1e-9);
}

TEST_CASE("a chain of 100000 additions that backward never ran through is destroyed without overflowing the stack") {
  constexpr int depth = 100000;
  Vector x{1, 2};
  x.requires_grad(true);
  {
    Vector h = x;
    for (int i = 0; i < depth; ++i) h = h + 0.0;
    CHECK(elements(h) == std::vector<double>{1, 2});
  }  // every statement is still recorded when the chain is destroyed
  CHECK(elements(x.grad()) == std::vector<double>{0, 0});
}

TEST_CASE("a chain of 100000 additions can be run backward with retain_graph and again without") {
  constexpr int depth = 100000;
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x;
  for (int i = 0; i < depth; ++i) h = h + 0.0;
  Scalar loss = fg::sum(h);
  loss.backward(fg::retain_graph);
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{2, 2});
}

}  // TEST_SUITE("loops and depth")

TEST_SUITE("releasing the graph") {

TEST_CASE("backward twice through a released graph throws graph_error mentioning retain_graph") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x * x;
  Scalar loss = fg::sum(h * 3.0);
  loss.backward();
  CHECK_THROWS_AS(loss.backward(), fg::graph_error);
  CHECK(message_of([&] { loss.backward(); }).find("retain_graph") != std::string::npos);
  // The refused backward left the gradient as the first one made it.
  CHECK(elements(x.grad()) == std::vector<double>{6, 12});
}

TEST_CASE("a new statement on a released graph's intermediate is refused at backward") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x * x;
  Scalar first = fg::sum(h);
  first.backward();
  Scalar second = fg::sum(h * 2.0);
  CHECK_THROWS_AS(second.backward(), fg::graph_error);
}

TEST_CASE("backward(retain_graph) then backward doubles the leaves' gradients") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x * x;
  Scalar loss = fg::sum(h * 3.0);
  loss.backward(fg::retain_graph);
  CHECK(elements(x.grad()) == std::vector<double>{6, 12});
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{12, 24});
  CHECK_THROWS_AS(loss.backward(), fg::graph_error);
}

TEST_CASE("backward(grad_out, retain_graph) keeps the graph for another backward") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector y = x * x;
  y.backward(Vector{1, 10}, fg::retain_graph);
  y.backward(Vector{1, 10});
  CHECK(elements(x.grad()) == std::vector<double>{4, 80});
}

TEST_CASE("an intermediate's retained gradient is not propagated again by a second backward") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x * x;
  h.retain_grad();
  Scalar loss = fg::sum(h * 3.0);
  loss.backward(fg::retain_graph);
  loss.backward();
  CHECK(elements(h.grad()) == std::vector<double>{6, 6});
  CHECK(elements(x.grad()) == std::vector<double>{12, 24});
}

// Each call runs on a new thread, whose passes are numbered from the start again: a
// pass that left its marks on the nodes would make the next one skip them.
template <class F>
void on_new_thread(F&& f) {
  std::thread(std::forward<F>(f)).join();
}

TEST_CASE("backward on a new thread after backward(retain_graph) on another reaches every node again") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x * x;
  Scalar loss = fg::sum(h * 3.0);
  on_new_thread([&] { loss.backward(fg::retain_graph); });
  CHECK(elements(x.grad()) == std::vector<double>{6, 12});
  on_new_thread([&] { loss.backward(); });
  CHECK(elements(x.grad()) == std::vector<double>{12, 24});
}

TEST_CASE("a backward that failed on one thread runs on another") {
  Vector x{1, 2, 3};
  x.requires_grad(true);
  bool fail = true;
  Vector h = fg::map(
      x, [](auto v) { return v * v; },
      [&fail](auto v) {
        if (fail) throw std::runtime_error("derivative failed");
        return 2 * v;
      });
  Scalar loss = fg::sum(h * 2.0);
  on_new_thread([&] { CHECK_THROWS_AS(loss.backward(), std::runtime_error); });
  fail = false;
  on_new_thread([&] { loss.backward(); });
  CHECK(elements(x.grad()) == std::vector<double>{4, 8, 12});
}

TEST_CASE("a statement recorded on one thread from another thread's results runs its backward before theirs") {
  // 40 statements on one thread, then one on a new thread that reads their result: the
  // reverse pass must run the new thread's statement first, whatever each thread has
  // recorded before.
  Vector x{0.5, -1.5};
  x.requires_grad(true);
  Vector a = x;
  on_new_thread([&] {
    for (int i = 0; i < 40; ++i) a = a * 1.01;
  });
  Vector b = x;  // rebound on the other thread
  on_new_thread([&] { b = a * a; });
  Scalar loss = fg::sum(b + a);
  loss.backward();
  // a = c x with c = 1.01^40, loss = sum(c^2 x^2 + c x): d/dx = 2 c^2 x + c.
  const double c = std::pow(1.01, 40);
  check_close(elements(x.grad()), {2 * c * c * 0.5 + c, 2 * c * c * -1.5 + c}, 1e-12);
}

}  // TEST_SUITE("releasing the graph")

TEST_SUITE("misuse") {

TEST_CASE("grad() of a tensor that does not require grad throws graph_error") {
  Vector x{1, 2};
  CHECK_THROWS_AS(x.grad(), fg::graph_error);
  Vector y = x * 2.0;
  CHECK_THROWS_AS(y.grad(), fg::graph_error);
}

TEST_CASE("grad() of an intermediate without retain_grad throws graph_error, before and after backward") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x * x;
  Scalar loss = fg::sum(h);
  CHECK_THROWS_AS(h.grad(), fg::graph_error);
  loss.backward();
  CHECK_THROWS_AS(h.grad(), fg::graph_error);
  CHECK_THROWS_AS(loss.grad(), fg::graph_error);
}

TEST_CASE("backward() on a tensor that does not require grad throws graph_error") {
  Vector x{1, 2};
  Scalar total = fg::sum(x * x);
  CHECK_THROWS_AS(total.backward(), fg::graph_error);
  CHECK_THROWS_AS(x.backward(), fg::graph_error);
}

TEST_CASE("requires_grad(true) on a non-leaf tensor throws graph_error") {
  Vector x{1, 2};
  x.requires_grad(true);
  Vector h = x * x;
  CHECK(!h.is_leaf());
  CHECK_THROWS_AS(h.requires_grad(true), fg::graph_error);
}

TEST_CASE("retain_grad() on a tensor that does not require grad throws graph_error") {
  Vector x{1, 2};
  CHECK_THROWS_AS(x.retain_grad(), fg::graph_error);
}

}  // TEST_SUITE("misuse")

TEST_SUITE("cost") {

TEST_CASE("the reverse pass through 50 statements calls each statement's derivative once per element") {
  constexpr int depth = 50, n = 7;
  int function_calls = 0, derivative_calls = 0;
  auto f = [&function_calls](double v) {
    ++function_calls;
    return 0.5 * v + 1.0;
  };
  auto df = [&derivative_calls](double) {
    ++derivative_calls;
    return 0.5;
  };
  Vector x = Vector::ones(n);
  x.requires_grad(true);
  Vector h = x;
  for (int i = 0; i < depth; ++i) h = fg::map(h, f, df);
  Scalar loss = fg::sum(h);
  CHECK(function_calls == depth * n);  // the forward evaluates each statement once
  CHECK(derivative_calls == 0);

  function_calls = 0;
  loss.backward();
  CHECK(derivative_calls == depth * n);
  CHECK(function_calls == 0);  // the reverse pass needs only the derivative
  check_close(elements(x.grad()), std::vector<double>(n, std::pow(0.5, depth)));
}

}  // TEST_SUITE("cost")
