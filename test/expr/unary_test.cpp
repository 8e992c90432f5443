// Every elementwise unary primitive: reverse mode against central differences and
// against its closed-form derivative, on ranks 0 to 4, in double and float.
#include "../support/expectations.hpp"
#include "../support/gradient_check.hpp"

#include <vector>

namespace fg = fusegrad;
using fg::testing::domain;

namespace {

// gradient == weights * derivative(x), element by element (one function for every op,
// rank and scalar type: the elements arrive as doubles).
void check_closed_form(const char* name, int rank, const std::vector<double>& gradient,
                       const std::vector<double>& weights, const std::vector<double>& x, double (*derivative)(double)) {
  for (std::size_t i = 0; i < gradient.size(); ++i) {
    const double expected = weights[i] * derivative(x[i]);
    INFO(name, " closed form, rank ", rank, " element ", fg::Index(i));
    CHECK(fg::testing::close(gradient[i], expected, 1e-5, 1e-6, 1.0));
  }
}

// Runs `op` through the checker on every rank and scalar type, and checks that the
// gradient equals weights * derivative(x) elementwise.
template <class Op>
void check_unary(const char* name, Op op, double (*derivative)(double), domain d = domain::mixed) {
  auto for_scalar = [&]<class S>(S) {
    fg::testing::for_ranks_0_to_4<S>([&](auto rank) {
      constexpr int R = decltype(rank)::value;
      auto x = fg::testing::random_tensor<S, R>(fg::testing::sample_shape<R>(), d);
      const auto weights =
          fg::testing::expect_gradients_match_differences(name, [&](const auto& a) { return op(a); }, x);
      check_closed_form(name, R, fg::testing::elements(x.grad()), fg::testing::elements(weights),
                        fg::testing::elements(x.value()), derivative);
    });
  };
  SUBCASE("double") { for_scalar(double{}); }
  SUBCASE("float") { for_scalar(float{}); }
}

}  // namespace

TEST_CASE("negation passes the gradient negated") {
  check_unary("negate", [](const auto& x) { return -x; }, [](double) { return -1.0; });
}
TEST_CASE("exp has derivative exp") {
  check_unary("exp", [](const auto& x) { return fg::exp(x); }, [](double v) { return std::exp(v); });
}
TEST_CASE("log has derivative 1/x") {
  check_unary("log", [](const auto& x) { return fg::log(x); }, [](double v) { return 1 / v; }, domain::positive);
}
TEST_CASE("sin has derivative cos") {
  check_unary("sin", [](const auto& x) { return fg::sin(x); }, [](double v) { return std::cos(v); });
}
TEST_CASE("cos has derivative -sin") {
  check_unary("cos", [](const auto& x) { return fg::cos(x); }, [](double v) { return -std::sin(v); });
}
TEST_CASE("tan has derivative 1 + tan^2") {
  check_unary("tan", [](const auto& x) { return fg::tan(x); }, [](double v) { return 1 + std::tan(v) * std::tan(v); },
              domain::any);
}
TEST_CASE("tanh has derivative 1 - tanh^2") {
  check_unary("tanh", [](const auto& x) { return fg::tanh(x); }, [](double v) { return 1 - std::tanh(v) * std::tanh(v); });
}
TEST_CASE("sigmoid has derivative s(1 - s)") {
  check_unary("sigmoid", [](const auto& x) { return fg::sigmoid(x); },
              [](double v) { const double s = 1 / (1 + std::exp(-v)); return s * (1 - s); });
}
TEST_CASE("softplus has derivative sigmoid") {
  check_unary("softplus", [](const auto& x) { return fg::softplus(x); },
              [](double v) { return 1 / (1 + std::exp(-v)); });
}
TEST_CASE("log_sigmoid has derivative sigmoid(-x)") {
  check_unary("log_sigmoid", [](const auto& x) { return fg::log_sigmoid(x); },
              [](double v) { return 1 / (1 + std::exp(v)); });
}
TEST_CASE("relu has derivative 1 for positive inputs and 0 for negative ones") {
  check_unary("relu", [](const auto& x) { return fg::relu(x); }, [](double v) { return v > 0 ? 1.0 : 0.0; });
}
TEST_CASE("sqrt has derivative 1/(2 sqrt x)") {
  check_unary("sqrt", [](const auto& x) { return fg::sqrt(x); }, [](double v) { return 0.5 / std::sqrt(v); },
              domain::positive);
}
TEST_CASE("abs has derivative sign(x)") {
  check_unary("abs", [](const auto& x) { return fg::abs(x); }, [](double v) { return v > 0 ? 1.0 : -1.0; });
}
TEST_CASE("square has derivative 2x") {
  check_unary("square", [](const auto& x) { return fg::square(x); }, [](double v) { return 2 * v; });
}
TEST_CASE("pow with a scalar exponent has derivative p x^(p-1)") {
  check_unary("pow(x, 2.5)", [](const auto& x) { return fg::pow(x, 2.5); },
              [](double v) { return 2.5 * std::pow(v, 1.5); }, domain::positive);
}
TEST_CASE("clamp passes the gradient inside its bounds and blocks it outside") {
  check_unary("clamp", [](const auto& x) { return fg::clamp(x, -0.65, 0.95); },
              [](double v) { return v >= -0.65 && v <= 0.95 ? 1.0 : 0.0; });
}
TEST_CASE("clamp with an infinite bound has no bound on that side") {
  check_unary("clamp(x, 0, inf)", [](const auto& x) { return fg::clamp(x, 0.55, INFINITY); },
              [](double v) { return v >= 0.55 ? 1.0 : 0.0; });
}
TEST_CASE("a user map is differentiated by its given derivative") {
  check_unary("map(x^3)",
              [](const auto& x) {
                using S = typename std::remove_cvref_t<decltype(x)>::Scalar;
                return fg::map(x, [](S v) { return v * v * v; }, [](S v) { return 3 * v * v; });
              },
              [](double v) { return 3 * v * v; });
}
TEST_CASE("a composition of unary maps follows the chain rule") {
  check_unary("exp(sin(x))", [](const auto& x) { return fg::exp(fg::sin(x)); },
              [](double v) { return std::exp(std::sin(v)) * std::cos(v); });
}
