// fusegrad::Tensor: how tensors are made, read, shared, and how their gradients are
// seeded, read, accumulated and cleared.
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace fg = fusegrad;
using fg::testing::elements;


namespace {

using Scalar = fg::Tensor<double, 0>;
using Vector = fg::Tensor<double, 1>;
using Matrix = fg::Tensor<double, 2>;
using Cube = fg::Tensor<double, 3>;

template <int R>
using RowMajor = Eigen::Tensor<double, R, Eigen::RowMajor>;
template <int R>
using ColMajor = Eigen::Tensor<double, R, Eigen::ColMajor>;

// The message of the exception `f` throws ("" if it throws none).
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("construction") {

TEST_CASE("a Tensor copied from a row-major Eigen tensor has its dimensions and elements, and owns a copy") {
  RowMajor<2> e(2, 3);
  e.setValues({{1, 2, 3}, {4, 5, 6}});
  fg::Tensor<double, 2> t(e);
  CHECK(t.dimensions() == fg::Shape<2>{2, 3});
  CHECK(elements(t) == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(t(1, 2) == 6);
  e(0, 0) = 100;
  CHECK(t(0, 0) == 1);
}

TEST_CASE("a Tensor moved from a row-major Eigen tensor takes over its storage without copying") {
  RowMajor<2> e(2, 3);
  e.setValues({{1, 2, 3}, {4, 5, 6}});
  const double* storage = e.data();
  fg::Tensor<double, 2> t(std::move(e));
  CHECK(t.data() == storage);
  CHECK(elements(t) == std::vector<double>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("a Tensor from a column-major Eigen tensor names the same element by the same indices") {
  ColMajor<2> c(2, 3);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) c(i, j) = 10 * i + j;
  fg::Tensor<double, 2> t(c);
  CHECK(t.dimensions() == fg::Shape<2>{2, 3});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) CHECK(t(i, j) == c(i, j));
  // ... and stores them row-major, last index fastest.
  CHECK(elements(t) == std::vector<double>{0, 1, 2, 10, 11, 12});
}

TEST_CASE("a Tensor from a column-major rank-3 Eigen tensor, copied or moved, keeps every element's indices") {
  ColMajor<3> c(2, 3, 4);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) c(i, j, k) = 100 * i + 10 * j + k;
  fg::Tensor<double, 3> copied(c);
  fg::Tensor<double, 3> moved{ColMajor<3>(c)};
  CHECK(copied.dimensions() == fg::Shape<3>{2, 3, 4});
  CHECK(moved.dimensions() == fg::Shape<3>{2, 3, 4});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) {
        CHECK(copied(i, j, k) == 100 * i + 10 * j + k);
        CHECK(moved(i, j, k) == 100 * i + 10 * j + k);
      }
}

TEST_CASE("a Tensor from a rank-1 column-major Eigen tensor keeps its order") {
  ColMajor<1> c(3);
  c.setValues({7, 8, 9});
  fg::Tensor<double, 1> t(c);
  CHECK(elements(t) == std::vector<double>{7, 8, 9});
}

TEST_CASE("a Tensor built from dimensions is zero-filled") {
  fg::Tensor<double, 2> t(2, 3);
  CHECK(t.dimensions() == fg::Shape<2>{2, 3});
  CHECK(elements(t) == std::vector<double>(6, 0.0));
  fg::Tensor<float, 3> u(fg::Shape<3>{1, 2, 2});
  CHECK(u.size() == 4);
  CHECK(elements(u) == std::vector<double>(4, 0.0));
}

TEST_CASE("a negative dimension throws shape_error") {
  CHECK_THROWS_AS(Matrix(2, -1), fg::shape_error);
  CHECK_THROWS_AS(Vector::ones(-3), fg::shape_error);
  CHECK_THROWS_AS(Vector::random(-3), fg::shape_error);
}

TEST_CASE("nested initializer lists fill a Tensor in row-major order") {
  fg::Tensor<double, 1> v{1, 2, 3};
  CHECK(v.dimensions() == fg::Shape<1>{3});
  CHECK(elements(v) == std::vector<double>{1, 2, 3});

  fg::Tensor<double, 2> m{{1, 2, 3}, {4, 5, 6}};
  CHECK(m.dimensions() == fg::Shape<2>{2, 3});
  CHECK(elements(m) == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(m(1, 0) == 4);

  fg::Tensor<double, 3> c{{{1, 2}, {3, 4}, {5, 6}}, {{7, 8}, {9, 10}, {11, 12}}};
  CHECK(c.dimensions() == fg::Shape<3>{2, 3, 2});
  CHECK(c(1, 2, 0) == 11);
  CHECK(elements(c) == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

TEST_CASE("braces hold elements while parentheses hold dimensions") {
  fg::Tensor<double, 1> elements_3{3};
  fg::Tensor<double, 1> three_zeros(3);
  CHECK(elements(elements_3) == std::vector<double>{3});
  CHECK(elements(three_zeros) == std::vector<double>{0, 0, 0});
}

TEST_CASE("non-rectangular nested lists throw shape_error") {
  CHECK_THROWS_AS(Matrix({{1, 2, 3}, {4, 5}}), fg::shape_error);
  CHECK_THROWS_AS(Matrix({{1, 2}, {3, 4}, {5}}), fg::shape_error);
  CHECK_THROWS_AS(Cube({{{1, 2}, {3, 4}}, {{5, 6}, {7}}}), fg::shape_error);
  CHECK_THROWS_AS(Cube({{{1, 2}, {3, 4}}, {{5, 6}}}), fg::shape_error);
}

TEST_CASE("zeros, ones and constant fill a Tensor of the given dimensions") {
  auto z = fg::Tensor<double, 2>::zeros(2, 2);
  auto o = fg::Tensor<double, 2>::ones(fg::Shape<2>{3, 1});
  auto c = fg::Tensor<float, 1>::constant({4}, 2.5f);
  CHECK(z.dimensions() == fg::Shape<2>{2, 2});
  CHECK(elements(z) == std::vector<double>(4, 0.0));
  CHECK(o.dimensions() == fg::Shape<2>{3, 1});
  CHECK(elements(o) == std::vector<double>(3, 1.0));
  CHECK(c.dimensions() == fg::Shape<1>{4});
  CHECK(elements(c) == std::vector<double>(4, 2.5));
}

TEST_CASE("random fills a Tensor uniformly in [-1, 1)") {
  auto r = fg::Tensor<double, 2>::random(50, 40);
  double lowest = 1, highest = -1, total = 0;
  for (double v : elements(r)) {
    lowest = std::min(lowest, v);
    highest = std::max(highest, v);
    total += v;
  }
  CHECK(lowest >= -1.0);
  CHECK(highest < 1.0);
  // 2000 samples of U(-1, 1): the extremes come near the bounds and the mean near 0.
  CHECK(lowest < -0.95);
  CHECK(highest > 0.95);
  CHECK(std::abs(total / 2000) < 0.1);
  auto f = fg::Tensor<float, 1>::random(100);
  for (double v : elements(f)) CHECK((v >= -1.0 && v < 1.0));
}

TEST_CASE("manual_seed makes random reproducible") {
  fg::manual_seed(42);
  auto a = fg::Tensor<double, 1>::random(16);
  auto b = fg::Tensor<double, 1>::random(16);
  fg::manual_seed(42);
  auto again = fg::Tensor<double, 1>::random(16);
  CHECK(elements(again) == elements(a));
  CHECK(elements(b) != elements(a));
  fg::manual_seed(43);
  CHECK(elements(fg::Tensor<double, 1>::random(16)) != elements(a));
}

}  // TEST_SUITE("construction")

TEST_SUITE("access") {

TEST_CASE("value() is the row-major Eigen tensor and dimensions() its dimensions") {
  fg::Tensor<double, 2> t{{1, 2}, {3, 4}, {5, 6}};
  const RowMajor<2>& v = t.value();
  CHECK(v.dimension(0) == 3);
  CHECK(v.dimension(1) == 2);
  CHECK(v(2, 1) == 6);
  CHECK(t.dimensions() == fg::Shape<2>{3, 2});
  CHECK(t.dimension(0) == 3);
  CHECK(t.size() == 6);
}

TEST_CASE("item() reads a rank-0 tensor, whether built from a number or a reduction") {
  fg::Tensor<double, 0> s = 2.5;
  CHECK(s.item() == 2.5);
  CHECK(s.dimensions().empty());
  fg::Tensor<double, 2> m{{1, 2}, {3, 4}};
  fg::Tensor<double, 0> total = fg::sum(m);
  CHECK(total.item() == 10);
  CHECK(fg::Tensor<double, 0>::zeros().item() == 0);
}

TEST_CASE("elementwise arithmetic on rank-0 tensors computes their values") {
  fg::Tensor<double, 0> a = 2.0, b = 3.0;
  fg::Tensor<double, 1> x{1, 2, 3};
  fg::Tensor<double, 0> product = a * b;
  fg::Tensor<double, 0> shifted = a + 1.0;
  fg::Tensor<double, 0> reductions = fg::sum(x) + fg::max(x);
  fg::Tensor<double, 0> chosen = fg::where(a > 0.0, a, 0.0);
  CHECK(product.item() == 6);
  CHECK(shifted.item() == 3);
  CHECK(reductions.item() == 9);
  CHECK(chosen.item() == 2);
}

}  // TEST_SUITE("access")

TEST_SUITE("handles") {

TEST_CASE("copies of a Tensor share its value") {
  fg::Tensor<double, 1> a{1, 2, 3};
  fg::Tensor<double, 1> b = a;
  CHECK(b.data() == a.data());
  b.mutable_value()(0) = 5;
  CHECK(a(0) == 5);
}

TEST_CASE("copies of a Tensor share its gradient") {
  fg::Tensor<double, 1> a{1, 2, 3};
  a.requires_grad(true);
  fg::Tensor<double, 1> b = a;
  CHECK(b.requires_grad());
  fg::Tensor<double, 0> loss = fg::sum(b * b);
  loss.backward();
  CHECK(elements(a.grad()) == std::vector<double>{2, 4, 6});
  CHECK(&a.grad() == &b.grad());
  b.zero_grad();
  CHECK(elements(a.grad()) == std::vector<double>{0, 0, 0});
}

TEST_CASE("assigning an expression to a handle rebinds only that handle") {
  fg::Tensor<double, 1> a{1, 2, 3};
  fg::Tensor<double, 1> b = a;
  a = a * 2.0;
  CHECK(elements(a) == std::vector<double>{2, 4, 6});
  CHECK(elements(b) == std::vector<double>{1, 2, 3});
  b = b + 1.0;
  CHECK(elements(a) == std::vector<double>{2, 4, 6});
  CHECK(elements(b) == std::vector<double>{2, 3, 4});
}

TEST_CASE("rebinding a handle to an expression of itself differentiates through the old value") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 1> h = x;
  h = h * h;  // h = x^2
  h = h * x;  // h = x^3
  CHECK(!h.is_leaf());
  CHECK(x.is_leaf());
  fg::Tensor<double, 0> loss = fg::sum(h);
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{3, 12, 27});
}

}  // TEST_SUITE("handles")

TEST_SUITE("gradients") {

TEST_CASE("grad() of a leaf that requires grad is zeros of its shape before any backward") {
  auto x = fg::Tensor<double, 2>::ones(2, 3);
  x.requires_grad(true);
  const RowMajor<2>& g = x.grad();
  CHECK(g.dimension(0) == 2);
  CHECK(g.dimension(1) == 3);
  CHECK(elements(g) == std::vector<double>(6, 0.0));
}

TEST_CASE("grad() of a leaf that backward never reached is zeros of its shape") {
  fg::Tensor<double, 1> x{1, 2}, unused{3, 4, 5};
  x.requires_grad(true);
  unused.requires_grad(true);
  fg::Tensor<double, 0> loss = fg::sum(x * 3.0);
  loss.backward();
  CHECK(elements(unused.grad()) == std::vector<double>{0, 0, 0});
}

TEST_CASE("a gradient accumulates over the statements a tensor is used in") {
  fg::Tensor<double, 1> x{1, 2};
  x.requires_grad(true);
  fg::Tensor<double, 1> doubled = x * 2.0;
  fg::Tensor<double, 1> tripled = x * 3.0;
  fg::Tensor<double, 0> loss = fg::sum(doubled + tripled);
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{5, 5});
}

TEST_CASE("a gradient accumulates across backward calls until zero_grad()") {
  fg::Tensor<double, 1> x{1, 2};
  x.requires_grad(true);
  for (int step = 1; step <= 3; ++step) {
    fg::Tensor<double, 0> loss = fg::sum(x * x);
    loss.backward();
    CHECK(elements(x.grad()) == std::vector<double>{2.0 * step, 4.0 * step});
  }
  x.zero_grad();
  CHECK(elements(x.grad()) == std::vector<double>{0, 0});
  fg::Tensor<double, 0> loss = fg::sum(x * x);
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{2, 4});
}

