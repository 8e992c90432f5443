// Forward mode (jvp on dual tensors) and Jacobians in either mode. Hessians and hvp are
// in second_order_test.cpp.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include "../support/random_values.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

namespace fg = fusegrad;
using fg::testing::random_values;

namespace {

template <class T>
double inner(const T& a, const T& b) {
  double total = 0;
  for (fg::Index i = 0; i < a.size(); ++i) total += a.data()[i] * b.data()[i];
  return total;
}

// J v from jvp equals central differences along v, and <J v, u> = <v, J^T u> with J^T u
// from reverse mode.
template <class F, std::size_t N>
void check_jvp(const char* name, F f, const fg::Shape<N>& dims) {
  constexpr int R = int(N);
  INFO(name);
  fg::Tensor<double, R> x(random_values<R>(dims, 1));
  const auto v = random_values<R>(dims, 2);
  const auto [value, tangent] = fg::jvp(f, x, v);
  const auto u = random_values<decltype(value)::NumIndices>(value.dimensions(), 3);
  const auto [value_again, pulled] = fg::vjp(f, x, u);
  CHECK(inner(tangent, u) == doctest::Approx(inner(v, pulled)).epsilon(1e-10));
  const double h = 1e-6;
  fg::EigenTensor<double, R> plus = x.value() + v * h, minus = x.value() - v * h;
  const auto f_plus = fg::eval(f(fg::Tensor<double, R>(plus))).value();
  const auto f_minus = fg::eval(f(fg::Tensor<double, R>(minus))).value();
  for (fg::Index i = 0; i < tangent.size(); ++i) {
    const double numeric = (f_plus.data()[i] - f_minus.data()[i]) / (2 * h);
    CHECK(tangent.data()[i] == doctest::Approx(numeric).epsilon(1e-6));
    CHECK(value.data()[i] == doctest::Approx(value_again.data()[i]));
  }
}

}  // namespace

TEST_CASE("jvp agrees with central differences and with reverse mode on elementwise primitives") {
  const fg::Shape<2> s{3, 4};
  check_jvp("exp sin", [](const auto& a) { return fg::exp(a) * fg::sin(a); }, s);
  check_jvp("log sqrt", [](const auto& a) { return fg::log(a) + fg::sqrt(a); }, s);
  check_jvp("tanh sigmoid", [](const auto& a) { return fg::tanh(a) - fg::sigmoid(a) * 2.0; }, s);
  check_jvp("tan cos", [](const auto& a) { return fg::tan(a) / fg::cos(a); }, s);
  check_jvp("pow", [](const auto& a) { return fg::pow(a, 2.5) + fg::pow(a, a); }, s);
  check_jvp("abs relu square", [](const auto& a) { return fg::abs(a - 0.9) + fg::relu(a - 0.9) + fg::square(a); }, s);
  check_jvp("maximum clamp", [](const auto& a) { return fg::maximum(a, 0.9) + fg::clamp(a, 0.5, 1.2); }, s);
  check_jvp("where", [](const auto& a) { return fg::where(a > 0.9, a * a, -a); }, s);
}

TEST_CASE("jvp agrees with reverse mode through broadcasting, reductions, contractions and layout") {
  check_jvp("broadcast", [](const auto& a) { return a * fg::sum(a, fg::dims(0)) + fg::mean(a, fg::dims(1), fg::keep_dims); },
            fg::Shape<2>{3, 4});
  check_jvp("reductions", [](const auto& a) {
    return fg::max(a, fg::dims(1)) + fg::min(a, fg::dims(1)) + fg::prod(a, fg::dims(1)) + fg::logsumexp(a, fg::dims(1));
  }, fg::Shape<2>{3, 4});
  check_jvp("matmul", [](const auto& a) { return fg::matmul(a, fg::transpose(a)); }, fg::Shape<2>{3, 4});
  check_jvp("layout", [](const auto& a) { return fg::reshape(fg::permute(a, {1, 0}), {2, 6}) * 2.0; }, fg::Shape<2>{3, 4});
  check_jvp("softmax", [](const auto& a) { return fg::softmax(a, 1); }, fg::Shape<2>{3, 4});
}


TEST_CASE("the forward-mode Jacobian of an elementwise map is diagonal and equal to the derivative") {
  fg::Tensor<double, 1> x{0.3, -0.7, 1.1};
  const auto j = fg::jacobian([](const auto& v) { return fg::tanh(v); }, x, fg::mode::forward);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) CHECK(j(r, c) == doctest::Approx(r == c ? 1 - std::tanh(x(c)) * std::tanh(x(c)) : 0.0));
}

