// The bugs reported at extreme inputs (issue 13, "Correct at the edges"): each test
// reproduces a report, in float and double.
#include "../support/expectations.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace fg = fusegrad;

namespace {

template <class T>
constexpr T huge = std::is_same_v<T, double> ? T(1e308) : T(1e38);

template <class T>
using limits = std::numeric_limits<T>;

// A vector of n copies of `fill` with `value` at `at`.
template <class T>
fg::Tensor<T, 1> filled(fg::Index n, T fill, fg::Index at, T value) {
  fg::Tensor<T, 1> x = fg::Tensor<T, 1>::constant({n}, fill);
  x.mutable_value()(at) = value;
  return x;
}

}  // namespace

TEST_CASE_TEMPLATE("softmax of two equal huge logits and one hugely negative gives one half each", T, float, double) {
  fg::Tensor<T, 1> x{huge<T>, huge<T>, -huge<T>};
  x.requires_grad(true);
  fg::Tensor<T, 1> p = fg::softmax(x, 0);
  CHECK(p(0) == T(0.5));
  CHECK(p(1) == T(0.5));
  CHECK(p(2) == T(0));
  // The seed picks softmax(x)[0]: its gradient is the Jacobian's first row,
  // p0 (delta_0j - p_j) = (1/4, -1/4, 0).
  p.backward(fg::Tensor<T, 1>{1, 0, 0});
  CHECK(x.grad()(0) == T(0.25));
  CHECK(x.grad()(1) == T(-0.25));
  CHECK(x.grad()(2) == T(0));
}

TEST_CASE_TEMPLATE("log_softmax of two equal huge logits is minus log 2 for each", T, float, double) {
  fg::Tensor<T, 1> x{huge<T>, huge<T>, -huge<T>};
  x.requires_grad(true);
  fg::Tensor<T, 1> y = fg::log_softmax(x, 0);
  CHECK(y(0) == doctest::Approx(-std::log(2.0)));
  CHECK(y(1) == doctest::Approx(-std::log(2.0)));
  CHECK(y(2) == T(-huge<T> - huge<T>));  // -inf in double, -2e38 in float
  // d/dx sum(w * log_softmax(x)) = w - p sum(w); with w = (1, 0, 0): (1/2, -1/2, 0).
  fg::Tensor<T, 1> w{1, 0, 0};
  fg::Tensor<T, 0> picked = fg::sum(w * fg::log_softmax(x, 0));
  picked.backward();
  CHECK(x.grad()(0) == doctest::Approx(0.5));
  CHECK(x.grad()(1) == doctest::Approx(-0.5));
  CHECK(x.grad()(2) == T(0));
}

TEST_CASE_TEMPLATE("softmax of large equal logits is exactly uniform", T, float, double) {
  // float 1e5 gave 0.4989 and 3e7 gave 1 each; double 1e17 gave 1 each.
  const std::vector<T> magnitudes =
      std::is_same_v<T, float> ? std::vector<T>{T(1e5), T(3e7), T(-3e7)} : std::vector<T>{T(1e17), T(-1e17), T(1e300)};
  for (T m : magnitudes) {
    INFO("logits ", double(m));
    fg::Tensor<T, 2> x{{m, m}, {m, m}};
    fg::Tensor<T, 2> p = fg::softmax(x, 1);
    for (fg::Index i = 0; i < 4; ++i) CHECK(p.data()[i] == T(0.5));
    fg::Tensor<T, 2> q = fg::softmax(x, 0);
    for (fg::Index i = 0; i < 4; ++i) CHECK(q.data()[i] == T(0.5));
  }
}

TEST_CASE_TEMPLATE("cross_entropy and log_softmax do not change when every logit is shifted by a constant", T, float,
                   double) {
  const fg::EigenTensor<T, 2> base = fg::Tensor<T, 2>{{T(0.5), T(-1.25), T(2)}, {T(1), T(0.25), T(-0.75)}}.value();
  const std::vector<int> labels{1, 2};
  auto loss_and_gradient = [&](T shift) {
    fg::Tensor<T, 2> logits(fg::EigenTensor<T, 2>(base + shift));
    logits.requires_grad(true);
    fg::Tensor<T, 0> loss = fg::cross_entropy(logits, labels);
    loss.backward();
    fg::Tensor<T, 2> log_p = fg::log_softmax(logits, 1);
    return std::make_tuple(loss.item(), fg::testing::elements(logits.grad()), fg::testing::elements(log_p));
  };
  const auto [loss, gradient, log_p] = loss_and_gradient(T(0));
  const T shift = std::is_same_v<T, float> ? T(1e6) : T(1e14);
  const auto [shifted_loss, shifted_gradient, shifted_log_p] = loss_and_gradient(shift);
  // float gave 1.0745 against 1.0938.
  CHECK(shifted_loss == doctest::Approx(loss).epsilon(1e-6));
  for (std::size_t i = 0; i < gradient.size(); ++i) {
    CHECK(shifted_gradient[i] == doctest::Approx(gradient[i]).epsilon(1e-5));
    CHECK(shifted_log_p[i] == doctest::Approx(log_p[i]).epsilon(1e-6));
  }
}