TEST_CASE("zero_grad() before any backward leaves a zero gradient") {
  fg::Tensor<double, 1> x{1, 2};
  x.requires_grad(true);
  x.zero_grad();
  CHECK(elements(x.grad()) == std::vector<double>{0, 0});
}

TEST_CASE("detach() gives a tensor with the same value through which no gradient flows") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 1> d = x.detach();
  CHECK(elements(d) == elements(x));
  CHECK(!d.requires_grad());
  CHECK(d.is_leaf());
  fg::Tensor<double, 0> loss = fg::sum(x * d);  // d/dx = d, not 2x
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{1, 2, 3});
  CHECK_THROWS_AS(d.grad(), fg::graph_error);
}

TEST_CASE("detach() of an intermediate cuts the graph there") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 1> squared = x * x;
  fg::Tensor<double, 1> cut = squared.detach();
  CHECK(elements(cut) == std::vector<double>{1, 4, 9});
  CHECK(!cut.requires_grad());
  fg::Tensor<double, 0> loss = fg::sum(cut * x);
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{1, 4, 9});
}

TEST_CASE("in a no_grad scope results do not require grad and backward on them throws") {
  fg::Tensor<double, 1> x{1, 2};
  x.requires_grad(true);
  {
    fg::no_grad scope;
    CHECK(!fg::grad_enabled());
    fg::Tensor<double, 1> y = x * 2.0;
    fg::Tensor<double, 0> s = fg::sum(y);
    CHECK(elements(y) == std::vector<double>{2, 4});
    CHECK(!y.requires_grad());
    CHECK(!s.requires_grad());
    CHECK_THROWS_AS(s.backward(), fg::graph_error);
  }
  CHECK(fg::grad_enabled());
  fg::Tensor<double, 1> recorded = x * 2.0;
  CHECK(recorded.requires_grad());
}

