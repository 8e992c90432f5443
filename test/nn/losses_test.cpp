// softmax, log_softmax, cross_entropy and mse: values, stability at magnitude 1000, and
// gradients against central differences and the closed forms.
#include "../support/gradient_check.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace fg = fusegrad;
using fg::testing::random_tensor;

TEST_CASE("softmax rows are positive and sum to one") {
  auto x = random_tensor<double, 2>({3, 5});
  fg::Tensor<double, 2> p = fg::softmax(x, 1);
  for (int i = 0; i < 3; ++i) {
    double total = 0;
    for (int j = 0; j < 5; ++j) {
      total += p(i, j);
      CHECK(p(i, j) > 0);
    }
    CHECK(total == doctest::Approx(1.0));
  }
}

TEST_CASE("softmax and log_softmax gradients match central differences along either dimension") {
  auto x = random_tensor<double, 2>({3, 4});
  for (int dim : {0, 1}) {
    fg::testing::expect_gradients_match_differences("softmax", [dim](const auto& a) { return fg::softmax(a, dim); }, x);
    fg::testing::expect_gradients_match_differences("log_softmax",
                                                    [dim](const auto& a) { return fg::log_softmax(a, dim); }, x);
  }
  fg::testing::expect_gradients_match_differences(
      "softmax rank 3", [](const auto& a) { return fg::softmax(a, 1); }, random_tensor<double, 3>({2, 3, 2}));
}

TEST_CASE("softmax and cross_entropy stay finite and exact on logits of magnitude 1000") {
  fg::Tensor<double, 2> logits{{1000.0, -1000.0, 999.0}, {-1000.0, -999.0, -1001.0}};
  logits.requires_grad(true);
  fg::Tensor<double, 2> p = fg::softmax(logits, 1);
  const double e = std::exp(-1.0);
  CHECK(p(0, 0) == doctest::Approx(1 / (1 + e)));
  CHECK(p(0, 1) < 1e-300);  // exp(-2000) underflows
  CHECK(p(1, 1) == doctest::Approx(1 / (1 + e + e * e)));
  fg::Tensor<double, 0> loss = fg::cross_entropy(logits, std::vector<int>{0, 2});
  const double expected = (std::log(1 + e) + (2 + std::log(1 + e + e * e))) / 2;
  CHECK(loss.item() == doctest::Approx(expected));
  loss.backward();
  // d loss / d logits = (softmax - one_hot) / batch.
  CHECK(logits.grad()(0, 0) == doctest::Approx((1 / (1 + e) - 1) / 2));
  CHECK(logits.grad()(0, 2) == doctest::Approx((e / (1 + e)) / 2));
  CHECK(logits.grad()(1, 2) == doctest::Approx((e * e / (1 + e + e * e) - 1) / 2));
  for (fg::Index i = 0; i < 6; ++i) CHECK(std::isfinite(logits.grad().data()[i]));
}

TEST_CASE("cross_entropy with labels equals cross_entropy with one-hot probabilities") {
  auto logits = random_tensor<double, 2>({4, 3});
  const std::vector<int> labels{2, 0, 1, 1};
  fg::EigenTensor<double, 2> one_hot(4, 3);
  one_hot.setZero();
  for (int i = 0; i < 4; ++i) one_hot(i, labels[i]) = 1;
  fg::Tensor<double, 0> a = fg::cross_entropy(logits, labels);
  fg::Tensor<double, 0> b = fg::cross_entropy(logits, fg::Tensor<double, 2>(one_hot));
  CHECK(a.item() == doctest::Approx(b.item()));
  fg::Tensor<double, 0> summed = fg::cross_entropy(logits, labels, fg::loss_reduction::sum);
  CHECK(summed.item() == doctest::Approx(4 * a.item()));
  fg::testing::expect_gradients_match_differences(
      "cross_entropy", [&](const auto& x) { return fg::cross_entropy(x, labels); }, logits);
  auto target = random_tensor<double, 2>({4, 3}, fg::testing::domain::positive);
  fg::testing::expect_gradients_match_differences(
      "cross_entropy soft", [&](const auto& x, const auto& t) { return fg::cross_entropy(x, t); }, logits, target);
}