TEST_CASE("Jacobians from forward and reverse mode agree on rectangular functions") {
  fg::Tensor<double, 2> a{{1, 2, 3}, {4, 5, 6}};
  fg::Tensor<double, 1> x{0.5, -1.0, 2.0};
  auto widen = [&](const auto& v) { return fg::outer(fg::tanh(v), fg::matmul(a, v)); };  // 3 -> 6 outputs
  auto narrow = [&](const auto& v) { return fg::exp(fg::matmul(a, v)); };                 // 3 -> 2 outputs
  const auto wide_forward = fg::jacobian(widen, x, fg::mode::forward);
  const auto wide_reverse = fg::jacobian(widen, x, fg::mode::reverse);
  const auto narrow_forward = fg::jacobian(narrow, x, fg::mode::forward);
  const auto narrow_reverse = fg::jacobian(narrow, x);
  CHECK(wide_forward.dimension(0) == 6);
  for (fg::Index i = 0; i < wide_forward.size(); ++i)
    CHECK(wide_forward.data()[i] == doctest::Approx(wide_reverse.data()[i]));
  for (fg::Index i = 0; i < narrow_forward.size(); ++i)
    CHECK(narrow_forward.data()[i] == doctest::Approx(narrow_reverse.data()[i]));
}

TEST_CASE("a user map contributes to Hessians through a generic derivative and never silently") {
  fg::Tensor<double, 1> x{0.5, 1.5};
  auto generic = [](const auto& v) {
    return fg::sum(fg::map(v, [](auto t) { return t * t * t; }, [](auto t) { return 3 * t * t; }));
  };
  const auto h = fg::hessian(generic, x);
  CHECK(h(0, 0) == doctest::Approx(6 * 0.5));
  CHECK(h(1, 1) == doctest::Approx(6 * 1.5));
  auto plain = [](const auto& v) {
    return fg::sum(fg::map(v, [](double t) { return t * t * t; }, [](double t) { return 3 * t * t; }));
  };
  const auto [value, tangent] = fg::jvp(plain, x, x.value());
  CHECK(tangent() == doctest::Approx(3 * 0.25 * 0.5 + 3 * 2.25 * 1.5));  // f' from the given derivative
  CHECK(std::isnan(fg::hessian(plain, x)(0, 0)));  // f'' unknown: NaN, not a wrong number
}

namespace {

// Evaluates `make(x, s)` on dual tensors both ways, fused (assignment to a Tensor) and
// through Eigen's scalar evaluation of the same expression, for sizes around the SIMD
// widths, and checks values and tangents agree.
template <class S, class Make>
void check_fused_forward(const char* name, Make make) {
  INFO(name);
  using D = fg::Dual<S>;
  std::mt19937 engine(11);
  std::uniform_real_distribution<S> u(S(0.2), S(1.4));
  for (fg::Index n : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 101}) {
    INFO("n = " << n);
    fg::EigenTensor<D, 1> xs(n);
    for (fg::Index i = 0; i < n; ++i) xs(i) = D(u(engine), u(engine) - S(0.8));
    fg::EigenTensor<D, 0> ss;
    ss() = D(S(0.7), S(-1.3));  // a single value with a tangent of its own
    const fg::Tensor<D, 1> x(xs);
    const fg::Tensor<D, 0> s(ss);
    static_assert(fg::expr::lane_region<decltype(make(x, s))>);
    const fg::Tensor<D, 1> fused = make(x, s);
    auto expression = make(x, s);
    expression.prepare();
    const fg::EigenTensor<D, 1> reference = expression.forward();
    const S tolerance = std::is_same_v<S, float> ? S(2e-5) : S(1e-13);
    for (fg::Index i = 0; i < n; ++i) {
      CHECK(fused(i).value == doctest::Approx(reference(i).value).epsilon(tolerance));
      CHECK(fused(i).tangent == doctest::Approx(reference(i).tangent).epsilon(tolerance));
    }
  }
}

}  // namespace

TEST_CASE("forward mode on an elementwise region runs fused and equals dual numbers one element at a time") {
  auto transcendental = [](const auto& x, const auto& s) { return fg::exp(x) * fg::sin(x) + fg::tanh(x * s) - fg::cos(x) / s; };
  auto algebraic = [](const auto& x, const auto& s) {
    return fg::sqrt(x) + fg::log(x + s) * 3.0 - fg::square(x - s) / (x + 1.0) + fg::sigmoid(-x) + fg::abs(x - 0.8);
  };
  auto piecewise = [](const auto& x, const auto& s) { return fg::relu(x - s) + fg::minimum(x, 0.9) + fg::maximum(x, s) - x; };
  // A dual exponent, dual bounds and a user's function run one dual number at a time
  // inside the fused pass.
  auto parameters = [](const auto& x, const auto&) { return fg::pow(x, 2.5) + fg::clamp(x, 0.5, 1.2); };
  auto user_map = [](const auto& x, const auto&) {
    return fg::map(x, [](const auto& v) { return v * v * v; }, [](const auto& v) { return 3.0 * v * v; }) * x;
  };
  check_fused_forward<double>("transcendental", transcendental);
  check_fused_forward<double>("algebraic", algebraic);
  check_fused_forward<double>("piecewise", piecewise);
  check_fused_forward<double>("user map", user_map);
  check_fused_forward<double>("parameters", parameters);
  check_fused_forward<float>("transcendental, float", transcendental);
}

