// Shapes whose element count overflows Index are a shape_error naming the operation,
// wherever a shape is made (factories, constructors, reshape, broadcasting, padding,
// joining, contractions, convolutions); convolution sizes never overflow for any stride.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"

#include <limits>

namespace fg = fusegrad;
using fg::Index;
using fg::testing::check_mentions;
using fg::testing::shape_error_of;

namespace {
constexpr Index two_to(int power) { return Index(1) << power; }
constexpr Index largest = std::numeric_limits<Index>::max();
}  // namespace

TEST_CASE_TEMPLATE("a factory or constructor whose element count overflows is a shape_error", S, float, double) {
  using T2 = fg::Tensor<S, 2>;
  check_mentions(shape_error_of([] { T2::random(two_to(33), two_to(31)); }), {"Tensor", "overflow"});
  check_mentions(shape_error_of([] { T2::zeros(two_to(40), two_to(40)); }), {"Tensor", "overflow"});
  check_mentions(shape_error_of([] { T2::ones(largest, 2); }), {"Tensor", "overflow"});
  check_mentions(shape_error_of([] { T2::constant({two_to(62), 4}, S(1)); }), {"Tensor", "overflow"});
  check_mentions(shape_error_of([] { fg::Tensor<S, 3> t(two_to(40), two_to(40), 0); }), {"Tensor", "overflow"});
  // Size 0 with the other dimensions' product in range is an ordinary empty tensor.
  fg::Tensor<S, 3> empty(two_to(31), 0, two_to(31));
  CHECK(empty.size() == 0);
}

TEST_CASE_TEMPLATE("reshape, broadcasting and padding that overflow the element count are shape_errors", S, float,
                   double) {
  fg::Tensor<S, 2> wide(0, two_to(40));
  fg::Tensor<S, 2> tall(two_to(40), 0);
  check_mentions(shape_error_of([&] { fg::reshape(wide, {two_to(62), 4, 0}); }), {"reshape"});
  check_mentions(shape_error_of([&] { fg::reshape(wide, {-1, two_to(40), two_to(40)}); }), {"reshape"});
  fg::Tensor<S, 2> one(1, 1);
  check_mentions(shape_error_of([&] { fg::broadcast_to(one, {two_to(40), two_to(40)}); }),
                 {"broadcast_to", "overflow"});
  fg::Tensor<S, 3> column(two_to(40), 1, 0), row(1, two_to(40), 0);
  check_mentions(shape_error_of([&] { auto e = column + row; }), {"add", "overflow"});
  check_mentions(shape_error_of([&] { fg::pad(one, {std::pair<Index, Index>{largest, 1}, {0, 0}}); }), {"pad"});
  check_mentions(shape_error_of([&] { fg::pad(one, {std::pair<Index, Index>{two_to(40), 0}, {two_to(40), 0}}); }),
                 {"pad", "overflow"});
  fg::Tensor<S, 2> huge_empty(0, two_to(62));
  check_mentions(shape_error_of([&] { fg::concat({huge_empty, huge_empty}, 1); }), {"concat"});
  // The same operations within range still give the right empty shapes.
  CHECK(fg::eval(fg::reshape(wide, {two_to(20), 0, two_to(20)})).dimensions() ==
        fg::Shape<3>{two_to(20), 0, two_to(20)});
  CHECK(fg::eval(tall + fg::Tensor<S, 1>(0)).dimensions() == fg::Shape<2>{two_to(40), 0});
}

TEST_CASE_TEMPLATE("a contraction whose output element count overflows is a shape_error", S, float, double) {
  fg::Tensor<S, 2> a(two_to(40), 0), b(0, two_to(40));
  check_mentions(shape_error_of([&] { fg::matmul(a, b); }), {"matmul", "overflow"});
  fg::Tensor<S, 3> c(2, two_to(40), 0), d(2, 0, two_to(40));
  check_mentions(shape_error_of([&] { fg::matmul(c, d); }), {"matmul", "overflow"});
}

TEST_CASE_TEMPLATE("a convolution with a huge stride has the output size PyTorch gives", S, float, double) {
  fg::Tensor<S, 4> x = fg::Tensor<S, 4>::ones(1, 1, 5, 6);
  fg::Tensor<S, 4> k = fg::Tensor<S, 4>::ones(1, 1, 2, 3);
  for (fg::padding p : {fg::padding::valid, fg::padding::same}) {
    fg::Tensor<S, 4> y = fg::conv2d(x, k, largest, p);
    // floor((H - kh) / s) + 1 and ceil(H / s): one position per dimension.
    CHECK(y.dimensions() == fg::Shape<4>{1, 1, 1, 1});
    // The one position has the kernel over the input's top left corner (same padding adds
    // no zeros: (OH - 1) * s + kh - H < 0).
    CHECK(y(0, 0, 0, 0) == S(6));
  }
  fg::Tensor<S, 3> signal = fg::Tensor<S, 3>::ones(1, 1, 4);
  fg::Tensor<S, 3> filter = fg::Tensor<S, 3>::ones(1, 1, 2);
  fg::Tensor<S, 3> z = fg::conv1d(signal, filter, largest - 1, fg::padding::same);
  CHECK(z.dimensions() == fg::Shape<3>{1, 1, 1});
}

TEST_CASE_TEMPLATE("a convolution whose output element count overflows is a shape_error", S, float, double) {
  fg::Tensor<S, 4> x(two_to(40), 0, 1, 1);
  fg::Tensor<S, 4> k(two_to(40), 0, 1, 1);
  check_mentions(shape_error_of([&] { fg::conv2d(x, k); }), {"conv2d", "overflow"});
}