TEST_CASE("cross_entropy rejects labels outside the classes and a wrong label count") {
  auto logits = random_tensor<double, 2>({2, 3});
  CHECK_THROWS_AS(fg::cross_entropy(logits, std::vector<int>{0, 3}), fg::shape_error);
  CHECK_THROWS_AS(fg::cross_entropy(logits, std::vector<int>{0}), fg::shape_error);
}

namespace {
// The loss and the logits' gradient of cross_entropy(logits, labels).
template <class Labels>
std::pair<double, std::vector<double>> loss_and_gradient(const fg::Tensor<double, 2>& values, const Labels& labels) {
  fg::Tensor<double, 2> logits = fg::Tensor<double, 2>(values.value()).requires_grad(true);
  fg::Tensor<double, 0> loss = fg::cross_entropy(logits * 1.0, labels);
  loss.backward();
  const auto& g = logits.grad();
  return {loss.item(), std::vector<double>(g.data(), g.data() + g.size())};
}
}  // namespace

TEST_CASE("cross_entropy takes labels of any integer type from ranges, spans, Eigen vectors and Eigen tensors") {
  const auto logits = random_tensor<double, 2>({4, 3});
  const auto expected = loss_and_gradient(logits, std::vector<int>{2, 0, 1, 1});
  CHECK(expected.first > 0);
  const std::vector<std::int64_t> wide{2, 0, 1, 1};
  const std::array<unsigned, 4> array{2, 0, 1, 1};
  const std::vector<short> shorts{2, 0, 1, 1};
  Eigen::VectorXi eigen_vector(4);
  eigen_vector << 2, 0, 1, 1;
  Eigen::Matrix<long, 1, Eigen::Dynamic> eigen_row(6);
  eigen_row << 9, 2, 0, 1, 1, 9;
  Eigen::Tensor<std::size_t, 1> eigen_tensor(4);
  eigen_tensor.setValues({2, 0, 1, 1});
  CHECK(loss_and_gradient(logits, wide) == expected);
  CHECK(loss_and_gradient(logits, std::span<const std::int64_t>(wide)) == expected);
  CHECK(loss_and_gradient(logits, array) == expected);
  CHECK(loss_and_gradient(logits, shorts) == expected);
  CHECK(loss_and_gradient(logits, eigen_vector) == expected);
  CHECK(loss_and_gradient(logits, eigen_row.segment(1, 4)) == expected);  // a segment of a row vector
  CHECK(loss_and_gradient(logits, eigen_vector.cast<std::int64_t>()) == expected);  // an expression
  CHECK(loss_and_gradient(logits, eigen_tensor) == expected);
  const Eigen::TensorMap<const Eigen::Tensor<std::size_t, 1>> read_only(eigen_tensor.data(), 4);
  CHECK(loss_and_gradient(logits, read_only) == expected);
  Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic> two_columns(4, 2);
  two_columns << 2, 9, 0, 9, 1, 9, 1, 9;
  CHECK(loss_and_gradient(logits, two_columns.col(0)) == expected);  // contiguous: read in place
  CHECK(loss_and_gradient(logits, two_columns.transpose().row(0)) == expected);
  Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> strided = two_columns;
  CHECK(loss_and_gradient(logits, strided.col(0)) == expected);  // inner stride 2: copied
}

TEST_CASE_TEMPLATE("cross_entropy of an empty batch with labels from a span or an Eigen vector is NaN as a mean", S,
                   float, double) {
  fg::Tensor<S, 2> logits = fg::Tensor<S, 2>(fg::Shape<2>{0, 5});
  logits.requires_grad(true);
  const Eigen::VectorXi none(0);
  fg::Tensor<S, 0> mean_loss = fg::cross_entropy(logits, none);
  CHECK(std::isnan(double(mean_loss.item())));
  fg::Tensor<S, 0> summed = fg::cross_entropy(logits, std::span<const long>(), fg::loss_reduction::sum);
  CHECK(summed.item() == S(0));
  summed.backward();
  CHECK(logits.grad().dimensions() == fg::Shape<2>{0, 5});
}

