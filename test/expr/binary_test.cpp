// Every elementwise binary primitive: reverse mode against central differences and
// against its closed-form partials, on ranks 0 to 4 and on broadcast operands.
#include "../support/expectations.hpp"
#include "../support/gradient_check.hpp"

#include <vector>

namespace fg = fusegrad;
using fg::testing::domain;

namespace {

struct Partials {
  double (*left)(double, double);
  double (*right)(double, double);
};

// Moves y's elements at least 0.05 away from x's, so that no difference step crosses
// the tie of maximum or minimum.
template <class S, int R>
void separate(fg::Tensor<S, R>& x, fg::Tensor<S, R>& y) {
  auto& yv = y.mutable_value();
  for (fg::Index i = 0; i < yv.size(); ++i)
    if (std::abs(double(yv.data()[i] - x.value().data()[i])) < 0.05) yv.data()[i] += S(0.3);
}

// Each operand's gradient equals weights times its closed-form partial, element by
// element (one function for every op, rank and scalar type: the elements arrive as
// doubles).
void check_closed_form(const char* name, int rank, const std::vector<double>& x_gradient,
                       const std::vector<double>& y_gradient, const std::vector<double>& weights,
                       const std::vector<double>& x, const std::vector<double>& y, Partials partials) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = x[i], b = y[i], w = weights[i];
    INFO(name, " closed form, rank ", rank, " element ", fg::Index(i));
    CHECK(fg::testing::close(x_gradient[i], w * partials.left(a, b), 1e-5, 1e-6, 1.0));
    CHECK(fg::testing::close(y_gradient[i], w * partials.right(a, b), 1e-5, 1e-6, 1.0));
  }
}

template <class Op>
void check_binary(const char* name, Op op, Partials partials, domain dx = domain::mixed, domain dy = domain::mixed,
                  bool keep_apart = false) {
  using fg::testing::elements;
  auto for_scalar = [&]<class S>(S) {
    fg::testing::for_ranks_0_to_4<S>([&](auto rank) {
      constexpr int R = decltype(rank)::value;
      auto x = fg::testing::random_tensor<S, R>(fg::testing::sample_shape<R>(), dx);
      auto y = fg::testing::random_tensor<S, R>(fg::testing::sample_shape<R>(), dy);
      if (keep_apart) separate(x, y);
      const auto weights = fg::testing::expect_gradients_match_differences(
          name, [&](const auto& a, const auto& b) { return op(a, b); }, x, y);
      check_closed_form(name, R, elements(x.grad()), elements(y.grad()), elements(weights), elements(x.value()),
                        elements(y.value()), partials);
    });
  };
  SUBCASE("double") { for_scalar(double{}); }
  SUBCASE("float") { for_scalar(float{}); }
}

// The same op with operands of different shapes: gradients are summed back to each
// operand's own shape.
template <class Op>
void check_broadcasting(const char* name, Op op, domain dx = domain::mixed, domain dy = domain::mixed) {
  using fg::testing::random_tensor;
  auto f = [&](const auto& a, const auto& b) { return op(a, b); };
  fg::testing::expect_gradients_match_differences(name, f, random_tensor<double, 2>({3, 4}, dx),
                                                  random_tensor<double, 1>({4}, dy));
  fg::testing::expect_gradients_match_differences(name, f, random_tensor<double, 2>({3, 1}, dx),
                                                  random_tensor<double, 2>({1, 4}, dy));
  fg::testing::expect_gradients_match_differences(name, f, random_tensor<double, 3>({2, 3, 4}, dx),
                                                  random_tensor<double, 2>({3, 1}, dy));
  fg::testing::expect_gradients_match_differences(name, f, random_tensor<double, 0>({}, dx),
                                                  random_tensor<double, 2>({3, 4}, dy));
  fg::testing::expect_gradients_match_differences(name, f, random_tensor<double, 4>({2, 1, 3, 1}, dx),
                                                  random_tensor<double, 3>({2, 1, 2}, dy));
  fg::testing::expect_gradients_match_differences(name, f, random_tensor<float, 2>({2, 3}, dx),
                                                  random_tensor<float, 2>({2, 1}, dy));
  // Numbers on either side.
  auto x = random_tensor<double, 2>({2, 3}, dx);
  fg::testing::expect_gradients_match_differences(name, [&](const auto& a) { return op(a, 1.3); }, x);
  fg::testing::expect_gradients_match_differences(name, [&](const auto& a) { return op(0.7, a); },
                                                  random_tensor<double, 2>({2, 3}, dy));
}

}  // namespace

