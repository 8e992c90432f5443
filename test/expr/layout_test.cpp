// Layout operations: reshape, permute/transpose, broadcast_to, slice, pad, reverse,
// concat and stack. Forward values against explicit index arithmetic, reverse mode
// against central differences and closed forms, fusion with the elementwise
// expressions around them, and bad shapes.
#include "../support/expectations.hpp"
#include "../support/gradient_check.hpp"

#include <string>
#include <type_traits>

namespace fg = fusegrad;
using fg::testing::elements;
using fg::testing::check_mentions;
using fg::testing::shape_error_of;
using fg::Index;
using fg::testing::domain;
using fg::testing::expect_gradients_match_differences;
using fg::testing::random_tensor;

namespace {

// A tensor holding 0, 1, 2, ... in row-major order.
template <int R, class S = double>
fg::Tensor<S, R> iota(const fg::Shape<R>& dims) {
  fg::EigenTensor<S, R> v(dims);
  for (Index i = 0; i < v.size(); ++i) v.data()[i] = S(i);
  return fg::Tensor<S, R>(std::move(v));
}

template <class T>
struct is_plain_tensor : std::false_type {};
template <class S, int R, int O, class I>
struct is_plain_tensor<Eigen::Tensor<S, R, O, I>> : std::true_type {};

template <class T>
fg::Shape<T::rank> shape_of(const T& t) {
  return t.dimensions();
}

}  // namespace

// --- reshape ---------------------------------------------------------------------

TEST_CASE("reshape keeps the row-major order of the elements") {
  auto x = iota<3>({2, 3, 4});
  fg::Tensor<double, 2> y = fg::reshape(x, {4, 6});
  CHECK(shape_of(y) == fg::Shape<2>{4, 6});
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 6; ++j) CHECK(y(i, j) == double(i * 6 + j));

  fg::Tensor<double, 1> flat = fg::reshape(x, std::array<Index, 1>{24});
  for (Index i = 0; i < 24; ++i) CHECK(flat(i) == double(i));

  fg::Tensor<double, 3> inferred = fg::reshape(x, {3, -1, 2});
  CHECK(shape_of(inferred) == fg::Shape<3>{3, 4, 2});
  CHECK(inferred(2, 3, 1) == 23.0);
}

TEST_CASE("reshape turns a one-element tensor into rank 0 and back") {
  fg::Tensor<double, 0> s(2.5);
  fg::Tensor<double, 2> m = fg::reshape(s, {1, 1});
  CHECK(m(0, 0) == 2.5);
  fg::Tensor<double, 0> back = fg::reshape(m, std::array<Index, 0>{});
  CHECK(back.item() == 2.5);

  auto a = random_tensor<double, 0>({});
  expect_gradients_match_differences("reshape rank 0 to 2", [](const auto& t) { return fg::reshape(t, {1, 1}); }, a);
  auto b = random_tensor<double, 2>({1, 1});
  expect_gradients_match_differences(
      "reshape rank 2 to 0", [](const auto& t) { return fg::reshape(t, std::array<Index, 0>{}); }, b);
}

TEST_CASE("reshape passes the gradient back in the operand's shape") {
  auto x = random_tensor<double, 3>({2, 3, 4});
  expect_gradients_match_differences("reshape 3 to 2", [](const auto& t) { return fg::reshape(t, {6, 4}); }, x);
  auto v = random_tensor<double, 1>({12});
  expect_gradients_match_differences("reshape 1 to 4", [](const auto& t) { return fg::reshape(t, {2, 1, 3, 2}); }, v);
  auto f = random_tensor<float, 2>({3, 4});
  expect_gradients_match_differences("reshape float", [](const auto& t) { return fg::reshape(t, {2, 6}); }, f);
}

TEST_CASE("reshape to a different element count throws shape_error naming reshape and both shapes") {
  auto x = iota<2>({2, 3});
  check_mentions(shape_error_of([&] { (void)fg::reshape(x, {4, 2}); }), {"reshape", "(2, 3)", "(4, 2)"});
  check_mentions(shape_error_of([&] { (void)fg::reshape(x, {-1, 4}); }), {"reshape", "(2, 3)", "(-1, 4)"});
  check_mentions(shape_error_of([&] { (void)fg::reshape(x, {-1, -1}); }), {"reshape", "(2, 3)"});
}