TEST_CASE("cross_entropy refuses unsigned and 64-bit labels outside the classes") {
  auto logits = random_tensor<double, 2>({2, 3});
  CHECK_THROWS_AS(fg::cross_entropy(logits, std::vector<std::size_t>{0, 3}), fg::shape_error);
  CHECK_THROWS_AS(fg::cross_entropy(logits, std::vector<std::int64_t>{0, -1}), fg::shape_error);
  CHECK_THROWS_AS(fg::cross_entropy(logits, std::vector<std::int64_t>{0, std::numeric_limits<std::int64_t>::min()}),
                  fg::shape_error);
  CHECK_THROWS_AS(fg::cross_entropy(logits, std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max(), 0}),
                  fg::shape_error);
  // 2^32 + 1 would pass as class 1 if it were narrowed to int.
  CHECK_THROWS_AS(fg::cross_entropy(logits, std::vector<std::int64_t>{0, (std::int64_t(1) << 32) + 1}),
                  fg::shape_error);
  Eigen::VectorXi too_few(1);
  too_few << 0;
  CHECK_THROWS_AS(fg::cross_entropy(logits, too_few), fg::shape_error);
}

// Through log_softmax and a one-hot product, a logit of -inf in another class than the
// label gave 0 * -inf = NaN; PyTorch's nll_loss reads the label's entry only.
TEST_CASE_TEMPLATE("cross_entropy with labels is finite when another class has a logit of -inf", T, float, double) {
  const T inf = std::numeric_limits<T>::infinity();
  fg::Tensor<T, 2> logits{{T(1), -inf, T(3)}, {T(0.5), T(-1), T(2)}};
  logits.requires_grad(true);
  fg::Tensor<T, 0> loss = fg::cross_entropy(logits, std::vector<int>{0, 2});
  const double first = std::log(1 + std::exp(2.0)), second = std::log(std::exp(-1.5) + std::exp(-3.0) + 1);
  CHECK(double(loss.item()) == doctest::Approx((first + second) / 2).epsilon(1e-6));
  loss.backward();
  CHECK(logits.grad()(0, 1) == T(0));
  CHECK(double(logits.grad()(0, 0)) == doctest::Approx((1 / (1 + std::exp(2.0)) - 1) / 2).epsilon(1e-6));
}

// One row at a time, so that each row's value is its loss (sum reduction).
TEST_CASE_TEMPLATE("cross_entropy with labels at extreme logits: zeros, subnormals, the largest, inf and NaN", T,
                   float, double) {
  using limits = std::numeric_limits<T>;
  const T inf = limits::infinity(), nan = limits::quiet_NaN(), tiny = limits::denorm_min(), big = limits::max();
  const auto loss_and_gradient = [](std::vector<T> row, int label) {
    fg::EigenTensor<T, 2> value(1, fg::Index(row.size()));
    for (std::size_t j = 0; j < row.size(); ++j) value(0, fg::Index(j)) = row[j];
    fg::Tensor<T, 2> logits(value);
    logits.requires_grad(true);
    fg::Tensor<T, 0> loss = fg::cross_entropy(logits, std::vector<int>{label}, fg::loss_reduction::sum);
    loss.backward();
    return std::make_pair(loss.item(), logits.grad());
  };
  {  // -0, 0 and subnormals are 0 to the softmax: log 3, gradient 1/3 - one-hot
    const auto [loss, g] = loss_and_gradient({-T(0), tiny, -tiny}, 1);
    CHECK(double(loss) == doctest::Approx(std::log(3.0)).epsilon(1e-6));
    CHECK(double(g(0, 1)) == doctest::Approx(1.0 / 3 - 1).epsilon(1e-6));
    CHECK(double(g(0, 2)) == doctest::Approx(1.0 / 3).epsilon(1e-6));
  }
  {  // the largest numbers: shifted by the maximum, nothing overflows
    const auto [at_max, g] = loss_and_gradient({big, big / 2, T(0)}, 0);
    CHECK(at_max == T(0));
    CHECK(g(0, 0) == T(0));
    CHECK(g(0, 1) == T(0));
    const auto [far, g2] = loss_and_gradient({big, big / 2, T(0)}, 2);
    CHECK(far == big);
    CHECK(g2(0, 0) == T(1));
    CHECK(g2(0, 2) == T(-1));
  }
  {  // a single class: loss 0 and gradient 0
    const auto [loss, g] = loss_and_gradient({T(7)}, 0);
    CHECK(loss == T(0));
    CHECK(g(0, 0) == T(0));
  }
  {  // +inf in another class: the loss is +inf (PyTorch's too); NaN anywhere: NaN
    CHECK(loss_and_gradient({T(1), inf, T(0)}, 0).first == inf);
    CHECK(std::isnan(loss_and_gradient({inf, T(1)}, 0).first));  // inf - inf
    const auto [loss, g] = loss_and_gradient({T(1), nan, T(0)}, 0);
    CHECK(std::isnan(loss));
    CHECK(std::isnan(g(0, 0)));
  }
}

