// Custom functions (fg::apply): an operation fusegrad cannot see into, with its own
// backward, takes part in graphs like a built-in one. Gradients are checked against
// central differences through the generic checker.
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"
#include "../support/gradient_check.hpp"

#include <doctest/doctest.h>

#include <Eigen/Dense>

#include <any>
#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace fg = fusegrad;
using fg::testing::elements;

namespace {

using Vector = fg::EigenTensor<double, 1>;
using Matrix = fg::EigenTensor<double, 2>;
using MatrixMap = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
using VectorMap = Eigen::Map<const Eigen::VectorXd>;

// x = A^{-1} b for a symmetric positive definite A, through Eigen's Cholesky
// factorisation; backward by the implicit adjoint: g_b = A^{-1} g, g_A = -g_b x^T.
struct Solve {
  static constexpr const char* name = "solve";
  Eigen::LLT<Eigen::MatrixXd> llt;
  Eigen::VectorXd x;
  int backward_calls = 0;

  Vector forward(const Matrix& A, const Vector& b) {
    llt.compute(MatrixMap(A.data(), A.dimension(0), A.dimension(1)));
    if (llt.info() != Eigen::Success) throw std::runtime_error("solve: A is not positive definite");
    x = llt.solve(VectorMap(b.data(), b.size()));
    Vector out(x.size());
    Eigen::Map<Eigen::VectorXd>(out.data(), out.size()) = x;
    return out;
  }
  std::tuple<Matrix, Vector> backward(const Vector& g, const std::array<bool, 2>& needs) {
    Eigen::VectorXd gb = llt.solve(VectorMap(g.data(), g.size()));
    Matrix gA(x.size(), x.size());
    if (needs[0])
      Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(gA.data(), x.size(),
                                                                                          x.size()) = -gb * x.transpose();
    Vector out(gb.size());
    Eigen::Map<Eigen::VectorXd>(out.data(), out.size()) = gb;
    return {gA, out};
  }
};

// A black box from a C library: a value and its gradient through pointers.
extern "C" double black_box(const double* x, int n, double* gradient) {
  double value = 0;
  for (int i = 0; i < n; ++i) {
    value += std::sin(x[i]) * (i + 1);
    gradient[i] = std::cos(x[i]) * (i + 1);
  }
  return value;
}

struct BlackBox {
  Vector gradient;
  fg::EigenTensor<double, 0> forward(const Vector& x) {
    gradient = Vector(x.size());
    fg::EigenTensor<double, 0> value;
    value() = black_box(x.data(), int(x.size()), gradient.data());
    return value;
  }
  Vector backward(const fg::EigenTensor<double, 0>& g) { return gradient * g(); }
};

// An SPD matrix from any square matrix M: M M^T + n I, in fused expressions.
template <class T>
auto spd(const T& m) {
  const auto n = m.dimension(0);
  fg::EigenTensor<double, 2> identity(n, n);
  identity.setZero();
  for (Eigen::Index i = 0; i < n; ++i) identity(i, i) = double(n);
  return fg::matmul(m, fg::transpose(m)) + fg::Tensor<double, 2>(identity);
}

}  // namespace

TEST_CASE("a linear solve through Eigen's LLT has the gradients of the implicit adjoint, for A and b at once") {
  fg::manual_seed(3);
  auto m = fg::Tensor<double, 2>::random(4, 4);
  auto b = fg::Tensor<double, 1>::random(4);
  auto f = [](const fg::Tensor<double, 2>& m, const fg::Tensor<double, 1>& b) {
    fg::Tensor<double, 1> x = fg::apply(Solve{}, spd(m), b * 2.0 + 1.0);  // expressions in
    return fg::sum(fg::tanh(x) * x);                                   // and out
  };
  const auto report = fg::check_gradients(f, m, b);
  INFO("worst error ", report.worst_error, " input ", report.input, " element ", report.element);
  CHECK(report.within(1e-6));
}

TEST_CASE("a custom function's value is what its forward returns") {
  Matrix A(2, 2);
  A.setValues({{4, 1}, {1, 3}});
  fg::Tensor<double, 1> b{1, 2};
  fg::Tensor<double, 1> x = fg::apply(Solve{}, fg::Tensor<double, 2>(A), b);
  CHECK(x(0) == doctest::Approx(1.0 / 11));
  CHECK(x(1) == doctest::Approx(7.0 / 11));
  CHECK_FALSE(x.requires_grad());
}