// --- permute and transpose -----------------------------------------------------

TEST_CASE("permute puts input dimension perm[i] at result dimension i") {
  auto x = iota<3>({2, 3, 4});
  fg::Tensor<double, 3> y = fg::permute(x, {2, 0, 1});
  REQUIRE(shape_of(y) == fg::Shape<3>{4, 2, 3});
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 2; ++j)
      for (Index k = 0; k < 3; ++k) CHECK(y(i, j, k) == x(j, k, i));
  fg::Tensor<double, 3> z = fg::permute(x, {1, 2, 0});
  REQUIRE(shape_of(z) == fg::Shape<3>{3, 4, 2});
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 4; ++j)
      for (Index k = 0; k < 2; ++k) CHECK(z(i, j, k) == x(k, i, j));
}

TEST_CASE("transpose swaps the dimensions of a matrix") {
  auto x = iota<2>({2, 3});
  fg::Tensor<double, 2> t = fg::transpose(x);
  REQUIRE(shape_of(t) == fg::Shape<2>{3, 2});
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 2; ++j) CHECK(t(i, j) == double(j * 3 + i));
}

TEST_CASE("permute passes the gradient back through the inverse permutation") {
  auto x = random_tensor<double, 3>({2, 3, 4});
  const auto w =
      expect_gradients_match_differences("permute 3", [](const auto& t) { return fg::permute(t, {2, 0, 1}); }, x);
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 2; ++j)
      for (Index k = 0; k < 3; ++k) CHECK(x.grad()(j, k, i) == w(i, j, k));
  auto m = random_tensor<double, 2>({3, 5});
  expect_gradients_match_differences("transpose", [](const auto& t) { return fg::transpose(t); }, m);
  auto h = random_tensor<double, 4>({2, 1, 3, 2});
  expect_gradients_match_differences("permute 4", [](const auto& t) { return fg::permute(t, {3, 1, 0, 2}); }, h);
  auto f = random_tensor<float, 3>({2, 3, 4});
  expect_gradients_match_differences("permute float", [](const auto& t) { return fg::permute(t, {1, 2, 0}); }, f);
}

TEST_CASE("permute with a list that is not a permutation throws shape_error") {
  auto x = iota<3>({2, 3, 4});
  check_mentions(shape_error_of([&] { (void)fg::permute(x, {0, 0, 1}); }), {"permute", "(0, 0, 1)", "(2, 3, 4)"});
  check_mentions(shape_error_of([&] { (void)fg::permute(x, {0, 3, 1}); }), {"permute", "(0, 3, 1)", "(2, 3, 4)"});
}

// --- broadcast_to ----------------------------------------------------------------

TEST_CASE("broadcast_to stretches size-1 dimensions and adds leading ones") {
  auto x = iota<2>({3, 1});
  fg::Tensor<double, 3> y = fg::broadcast_to(x, {2, 3, 4});
  REQUIRE(shape_of(y) == fg::Shape<3>{2, 3, 4});
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 4; ++k) CHECK(y(i, j, k) == double(j));
  fg::Tensor<double, 0> s(1.5);
  fg::Tensor<double, 2> m = fg::broadcast_to(s, {2, 3});
  for (Index i = 0; i < 6; ++i) CHECK(m.data()[i] == 1.5);
}

TEST_CASE("broadcast_to sums the gradient back over the stretched dimensions") {
  auto x = random_tensor<double, 2>({3, 1});
  const auto w = expect_gradients_match_differences(
      "broadcast_to", [](const auto& t) { return fg::broadcast_to(t, {2, 3, 4}); }, x);
  for (Index j = 0; j < 3; ++j) {
    double expected = 0;
    for (Index i = 0; i < 2; ++i)
      for (Index k = 0; k < 4; ++k) expected += w(i, j, k);
    CHECK(x.grad()(j, 0) == doctest::Approx(expected));
  }
  auto same = random_tensor<double, 2>({3, 4});
  expect_gradients_match_differences(
      "broadcast_to same", [](const auto& t) { return fg::broadcast_to(t, {3, 4}); }, same);
  auto s = random_tensor<double, 0>({});
  expect_gradients_match_differences(
      "broadcast_to rank 0", [](const auto& t) { return fg::broadcast_to(t, {2, 3}); }, s);
}