TEST_CASE("addition passes the gradient to both operands") {
  check_binary("add", [](const auto& a, const auto& b) { return a + b; },
               {[](double, double) { return 1.0; }, [](double, double) { return 1.0; }});
}
TEST_CASE("subtraction negates the gradient of its right operand") {
  check_binary("subtract", [](const auto& a, const auto& b) { return a - b; },
               {[](double, double) { return 1.0; }, [](double, double) { return -1.0; }});
}
TEST_CASE("multiplication gives each operand the other") {
  check_binary("multiply", [](const auto& a, const auto& b) { return a * b; },
               {[](double, double y) { return y; }, [](double x, double) { return x; }});
}
TEST_CASE("division has partials 1/y and -x/y^2") {
  check_binary("divide", [](const auto& a, const auto& b) { return a / b; },
               {[](double, double y) { return 1 / y; }, [](double x, double y) { return -x / (y * y); }});
}
TEST_CASE("pow of two tensors has partials y x^(y-1) and x^y log x") {
  check_binary("pow", [](const auto& a, const auto& b) { return fg::pow(a, b); },
               {[](double x, double y) { return y * std::pow(x, y - 1); },
                [](double x, double y) { return std::pow(x, y) * std::log(x); }},
               domain::positive, domain::any);
}
TEST_CASE("maximum routes the gradient to the larger operand") {
  check_binary("maximum", [](const auto& a, const auto& b) { return fg::maximum(a, b); },
               {[](double x, double y) { return x >= y ? 1.0 : 0.0; }, [](double x, double y) { return y > x ? 1.0 : 0.0; }},
               domain::mixed, domain::mixed, true);
}
TEST_CASE("minimum routes the gradient to the smaller operand") {
  check_binary("minimum", [](const auto& a, const auto& b) { return fg::minimum(a, b); },
               {[](double x, double y) { return x <= y ? 1.0 : 0.0; }, [](double x, double y) { return y < x ? 1.0 : 0.0; }},
               domain::mixed, domain::mixed, true);
}
TEST_CASE("a user zip is differentiated by its given partials") {
  check_binary("zip(x sin y)",
               [](const auto& a, const auto& b) {
                 using S = typename fg::expr::node_of<std::remove_cvref_t<decltype(a)>>::Scalar;
                 return fg::zip(a, b, [](S u, S v) { return u * std::sin(v); }, [](S, S v) { return std::sin(v); },
                                [](S u, S v) { return u * std::cos(v); });
               },
               {[](double, double y) { return std::sin(y); }, [](double x, double y) { return x * std::cos(y); }});
}
TEST_CASE("where sends the gradient to the chosen branch only") {
  check_binary("where", [](const auto& a, const auto& b) { return fg::where(a > b, a * b, a - b); },
               {[](double x, double y) { return x > y ? y : 1.0; }, [](double x, double y) { return x > y ? x : -1.0; }},
               domain::mixed, domain::mixed, true);
}
TEST_CASE("where accepts a 0/1 tensor as its condition and numbers as branches") {
  fg::Tensor<double, 1> mask{1.0, 0.0, 1.0};
  auto x = fg::testing::random_tensor<double, 1>({3});
  fg::Tensor<double, 0> loss = fg::sum(fg::where(mask, x * 3.0, 0.0));
  loss.backward();
  CHECK(x.grad()(0) == 3.0);
  CHECK(x.grad()(1) == 0.0);
  CHECK(x.grad()(2) == 3.0);
  fg::Tensor<double, 1> picked = fg::where(x > 0.0, 1.0, -1.0);
  for (int i = 0; i < 3; ++i) CHECK(picked(i) == (x(i) > 0 ? 1.0 : -1.0));
}

TEST_CASE("broadcast operands of arithmetic get gradients summed to their own shapes") {
  check_broadcasting("add", [](const auto& a, const auto& b) { return a + b; });
  check_broadcasting("subtract", [](const auto& a, const auto& b) { return a - b; });
  check_broadcasting("multiply", [](const auto& a, const auto& b) { return a * b; });
  check_broadcasting("divide", [](const auto& a, const auto& b) { return a / b; });
}
TEST_CASE("broadcast operands of pow, maximum and minimum get correct gradients") {
  check_broadcasting("pow", [](const auto& a, const auto& b) { return fg::pow(a, b); }, domain::positive,
                     domain::positive);
  check_broadcasting("maximum", [](const auto& a, const auto& b) { return fg::maximum(a, b * 1.37 + 0.05); });
  check_broadcasting("minimum", [](const auto& a, const auto& b) { return fg::minimum(a, b * 1.37 + 0.05); });
}
TEST_CASE("a broadcast operand inside a longer expression gets the summed chain-rule gradient") {
  auto f = [](const auto& a, const auto& b) { return fg::tanh(a * b + fg::sin(b)) / (1.0 + fg::exp(-a)); };
  fg::testing::expect_gradients_match_differences("chain", f, fg::testing::random_tensor<double, 3>({2, 3, 4}),
                                                  fg::testing::random_tensor<double, 2>({1, 4}));
  fg::testing::expect_gradients_match_differences("chain", f, fg::testing::random_tensor<double, 1>({4}),
                                                  fg::testing::random_tensor<double, 3>({2, 3, 1}));
}