TEST_CASE_TEMPLATE("log of a subnormal number is below the log of the smallest normal", T, float, double) {
  const T tiny = std::is_same_v<T, double> ? T(1e-310) : T(1e-40);  // gave -708.4 and -87.3
  const T smallest = limits<T>::denorm_min();
  // Inside a packet (element 3) and in the scalar tail (element 36) of 37 elements.
  for (fg::Index at : {fg::Index(3), fg::Index(36)}) {
    for (T v : {tiny, smallest}) {
      INFO("element ", at, " value ", double(v));
      fg::Tensor<T, 1> x = filled<T>(37, T(1), at, v);
      fg::Tensor<T, 1> y = fg::log(x);
      CHECK(y(at) == doctest::Approx(std::log(v)).epsilon(1e-6));
      // The fused pass (values and gradients in SIMD lanes) and forward mode.
      x.requires_grad(true);
      fg::Tensor<T, 0> total = fg::sum(fg::log(x));
      CHECK(total.item() == doctest::Approx(double(std::log(v))).epsilon(1e-6));
      total.backward();
      CHECK(x.grad()(at) == T(1) / v);  // inf: 1/x overflows
      const auto [value, tangent] = fg::jvp([](const auto& a) { return fg::log(a); }, x.detach(),
                                           fg::Tensor<T, 1>::ones({37}));
      CHECK(value(at) == doctest::Approx(std::log(v)).epsilon(1e-6));
      CHECK(tangent(at) == T(1) / v);
    }
  }
}

TEST_CASE_TEMPLATE("square root of infinity is infinity", T, float, double) {
  const T inf = limits<T>::infinity();
  for (fg::Index at : {fg::Index(3), fg::Index(36)}) {
    INFO("element ", at);
    fg::Tensor<T, 1> x = filled<T>(37, T(4), at, inf);
    fg::Tensor<T, 1> y = fg::sqrt(x);
    CHECK(y(at) == inf);
    CHECK(y(0) == T(2));
    x.requires_grad(true);
    fg::Tensor<T, 0> total = fg::sum(fg::sqrt(x));
    CHECK(total.item() == inf);
    total.backward();
    CHECK(x.grad()(at) == T(0));  // 1 / (2 sqrt(inf))
    CHECK(x.grad()(0) == T(0.25));
  }
}

TEST_CASE_TEMPLATE("logsumexp of all minus infinity is minus infinity with a zero gradient", T, float, double) {
  const T inf = limits<T>::infinity();
  // Full reduction (the fused path when it qualifies), and per row.
  for (fg::Index n : {fg::Index(3), fg::Index(37)}) {
    INFO("size ", n);
    fg::Tensor<T, 1> x = fg::Tensor<T, 1>::constant({n}, -inf);
    x.requires_grad(true);
    fg::Tensor<T, 0> y = fg::logsumexp(x);
    CHECK(y.item() == -inf);
    y.backward();
    for (fg::Index i = 0; i < n; ++i) CHECK(x.grad()(i) == T(0));
  }
  fg::Tensor<T, 2> rows{{-inf, -inf, -inf}, {T(0), T(0), -inf}};
  rows.requires_grad(true);
  fg::Tensor<T, 1> r = fg::logsumexp(rows, fg::dims(1));
  CHECK(r(0) == -inf);
  CHECK(r(1) == doctest::Approx(std::log(2.0)));
  r.backward();
  for (fg::Index j = 0; j < 3; ++j) CHECK(rows.grad()(0, j) == T(0));
  CHECK(rows.grad()(1, 0) == T(0.5));
  CHECK(rows.grad()(1, 2) == T(0));
  // logsumexp inside a larger expression (the per-node path).
  fg::Tensor<T, 1> x = fg::Tensor<T, 1>::constant({4}, -inf);
  x.requires_grad(true);
  fg::Tensor<T, 0> z = fg::logsumexp(x) * T(2);
  z.backward();
  for (fg::Index i = 0; i < 4; ++i) CHECK(x.grad()(i) == T(0));
}
