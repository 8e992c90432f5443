// Misuse of handles and of the tape between a forward statement and its backward: a
// value changed or resized in place, requires_grad switched, a moved-from handle, a
// gradient view kept across steps, and an exception thrown by user code in the middle of
// backward. Each gives a clear fusegrad exception or the right numbers, never a crash or
// a silently wrong gradient.
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fg = fusegrad;
using fg::testing::elements;

namespace {

template <class F>
std::string graph_error_of(F&& f) {
  try {
    f();
  } catch (const fg::graph_error& e) {
    return e.what();
  }
  FAIL("no fusegrad::graph_error was thrown");
  return "";
}

std::vector<double> doubled(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v) out.push_back(2 * x);
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("a leaf changed in place between forward and backward is refused at backward", S, double, float) {
  fg::Tensor<S, 1> x{1, 2, 3}, w{10, 20, 30};
  w.requires_grad(true);
  fg::Tensor<S, 0> y = fg::sum(x * w);
  x.mutable_value() = x.value() * S(10);
  const std::string message = graph_error_of([&] { y.backward(); });
  CHECK(message.find("shape (3,)") != std::string::npos);
  CHECK(message.find("modified in place") != std::string::npos);
  // Nothing was accumulated.
  CHECK(elements(w.grad()) == std::vector<double>{0, 0, 0});
}

TEST_CASE("a leaf changed in place between forward and backward is refused on the fused-sum path too") {
  fg::Tensor<double, 1> w{1, 2, 3};
  w.requires_grad(true);
  fg::Tensor<double, 0> y = fg::sum(fg::exp(w) * fg::sin(w));  // gradients computed with the value
  w.mutable_value()(0) = 5;
  graph_error_of([&] { y.backward(); });
  CHECK(elements(w.grad()) == std::vector<double>{0, 0, 0});
}

TEST_CASE("an intermediate changed in place after the statement that read it is refused at backward") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 1> h = fg::tanh(x);
  fg::Tensor<double, 0> y = fg::sum(h * h);
  h.mutable_value()(1) = 0;
  graph_error_of([&] { y.backward(); });
}

TEST_CASE("a leaf changed in place before an expression held in auto is evaluated is read as changed") {
  fg::Tensor<double, 1> x{1, 2, 3}, w{1, 1, 1};
  w.requires_grad(true);
  auto loss = fg::sum(x * w);
  x.mutable_value()(0) = 4;  // before evaluation: the forward and backward both see it
  fg::Tensor<double, 0> y = loss;
  y.backward();
  CHECK(y.item() == 9);
  CHECK(elements(w.grad()) == std::vector<double>{4, 2, 3});
}

TEST_CASE("resizing a leaf's value while an unevaluated expression refers to it is a shape_error") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  auto e = fg::exp(x) + 1.0;
  x.mutable_value().resize(1000);
  CHECK_THROWS_AS((fg::Tensor<double, 1>(e)), fg::shape_error);
}

TEST_CASE("resizing a leaf's value between forward and backward is refused at backward") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 1> y = fg::exp(x) * 2.0;
  x.mutable_value().resize(1000);
  graph_error_of([&] { y.backward(); });
}

TEST_CASE("switching requires_grad off on a leaf between forward and backward is refused at backward") {
  fg::Tensor<double, 1> x{1, 2, 3}, w{10, 20, 30};
  x.requires_grad(true);
  w.requires_grad(true);
  fg::Tensor<double, 0> y = fg::sum(x * w);
  x.requires_grad(false);
  const std::string message = graph_error_of([&] { y.backward(); });
  CHECK(message.find("requires_grad") != std::string::npos);
  CHECK(elements(w.grad()) == std::vector<double>{0, 0, 0});
}

TEST_CASE("switching requires_grad on for a leaf between forward and backward is refused at backward") {
  fg::Tensor<double, 1> x{1, 2, 3}, w{10, 20, 30};
  w.requires_grad(true);
  fg::Tensor<double, 0> y = fg::sum(x * w);
  x.requires_grad(true);
  graph_error_of([&] { y.backward(); });
  CHECK(elements(w.grad()) == std::vector<double>{0, 0, 0});
}

TEST_CASE("setting requires_grad to the value it has already changes nothing") {
  fg::Tensor<double, 1> x{1, 2, 3}, w{10, 20, 30};
  w.requires_grad(true);
  fg::Tensor<double, 0> y = fg::sum(x * w);
  w.requires_grad(true);
  x.requires_grad(false);
  y.backward();
  CHECK(elements(w.grad()) == std::vector<double>{1, 2, 3});
}