TEST_CASE("jvp returns the tangent of a region that reads the same input several times") {
  const fg::Tensor<double, 1> x(random_values<1>(fg::Shape<1>{37}, 4));
  const auto v = random_values<1>(fg::Shape<1>{37}, 5);
  const auto [value, tangent] = fg::jvp([](const auto& p) { return fg::exp(p) * fg::sin(p) + p * p; }, x, v);
  for (fg::Index i = 0; i < 37; ++i) {
    const double a = x.value()(i);
    CHECK(value(i) == doctest::Approx(std::exp(a) * std::sin(a) + a * a).epsilon(1e-14));
    CHECK(tangent(i) == doctest::Approx((std::exp(a) * (std::sin(a) + std::cos(a)) + 2 * a) * v(i)).epsilon(1e-13));
  }
}

namespace {

// jvp into tensors of another shape holding as many elements gives the two-result form's
// numbers exactly, reshapes them to f(x)'s shape and keeps their storage.
template <class S, class F, std::size_t N>
void check_jvp_into(const char* name, F f, const fg::Shape<N>& dims) {
  constexpr int R = int(N);
  INFO(name);
  const fg::Tensor<S, R> x(fg::EigenTensor<S, R>(random_values<R>(dims, 7).template cast<S>()));
  const fg::EigenTensor<S, R> v = random_values<R>(dims, 8).template cast<S>();
  const auto [value, tangent] = fg::jvp(f, x, v);
  constexpr int Q = std::remove_cvref_t<decltype(value)>::NumIndices;
  fg::EigenTensor<S, Q> value_into, tangent_into;
  if constexpr (Q > 0) {
    std::array<fg::Index, Q> flat;
    flat.fill(1);
    flat[Q - 1] = value.size();  // as many elements, another shape (for Q > 1)
    value_into.resize(flat), tangent_into.resize(flat);
  }
  const S* value_storage = value_into.data();
  const S* tangent_storage = tangent_into.data();
  fg::jvp(f, x, v, value_into, tangent_into);
  CHECK(value_into.dimensions() == value.dimensions());
  CHECK(tangent_into.dimensions() == tangent.dimensions());
  if (value.size() > 0) {
    CHECK(value_into.data() == value_storage);
    CHECK(tangent_into.data() == tangent_storage);
  }
  for (fg::Index i = 0; i < value.size(); ++i) {
    CHECK(value_into.data()[i] == value.data()[i]);
    CHECK(tangent_into.data()[i] == tangent.data()[i]);
  }
}

}  // namespace

TEST_CASE("jvp into the caller's tensors gives the two-result form's numbers without reallocating them") {
  const auto region = [](const auto& p) { return fg::exp(p) * fg::sin(p) + p * p; };
  const auto product = [](const auto& p) { return fg::matmul(p, fg::transpose(p)); };
  const auto row_sums = [](const auto& p) { return fg::sum(fg::tanh(p), fg::dims(1)); };
  const auto total = [](const auto& p) { return fg::sum(fg::exp(p)); };
  const auto statement = [](const auto& p) {
    std::remove_cvref_t<decltype(p)> y = p * p - p;
    return y;
  };
  const fg::Shape<2> dims{3, 4};
  check_jvp_into<double>("region", region, dims);
  check_jvp_into<float>("region, float", region, dims);
  check_jvp_into<double>("matrix product", product, dims);
  check_jvp_into<double>("reduction along a dimension", row_sums, dims);
  check_jvp_into<float>("full reduction, float", total, dims);
  check_jvp_into<double>("a Tensor returned", statement, dims);
  check_jvp_into<double>("empty region", region, fg::Shape<2>{0, 4});
  check_jvp_into<double>("empty product", product, fg::Shape<2>{3, 0});
  check_jvp_into<float>("rank 0", region, fg::Shape<0>{});
}

