// fusegrad functions minimized by LBFGS++ (include/fusegrad/solvers/lbfgspp.hpp).
#include <fusegrad/solvers/lbfgspp.hpp>

#include <doctest/doctest.h>

#include <LBFGSB.h>

#include <fusegrad/fusegrad.hpp>

#include "rosenbrock.hpp"

namespace fg = fusegrad;

using fg::testing::rosenbrock;

TEST_CASE("LBFGS++ minimizes the 10-dimensional Rosenbrock function to 1e-8 with fusegrad's gradient") {
  LBFGSpp::LBFGSParam<double> param;
  // Stop on |g| < 1e-10 (the relative test, |g| < epsilon_rel |x|, is as strict); near
  // 1e-12 the line search runs out of precision and LBFGS++ throws.
  param.epsilon = 1e-10;
  param.epsilon_rel = 1e-10;
  param.max_iterations = 1000;
  LBFGSpp::LBFGSSolver<double> solver(param);
  auto objective = fg::make_lbfgspp_objective<double>(rosenbrock);
  // From 0: the 10-dimensional function also has a local minimum near x0 = -1 (f = 3.99),
  // which starts like (-1.2, 1, ...) reach.
  Eigen::VectorXd x = Eigen::VectorXd::Zero(10);
  double fx = 0;
  const int iterations = solver.minimize(objective, x, fx);
  INFO("iterations ", iterations, ", evaluations ", objective.evaluations(), ", f ", fx);
  CHECK(iterations > 0);
  CHECK(fx < 1e-16);
  for (int i = 0; i < 10; ++i) CHECK(std::abs(x(i) - 1.0) < 1e-8);
}

TEST_CASE("the LBFGS++ objective's gradient is fusegrad's, for a function of any shape of parameters") {
  auto objective = fg::make_lbfgspp_objective<double>(rosenbrock);
  Eigen::VectorXd x(3), g;
  x << 0.5, -0.25, 2.0;
  const double value = objective(x, g);
  // d/dx0 = -400 x0 (x1 - x0^2) - 2 (1 - x0); d/dx1 = 200 (x1 - x0^2) - 400 x1 (x2 - x1^2) - 2 (1 - x1);
  // d/dx2 = 200 (x2 - x1^2).
  const double x0 = 0.5, x1 = -0.25, x2 = 2.0;
  CHECK(value == doctest::Approx(100 * std::pow(x1 - x0 * x0, 2) + std::pow(1 - x0, 2) +
                                 100 * std::pow(x2 - x1 * x1, 2) + std::pow(1 - x1, 2)));
  REQUIRE(g.size() == 3);
  CHECK(g(0) == doctest::Approx(-400 * x0 * (x1 - x0 * x0) - 2 * (1 - x0)));
  CHECK(g(1) == doctest::Approx(200 * (x1 - x0 * x0) - 400 * x1 * (x2 - x1 * x1) - 2 * (1 - x1)));
  CHECK(g(2) == doctest::Approx(200 * (x2 - x1 * x1)));
  // A second call at a point of another size starts afresh.
  Eigen::VectorXd y = Eigen::VectorXd::Ones(5);
  CHECK(objective(y, g) == 0.0);
  CHECK(g.size() == 5);
  CHECK(g.norm() == 0.0);
  CHECK(objective.evaluations() == 2);
}

TEST_CASE("LBFGS-B minimizes under bounds through the same objective") {
  LBFGSpp::LBFGSBParam<double> param;
  param.epsilon = 1e-10;
  param.max_iterations = 500;
  LBFGSpp::LBFGSBSolver<double> solver(param);
  auto objective = fg::make_lbfgspp_objective<double>(rosenbrock);
  Eigen::VectorXd x = Eigen::VectorXd::Constant(4, 0.0);
  // x[0] may not exceed 0.5: the constrained minimum has x0 = 0.5.
  Eigen::VectorXd lower = Eigen::VectorXd::Constant(4, -2.0), upper = Eigen::VectorXd::Constant(4, 2.0);
  upper(0) = 0.5;
  double fx = 0;
  solver.minimize(objective, x, fx, lower, upper);
  CHECK(x(0) == doctest::Approx(0.5));
  CHECK(fx > 0.0);
}

TEST_CASE("an exception thrown by the function reaches the caller of minimize") {
  LBFGSpp::LBFGSParam<double> param;
  LBFGSpp::LBFGSSolver<double> solver(param);
  auto objective = fg::make_lbfgspp_objective<double>([](const fg::Tensor<double, 1>& x) {
    fg::Tensor<double, 1> other(fg::Shape<1>{x.size() + 1});
    return fg::sum(x * other);  // a shape mismatch
  });
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  double fx = 0;
  CHECK_THROWS_AS(solver.minimize(objective, x, fx), fg::shape_error);
}
