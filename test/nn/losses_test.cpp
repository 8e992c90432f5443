// softmax, log_softmax, cross_entropy and mse: values, stability at magnitude 1000, and
// gradients against central differences and the closed forms.
#include "../support/gradient_check.hpp"

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
