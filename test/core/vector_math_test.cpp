// The vectorised transcendentals (SLEEF's, when the build has it) agree with the
// standard library to a few ulp over wide ranges, and on special values.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include <cmath>
#include <limits>
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

}  // namespace

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

TEST_CASE("the build reports whether transcendentals are vectorised") {
#if defined(FUSEGRAD_HAS_SLEEF)
  CHECK(fg::vector_math::vectorized);
#else
  CHECK_FALSE(fg::vector_math::vectorized);
#endif
}
