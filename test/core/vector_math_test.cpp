// The vectorised transcendentals (SLEEF's, when the build has it) agree with the
// standard library to a few ulp over wide ranges, and on special values.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace fg = fusegrad;

namespace {

template <class S>
double ulp_distance(S a, S b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INFINITY;
  if (a == b) return 0;
  if (std::isinf(a) || std::isinf(b)) return INFINITY;
  const S spacing = std::nextafter(std::abs(b), std::numeric_limits<S>::infinity()) - std::abs(b);
  return double(std::abs(a - b) / spacing);
}

template <class S>
std::vector<S> sample_arguments(double range) {
  std::vector<S> values;
  for (int i = 0; i <= 4000; ++i) values.push_back(S(-range + 2 * range * i / 4000.0));
  for (S special : {S(0), S(-0.0), S(1e-30), S(-1e-30), std::numeric_limits<S>::infinity(),
                    -std::numeric_limits<S>::infinity(), std::numeric_limits<S>::quiet_NaN()})
    values.push_back(special);
  return values;
}

// Evaluates the fusegrad function on a tensor (the packet path for all but a tail)
// and compares each element with the standard library.
template <class S, class Fusegrad, class Reference>
void expect_within_ulps(const char* name, double range, Fusegrad f, Reference reference, double allowed) {
  const std::vector<S> arguments = sample_arguments<S>(range);
  fg::EigenTensor<S, 1> values(static_cast<fg::Index>(arguments.size()));
  for (std::size_t i = 0; i < arguments.size(); ++i) values(i) = arguments[i];
  fg::Tensor<S, 1> x(values);
  fg::Tensor<S, 1> y = f(x);
  double worst = 0;
  S worst_at = 0;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const double d = ulp_distance<S>(y(i), reference(arguments[i]));
    if (d > worst) worst = d, worst_at = arguments[i];
  }
  INFO(name, " worst ", worst, " ulp at ", double(worst_at));
  CHECK(worst <= allowed);
}

template <class S>
void check_all(double allowed) {
  expect_within_ulps<S>("sin", 1e4, [](const auto& x) { return fg::sin(x); }, [](S v) { return std::sin(v); }, allowed);
  expect_within_ulps<S>("cos", 1e4, [](const auto& x) { return fg::cos(x); }, [](S v) { return std::cos(v); }, allowed);
  expect_within_ulps<S>("tan", 1e3, [](const auto& x) { return fg::tan(x); }, [](S v) { return std::tan(v); }, allowed);
  expect_within_ulps<S>("tanh", 30, [](const auto& x) { return fg::tanh(x); }, [](S v) { return std::tanh(v); }, allowed);
  expect_within_ulps<S>("sin, small", 4, [](const auto& x) { return fg::sin(x); }, [](S v) { return std::sin(v); }, allowed);
}

// The distance from the exact value in ulp, fractional: exact is tanh in long double,
// rounded to S it is the correctly rounded result.
template <class S>
double ulps_from_exact(S a, long double exact) {
  const S rounded = S(exact);
  if (std::isnan(a) || std::isnan(rounded)) return std::isnan(a) && std::isnan(rounded) ? 0 : INFINITY;
  if (a == rounded) return 0;
  const S spacing = std::nextafter(std::abs(rounded), std::numeric_limits<S>::infinity()) - std::abs(rounded);
  return double(std::abs(static_cast<long double>(a) - exact) / spacing);
}

// Arguments for tanh: log-uniform from the smallest denormal to 30, both signs; densely
// between 0.5 and 1, where fusegrad's tanh switches formula (at 0.55) and is least
// accurate; and the special values: zeros, denormals, the smallest normal, where tanh
// rounds to 1 and far beyond, the largest finite, infinities and NaN.
template <class S>
std::vector<S> tanh_arguments() {
  using L = std::numeric_limits<S>;
  std::vector<S> values = {S(0), S(-0.0), L::denorm_min(), -L::denorm_min(), S(3) * L::denorm_min(),
                           L::min() / S(3), -L::min() / S(5), L::min(), -L::min(), S(1e-30), S(-1e-30),
                           S(0.55), std::nextafter(S(0.55), S(0)), std::nextafter(S(-0.55), S(0)),
                           S(9.1), S(-10), S(19.1), S(-20), S(25), S(700), S(-800), L::max(), -L::max(),
                           L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN()};
  std::mt19937_64 random(20240611);
  std::uniform_real_distribution<double> exponent(std::log(double(L::denorm_min())), std::log(30.0));
  for (int i = 0; i < 200000; ++i) {
    const S x = S(std::exp(exponent(random)));
    values.push_back(i % 2 ? -x : x);
  }
  std::uniform_real_distribution<double> middle(0.5, 1.0);
  for (int i = 0; i < 50000; ++i) values.push_back(S(i % 2 ? -middle(random) : middle(random)));
  return values;
}

