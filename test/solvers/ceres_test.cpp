// fusegrad functions solved by Ceres (include/fusegrad/solvers/ceres.hpp): a gradient
// problem (Rosenbrock) and a least-squares curve fit with fusegrad's Jacobian.
#include <fusegrad/solvers/ceres.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "rosenbrock.hpp"

namespace fg = fusegrad;

namespace {

using fg::testing::rosenbrock;

// y = a exp(b t) + c at 40 points, with a deterministic wobble in place of noise.
struct curve_data {
  fg::Tensor<double, 1> t{fg::Shape<1>{40}}, y{fg::Shape<1>{40}};
  curve_data() {
    for (fg::Index i = 0; i < 40; ++i) {
      const double ti = 0.05 * double(i);
      t.mutable_value()(i) = ti;
      y.mutable_value()(i) = 1.5 * std::exp(-0.8 * ti) + 0.3 + 1e-3 * std::sin(7.0 * double(i));
    }
  }
};

}  // namespace

TEST_CASE("Ceres's gradient solver minimizes the 10-dimensional Rosenbrock function with fusegrad's gradient") {
  std::vector<double> x(10, -1.2);
  x[1] = 1.0;
  ceres::GradientProblem problem(new fg::ceres_first_order_function(rosenbrock, 10));
  ceres::GradientProblemSolver::Options options;
  options.max_num_iterations = 1000;
  options.function_tolerance = 1e-16;
  options.gradient_tolerance = 1e-14;
  options.parameter_tolerance = 1e-16;
  ceres::GradientProblemSolver::Summary summary;
  ceres::Solve(options, problem, x.data(), &summary);
  INFO(summary.BriefReport());
  CHECK(summary.IsSolutionUsable());
  for (double v : x) CHECK(std::abs(v - 1.0) < 1e-8);
}

TEST_CASE("a Ceres curve fit with fusegrad's Jacobian recovers the curve's parameters") {
  const curve_data data;
  auto residuals = [&data](const fg::Tensor<double, 1>& p) {
    auto a = fg::slice(p, {0}, {1}), b = fg::slice(p, {1}, {1}), c = fg::slice(p, {2}, {1});
    const fg::Shape<1> n{40};
    return fg::broadcast_to(a, n) * fg::exp(fg::broadcast_to(b, n) * data.t) + fg::broadcast_to(c, n) - data.y;
  };
  double p[3] = {1.0, 0.0, 0.0};
  ceres::Problem problem;
  problem.AddResidualBlock(new fg::ceres_cost_function(residuals, 40, 3), nullptr, p);
  ceres::Solver::Options options;
  options.function_tolerance = 1e-14;
  options.parameter_tolerance = 1e-14;
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);
  INFO(summary.BriefReport());
  CHECK(summary.IsSolutionUsable());
  CHECK(p[0] == doctest::Approx(1.5).epsilon(1e-2));
  CHECK(p[1] == doctest::Approx(-0.8).epsilon(1e-2));
  CHECK(p[2] == doctest::Approx(0.3).epsilon(1e-2));
}

TEST_CASE("the Ceres cost function's residuals and Jacobian are fusegrad's, row-major") {
  auto r = [](const fg::Tensor<double, 1>& p) { return fg::square(p) * 3.0 + fg::sum(p); };
  fg::ceres_cost_function cost(r, 2, 2);
  const double p[2] = {1.0, 2.0};
  const double* blocks[1] = {p};
  double residuals[2], jacobian[4];
  double* jacobians[1] = {jacobian};
  REQUIRE(cost.Evaluate(blocks, residuals, jacobians));
  CHECK(residuals[0] == 6.0);   // 3 + 3
  CHECK(residuals[1] == 15.0);  // 12 + 3
  // d r0 / d p = (6 p0 + 1, 1), d r1 / d p = (1, 6 p1 + 1).
  CHECK(jacobian[0] == 7.0);
  CHECK(jacobian[1] == 1.0);
  CHECK(jacobian[2] == 1.0);
  CHECK(jacobian[3] == 13.0);
  CHECK(cost.Evaluate(blocks, residuals, nullptr));
}

TEST_CASE("a Ceres cost function that gives the wrong number of residuals is a shape_error") {
  auto r = [](const fg::Tensor<double, 1>& p) { return p * 2.0; };
  fg::ceres_cost_function cost(r, 3, 2);
  const double p[2] = {1.0, 2.0};
  const double* blocks[1] = {p};
  double residuals[3];
  CHECK_THROWS_AS(cost.Evaluate(blocks, residuals, nullptr), fg::shape_error);
}
