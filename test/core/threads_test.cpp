// fg::set_num_threads: large fused passes, Eigen evaluations and contractions on several
// threads give the same results from run to run, within 1e-13 of one thread; small work
// and independent models on the user's own threads are unaffected.
#include "../support/gradient_check.hpp"

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fg = fusegrad;

namespace {

// Restores one thread when a test case ends, also when it fails.
struct thread_count {
  explicit thread_count(int n) { fg::set_num_threads(n); }
  ~thread_count() { fg::set_num_threads(1); }
};

template <class S, int R>
std::vector<S> elements_of(const fg::EigenTensor<S, R>& t) {
  return std::vector<S>(t.data(), t.data() + t.size());
}

void check_close(const std::vector<double>& a, const std::vector<double>& b, double tolerance) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element ", i, ": ", a[i], " against ", b[i]);
    CHECK(std::abs(a[i] - b[i]) <= tolerance * std::max(1.0, std::abs(b[i])));
  }
}

// run() on one thread, then twice on two: within 1e-13 of one thread, and the same twice.
template <class Run>
void expect_two_threads_match_one(const Run& run) {
  const std::vector<double> one = run();
  thread_count two(2);
  const std::vector<double> threaded = run();
  check_close(threaded, one, 1e-13);
  CHECK(run() == threaded);
}

// The loss, and the gradients of x and of the single value s, of
// sum(exp(x) * sin(x) * s + x^2): a fused sum with a single value's running sum.
struct fused_sum_result {
  double loss, s_gradient;
  std::vector<double> x_gradient;
};
fused_sum_result fused_sum(const fg::Tensor<double, 1>& x_value) {
  fg::Tensor<double, 1> x = x_value.detach();
  x.requires_grad(true);
  fg::Tensor<double, 0> s = fg::Tensor<double, 0>::constant({}, 0.75);
  s.requires_grad(true);
  fg::Tensor<double, 0> loss = fg::sum(fg::exp(x) * fg::sin(x) * s + fg::square(x));
  loss.backward();
  return {loss.item(), s.grad()(), elements_of(x.grad())};
}

}  // namespace

TEST_CASE("set_num_threads rejects a count below one and num_threads reports the count") {
  CHECK_THROWS_AS(fg::set_num_threads(0), std::invalid_argument);
  CHECK(fg::num_threads() == 1);
  {
    thread_count two(2);
    CHECK(fg::num_threads() == 2);
  }
  CHECK(fg::num_threads() == 1);
}

TEST_CASE("a fused sum over 10^5 elements on two threads matches one thread and repeats exactly") {
  const fg::Tensor<double, 1> x = fg::Tensor<double, 1>::random(fg::Shape<1>{100003});
  const fused_sum_result one = fused_sum(x);
  thread_count two(2);
  const fused_sum_result first = fused_sum(x), second = fused_sum(x);
  CHECK(std::abs(first.loss - one.loss) <= 1e-13 * std::abs(one.loss));
  CHECK(std::abs(first.s_gradient - one.s_gradient) <= 1e-13 * std::abs(one.s_gradient));
  check_close(first.x_gradient, one.x_gradient, 0.0);  // per element: no sum, the same arithmetic
  CHECK(first.loss == second.loss);
  CHECK(first.s_gradient == second.s_gradient);
}

TEST_CASE("a fused backward of a large elementwise statement on two threads matches one thread") {
  const fg::Tensor<double, 2> values = fg::Tensor<double, 2>::random(fg::Shape<2>{300, 301});
  auto run = [&] {
    fg::Tensor<double, 2> x = values.detach();
    x.requires_grad(true);
    fg::Tensor<double, 0> b = fg::Tensor<double, 0>::constant({}, 0.5);
    b.requires_grad(true);
    fg::Tensor<double, 2> y = fg::tanh(x * b) + fg::exp(x);
    y.backward(fg::EigenTensor<double, 2>(values.value() * 2.0));
    std::vector<double> out = elements_of(x.grad());
    out.push_back(b.grad()());
    return out;
  };
  expect_two_threads_match_one(run);
}

TEST_CASE("matrix products and reductions on two threads match one thread and repeat exactly") {
  const fg::Tensor<double, 2> a = fg::Tensor<double, 2>::random(fg::Shape<2>{200, 300});
  const fg::Tensor<double, 2> b = fg::Tensor<double, 2>::random(fg::Shape<2>{300, 250});
  auto run = [&] {
    fg::Tensor<double, 2> w = b.detach();
    w.requires_grad(true);
    fg::Tensor<double, 2> h = fg::matmul(a, w);
    fg::Tensor<double, 1> column_sums = fg::sum(fg::relu(h), fg::dims(0));
    fg::Tensor<double, 0> loss = fg::sum(fg::square(column_sums));
    loss.backward();
    std::vector<double> out = elements_of(w.grad());
    out.push_back(loss.item());
    return out;
  };
  expect_two_threads_match_one(run);
}

TEST_CASE("small statements stay exact on two threads") {
  thread_count two(2);
  fg::Tensor<double, 1> x{1.0, 2.0, 3.0};
  x.requires_grad(true);
  fg::Tensor<double, 0> loss = fg::sum(x * x);
  loss.backward();
  CHECK(loss.item() == 14.0);
  CHECK(x.grad()(2) == 6.0);
}

TEST_CASE("an exception thrown by a user function on a pool thread reaches the caller") {
  thread_count two(2);
  fg::Tensor<double, 1> x = fg::Tensor<double, 1>::constant({100000}, 1.0);
  x.mutable_value()(99999) = -1.0;  // in the second chunk
  x.requires_grad(true);
  auto f = [](double v) {
    if (v < 0) throw std::domain_error("negative");
    return v;
  };
  auto df = [](double) { return 1.0; };
  auto evaluate = [&] { fg::Tensor<double, 0> total = fg::sum(fg::map(x, f, df)); };
  CHECK_THROWS_AS(evaluate(), std::domain_error);
}

TEST_CASE("independent models trained on four threads at once end where one thread ends") {
  // A small regression, 30 steps of gradient descent; each thread has its own model and
  // data and uses fusegrad's thread-local pools and tape.
  auto train = [](unsigned seed, std::vector<double>& out) {
    fg::Tensor<double, 2> x(fg::Shape<2>{16, 4});
    fg::Tensor<double, 1> y(fg::Shape<1>{16});
    for (fg::Index i = 0; i < 16; ++i) {
      for (fg::Index j = 0; j < 4; ++j) x.mutable_value()(i, j) = std::sin(double(seed + 7 * i + j));
      y.mutable_value()(i) = std::cos(double(seed + i));
    }
    fg::Tensor<double, 1> w = fg::Tensor<double, 1>::constant({4}, 0.1);
    w.requires_grad(true);
    for (int step = 0; step < 30; ++step) {
      w.zero_grad();
      fg::Tensor<double, 0> loss = fg::mse(fg::matmul(x, w), y);
      loss.backward();
      fg::as_vector(w.mutable_value()) -= 0.1 * fg::as_vector(w.grad());
    }
    out = elements_of(w.value());
  };
  std::vector<std::vector<double>> alone(4), together(4);
  for (unsigned t = 0; t < 4; ++t) train(t, alone[t]);
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < 4; ++t) workers.emplace_back(train, t, std::ref(together[t]));
  for (std::thread& w : workers) w.join();
  for (unsigned t = 0; t < 4; ++t) CHECK(together[t] == alone[t]);
}