TEST_CASE("a black-box C function returning its own gradient is differentiated through fg::apply") {
  fg::Tensor<double, 1> x{0.1, 0.7, -1.2};
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::apply(BlackBox{}, fg::exp(x));
  fg::Tensor<double, 0> z = y * y;
  z.backward();
  const double value = std::sin(std::exp(0.1)) + 2 * std::sin(std::exp(0.7)) + 3 * std::sin(std::exp(-1.2));
  CHECK(y.item() == doctest::Approx(value));
  const std::vector<double> xs{0.1, 0.7, -1.2};
  for (int i = 0; i < 3; ++i)
    CHECK(x.grad()(i) == doctest::Approx(2 * value * std::cos(std::exp(xs[i])) * (i + 1) * std::exp(xs[i])));
}

TEST_CASE("a custom function whose output feeds two later statements gets its gradient from both") {
  fg::Tensor<double, 1> x{0.3, -0.4};
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::apply(BlackBox{}, x);
  fg::Tensor<double, 0> first = y * 3.0;
  fg::Tensor<double, 0> second = fg::exp(y);
  fg::Tensor<double, 0> total = first + second;
  total.backward();
  const double v = std::sin(0.3) + 2 * std::sin(-0.4);
  CHECK(x.grad()(0) == doctest::Approx((3 + std::exp(v)) * std::cos(0.3)));
  CHECK(x.grad()(1) == doctest::Approx((3 + std::exp(v)) * 2 * std::cos(-0.4)));
}

TEST_CASE("a custom function skips the gradients nobody needs and accumulates into a leaf used twice") {
  Matrix A(2, 2);
  A.setValues({{4, 1}, {1, 3}});
  fg::Tensor<double, 2> a(A);
  fg::Tensor<double, 1> b{1, 2};
  b.requires_grad(true);
  fg::Tensor<double, 1> x = fg::apply(Solve{}, a, b);
  fg::Tensor<double, 0> loss = fg::sum(x) + fg::sum(b);
  loss.backward();
  // d sum(A^{-1} b)/db = A^{-T} 1 = A^{-1} 1 (A symmetric), plus 1 from the second use.
  CHECK(b.grad()(0) == doctest::Approx(2.0 / 11 + 1));
  CHECK(b.grad()(1) == doctest::Approx(3.0 / 11 + 1));
}

TEST_CASE("a custom function works with retain_graph, backward(grad_out), no_grad and detach") {
  fg::Tensor<double, 1> x{0.3, -0.4};
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::apply(BlackBox{}, x);
  y.backward(fg::retain_graph);
  y.backward(fg::Tensor<double, 0>(2.0));
  CHECK(x.grad()(0) == doctest::Approx(3 * std::cos(0.3)));
  CHECK_THROWS_AS(y.backward(), fg::graph_error);  // freed by the second backward
  {
    fg::no_grad off;
    fg::Tensor<double, 0> z = fg::apply(BlackBox{}, x);
    CHECK_FALSE(z.requires_grad());
  }
  fg::Tensor<double, 0> d = fg::apply(BlackBox{}, x).detach();
  CHECK_FALSE(d.requires_grad());
}

namespace {
struct Wrong {
  static constexpr const char* name = "wrong";
  Vector forward(const Vector& x) { return x; }
  Vector backward(const Vector&) { return Vector(7); }
};
}  // namespace

namespace {
// sum(x), whose backward drops the last handle to the tensor being differentiated.
struct DropsTheRoot {
  fg::Tensor<double, 0>* root;
  fg::EigenTensor<double, 0> forward(const Vector& x) {
    fg::EigenTensor<double, 0> total;
    total() = 0;
    for (Eigen::Index i = 0; i < x.size(); ++i) total() += x.data()[i];
    size = x.size();
    return total;
  }
  Vector backward(const fg::EigenTensor<double, 0>& g) {
    *root = fg::Tensor<double, 0>(-1.0);
    Vector out(size);
    out.setConstant(g());
    return out;
  }
  Eigen::Index size = 0;
};
}  // namespace

