// Bad input gets a clear error, never a crash or a silent wrong answer: shape
// mismatches name the operation and both shapes, reductions check their dimension
// lists, and NaN flows through values and gradients as NaN.
//
// Rank mismatches are compile-time errors; test/compile_fail/ checks their message.
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace fg = fusegrad;
using fg::testing::check_mentions;
using fg::testing::shape_error_of;

namespace {

using Scalar = fg::Tensor<double, 0>;
using Vector = fg::Tensor<double, 1>;
using Matrix = fg::Tensor<double, 2>;
using Cube = fg::Tensor<double, 3>;

constexpr double NaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEST_SUITE("shape mismatches") {

TEST_CASE("adding tensors of incompatible shapes throws shape_error naming add and both shapes") {
  Matrix a = Matrix::ones(2, 3);
  Vector b = Vector::ones(4);
  const std::string message = shape_error_of([&] { Matrix c = a + b; });
  check_mentions(message, {"add", "(2, 3)", "(4,)"});
}

TEST_CASE("a shape mismatch is reported when the expression is built, before anything is evaluated") {
  Matrix a = Matrix::ones(2, 3);
  Vector b = Vector::ones(4);
  CHECK_THROWS_AS((void)(a + b), fg::shape_error);
  CHECK_THROWS_AS((void)(fg::exp(a) * 2.0 + fg::sin(b)), fg::shape_error);
}

TEST_CASE("every arithmetic operator names itself in its shape error") {
  Matrix a = Matrix::ones(2, 3);
  Vector b = Vector::ones(4);
  check_mentions(shape_error_of([&] { Matrix c = a - b; }), {"subtract", "(2, 3)", "(4,)"});
  check_mentions(shape_error_of([&] { Matrix c = a * b; }), {"multiply", "(2, 3)", "(4,)"});
  check_mentions(shape_error_of([&] { Matrix c = a / b; }), {"divide", "(2, 3)", "(4,)"});
  check_mentions(shape_error_of([&] { Matrix c = fg::pow(a, b); }), {"pow", "(2, 3)", "(4,)"});
  check_mentions(shape_error_of([&] { Matrix c = fg::minimum(a, b); }), {"minimum", "(2, 3)", "(4,)"});
}

TEST_CASE("maximum of incompatible shapes throws shape_error naming maximum and both shapes") {
  Matrix a = Matrix::ones(2, 3);
  Vector b = Vector::ones(4);
  check_mentions(shape_error_of([&] { Matrix c = fg::maximum(a, b); }), {"maximum", "(2, 3)", "(4,)"});
}

TEST_CASE("where with incompatible shapes throws shape_error naming where and both shapes") {
  Matrix a = Matrix::ones(2, 3);
  Vector b = Vector::ones(4);
  // the branches disagree
  check_mentions(shape_error_of([&] { Matrix c = fg::where(a > 0.0, a, b); }), {"where", "(2, 3)", "(4,)"});
  // the mask disagrees with a branch
  check_mentions(shape_error_of([&] { Matrix c = fg::where(b > 0.0, a, 0.0); }), {"where", "(4,)", "(2, 3)"});
}

TEST_CASE("zip with incompatible shapes throws shape_error naming zip and both shapes") {
  Matrix a = Matrix::ones(2, 3);
  Vector b = Vector::ones(4);
  auto f = [](double x, double y) { return x * y; };
  auto dfdx = [](double, double y) { return y; };
  auto dfdy = [](double x, double) { return x; };
  check_mentions(shape_error_of([&] { Matrix c = fg::zip(a, b, f, dfdx, dfdy); }), {"zip", "(2, 3)", "(4,)"});
}

TEST_CASE("a comparison of incompatible shapes throws shape_error naming both shapes") {
  Matrix a = Matrix::ones(2, 3);
  Vector b = Vector::ones(4);
  check_mentions(shape_error_of([&] { Matrix c = fg::where(a > b, a, 0.0); }), {"(2, 3)", "(4,)"});
}

TEST_CASE("shapes that broadcast do not throw") {
  Matrix a = Matrix::ones(2, 3);
  Vector row = Vector::ones(3);
  Matrix column = Matrix::ones(2, 1);
  Cube batch = Cube::ones(4, 1, 3);
  CHECK_NOTHROW(Matrix(a + row));
  CHECK_NOTHROW(Matrix(a * column));
  CHECK_NOTHROW(Cube(batch - a));
  CHECK(Cube(batch - a).dimensions() == fg::Shape<3>{4, 2, 3});
}

TEST_CASE("a mismatch in a later dimension of a broadcast is still found") {
  Cube a = Cube::ones(4, 2, 3);
  Matrix b = Matrix::ones(5, 3);
  check_mentions(shape_error_of([&] { Cube c = a + b; }), {"add", "(4, 2, 3)", "(5, 3)"});
}

}  // TEST_SUITE("shape mismatches")

TEST_SUITE("reduction dimensions") {

TEST_CASE("a reduction over a dimension the operand does not have throws shape_error") {
  Matrix x = Matrix::ones(2, 3);
  check_mentions(shape_error_of([&] { Vector y = fg::sum(x, fg::dims(2)); }), {"sum", "(2,)", "(2, 3)"});
  check_mentions(shape_error_of([&] { Vector y = fg::sum(x, fg::dims(-1)); }), {"sum", "(-1,)", "(2, 3)"});
  CHECK_THROWS_AS(Matrix(fg::sum(x, fg::dims(5), fg::keep_dims)), fg::shape_error);
}

TEST_CASE("a reduction listing a dimension twice throws shape_error") {
  Matrix x = Matrix::ones(2, 3);
  check_mentions(shape_error_of([&] { Scalar y = fg::sum(x, fg::dims(1, 1)); }), {"sum", "(1, 1)", "(2, 3)"});
  CHECK_THROWS_AS(Matrix(fg::sum(x, fg::dims(0, 0), fg::keep_dims)), fg::shape_error);
}

TEST_CASE("every reduction checks its dimension list and names itself") {
  Matrix x = Matrix::ones(2, 3);
  check_mentions(shape_error_of([&] { Vector y = fg::mean(x, fg::dims(2)); }), {"mean"});
  check_mentions(shape_error_of([&] { Vector y = fg::max(x, fg::dims(2)); }), {"max"});
  check_mentions(shape_error_of([&] { Vector y = fg::min(x, fg::dims(2)); }), {"min"});
  check_mentions(shape_error_of([&] { Vector y = fg::prod(x, fg::dims(2)); }), {"prod"});
  check_mentions(shape_error_of([&] { Vector y = fg::logsumexp(x, fg::dims(2)); }), {"logsumexp"});
  auto plus = [](double a, double b) { return a + b; };
  auto one = [](double, double) { return 1.0; };
  check_mentions(shape_error_of([&] { Vector y = fg::reduce(x, fg::dims(2), 0.0, plus, one); }), {"reduce"});
}

TEST_CASE("reductions over listed dimensions accept them in any order") {
  Cube x = Cube::ones(2, 3, 4);
  Vector y = fg::sum(x, fg::dims(2, 0));
  CHECK(y.dimensions() == fg::Shape<1>{3});
  CHECK(y(0) == 8);
}

}  // TEST_SUITE("reduction dimensions")

TEST_SUITE("NaN") {

TEST_CASE("NaN in an input gives NaN in the value and gradient at that element only") {
  Vector x{1, NaN, 3};
  x.requires_grad(true);
  Vector y = x * x;
  CHECK(y(0) == 1);
  CHECK(std::isnan(y(1)));
  CHECK(y(2) == 9);
  Scalar loss = fg::sum(y);
  CHECK(std::isnan(loss.item()));
  loss.backward();
  CHECK(x.grad()(0) == 2);
  CHECK(std::isnan(x.grad()(1)));
  CHECK(x.grad()(2) == 6);
}

TEST_CASE("NaN propagates through elementwise functions and their gradients") {
  Vector x{0.5, NaN};
  x.requires_grad(true);
  Scalar loss = fg::sum(fg::tanh(x) + fg::exp(x) * fg::sin(x) + fg::sigmoid(x) + fg::sqrt(x) + fg::log(x));
  loss.backward();
  CHECK(std::isnan(loss.item()));
  CHECK(std::isfinite(x.grad()(0)));
  CHECK(std::isnan(x.grad()(1)));
}

TEST_CASE("NaN in a reduction gives a NaN result and no exception") {
  Matrix x{{1, 2}, {NaN, 4}};
  x.requires_grad(true);
  Vector rows = fg::logsumexp(x, fg::dims(1));
  CHECK(std::isfinite(rows(0)));
  CHECK(std::isnan(rows(1)));
  Scalar loss = fg::sum(rows);
  CHECK_NOTHROW(loss.backward());
  CHECK(std::isfinite(x.grad()(0, 0)));
  CHECK(std::isfinite(x.grad()(0, 1)));
  CHECK(std::isnan(x.grad()(1, 0)));
}

TEST_CASE("a mean over a NaN is NaN while its gradient stays 1/n") {
  Vector x{1, NaN, 3, 4};
  x.requires_grad(true);
  Scalar m = fg::mean(x);
  CHECK(std::isnan(m.item()));
  m.backward();
  for (int i = 0; i < 4; ++i) CHECK(x.grad()(i) == 0.25);
}

TEST_CASE("NaN in grad_out reaches the inputs' gradients at the same element") {
  Vector x{1, 2, 3};
  x.requires_grad(true);
  Vector y = x * 2.0;
  y.backward(Vector{1, NaN, 1});
  CHECK(x.grad()(0) == 2);
  CHECK(std::isnan(x.grad()(1)));
  CHECK(x.grad()(2) == 2);
}

TEST_CASE("max and min, as reductions and elementwise, give NaN wherever the NaN is") {
  for (int position = 0; position < 3; ++position) {
    CAPTURE(position);
    Vector x{1, 2, 3};
    x.mutable_value()(position) = NaN;
    CHECK(std::isnan(Scalar(fg::max(x)).item()));
    CHECK(std::isnan(Scalar(fg::min(x)).item()));
  }
  Vector many = Vector::ones(2000);
  many.mutable_value()(1000) = NaN;
  CHECK(std::isnan(Scalar(fg::max(many)).item()));
  Vector ones = Vector::ones(3);
  Vector x{1, NaN, 3};
  CHECK(std::isnan(Vector(fg::maximum(ones, x))(1)));
  CHECK(std::isnan(Vector(fg::maximum(x, ones))(1)));
  CHECK(std::isnan(Vector(fg::minimum(ones, x))(1)));
  CHECK(std::isnan(Vector(fg::minimum(x, ones))(1)));
}

}  // TEST_SUITE("NaN")