// fusegrad's tanh over tanh_arguments: within 2 ulp of std::tanh; exactly x where
// tanh(x) rounds to x (tiny and denormal x, zeros with their sign); exactly +-1 where it
// rounds to +-1 (and for +-inf); NaN for NaN. With the packet path, also within 1.5 ulp
// of the exact tanh (it is within 0.92 with FMA, 1.12 without; glibc's std::tanh itself is
// up to about 2 ulp off, which the first check allows for).
template <class S>
void check_tanh() {
  const std::vector<S> arguments = tanh_arguments<S>();
  fg::EigenTensor<S, 1> values(static_cast<fg::Index>(arguments.size()));
  for (std::size_t i = 0; i < arguments.size(); ++i) values(i) = arguments[i];
  fg::Tensor<S, 1> x(values);
  fg::Tensor<S, 1> y = fg::tanh(x);
  // Below tiny, x^3/3 is under a thousandth of half an ulp of x (glibc's std::tanh, used
  // without the packet path, returns x only much lower down); above saturated, 1 - tanh(x)
  // is under half an ulp of 1.
  constexpr bool is_float = std::is_same_v<S, float>;
  const S tiny = fg::vector_math::vectorized ? S(is_float ? 1e-5 : 1e-9) : S(is_float ? 1e-30 : 1e-300);
  const S saturated = is_float ? S(9.1) : S(19.1);
  constexpr bool compare_with_exact =
      fg::vector_math::vectorized && std::numeric_limits<long double>::digits > std::numeric_limits<S>::digits + 8;
  double worst = 0, worst_exact = 0;
  S worst_at = 0, worst_exact_at = 0;
  int wrong_special = 0;
  S wrong_special_at = 0, wrong_special_value = 0;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const S a = arguments[i], v = y(static_cast<fg::Index>(i));
    const double d = ulp_distance<S>(v, std::tanh(a));
    if (d > worst) worst = d, worst_at = a;
    if constexpr (compare_with_exact) {
      const double e = ulps_from_exact<S>(v, std::tanh(static_cast<long double>(a)));
      if (e > worst_exact) worst_exact = e, worst_exact_at = a;
    }
    bool right = true;
    if (std::isnan(a)) right = std::isnan(v);
    else if (std::abs(a) < tiny) right = v == a && std::signbit(v) == std::signbit(a);
    else if (std::abs(a) >= saturated) right = v == std::copysign(S(1), a);
    if (!right && wrong_special++ == 0) wrong_special_at = a, wrong_special_value = v;
  }
  INFO("tanh over ", arguments.size(), " arguments: worst ", worst, " ulp from std::tanh at ", double(worst_at),
       ", worst ", worst_exact, " ulp from the exact value at ", double(worst_exact_at));
  CHECK(worst <= 2.0);
  if constexpr (compare_with_exact) CHECK(worst_exact <= 1.5);
  INFO(wrong_special, " special values wrong, the first tanh(", double(wrong_special_at), ") = ",
       double(wrong_special_value));
  CHECK(wrong_special == 0);
}

}  // namespace

TEST_CASE("vectorised tanh is within 2 ulp of the standard library from denormals to saturation, and exact on special values") {
  check_tanh<double>();
  check_tanh<float>();
}

TEST_CASE("vectorised sin, cos, tan and tanh in double are within 2 ulp of the standard library") {
  check_all<double>(2.0);
}
TEST_CASE("vectorised sin, cos, tan and tanh in float are within 2 ulp of the standard library") {
  check_all<float>(2.0);
}
TEST_CASE("exp is within 2 ulp of the standard library, and exactly 0 below its underflow") {
  expect_within_ulps<double>("exp", 700, [](const auto& x) { return fg::exp(x); }, [](double v) { return std::exp(v); }, 2);
  expect_within_ulps<float>("exp", 85, [](const auto& x) { return fg::exp(x); }, [](float v) { return std::exp(v); }, 2);
  fg::Tensor<double, 1> x = fg::Tensor<double, 1>::constant({16}, -INFINITY);
  fg::Tensor<double, 1> y = fg::exp(x) + fg::exp(x - 800.0);
  for (fg::Index i = 0; i < 16; ++i) CHECK(y(i) == 0.0);
}