TEST_CASE("a custom backward that drops the last handle to the tensor being differentiated loses nothing") {
  fg::Tensor<double, 1> x{1.0, 2.0, 3.0};
  x.requires_grad(true);
  fg::Tensor<double, 0> loss(0.0);
  {
    fg::Tensor<double, 0> y = fg::apply(DropsTheRoot{&loss}, x);
    loss = y * 3.0;
  }  // loss alone holds the graph now, and the backward below replaces it
  loss.backward();
  CHECK(elements(x.grad()) == std::vector<double>{3.0, 3.0, 3.0});
  CHECK(loss.item() == -1.0);
  CHECK_FALSE(loss.requires_grad());
}

TEST_CASE("a custom function whose backward returns a gradient of the wrong shape is a shape_error naming it") {
  fg::Tensor<double, 1> x{1, 2};
  x.requires_grad(true);
  fg::Tensor<double, 1> y = fg::apply(Wrong{}, x);
  const std::string message = fg::testing::shape_error_of([&] { y.backward(); });
  CHECK(message.find("wrong") != std::string::npos);
  CHECK(message.find("(7,)") != std::string::npos);
  CHECK(elements(x.grad()) == std::vector<double>{0, 0});
}

TEST_CASE("fg::grad and fg::vjp differentiate through a custom function") {
  fg::Tensor<double, 1> x{0.2, 0.5, -0.1};
  auto f = [](const fg::Tensor<double, 1>& v) { return fg::apply(BlackBox{}, v * 2.0); };
  const auto g = fg::grad(f, x);
  for (int i = 0; i < 3; ++i) CHECK(g(i) == doctest::Approx(2 * (i + 1) * std::cos(2 * x(i))));
  auto h = [](const fg::Tensor<double, 1>& v) { return fg::square(fg::apply(BlackBox{}, v)); };
  const auto gh = fg::grad(h, x);  // an expression over a custom function's output
  double value = 0;
  for (int i = 0; i < 3; ++i) value += std::sin(x(i)) * (i + 1);
  for (int i = 0; i < 3; ++i) CHECK(gh(i) == doctest::Approx(2 * value * (i + 1) * std::cos(x(i))));
}

namespace {

// y = x^3 elementwise on plain numbers, with a tangent rule.
struct Cube {
  static constexpr const char* name = "cube";
  Vector saved;
  Vector forward(const Vector& x) {
    saved = x;
    return x * x * x;
  }
  Vector jvp(const Vector& tangent) { return saved.square() * 3.0 * tangent; }
  Vector backward(const Vector& g) { return saved.square() * 3.0 * g; }
};

// x^2 with neither a tangent rule nor generic code.
struct Square {
  static constexpr const char* name = "square";
  Vector saved;
  Vector forward(const Vector& x) {
    saved = x;
    return x * x;
  }
  Vector backward(const Vector& g) { return saved * 2.0 * g; }
};

// The same with forward and backward generic, so that both the values and the tangents
// of x reach backward.
struct GenericCube {
  static constexpr const char* name = "generic cube";
  template <class S>
  fg::EigenTensor<S, 1> forward(const fg::EigenTensor<S, 1>& x) {
    fg::EigenTensor<S, 1> out(x.dimensions());
    for (Eigen::Index i = 0; i < x.size(); ++i) out(i) = x(i) * x(i) * x(i);
    stored = std::make_shared<std::any>(x);
    return out;
  }
  template <class S>
  fg::EigenTensor<S, 1> backward(const fg::EigenTensor<S, 1>& g) {
    const auto& x = std::any_cast<const fg::EigenTensor<S, 1>&>(*stored);
    fg::EigenTensor<S, 1> out(g.dimensions());
    for (Eigen::Index i = 0; i < g.size(); ++i) out(i) = S(3) * x(i) * x(i) * g(i);
    return out;
  }
  std::shared_ptr<std::any> stored;
};

}  // namespace

TEST_CASE("a custom function with a tangent rule gives fg::jvp and forward-mode jacobians") {
  fg::Tensor<double, 1> x{1, 2, 3};
  fg::Tensor<double, 1> v{1, 0, -1};
  auto f = [](const auto& t) { return fg::apply(Cube{}, t); };
  const auto [value, tangent] = fg::jvp(f, x, v);
  CHECK(elements(value) == std::vector<double>{1, 8, 27});
  CHECK(elements(tangent) == std::vector<double>{3, 0, -27});
  const auto J = fg::jacobian(f, x, fg::mode::forward);
  CHECK(J(1, 1) == doctest::Approx(12));
  CHECK(J(0, 1) == 0);
}

