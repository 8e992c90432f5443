// What the gradient is where the derivative does not exist (a kink, a tie, a pole), as
// decided for fusegrad: the same on the per-node path, the fused path and in forward mode.
#include "extreme_table.hpp"

namespace fg = fusegrad;
using fg::testing::check_rows;
using fg::testing::Row;

namespace {

template <class T>
constexpr T inf = std::numeric_limits<T>::infinity();

}  // namespace

TEST_CASE_TEMPLATE("abs, relu and sqrt at zero", T, float, double) {
  // abs and relu: 0 at 0 (the subgradient with the smallest magnitude; PyTorch's choice).
  check_rows<T>({{"abs", T(0), T(0), T(0)}, {"abs", T(-0.0), T(0), T(0)}}, [](const auto& x) { return fg::abs(x); },
                T(-2), T(2), T(-1));
  check_rows<T>({{"relu", T(0), T(0), T(0)}, {"relu", T(-0.0), T(0), T(0)}},
                [](const auto& x) { return fg::relu(x); }, T(2), T(2), T(1));
  // sqrt: 1 / (2 sqrt(x)), the one-sided derivative: inf at 0 (-inf at -0, by IEEE
  // division by -0).
  check_rows<T>({{"sqrt", T(0), T(0), inf<T>}, {"sqrt", T(-0.0), T(-0.0), -inf<T>}},
                [](const auto& x) { return fg::sqrt(x); }, T(4), T(2), T(0.25));
}

TEST_CASE_TEMPLATE("log and powers at zero", T, float, double) {
  check_rows<T>({{"log", T(0), -inf<T>, inf<T>}, {"log", T(-0.0), -inf<T>, -inf<T>}},
                [](const auto& x) { return fg::log(x); }, T(1), T(0), T(1));
  // p x^(p-1) as IEEE arithmetic gives it, except p = 0, whose derivative is 0 everywhere.
  check_rows<T>({{"pow(x, 2)", T(0), T(0), T(0)}}, [](const auto& x) { return fg::pow(x, 2); }, T(3), T(9), T(6));
  check_rows<T>({{"pow(x, 1)", T(0), T(0), T(1)}}, [](const auto& x) { return fg::pow(x, 1); }, T(3), T(3), T(1));
  check_rows<T>({{"pow(x, 0.5)", T(0), T(0), inf<T>}}, [](const auto& x) { return fg::pow(x, 0.5); }, T(4), T(2),
                T(0.25));
  check_rows<T>({{"pow(x, 0)", T(0), T(1), T(0)}, {"pow(x, 0)", inf<T>, T(1), T(0)}},
                [](const auto& x) { return fg::pow(x, 0); }, T(3), T(1), T(0));
  check_rows<T>({{"pow(x, -1)", T(0), inf<T>, -inf<T>}}, [](const auto& x) { return fg::pow(x, -1); }, T(2), T(0.5),
                T(-0.25));
}

TEST_CASE_TEMPLATE("clamp passes the gradient at its bounds", T, float, double) {
  check_rows<T>({{"clamp(x, -1, 1)", T(-1), T(-1), T(1)}, {"clamp(x, -1, 1)", T(1), T(1), T(1)}},
                [](const auto& x) { return fg::clamp(x, -1, 1); }, T(3), T(1), T(0));
}

TEST_CASE_TEMPLATE("maximum and minimum give a tie's gradient to their left operand", T, float, double) {
  check_rows<T>({{"maximum(x, 1)", T(1), T(1), T(1)}}, [](const auto& x) { return fg::maximum(x, 1); }, T(3), T(3),
                T(1));
  check_rows<T>({{"maximum(1, x)", T(1), T(1), T(0)}}, [](const auto& x) { return fg::maximum(1, x); }, T(3), T(3),
                T(1));
  check_rows<T>({{"minimum(x, 1)", T(1), T(1), T(1)}}, [](const auto& x) { return fg::minimum(x, 1); }, T(-3), T(-3),
                T(1));
  check_rows<T>({{"minimum(1, x)", T(1), T(1), T(0)}}, [](const auto& x) { return fg::minimum(1, x); }, T(-3), T(-3),
                T(1));
  // Two tensors, both needing gradients: per element, fused, and in forward mode.
  fg::Tensor<T, 1> a = fg::Tensor<T, 1>::constant({37}, T(2));
  fg::Tensor<T, 1> b = fg::Tensor<T, 1>::constant({37}, T(2));
  a.requires_grad(true);
  b.requires_grad(true);
  fg::Tensor<T, 0> total = fg::sum(fg::maximum(a, b));
  total.backward();
  fg::Tensor<T, 1> smallest = fg::minimum(a, b);
  smallest.backward();
  for (fg::Index i : {fg::Index(3), fg::Index(36)}) {
    CHECK(a.grad()(i) == T(2));
    CHECK(b.grad()(i) == T(0));
  }
  const auto [value, tangent] = fg::jvp([&b](const auto& x) { return fg::maximum(x, b); }, a.detach(),
                                        fg::Tensor<T, 1>::ones({37}));
  CHECK(tangent(3) == T(1));
  CHECK(tangent(36) == T(1));
}