TEST_CASE("broadcast_to an incompatible target throws shape_error naming broadcast_to and both shapes") {
  auto x = iota<2>({3, 2});
  check_mentions(shape_error_of([&] { (void)fg::broadcast_to(x, {2, 3, 4}); }),
                 {"broadcast_to", "(3, 2)", "(2, 3, 4)"});
  check_mentions(shape_error_of([&] { (void)fg::broadcast_to(x, {1, 2}); }), {"broadcast_to", "(3, 2)", "(1, 2)"});
}

// --- slice -----------------------------------------------------------------------

TEST_CASE("slice takes the block at the offsets with the given extents") {
  auto x = iota<2>({4, 5});
  fg::Tensor<double, 2> y = fg::slice(x, {1, 2}, {2, 3});
  REQUIRE(shape_of(y) == fg::Shape<2>{2, 3});
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j) CHECK(y(i, j) == double((i + 1) * 5 + j + 2));
}

TEST_CASE("slice passes the gradient back padded with zeros") {
  auto x = random_tensor<double, 2>({4, 5});
  const auto w = expect_gradients_match_differences(
      "slice", [](const auto& t) { return fg::slice(t, {1, 2}, {2, 3}); }, x);
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 5; ++j) {
      const bool inside = i >= 1 && i < 3 && j >= 2;
      CHECK(x.grad()(i, j) == (inside ? w(i - 1, j - 2) : 0.0));
    }
  auto c = random_tensor<double, 3>({2, 3, 4});
  expect_gradients_match_differences("slice 3", [](const auto& t) { return fg::slice(t, {1, 0, 1}, {1, 3, 2}); }, c);
}

TEST_CASE("slice reaching outside the operand throws shape_error naming slice and the shapes") {
  auto x = iota<2>({4, 5});
  check_mentions(shape_error_of([&] { (void)fg::slice(x, {3, 0}, {2, 5}); }), {"slice", "(3, 0)", "(2, 5)", "(4, 5)"});
  check_mentions(shape_error_of([&] { (void)fg::slice(x, {-1, 0}, {1, 1}); }), {"slice", "(4, 5)"});
}

// --- pad -------------------------------------------------------------------------

TEST_CASE("pad surrounds the operand with zeros") {
  auto x = iota<2>({2, 3}) + 1.0;
  fg::Tensor<double, 2> y = fg::pad(x, {{1, 1}, {0, 2}});
  REQUIRE(shape_of(y) == fg::Shape<2>{4, 5});
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 5; ++j) {
      const bool inside = i >= 1 && i < 3 && j < 3;
      CHECK(y(i, j) == (inside ? double((i - 1) * 3 + j + 1) : 0.0));
    }
}

TEST_CASE("pad passes back the slice of the gradient where the operand sits") {
  auto x = random_tensor<double, 2>({2, 3});
  const auto w =
      expect_gradients_match_differences("pad", [](const auto& t) { return fg::pad(t, {{1, 1}, {0, 2}}); }, x);
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j) CHECK(x.grad()(i, j) == w(i + 1, j));
  auto v = random_tensor<double, 1>({3});
  expect_gradients_match_differences("pad 1", [](const auto& t) { return fg::pad(t, {{2, 0}}); }, v);
}

TEST_CASE("pad with a negative width throws shape_error naming pad and the shapes") {
  auto x = iota<2>({2, 3});
  check_mentions(shape_error_of([&] { (void)fg::pad(x, {{1, -1}, {0, 0}}); }), {"pad", "((1, -1), (0, 0))", "(2, 3)"});
}

// --- reverse ---------------------------------------------------------------------

TEST_CASE("reverse runs the listed dimensions backwards") {
  auto x = iota<3>({2, 3, 4});
  fg::Tensor<double, 3> y = fg::reverse(x, fg::dims(0, 2));
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 4; ++k) CHECK(y(i, j, k) == x(1 - i, j, 3 - k));
  fg::Tensor<double, 3> all = fg::reverse(x);
  for (Index i = 0; i < 24; ++i) CHECK(all.data()[i] == double(23 - i));
}