TEST_CASE("nested no_grad scopes restore recording only when the outermost ends") {
  {
    fg::no_grad outer;
    {
      fg::no_grad inner;
      CHECK(!fg::grad_enabled());
    }
    CHECK(!fg::grad_enabled());
  }
  CHECK(fg::grad_enabled());
}

TEST_CASE("retain_grad() keeps an intermediate's gradient after backward") {
  fg::Tensor<double, 1> x{1, 2};
  x.requires_grad(true);
  fg::Tensor<double, 1> h = x * x;
  h.retain_grad();
  fg::Tensor<double, 0> loss = fg::sum(h * 3.0);
  loss.backward();
  CHECK(elements(h.grad()) == std::vector<double>{3, 3});
  CHECK(elements(x.grad()) == std::vector<double>{6, 12});
}

TEST_CASE("backward() on a scalar seeds 1") {
  fg::Tensor<double, 0> x = 3.0;
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::square(x);
  y.backward();
  CHECK(x.grad()() == 6);
  fg::Tensor<double, 1> v{1, 2};
  v.requires_grad(true);
  fg::Tensor<double, 0> total = fg::sum(v * v);
  total.backward();
  CHECK(elements(v.grad()) == std::vector<double>{2, 4});
}

TEST_CASE("backward() on a non-scalar output seeds ones") {
  fg::Tensor<double, 2> x{{1, 2}, {3, 4}};
  x.requires_grad(true);
  fg::Tensor<double, 2> y = x * x;
  y.backward();  // as sum(y).backward()
  CHECK(elements(x.grad()) == std::vector<double>{2, 4, 6, 8});
}