TEST_CASE("cross_entropy with labels scales its gradient by the output's gradient and keeps a retained graph") {
  auto logits = random_tensor<double, 2>({3, 4});
  const std::vector<int> labels{3, 0, 1};
  fg::Tensor<double, 0> loss = fg::cross_entropy(logits, labels, fg::loss_reduction::sum);
  loss.backward(fg::retain_graph);
  const fg::EigenTensor<double, 2> once = logits.grad();
  loss.backward(fg::Tensor<double, 0>(2.5), fg::retain_graph);
  for (fg::Index k = 0; k < once.size(); ++k) CHECK(logits.grad().data()[k] == doctest::Approx(3.5 * once.data()[k]));
  {
    fg::no_grad off;
    fg::Tensor<double, 0> unrecorded = fg::cross_entropy(logits, labels, fg::loss_reduction::sum);
    CHECK(unrecorded.item() == loss.item());
    CHECK_FALSE(unrecorded.requires_grad());
  }
}

TEST_CASE("cross_entropy with labels has the Hessian-vector product of differences of its gradient") {
  const std::vector<int> labels{1, 0};
  auto f = [&](const auto& x) { return fg::cross_entropy(x, labels); };
  const fg::Tensor<double, 2> x{{0.3, -1.1, 0.8}, {1.4, 0.1, -0.6}};
  const fg::EigenTensor<double, 2> v = fg::Tensor<double, 2>{{0.5, -0.2, 0.7}, {-0.3, 0.9, 0.4}}.value();
  const auto hv = fg::hvp(f, x, v);
  const double h = 1e-5;
  const fg::EigenTensor<double, 2> plus_point = x.value() + v * h, minus_point = x.value() - v * h;
  const auto plus = fg::grad(f, fg::Tensor<double, 2>(plus_point));
  const auto minus = fg::grad(f, fg::Tensor<double, 2>(minus_point));
  for (fg::Index k = 0; k < 6; ++k)
    CHECK(hv.data()[k] == doctest::Approx((plus.data()[k] - minus.data()[k]) / (2 * h)).epsilon(1e-6));
}

TEST_CASE("mse is the mean of squared differences with gradient 2 (a - b) / n") {
  auto a = random_tensor<double, 2>({2, 3});
  auto b = random_tensor<double, 2>({2, 3});
  fg::Tensor<double, 0> loss = fg::mse(a, b);
  double expected = 0;
  for (fg::Index i = 0; i < 6; ++i) expected += std::pow(a.value().data()[i] - b.value().data()[i], 2) / 6;
  CHECK(loss.item() == doctest::Approx(expected));
  loss.backward();
  for (fg::Index i = 0; i < 6; ++i)
    CHECK(a.grad().data()[i] == doctest::Approx(2 * (a.value().data()[i] - b.value().data()[i]) / 6));
  fg::testing::expect_gradients_match_differences("mse", [](const auto& x, const auto& y) { return fg::mse(x, y); }, a, b);
}