TEST_CASE("reverse passes the gradient back reversed the same way") {
  auto x = random_tensor<double, 3>({2, 3, 4});
  const auto w = expect_gradients_match_differences(
      "reverse", [](const auto& t) { return fg::reverse(t, fg::dims(0, 2)); }, x);
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 4; ++k) CHECK(x.grad()(i, j, k) == w(1 - i, j, 3 - k));
  expect_gradients_match_differences(
      "reverse of reverse", [](const auto& t) { return fg::reverse(fg::reverse(t, fg::dims(1)), fg::dims(0, 1)); }, x);
  auto v = random_tensor<double, 1>({5});
  expect_gradients_match_differences("reverse 1", [](const auto& t) { return fg::reverse(t, fg::dims(0)); }, v);
}

TEST_CASE("reverse with repeated or missing dimensions throws shape_error") {
  auto x = iota<2>({2, 3});
  check_mentions(shape_error_of([&] { (void)fg::reverse(x, fg::dims(1, 1)); }), {"reverse", "(1, 1)", "(2, 3)"});
  check_mentions(shape_error_of([&] { (void)fg::reverse(x, fg::dims(2)); }), {"reverse", "(2,)", "(2, 3)"});
}

// --- concat and stack ------------------------------------------------------------

TEST_CASE("concat joins tensors along a dimension in the order given") {
  auto a = iota<2>({2, 1});
  auto b = iota<2>({2, 3}) + 10.0;
  fg::Tensor<double, 2> b2 = b;
  auto c = iota<2>({2, 2}) + 100.0;
  fg::Tensor<double, 2> c2 = c;
  fg::Tensor<double, 2> y = fg::concat({a, b2, c2}, 1);
  REQUIRE(shape_of(y) == fg::Shape<2>{2, 6});
  const double expected[2][6] = {{0, 10, 11, 12, 100, 101}, {1, 13, 14, 15, 102, 103}};
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 6; ++j) CHECK(y(i, j) == expected[i][j]);

  fg::Tensor<double, 2> rows = fg::concat(std::vector<fg::Tensor<double, 2>>{c2, c2}, 0);
  REQUIRE(shape_of(rows) == fg::Shape<2>{4, 2});
  for (Index i = 0; i < 8; ++i) CHECK(rows.data()[i] == double(100 + i % 4));
}

TEST_CASE("concat passes each operand its block of the gradient") {
  auto a = random_tensor<double, 2>({2, 1});
  auto b = random_tensor<double, 2>({2, 3});
  auto c = random_tensor<double, 2>({2, 2});
  const auto w = expect_gradients_match_differences(
      "concat", [](const auto& p, const auto& q, const auto& r) { return fg::concat({p, q, r}, 1); }, a, b, c);
  for (Index i = 0; i < 2; ++i) {
    CHECK(a.grad()(i, 0) == w(i, 0));
    for (Index j = 0; j < 3; ++j) CHECK(b.grad()(i, j) == w(i, 1 + j));
    for (Index j = 0; j < 2; ++j) CHECK(c.grad()(i, j) == w(i, 4 + j));
  }
  auto d = random_tensor<double, 3>({1, 2, 3});
  auto e = random_tensor<double, 3>({2, 2, 3});
  expect_gradients_match_differences(
      "concat 3", [](const auto& p, const auto& q) { return fg::concat({p, q, p}, 0); }, d, e);
}

TEST_CASE("concat of shapes that differ outside the dimension throws shape_error naming concat and both shapes") {
  auto a = iota<2>({2, 3});
  auto b = iota<2>({3, 3});
  check_mentions(shape_error_of([&] { (void)fg::concat({a, b}, 1); }), {"concat", "(2, 3)", "(3, 3)"});
  check_mentions(shape_error_of([&] { (void)fg::concat({a, a}, 2); }), {"concat", "dimension 2", "(2, 3)"});
  check_mentions(shape_error_of([&] { (void)fg::concat(std::vector<fg::Tensor<double, 2>>{}, 0); }), {"concat"});
}