TEST_CASE("fg::hessian runs through a custom function generic in its scalar type") {
  fg::Tensor<double, 1> x{1, 2, 3};
  auto f = [](const auto& t) { return fg::sum(fg::apply(GenericCube{}, t)); };
  const auto H = fg::hessian(f, x);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(H(i, j) == doctest::Approx(i == j ? 6 * x(i) : 0));
}

TEST_CASE("forward mode through a custom function without a tangent rule is a graph_error naming it") {
  fg::Tensor<double, 1> x{1, 2};
  const std::string message = [&] {
    try {
      fg::jvp([](const auto& t) { return fg::apply(Square{}, t); }, x, x);
    } catch (const fg::graph_error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  CHECK(message.find("'square'") != std::string::npos);
  CHECK(message.find("jvp") != std::string::npos);
}

TEST_CASE("second order through a custom function that is not generic is a graph_error naming it, never a wrong number") {
  fg::Tensor<double, 1> x{1, 2, 3};
  auto f = [](const auto& t) { return fg::sum(fg::apply(Cube{}, t)); };
  const std::string message = [&] {
    try {
      (void)fg::hessian(f, x);
    } catch (const fg::graph_error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  CHECK(message.find("'cube'") != std::string::npos);
  CHECK(message.find("template") != std::string::npos);
}

namespace {

// Four tanh layers; `checkpointed` runs them through fg::checkpoint, two layers a segment.
template <class T, class W>
auto layers(const T& x, const W& w1, const W& w2) {
  fg::Tensor<typename T::Scalar, 2> h = fg::tanh(fg::matmul(x, w1));
  return fg::tanh(fg::matmul(h, w2));
}

}  // namespace

TEST_CASE("checkpointed layers give the same values and gradients as the layers themselves") {
  fg::manual_seed(11);
  auto x = fg::Tensor<double, 2>::random(5, 4);
  auto w1 = fg::Tensor<double, 2>::random(4, 4), w2 = fg::Tensor<double, 2>::random(4, 4);
  auto w3 = fg::Tensor<double, 2>::random(4, 4), w4 = fg::Tensor<double, 2>::random(4, 4);
  auto plain = [](auto& x, auto& w1, auto& w2, auto& w3, auto& w4) {
    fg::Tensor<double, 2> h = layers(x, w1, w2);
    return fg::sum(fg::square(layers(h, w3, w4)));
  };
  auto checkpointed = [](auto& x, auto& w1, auto& w2, auto& w3, auto& w4) {
    auto segment = [](const auto& a, const auto& u, const auto& v) { return layers(a, u, v); };
    fg::Tensor<double, 2> h = fg::checkpoint(segment, x, w1, w2);
    fg::Tensor<double, 2> out = fg::checkpoint(segment, h, w3, w4);
    return fg::sum(fg::square(out));
  };
  const auto expected = fg::grad(plain, x, w1, w2, w3, w4);
  const auto got = fg::grad(checkpointed, x, w1, w2, w3, w4);
  auto same = [](const auto& a, const auto& b) {
    REQUIRE(a.size() == b.size());
    for (Eigen::Index i = 0; i < a.size(); ++i) CHECK(a.data()[i] == doctest::Approx(b.data()[i]).epsilon(1e-14));
  };
  same(std::get<0>(expected), std::get<0>(got));
  same(std::get<1>(expected), std::get<1>(got));
  same(std::get<2>(expected), std::get<2>(got));
  same(std::get<4>(expected), std::get<4>(got));
  const auto report = fg::check_gradients(checkpointed, x, w1, w2, w3, w4);
  CHECK(report.within(1e-6));
}

TEST_CASE("a checkpointed segment keeps none of its intermediates until backward runs it again") {
  fg::Tensor<double, 1> x{0.5, -0.5};
  x.requires_grad(true);
  int runs = 0;
  auto segment = [&runs](const auto& v) {
    ++runs;
    fg::Tensor<double, 1> h = fg::exp(v);
    CHECK(h.requires_grad() == (runs == 2));  // the first run records nothing
    return fg::sin(h);
  };
  fg::Tensor<double, 1> y = fg::checkpoint(segment, x);
  CHECK(runs == 1);
  CHECK(y.requires_grad());
  fg::Tensor<double, 0> total = fg::sum(y);
  total.backward();
  CHECK(runs == 2);
  CHECK(x.grad()(0) == doctest::Approx(std::cos(std::exp(0.5)) * std::exp(0.5)));
}

namespace {
// Gradients of x, w and z for loss = sum(c + u) (or sum(c) when h is used only inside),
// where h = tanh(x * w), u = h * h and c = z * h, c computed through fg::checkpoint with h
// captured by reference (not passed as an input) or plainly. u is recorded between h and
// c, so that its share of h's gradient arrives after the checkpoint's backward has run.
std::vector<std::vector<double>> captured_gradients(bool checkpointed, bool h_outside) {
  fg::Tensor<double, 1> x{0.3, -0.7, 1.1}, w{0.9, 0.4, -0.2}, z{-1.3, 0.8, 0.6};
  x.requires_grad(true), w.requires_grad(true), z.requires_grad(true);
  fg::Tensor<double, 1> h = fg::tanh(x * w);
  fg::Tensor<double, 1> u = h * h;
  fg::Tensor<double, 1> c = checkpointed ? fg::checkpoint([&](const auto& y) { return y * h; }, z) : fg::eval(z * h);
  fg::Tensor<double, 0> loss = h_outside ? fg::eval(fg::sum(c + u)) : fg::eval(fg::sum(c));
  loss.backward();
  return {elements(x.grad()), elements(w.grad()), elements(z.grad())};
}
}  // namespace

TEST_CASE("a checkpointed function may read a tensor of the enclosing graph it captured") {
  for (const bool h_outside : {true, false}) {
    CAPTURE(h_outside);
    const auto expected = captured_gradients(false, h_outside);
    const auto got = captured_gradients(true, h_outside);
    for (std::size_t input = 0; input < 3; ++input)
      for (std::size_t i = 0; i < 3; ++i) CHECK(got[input][i] == doctest::Approx(expected[input][i]).epsilon(1e-14));
  }
}

TEST_CASE("two checkpointed functions may capture one tensor that nothing else reads") {
  auto gradients = [](bool checkpointed) {
    fg::Tensor<double, 1> x{0.3, -0.7}, z{2.0, 3.0};
    x.requires_grad(true), z.requires_grad(true);
    fg::Tensor<double, 1> h = fg::sin(x);
    auto f = [&](const auto& y) { return y * h; };
    fg::Tensor<double, 1> a = checkpointed ? fg::checkpoint(f, z) : fg::eval(z * h);
    fg::Tensor<double, 1> b = checkpointed ? fg::checkpoint(f, a) : fg::eval(a * h);
    fg::Tensor<double, 0> loss = fg::sum(b);
    loss.backward();
    return std::vector<std::vector<double>>{elements(x.grad()), elements(z.grad())};
  };
  const auto expected = gradients(false), got = gradients(true);
  for (std::size_t input = 0; input < 2; ++input)
    for (std::size_t i = 0; i < 2; ++i) CHECK(got[input][i] == doctest::Approx(expected[input][i]).epsilon(1e-14));
}

TEST_CASE("a checkpointed function returning a captured tensor leaves that tensor's graph alone") {
  fg::Tensor<double, 1> x{0.3, -0.7}, z{2.0, 3.0};
  x.requires_grad(true), z.requires_grad(true);
  fg::Tensor<double, 1> h = fg::exp(x);
  fg::Tensor<double, 1> c = fg::checkpoint([&](const auto&) { return h; }, z);
  fg::Tensor<double, 0> loss = fg::sum(c * 2.0 + h);
  loss.backward();
  // d/dx of sum(2 h + h) = 3 exp(x), whatever the checkpoint did with h; z is not used.
  CHECK(elements(x.grad())[0] == doctest::Approx(3 * std::exp(0.3)));
  CHECK(elements(x.grad())[1] == doctest::Approx(3 * std::exp(-0.7)));
  CHECK(elements(z.grad()) == std::vector<double>{0.0, 0.0});
}

TEST_CASE("hvp runs through a checkpointed segment") {
  fg::Tensor<double, 1> x{0.3, 0.8};
  fg::Tensor<double, 1> v{1.0, -2.0};
  auto f = [](const auto& t) {
    auto segment = [](const auto& a) { return fg::exp(a) * a; };
    return fg::sum(fg::checkpoint(segment, t));
  };
  const auto hv = fg::hvp(f, x, v);
  for (int i = 0; i < 2; ++i) CHECK(hv(i) == doctest::Approx(std::exp(x(i)) * (x(i) + 2) * v(i)));
}