template <class S>
void check_exp_special_values() {
  // 16 elements fill whole packets of every width; each value at every position.
  const S inf = std::numeric_limits<S>::infinity();
  const S nan = std::numeric_limits<S>::quiet_NaN();
  const bool is_float = std::is_same_v<S, float>;
  const S specials[] = {-inf, inf, nan, S(0), S(-0.0), is_float ? S(88.8) : S(709.9), is_float ? S(-104.5) : S(-745.5),
                        is_float ? S(-87.5) : S(-708.5), is_float ? S(88.7) : S(709.7), S(1e-30)};
  for (const S special : specials) {
    INFO("exp(", special, ")");
    const fg::Tensor<S, 1> x = fg::Tensor<S, 1>::constant({16}, special);
    const fg::Tensor<S, 1> y = fg::exp(x);
    const S expected = std::exp(special);
    for (fg::Index i = 0; i < 16; ++i) {
      if (std::isnan(expected))
        CHECK(std::isnan(y(i)));
      else if (std::isinf(expected))
        CHECK(y(i) == expected);
      else
        CHECK(y(i) == doctest::Approx(expected).epsilon(is_float ? 3e-7 : 5e-16));
    }
  }
}

TEST_CASE("exp of infinities, NaN, zeros and arguments at the edges of overflow and underflow") {
  check_exp_special_values<double>();
  check_exp_special_values<float>();
}

TEST_CASE("the build reports whether transcendentals are vectorised") {
#if defined(FUSEGRAD_HAS_SLEEF)
  CHECK(fg::vector_math::vectorized);
#else
  CHECK_FALSE(fg::vector_math::vectorized);
#endif
}

namespace {

// The gradients of sum(sin(x)) and sum(cos(x)) (the fused adjoint, which takes sin and
// cos from one sincos) and the tangents of sin(x) and cos(x) (forward mode, likewise),
// against the standard library, element by element over `range`.
template <class S>
void expect_sin_cos_derivatives_within_ulps(double range, double allowed) {
  const std::vector<S> arguments = sample_arguments<S>(range);
  fg::EigenTensor<S, 1> values(static_cast<fg::Index>(arguments.size()));
  for (std::size_t i = 0; i < arguments.size(); ++i) values(i) = arguments[i];
  fg::Tensor<S, 1> x(values);
  x.requires_grad(true);
  fg::Tensor<S, 1> s = fg::sin(x);  // a statement of its own: its backward is the plain fused adjoint
  s.backward();
  const fg::EigenTensor<S, 1> d_sin = x.grad();
  x.zero_grad();
  fg::Tensor<S, 0> total = fg::sum(fg::cos(x));  // the sum's pass computes the gradient with the value
  total.backward();
  const fg::EigenTensor<S, 1> d_cos = x.grad();
  const auto ones = fg::Tensor<S, 1>::ones(fg::Shape<1>{x.size()});
  const auto [sin_value, sin_tangent] = fg::jvp([](const auto& t) { return fg::sin(t); }, x.detach(), ones);
  const auto [cos_value, cos_tangent] = fg::jvp([](const auto& t) { return fg::cos(t); }, x.detach(), ones);
  double worst = 0;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const S a = arguments[i], c = std::cos(a), minus_sin = -std::sin(a);
    for (double d : {ulp_distance<S>(d_sin(i), c), ulp_distance<S>(d_cos(i), minus_sin),
                     ulp_distance<S>(sin_tangent(i), c), ulp_distance<S>(cos_tangent(i), minus_sin),
                     ulp_distance<S>(sin_value(i), std::sin(a)), ulp_distance<S>(cos_value(i), c)}) {
      INFO("at ", double(a));
      if (d > allowed) CHECK(d <= allowed);
      worst = std::max(worst, d);
    }
  }
  INFO("worst ", worst, " ulp");
  CHECK(worst <= allowed);
}

}  // namespace

TEST_CASE("the derivatives of sin and cos, in reverse and forward mode, are within 2 ulp of the standard library") {
  expect_sin_cos_derivatives_within_ulps<double>(1e4, 2);
  expect_sin_cos_derivatives_within_ulps<float>(1e4, 2);
  expect_sin_cos_derivatives_within_ulps<double>(4, 2);
  expect_sin_cos_derivatives_within_ulps<float>(4, 2);
}