TEST_CASE("stack places tensors along a new dimension") {
  auto a = iota<2>({2, 3});
  fg::Tensor<double, 2> b = iota<2>({2, 3}) + 10.0;
  fg::Tensor<double, 3> middle = fg::stack({a, b}, 1);
  REQUIRE(shape_of(middle) == fg::Shape<3>{2, 2, 3});
  for (Index i = 0; i < 2; ++i)
    for (Index k = 0; k < 3; ++k) {
      CHECK(middle(i, 0, k) == a(i, k));
      CHECK(middle(i, 1, k) == b(i, k));
    }
  fg::Tensor<double, 3> last = fg::stack({a, b, a}, 2);
  REQUIRE(shape_of(last) == fg::Shape<3>{2, 3, 3});
  CHECK(last(1, 2, 1) == b(1, 2));
  CHECK(last(1, 2, 2) == a(1, 2));
  fg::Tensor<double, 0> s(1.0), t(2.0);
  fg::Tensor<double, 1> v = fg::stack({s, t, s}, 0);
  CHECK(v(0) == 1.0);
  CHECK(v(1) == 2.0);
  CHECK(v(2) == 1.0);
}

TEST_CASE("stack passes each operand its slice of the gradient") {
  auto a = random_tensor<double, 2>({2, 3});
  auto b = random_tensor<double, 2>({2, 3});
  const auto w = expect_gradients_match_differences(
      "stack", [](const auto& p, const auto& q) { return fg::stack({p, q}, 1); }, a, b);
  for (Index i = 0; i < 2; ++i)
    for (Index k = 0; k < 3; ++k) {
      CHECK(a.grad()(i, k) == w(i, 0, k));
      CHECK(b.grad()(i, k) == w(i, 1, k));
    }
  auto s = random_tensor<double, 0>({});
  auto t = random_tensor<double, 0>({});
  expect_gradients_match_differences(
      "stack rank 0", [](const auto& p, const auto& q) { return fg::stack({p, q, p}, 0); }, s, t);
}

TEST_CASE("stack of unequal shapes throws shape_error naming stack and both shapes") {
  auto a = iota<2>({2, 3});
  auto b = iota<2>({2, 4});
  check_mentions(shape_error_of([&] { (void)fg::stack({a, b}, 0); }), {"stack", "(2, 3)", "(2, 4)"});
  check_mentions(shape_error_of([&] { (void)fg::stack({a, a}, 3); }), {"stack", "dimension 3"});
}

// --- inside expressions ----------------------------------------------------------

TEST_CASE("layout operations fuse into elementwise expressions, forward and backward") {
  auto A = random_tensor<double, 2>({3, 4});
  auto b = random_tensor<double, 1>({3});
  fg::Tensor<double, 0> value = fg::sum(fg::tanh(fg::transpose(A) * b));
  double expected = 0;
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 3; ++j) expected += std::tanh(A(j, i) * b(j));
  CHECK(value.item() == doctest::Approx(expected));
  expect_gradients_match_differences(
      "sum(tanh(transpose(A) * b))",
      [](const auto& p, const auto& q) { return fg::sum(fg::tanh(fg::transpose(p) * q)); },
      A, b);

  auto x = random_tensor<double, 2>({2, 6});
  auto y = random_tensor<double, 2>({2, 6});
  auto z = random_tensor<double, 1>({4});
  fg::Tensor<double, 2> r = fg::reshape(x * y, {3, 4}) + z;
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 4; ++j) {
      const Index flat = i * 4 + j;
      CHECK(r(i, j) == doctest::Approx(x.data()[flat] * y.data()[flat] + z(j)));
    }
  expect_gradients_match_differences(
      "reshape(x * y) + z",
      [](const auto& p, const auto& q, const auto& s) { return fg::reshape(p * q, {3, 4}) + s; }, x, y, z);

  // Layout operations nested in one another and around a broadcast.
  expect_gradients_match_differences(
      "pad(slice(permute(exp(x))))",
      [](const auto& p, const auto& s) {
        return fg::pad(fg::slice(fg::permute(fg::exp(p), {1, 0}), {1, 0}, {4, 2}), {{0, 1}, {2, 0}}) *
               fg::broadcast_to(fg::reverse(fg::reshape(s, {1, 4}), fg::dims(1)), {5, 4});
      },
      x, z);

  auto f = random_tensor<float, 2>({3, 4});
  auto g = random_tensor<float, 1>({4});
  expect_gradients_match_differences(
      "float: sin(reverse(slice(f))) * g",
      [](const auto& p, const auto& q) { return fg::sin(fg::reverse(fg::slice(p, {1, 0}, {2, 4}), fg::dims(0))) * q; },
      f, g);
}

