// Values and derivatives of every elementwise function at 0, -0, subnormals, the
// largest finite numbers, infinities and NaN, against the C++ standard library (or the
// stable formula), on every evaluation path (extreme_table.hpp).
#include "extreme_table.hpp"

namespace fg = fusegrad;
using fg::testing::check_function;

namespace {

template <class T>
constexpr T inf = std::numeric_limits<T>::infinity();

template <class T>
T sign_of(T x) {
  return x > 0 ? T(1) : x < 0 ? T(-1) : T(0);
}

template <class T>
T stable_sigmoid(T x) {
  if (std::isnan(x)) return x;
  return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
}

}  // namespace

TEST_CASE_TEMPLATE("exp and log at extreme inputs", T, float, double) {
  check_function<T>(
      "exp", [](const auto& x) { return fg::exp(x); }, [](T x) { return std::exp(x); },
      [](T x) { return std::exp(x); });
  check_function<T>(
      "log", [](const auto& x) { return fg::log(x); }, [](T x) { return std::log(x); }, [](T x) { return T(1) / x; });
}

TEST_CASE_TEMPLATE("exp and sigmoid of arguments whose results are subnormal are the subnormal numbers", T, float,
                   double) {
  // Eigen's packet exp stops at about the smallest normal number (its float logistic too).
  const std::vector<T> arguments = std::is_same_v<T, float> ? std::vector<T>{T(-88), T(-95), T(-100), T(-103.5)}
                                                            : std::vector<T>{T(-709), T(-720), T(-740), T(-745)};
  for (T a : arguments) {
    const T expected = std::exp(a);
    for (fg::Index at : {fg::Index(3), fg::Index(36)}) {
      INFO("argument ", double(a), " at element ", at);
      fg::Tensor<T, 1> x = fg::testing::with_input_at(at, a, T(0.5));
      fg::Tensor<T, 1> e = fg::exp(x);
      fg::Tensor<T, 1> s = fg::sigmoid(x);
      CHECK(std::abs(double(e(at)) - double(expected)) <= 2 * double(std::numeric_limits<T>::denorm_min()));
      CHECK(std::abs(double(s(at)) - double(expected)) <= 2 * double(std::numeric_limits<T>::denorm_min()));
      CHECK(e(at) > T(0));
    }
  }
}

TEST_CASE_TEMPLATE("sin, cos and tan at extreme inputs", T, float, double) {
  check_function<T>(
      "sin", [](const auto& x) { return fg::sin(x); }, [](T x) { return std::sin(x); },
      [](T x) { return std::cos(x); });
  check_function<T>(
      "cos", [](const auto& x) { return fg::cos(x); }, [](T x) { return std::cos(x); },
      [](T x) { return -std::sin(x); });
  check_function<T>(
      "tan", [](const auto& x) { return fg::tan(x); }, [](T x) { return std::tan(x); },
      [](T x) { return T(1) + std::tan(x) * std::tan(x); });
}

TEST_CASE_TEMPLATE("tanh and sigmoid at extreme inputs", T, float, double) {
  check_function<T>(
      "tanh", [](const auto& x) { return fg::tanh(x); }, [](T x) { return std::tanh(x); },
      [](T x) { return T(1) - std::tanh(x) * std::tanh(x); });
  check_function<T>(
      "sigmoid", [](const auto& x) { return fg::sigmoid(x); }, [](T x) { return stable_sigmoid(x); },
      [](T x) { return stable_sigmoid(x) * (T(1) - stable_sigmoid(x)); });
}

// softplus(x) = log(1 + e^x) from long double, where e^x neither overflows nor loses
// 1 + e^x for the arguments of the table; log1p keeps e^x for very negative x.
template <class T>
T reference_softplus(T x) {
  if (std::isnan(x)) return x;
  if (x == inf<T>) return x;
  const long double a = x;
  return T(a > 0 ? a + std::log1p(std::exp(-a)) : std::log1p(std::exp(a)));
}

TEST_CASE_TEMPLATE("softplus and log_sigmoid at extreme inputs", T, float, double) {
  check_function<T>(
      "softplus", [](const auto& x) { return fg::softplus(x); }, [](T x) { return reference_softplus(x); },
      [](T x) { return stable_sigmoid(x); });
  check_function<T>(
      "log_sigmoid", [](const auto& x) { return fg::log_sigmoid(x); }, [](T x) { return -reference_softplus(-x); },
      [](T x) { return stable_sigmoid(-x); });
}