TEST_CASE("jvp into the caller's tensors resizes them to f's result") {
  const fg::Tensor<double, 1> x(random_values<1>(fg::Shape<1>{5}, 3));
  const auto v = random_values<1>(fg::Shape<1>{5}, 4);
  fg::EigenTensor<double, 2> value(1, 1), tangent(7, 2);
  fg::jvp([](const auto& p) { return fg::matmul(fg::reshape(p, fg::Shape<2>{5, 1}), fg::reshape(p, fg::Shape<2>{1, 5})); },
          x, v, value, tangent);
  CHECK(value.dimensions() == fg::Shape<2>{5, 5});
  CHECK(tangent.dimensions() == fg::Shape<2>{5, 5});
  CHECK(value(1, 2) == doctest::Approx(x.value()(1) * x.value()(2)));
  CHECK(tangent(1, 2) == doctest::Approx(v(1) * x.value()(2) + x.value()(1) * v(2)));
}

TEST_CASE("jvp may write its tangent over the direction it reads") {
  const fg::Tensor<double, 1> x(random_values<1>(fg::Shape<1>{9}, 5));
  const auto v = random_values<1>(fg::Shape<1>{9}, 6);
  const auto f = [](const auto& p) { return fg::sin(p) * p; };
  const auto [expected_value, expected_tangent] = fg::jvp(f, x, v);
  fg::EigenTensor<double, 1> direction = v, value;
  fg::jvp(f, x, direction, value, direction);
  for (fg::Index i = 0; i < 9; ++i) {
    CHECK(value(i) == expected_value(i));
    CHECK(direction(i) == expected_tangent(i));
  }
}

TEST_CASE("jvp into one tensor for both results, or with f throwing, changes nothing and says why") {
  const fg::Tensor<double, 1> x(random_values<1>(fg::Shape<1>{4}, 1));
  const auto v = random_values<1>(fg::Shape<1>{4}, 2);
  fg::EigenTensor<double, 1> value(4), tangent(2);
  value.setConstant(3.0), tangent.setConstant(5.0);
  const auto f = [](const auto& p) { return p * 2.0; };
  CHECK_THROWS_WITH_AS(fg::jvp(f, x, v, value, value), doctest::Contains("two different tensors"), std::invalid_argument);

  const auto throwing = [](const auto& p) -> decltype(p * 2.0) { throw std::runtime_error("user code failed"); };
  CHECK_THROWS_WITH_AS(fg::jvp(throwing, x, v, value, tangent), "user code failed", std::runtime_error);
  const fg::EigenTensor<double, 1> short_direction(3);
  CHECK_THROWS_AS(fg::jvp(f, x, short_direction, value, tangent), fg::shape_error);
  CHECK(value.dimension(0) == 4);
  CHECK(tangent.dimension(0) == 2);
  for (fg::Index i = 0; i < 4; ++i) CHECK(value(i) == 3.0);
  for (fg::Index i = 0; i < 2; ++i) CHECK(tangent(i) == 5.0);
}

TEST_CASE_TEMPLATE("jvp into the caller's tensors passes zeros, subnormals, the largest values, inf and NaN on bit for bit",
                   S, float, double) {
  using limits = std::numeric_limits<S>;
  const fg::EigenTensor<S, 1> points = [] {
    fg::EigenTensor<S, 1> t(9);
    t.setValues({S(0), -S(0), limits::denorm_min(), -limits::denorm_min(), limits::max(), -limits::max(),
                 limits::infinity(), -limits::infinity(), limits::quiet_NaN()});
    return t;
  }();
  const fg::Tensor<S, 1> x(points);
  fg::EigenTensor<S, 1> v(9);
  v.setValues({S(1), S(-1), limits::infinity(), limits::quiet_NaN(), S(0), -S(0), S(2), limits::denorm_min(), S(1)});
  const auto bits_equal = [](const fg::EigenTensor<S, 1>& a, const fg::EigenTensor<S, 1>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(S) * std::size_t(a.size())) == 0;
  };
  const auto region = [](const auto& p) { return fg::exp(p) * p - fg::abs(p); };
  const auto statement = [](const auto& p) {
    std::remove_cvref_t<decltype(p)> y = p * p;
    return y;
  };
  fg::EigenTensor<S, 1> value(9), tangent(9);
  {
    const auto [expected_value, expected_tangent] = fg::jvp(region, x, v);
    fg::jvp(region, x, v, value, tangent);
    CHECK(bits_equal(value, expected_value));
    CHECK(bits_equal(tangent, expected_tangent));
    CHECK(std::isnan(double(value(8))));
    CHECK(std::signbit(double(value(1))));  // exp(-0) * -0 - |-0| = -0 - +0 = -0
  }
  {
    const auto [expected_value, expected_tangent] = fg::jvp(statement, x, v);
    fg::jvp(statement, x, v, value, tangent);
    CHECK(bits_equal(value, expected_value));
    CHECK(bits_equal(tangent, expected_tangent));
    CHECK(value(6) == limits::infinity());
  }
}