TEST_CASE("an operand used through several layout operations accumulates every path's gradient") {
  auto x = random_tensor<double, 2>({3, 3});
  expect_gradients_match_differences(
      "x * transpose(x) + reverse(x)",
      [](const auto& p) { return fg::sigmoid(p * fg::transpose(p)) + fg::square(fg::reverse(p, fg::dims(0, 1))); }, x);
}

TEST_CASE("layout operations evaluate the reductions inside them before reading them") {
  auto x = random_tensor<double, 2>({4, 3});
  auto w = random_tensor<double, 2>({2, 2});
  expect_gradients_match_differences(
      "reshape(sum(x, 1)) * w",
      [](const auto& p, const auto& q) { return fg::reshape(fg::sum(fg::exp(p), fg::dims(1)), {2, 2}) * q; }, x, w);
  expect_gradients_match_differences(
      "broadcast_to(max(x)) * slice(x)",
      [](const auto& p) { return fg::broadcast_to(fg::max(p), {2, 3}) * fg::slice(p, {0, 0}, {2, 3}); },
      random_tensor<double, 2>({4, 3}, domain::distinct));
  expect_gradients_match_differences(
      "concat of statements",
      [](const auto& p) {
        fg::Tensor<double, 2> e = fg::exp(p);
        fg::Tensor<double, 2> t = fg::transpose(p);
        return fg::sum(fg::concat({e, t}, 0) * fg::concat({t, e}, 0), fg::dims(0));
      },
      random_tensor<double, 2>({3, 3}));
}

TEST_CASE("layout operations work across statements recorded on the tape") {
  auto x = random_tensor<double, 2>({2, 3});
  fg::Tensor<double, 2> t = fg::transpose(x);
  fg::Tensor<double, 3> r = fg::reshape(fg::exp(t), {3, 1, 2});
  fg::Tensor<double, 0> loss = fg::sum(fg::pad(r, {{0, 0}, {1, 0}, {0, 0}}));
  loss.backward();
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j) CHECK(x.grad()(i, j) == doctest::Approx(std::exp(x(i, j))));
}

TEST_CASE("a permuted comparison works as the mask of where") {
  auto x = iota<2>({2, 3});
  fg::Tensor<double, 2> y = fg::where(fg::transpose(x > 2.0), 1.0, -1.0);
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 2; ++j) CHECK(y(i, j) == (x(j, i) > 2.0 ? 1.0 : -1.0));
}

TEST_CASE("layout operations stay lazy Eigen expressions rather than evaluated tensors") {
  auto x = iota<2>({2, 3});
  auto evaluated = [](const auto& node) {
    return is_plain_tensor<std::remove_cvref_t<decltype(node.forward())>>::value;
  };
  CHECK_FALSE(evaluated(fg::transpose(x)));
  CHECK_FALSE(evaluated(fg::permute(fg::exp(x), {1, 0})));
  CHECK_FALSE(evaluated(fg::reshape(x, {3, 2})));
  CHECK_FALSE(evaluated(fg::slice(x, {0, 1}, {2, 2})));
  CHECK_FALSE(evaluated(fg::pad(x, {{0, 1}, {1, 0}})));
  CHECK_FALSE(evaluated(fg::reverse(x)));
  CHECK_FALSE(evaluated(fg::broadcast_to(x, {4, 2, 3})));
  CHECK(evaluated(fg::concat({x, x}, 0)));  // a run-time operand count: evaluated in prepare()
}