TEST_CASE_TEMPLATE("softplus is exact where log(1 + exp(x)) overflows or rounds to 0", T, float, double) {
  // x = 1000 overflows exp; x = -50 (float: -20) makes 1 + e^x round to 1.
  const T big = T(1000), small = std::is_same_v<T, float> ? T(-20) : T(-50);
  for (fg::Index at : {fg::Index(3), fg::Index(36)}) {
    INFO("element ", at);
    fg::Tensor<T, 1> x = fg::testing::with_input_at(at, big, T(0.5));
    fg::Tensor<T, 1> y = fg::softplus(x);
    CHECK(y(at) == big);
    x = fg::testing::with_input_at(at, small, T(0.5));
    y = fg::softplus(x);
    CHECK(double(y(at)) == doctest::Approx(std::exp(double(small))).epsilon(4 * std::numeric_limits<T>::epsilon()));
    fg::Tensor<T, 1> l = fg::log_sigmoid(x);
    CHECK(l(at) == small);  // -softplus(20) = -20 - log1p(e^-20), which rounds to -20 in float
  }
}

TEST_CASE_TEMPLATE("relu, abs, neg and square at extreme inputs", T, float, double) {
  check_function<T>(
      "relu", [](const auto& x) { return fg::relu(x); }, [](T x) { return std::isnan(x) ? x : std::max(x, T(0)); },
      [](T x) { return x > 0 ? T(1) : T(0); });
  check_function<T>(
      "abs", [](const auto& x) { return fg::abs(x); }, [](T x) { return std::abs(x); },
      [](T x) { return sign_of(x); });
  check_function<T>(
      "neg", [](const auto& x) { return -x; }, [](T x) { return -x; }, [](T) { return T(-1); });
  check_function<T>(
      "square", [](const auto& x) { return fg::square(x); }, [](T x) { return x * x; },
      [](T x) { return T(2) * x; });
}

TEST_CASE_TEMPLATE("sqrt at extreme inputs", T, float, double) {
  check_function<T>(
      "sqrt", [](const auto& x) { return fg::sqrt(x); }, [](T x) { return std::sqrt(x); },
      [](T x) { return T(0.5) / std::sqrt(x); });
}

TEST_CASE_TEMPLATE("pow with a number exponent at extreme inputs", T, float, double) {
  for (T p : {T(2), T(3), T(0.5), T(-1), T(0), T(1)}) {
    check_function<T>(
        "pow(x, " + std::to_string(double(p)) + ")", [p](const auto& x) { return fg::pow(x, p); },
        [p](T x) { return std::pow(x, p); },
        // d/dx x^0 = 0 everywhere, also where x^-1 is infinite.
        [p](T x) { return p == 0 ? T(0) : p * std::pow(x, p - 1); });
  }
}

TEST_CASE_TEMPLATE("clamp at extreme inputs", T, float, double) {
  check_function<T>(
      "clamp(x, -1, 1)", [](const auto& x) { return fg::clamp(x, -1, 1); },
      [](T x) { return std::isnan(x) ? x : std::min(std::max(x, T(-1)), T(1)); },
      [](T x) { return x >= -1 && x <= 1 ? T(1) : T(0); });
  check_function<T>(
      "clamp(x, 0, inf)", [](const auto& x) { return fg::clamp(x, 0, inf<T>); },
      [](T x) { return std::isnan(x) ? x : std::max(x, T(0)); }, [](T x) { return x >= 0 ? T(1) : T(0); });
}

TEST_CASE_TEMPLATE("arithmetic with a number at extreme inputs", T, float, double) {
  check_function<T>(
      "x + 2", [](const auto& x) { return x + 2; }, [](T x) { return x + T(2); }, [](T) { return T(1); });
  check_function<T>(
      "2 - x", [](const auto& x) { return 2 - x; }, [](T x) { return T(2) - x; }, [](T) { return T(-1); });
  check_function<T>(
      "x * 3", [](const auto& x) { return x * 3; }, [](T x) { return x * T(3); }, [](T) { return T(3); });
  check_function<T>(
      "x / 4", [](const auto& x) { return x / 4; }, [](T x) { return x / T(4); }, [](T) { return T(0.25); });
  check_function<T>(
      "2 / x", [](const auto& x) { return 2 / x; }, [](T x) { return T(2) / x; },
      [](T x) { return -T(2) / (x * x); });
}

TEST_CASE_TEMPLATE("maximum, minimum and where at extreme inputs", T, float, double) {
  // At a tie (0 and -0 tie with 0) the left operand, x, takes the gradient.
  check_function<T>(
      "maximum(x, 0)", [](const auto& x) { return fg::maximum(x, 0); },
      [](T x) { return std::isnan(x) ? x : std::max(x, T(0)); }, [](T x) { return x >= 0 ? T(1) : T(0); });
  check_function<T>(
      "minimum(x, 0)", [](const auto& x) { return fg::minimum(x, 0); },
      [](T x) { return std::isnan(x) ? x : std::min(x, T(0)); }, [](T x) { return x <= 0 ? T(1) : T(0); });
  check_function<T>(
      "where(x > 0, x, 2x)", [](const auto& x) { return fg::where(x > 0, x, x * 2); },
      [](T x) { return x > 0 ? x : T(2) * x; }, [](T x) { return x > 0 ? T(1) : T(2); });
}