TEST_CASE_TEMPLATE("binary_cross_entropy_with_logits is the mean of -y log s(z) - (1 - y) log s(-z)", T, float,
                   double) {
  auto z = random_tensor<T, 2>({3, 4});
  auto y = random_tensor<T, 2>({3, 4}, fg::testing::domain::positive);
  fg::Tensor<T, 0> loss = fg::binary_cross_entropy_with_logits(z, y);
  fg::Tensor<T, 0> summed = fg::binary_cross_entropy_with_logits(z, y, fg::loss_reduction::sum);
  double expected = 0;
  for (fg::Index i = 0; i < 12; ++i) {
    const double zi = z.value().data()[i], yi = y.value().data()[i];
    const double s = 1 / (1 + std::exp(-zi));
    expected += -yi * std::log(s) - (1 - yi) * std::log(1 - s);
  }
  CHECK(double(summed.item()) == doctest::Approx(expected).epsilon(1e-5));
  CHECK(double(loss.item()) == doctest::Approx(expected / 12).epsilon(1e-5));
  loss.backward();
  for (fg::Index i = 0; i < 12; ++i) {
    const double zi = z.value().data()[i], yi = y.value().data()[i];
    CHECK(double(z.grad().data()[i]) == doctest::Approx((1 / (1 + std::exp(-zi)) - yi) / 12).epsilon(1e-5));
  }
  if constexpr (std::is_same_v<T, double>)
    fg::testing::expect_gradients_match_differences(
        "binary_cross_entropy_with_logits",
        [](const auto& a, const auto& b) { return fg::binary_cross_entropy_with_logits(a, b); }, z, y);
}

TEST_CASE_TEMPLATE("binary_cross_entropy_with_logits is exact for logits of any magnitude", T, float, double) {
  // Where log(1 + exp(z)) overflows (z = 1e30) or log(sigmoid(z)) is log(0).
  const T huge = T(1e30);
  fg::Tensor<T, 1> z{huge, -huge, huge, -huge, T(0), std::numeric_limits<T>::max()};
  fg::Tensor<T, 1> y{T(1), T(0), T(0), T(1), T(0.5), T(1)};
  z.requires_grad(true);
  fg::Tensor<T, 0> loss = fg::binary_cross_entropy_with_logits(z, y, fg::loss_reduction::sum);
  // Right answers: 0, 0, huge (wrong with certainty), huge, log 2, 0.
  CHECK(double(loss.item()) == doctest::Approx(2 * double(huge) + std::log(2.0)));
  loss.backward();
  const std::vector<T> expected_gradient{T(0), T(0), T(1), T(-1), T(0), T(0)};
  for (fg::Index i = 0; i < 6; ++i) CHECK(z.grad()(i) == expected_gradient[std::size_t(i)]);
}

TEST_CASE("binary_cross_entropy_with_logits rejects a shape mismatch and is NaN on no elements") {
  auto z = random_tensor<double, 2>({2, 3});
  auto y = random_tensor<double, 2>({3, 2});
  CHECK_THROWS_AS(fg::binary_cross_entropy_with_logits(z, y), fg::shape_error);
  fg::Tensor<double, 2> none(fg::Shape<2>{0, 3});
  fg::Tensor<double, 0> mean = fg::binary_cross_entropy_with_logits(none, none);
  fg::Tensor<double, 0> total = fg::binary_cross_entropy_with_logits(none, none, fg::loss_reduction::sum);
  CHECK(std::isnan(mean.item()));
  CHECK(total.item() == 0);
}

TEST_CASE_TEMPLATE("softplus, log_sigmoid and binary_cross_entropy_with_logits on empty and rank-0 tensors", T, float,
                   double) {
  fg::Tensor<T, 2> none(fg::Shape<2>{0, 4});
  none.requires_grad(true);
  fg::Tensor<T, 2> s = fg::softplus(none) + fg::log_sigmoid(none);
  CHECK(s.size() == 0);
  fg::Tensor<T, 0> total = fg::sum(fg::softplus(none));
  total.backward();
  CHECK(total.item() == T(0));
  CHECK(none.grad().size() == 0);
  fg::Tensor<T, 0> z = fg::Tensor<T, 0>::constant({}, T(2));
  fg::Tensor<T, 0> y = fg::Tensor<T, 0>::constant({}, T(1));
  z.requires_grad(true);
  fg::Tensor<T, 0> loss = fg::binary_cross_entropy_with_logits(z, y);
  loss.backward();
  CHECK(double(loss.item()) == doctest::Approx(std::log1p(std::exp(-2.0))).epsilon(1e-6));
  CHECK(double(z.grad()()) == doctest::Approx(1 / (1 + std::exp(-2.0)) - 1).epsilon(1e-6));
}