TEST_CASE("layout operations on tensors larger than a cache block match index arithmetic") {
  // Large enough for Eigen's block (tiled) evaluation paths, forward and backward.
  const Index n0 = 16, n1 = 33, n2 = 40;
  auto x = iota<3>({n0, n1, n2});
  x.requires_grad(true);
  fg::Tensor<double, 3> p = fg::permute(x, {2, 0, 1});
  fg::Tensor<double, 3> q = fg::pad(fg::reverse(x, fg::dims(1)), {{1, 2}, {0, 3}, {4, 0}});
  fg::Tensor<double, 3> s = fg::slice(x, {3, 5, 7}, {10, 20, 30});
  bool ok = true;
  for (Index i = 0; i < n0; ++i)
    for (Index j = 0; j < n1; ++j)
      for (Index k = 0; k < n2; ++k) {
        ok = ok && p(k, i, j) == x(i, j, k);
        ok = ok && q(i + 1, j, k + 4) == x(i, n1 - 1 - j, k);
      }
  for (Index i = 0; i < 10; ++i)
    for (Index j = 0; j < 20; ++j)
      for (Index k = 0; k < 30; ++k) ok = ok && s(i, j, k) == x(i + 3, j + 5, k + 7);
  CHECK(ok);
  CHECK(q(0, 0, 0) == 0.0);
  CHECK(q(n0 + 2, n1 + 2, n2 + 3) == 0.0);

  // Weights = result's own index, so each input element's gradient names where it went.
  auto wp = iota<3>({n2, n0, n1});
  fg::Tensor<double, 0> loss =
      fg::sum(fg::permute(x, {2, 0, 1}) * wp) + fg::sum(fg::reverse(x, fg::dims(0, 2)) * 0.5);
  loss.backward();
  ok = true;
  for (Index i = 0; i < n0; ++i)
    for (Index j = 0; j < n1; ++j)
      for (Index k = 0; k < n2; ++k) ok = ok && x.grad()(i, j, k) == wp(k, i, j) + 0.5;
  CHECK(ok);
}

TEST_CASE("a layout expression held in auto owns what it refers to") {
  auto make = [] {
    fg::Tensor<double, 2> local = iota<2>({2, 3});
    fg::Tensor<double, 2> other = iota<2>({2, 3}) * 2.0;
    return fg::reverse(fg::transpose(local * 2.0), fg::dims(0)) +
           fg::slice(fg::concat({local, other}, 0), {1, 0}, {3, 2});
  };
  auto e = make();  // the tensors above are gone but for what the expression shares
  fg::Tensor<double, 1> y = fg::reshape(e, {6});
  auto x = [](Index r, Index c) { return double(3 * r + c); };
  auto joined = [&](Index r, Index c) { return r < 2 ? x(r, c) : 2 * x(r - 2, c); };
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 2; ++j) CHECK(y(i * 2 + j) == 2 * x(j, 2 - i) + joined(i + 1, j));
}

TEST_CASE("permute and transpose of a rank-0 tensor are the identity, as in NumPy") {
  fg::Tensor<double, 0> x = 2.5;
  x.requires_grad(true);
  fg::Tensor<double, 0> p = fg::permute(x, {});
  fg::Tensor<double, 0> t = fg::transpose(x * 3.0);
  CHECK(p.item() == 2.5);
  CHECK(t.item() == 7.5);
  fg::Tensor<double, 0> total = p + t;
  total.backward();
  CHECK(x.grad()() == 4.0);
}

TEST_CASE("broadcast_to of a rank-0 tensor to shape {} is the identity") {
  fg::Tensor<double, 0> x = -1.5;
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::broadcast_to(x, {}) * 2.0;
  fg::Tensor<double, 1> z = fg::broadcast_to(x, {3});
  CHECK(y.item() == -3.0);
  CHECK(z.size() == 3);
  y.backward();
  CHECK(x.grad()() == 2.0);
}

TEST_CASE("concat and stack with the dimension first take expressions of different kinds") {
  fg::Tensor<double, 1> a{0.0, 1.0}, b{2.0, 3.0};
  a.requires_grad(true);
  fg::Tensor<double, 1> joined = fg::concat(0, fg::exp(a), b);
  CHECK(joined(1) == doctest::Approx(std::exp(1.0)).epsilon(1e-15));
  CHECK(joined(3) == 3.0);
  fg::Tensor<double, 2> stacked = fg::stack(1, a * 2.0, b);
  CHECK(stacked.dimension(0) == 2);
  CHECK(stacked(1, 0) == 2.0);
  fg::Tensor<double, 0> total = fg::sum(joined) + fg::sum(stacked);
  total.backward();
  CHECK(a.grad()(0) == 3.0);
  CHECK(a.grad()(1) == doctest::Approx(std::exp(1.0) + 2.0).epsilon(1e-15));
}