TEST_CASE("a view of a gradient kept across steps stays valid when the loss takes the fused-sum path") {
  // An optimizer that keeps Eigen maps of the gradients, as third-party ones do.
  fg::Tensor<double, 1> w{0.5, -0.25, 1.0};
  w.requires_grad(true);
  fg::Tensor<double, 0>(fg::sum(fg::square(w))).backward();  // allocates the gradient
  const Eigen::Map<const Eigen::VectorXd> gradient = fg::as_vector(w.grad());
  std::vector<double> reference{0.5, -0.25, 1.0};
  for (int step = 0; step < 20; ++step) {
    w.zero_grad();
    fg::Tensor<double, 0> loss = fg::sum(fg::square(w) * 3.0 + fg::sin(w));
    loss.backward();
    for (int i = 0; i < 3; ++i) {
      w.mutable_value()(i) -= 0.01 * gradient(i);
      reference[std::size_t(i)] -= 0.01 * (6 * reference[std::size_t(i)] + std::cos(reference[std::size_t(i)]));
    }
  }
  const std::vector<double> got = elements(w.value());
  for (int i = 0; i < 3; ++i) CHECK(got[std::size_t(i)] == doctest::Approx(reference[std::size_t(i)]).epsilon(1e-12));
}

TEST_CASE("a moved-from tensor used again is a graph_error, not a crash") {
  fg::Tensor<double, 1> a{1, 2, 3};
  fg::Tensor<double, 1> b = std::move(a);
  CHECK(b.size() == 3);
  const std::string message = graph_error_of([&] { (void)a.size(); });
  CHECK(message.find("moved-from") != std::string::npos);
  graph_error_of([&] { (void)(a * 2.0); });
  graph_error_of([&] { (void)a.value(); });
  graph_error_of([&] { a.requires_grad(true); });
  // Assigning to it makes it usable again.
  a = b * 2.0;
  CHECK(elements(a.value()) == std::vector<double>{2, 4, 6});
}

TEST_CASE("a user derivative that throws mid-backward leaves the gradients as they were, and backward can run again") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  bool fail = true;
  auto squared = [&](const auto& t) {
    return fg::map(
        t, [](auto v) { return v * v; },
        [&fail](auto v) {
          if (fail) throw std::runtime_error("derivative failed");
          return 2 * v;
        });
  };
  fg::Tensor<double, 1> h = squared(x);   // a statement of its own: runs in the reverse pass
  fg::Tensor<double, 0> y = fg::sum(h * 2.0);
  CHECK_THROWS_AS(y.backward(), std::runtime_error);
  CHECK(elements(x.grad()) == std::vector<double>{0, 0, 0});
  fail = false;
  y.backward();
  CHECK(elements(x.grad()) == std::vector<double>{4, 8, 12});
}

TEST_CASE("an exception mid-backward restores gradients accumulated by an earlier backward") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 0>(fg::sum(x * 2.0)).backward();  // x.grad() = {2, 2, 2}
  bool fail = true;
  fg::Tensor<double, 1> h = fg::map(
      x, [](auto v) { return v * v; },
      [&fail](auto v) {
        if (fail) throw std::runtime_error("derivative failed");
        return 2 * v;
      });
  fg::Tensor<double, 1> k = h * 3.0;
  fg::Tensor<double, 0> y = fg::sum(k + x);  // x receives a contribution before h's backward fails
  CHECK_THROWS_AS(y.backward(), std::runtime_error);
  CHECK(elements(x.grad()) == std::vector<double>{2, 2, 2});
  fail = false;
  y.backward();
  CHECK(elements(x.grad()) == std::vector<double>{2 + 1 + 6, 2 + 1 + 12, 2 + 1 + 18});
}

TEST_CASE("an exception in a fused-sum statement's derivative is raised at evaluation and records nothing") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  auto throwing = [](const auto& t) {
    return fg::map(
        t, [](auto v) { return v; }, [](auto) -> double { throw std::runtime_error("derivative failed"); });
  };
  // The full sum computes its gradients with its value, so the derivative runs here.
  CHECK_THROWS_AS((fg::Tensor<double, 0>(fg::sum(throwing(x)))), std::runtime_error);
  fg::Tensor<double, 0> z = fg::sum(x * x);
  z.backward();
  CHECK(elements(x.grad()) == doubled({1, 2, 3}));
}