TEST_CASE("backward(grad_out) takes the output's gradient as a fusegrad Tensor") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  fg::Tensor<double, 1> y = x * x;
  y.backward(fg::Tensor<double, 1>{1, 10, 100});
  CHECK(elements(x.grad()) == std::vector<double>{2, 40, 600});
}

TEST_CASE("backward(grad_out) takes the output's gradient as a row-major Eigen tensor") {
  fg::Tensor<double, 2> x{{1, 2}, {3, 4}};
  x.requires_grad(true);
  fg::Tensor<double, 2> y = x * x;
  RowMajor<2> g(2, 2);
  g.setValues({{1, 10}, {100, 1000}});
  y.backward(g);
  CHECK(elements(x.grad()) == std::vector<double>{2, 40, 600, 8000});
}

TEST_CASE("backward(grad_out) of the wrong shape throws shape_error naming both shapes") {
  fg::Tensor<double, 2> x = fg::Tensor<double, 2>::ones(2, 3);
  x.requires_grad(true);
  fg::Tensor<double, 2> y = x * 2.0;
  const std::string message = message_of([&] { y.backward(fg::Tensor<double, 2>::ones(3, 2)); });
  CHECK(contains(message, "backward"));
  CHECK(contains(message, "(2, 3)"));
  CHECK(contains(message, "(3, 2)"));
  CHECK_THROWS_AS(y.backward(RowMajor<2>(2, 2)), fg::shape_error);
  // Nothing was accumulated by the refused calls: the graph is still usable.
  y.backward();
  CHECK(elements(x.grad()) == std::vector<double>(6, 2.0));
}

TEST_CASE("an expression held in auto stays valid after the tensors it was built from go out of scope") {
  fg::Tensor<double, 1> x{1, 2, 3};
  x.requires_grad(true);
  auto build = [&x] {
    fg::Tensor<double, 1> doubled = x * 2.0;   // an intermediate on the tape
    fg::Tensor<double, 1> weights{10, 20, 30};  // a leaf
    return doubled * weights + fg::sum(weights);
  };
  auto expression = build();  // every handle the expression names is gone
  // Reuse the stack the handles lived on.
  volatile double scratch[256];
  for (int i = 0; i < 256; ++i) scratch[i] = -1.0;
  (void)scratch;
  fg::Tensor<double, 1> y = expression;
  CHECK(elements(y) == std::vector<double>{80, 140, 240});
  y.backward();
  CHECK(elements(x.grad()) == std::vector<double>{20, 40, 60});
}

}  // TEST_SUITE("gradients")