TEST_CASE_TEMPLATE("max and min share a tie's gradient equally, also in forward mode", T, float, double) {
  fg::Tensor<T, 2> x{{T(1), T(3), T(3), T(2)}, {T(-1), T(-1), T(-1), T(0)}};
  x.requires_grad(true);
  fg::Tensor<T, 0> largest = fg::max(x);
  largest.backward();
  CHECK(x.grad()(0, 1) == T(0.5));
  CHECK(x.grad()(0, 2) == T(0.5));
  CHECK(x.grad()(0, 0) == T(0));
  x.zero_grad();
  fg::Tensor<T, 1> row_min = fg::min(x, fg::dims(1));
  row_min.backward();
  CHECK(x.grad()(0, 0) == T(1));
  for (fg::Index j = 0; j < 3; ++j) CHECK(x.grad()(1, j) == doctest::Approx(1.0 / 3));
  CHECK(x.grad()(1, 3) == T(0));
  // Forward mode: the tangent of a max is the mean of the tied elements' tangents, the
  // directional derivative that the shared gradient gives.
  fg::Tensor<T, 2> direction{{T(0), T(1), T(0), T(0)}, {T(1), T(0), T(0), T(0)}};
  const auto [value, tangent] = fg::jvp([](const auto& a) { return fg::max(a); }, x.detach(), direction);
  CHECK(value() == T(3));
  CHECK(tangent() == T(0.5));
  const auto [mins, min_tangents] = fg::jvp([](const auto& a) { return fg::min(a, fg::dims(1)); }, x.detach(), direction);
  CHECK(mins(1) == T(-1));
  CHECK(min_tangents(0) == T(0));
  CHECK(min_tangents(1) == doctest::Approx(1.0 / 3));
}

TEST_CASE_TEMPLATE("pow of two tensors at a zero base", T, float, double) {
  // d/dy 0^y = 0 for y > 0 (0^y is 0 there), not 0 * log 0 = NaN; d/dx as pow(x, number).
  fg::Tensor<T, 1> x{T(0), T(0), T(0), T(2)};
  fg::Tensor<T, 1> y{T(2), T(0.5), T(0), T(3)};
  x.requires_grad(true);
  y.requires_grad(true);
  fg::Tensor<T, 1> p = fg::pow(x, y);
  p.backward();
  CHECK(p(0) == T(0));
  CHECK(p(2) == T(1));
  const std::vector<double> dx{0, double(inf<T>), 0, 12};
  const std::vector<double> dy{0, 0, -double(inf<T>), 8 * std::log(2.0)};
  for (int i = 0; i < 4; ++i) {
    INFO("element ", i);
    CHECK(fg::testing::matches(x.grad()(i), T(dx[i]), 16));
    CHECK(fg::testing::matches(y.grad()(i), T(dy[i]), 16));
  }
  // The fused sum gives the same.
  x.zero_grad();
  y.zero_grad();
  fg::Tensor<T, 0> total = fg::sum(fg::pow(x, y));
  total.backward();
  for (int i = 0; i < 4; ++i) {
    INFO("fused, element ", i);
    CHECK(fg::testing::matches(x.grad()(i), T(dx[i]), 16));
    CHECK(fg::testing::matches(y.grad()(i), T(dy[i]), 16));
  }
  // 2^x, a number base: d/dx 2^x = 2^x ln 2; 0^x: 0 for x > 0.
  fg::Tensor<T, 1> e{T(1), T(3)};
  e.requires_grad(true);
  fg::Tensor<T, 0> zero_base = fg::sum(fg::pow(0, e));
  zero_base.backward();
  CHECK(e.grad()(0) == T(0));
  CHECK(e.grad()(1) == T(0));
}
