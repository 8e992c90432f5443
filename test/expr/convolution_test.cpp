// Convolutions (conv2d, conv1d): values against a direct loop, gradients against central
// differences, inside larger expressions, and shape errors.
#include "../support/gradient_check.hpp"

#include <string>

namespace fg = fusegrad;
using fg::Index;
using fg::testing::random_tensor;

namespace {

// Output size and padding before the input along one dimension, as PyTorch and
// TensorFlow define them.
struct Plan {
  Index out, before;
};
Plan plan(Index in, Index kernel, Index stride, fg::padding p) {
  if (p == fg::padding::valid) return {(in - kernel) / stride + 1, 0};
  const Index out = (in + stride - 1) / stride;
  const Index total = std::max<Index>((out - 1) * stride + kernel - in, 0);
  return {out, total / 2};
}

// The cross-correlation, term by term.
fg::EigenTensor<double, 4> naive_conv2d(const fg::EigenTensor<double, 4>& x, const fg::EigenTensor<double, 4>& k,
                                        Index sh, Index sw, fg::padding p) {
  const Index N = x.dimension(0), C = x.dimension(1), H = x.dimension(2), W = x.dimension(3);
  const Index K = k.dimension(0), kh = k.dimension(2), kw = k.dimension(3);
  const Plan rows = plan(H, kh, sh, p), cols = plan(W, kw, sw, p);
  fg::EigenTensor<double, 4> out(N, K, rows.out, cols.out);
  for (Index n = 0; n < N; ++n)
    for (Index f = 0; f < K; ++f)
      for (Index y = 0; y < rows.out; ++y)
        for (Index z = 0; z < cols.out; ++z) {
          double total = 0;
          for (Index c = 0; c < C; ++c)
            for (Index i = 0; i < kh; ++i)
              for (Index j = 0; j < kw; ++j) {
                const Index yy = y * sh - rows.before + i, zz = z * sw - cols.before + j;
                if (yy >= 0 && yy < H && zz >= 0 && zz < W) total += x(n, c, yy, zz) * k(f, c, i, j);
              }
          out(n, f, y, z) = total;
        }
  return out;
}

template <int R>
void check_close(const fg::EigenTensor<double, R>& actual, const fg::EigenTensor<double, R>& expected) {
  REQUIRE(actual.dimensions() == expected.dimensions());
  for (Index i = 0; i < actual.size(); ++i) {
    INFO("element ", i);
    CHECK(actual.data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-12));
  }
}

void check_conv2d(fg::Shape<4> x_shape, fg::Shape<4> k_shape, fg::conv_stride stride, fg::padding p) {
  auto x = random_tensor<double, 4>(x_shape, fg::testing::domain::any);
  auto k = random_tensor<double, 4>(k_shape, fg::testing::domain::any);
  fg::Tensor<double, 4> y = fg::conv2d(x, k, stride, p);
  INFO("input ", fg::format_shape(x_shape), " kernel ", fg::format_shape(k_shape), " stride (", stride.height, ", ",
       stride.width, ") ", p == fg::padding::same ? "same" : "valid");
  check_close<4>(y.value(), naive_conv2d(x.value(), k.value(), stride.height, stride.width, p));
}

void check_conv1d(fg::Shape<3> x_shape, fg::Shape<3> k_shape, Index stride, fg::padding p) {
  auto x = random_tensor<double, 3>(x_shape, fg::testing::domain::any);
  auto k = random_tensor<double, 3>(k_shape, fg::testing::domain::any);
  fg::Tensor<double, 3> y = fg::conv1d(x, k, stride, p);
  // The 1-D convolution is the 2-D one over a height of 1.
  const fg::Shape<4> x4{x_shape[0], x_shape[1], 1, x_shape[2]}, k4{k_shape[0], k_shape[1], 1, k_shape[2]};
  const fg::EigenTensor<double, 4> expected = naive_conv2d(x.value().reshape(x4), k.value().reshape(k4), 1, stride, p);
  INFO("input ", fg::format_shape(x_shape), " kernel ", fg::format_shape(k_shape), " stride ", stride, " ",
       p == fg::padding::same ? "same" : "valid");
  const auto& o = expected.dimensions();
  check_close<3>(y.value(), expected.reshape(fg::Shape<3>{o[0], o[1], o[3]}));
}

template <class Check>
void expect_shape_error(Check check, const std::string& operation, const std::string& a, const std::string& b) {
  try {
    check();
    FAIL("no shape_error thrown");
  } catch (const fg::shape_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find(operation) != std::string::npos);
    CHECK(message.find(a) != std::string::npos);
    CHECK(message.find(b) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("conv2d of a small image with a box kernel gives the sums of its windows") {
  fg::Tensor<double, 4> x{{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}};
  fg::Tensor<double, 4> k{{{{1, 1}, {1, 1}}}};
  fg::Tensor<double, 4> y = fg::conv2d(x, k);
  CHECK(y.dimensions() == fg::Shape<4>{1, 1, 2, 2});
  CHECK(y(0, 0, 0, 0) == 12.0);
  CHECK(y(0, 0, 0, 1) == 16.0);
  CHECK(y(0, 0, 1, 0) == 24.0);
  CHECK(y(0, 0, 1, 1) == 28.0);
  // same: 3 x 3 output, total padding 1 per dimension, all of it after the input.
  fg::Tensor<double, 4> s = fg::conv2d(x, k, fg::padding::same);
  CHECK(s.dimensions() == fg::Shape<4>{1, 1, 3, 3});
  CHECK(s(0, 0, 0, 0) == 12.0);
  CHECK(s(0, 0, 0, 2) == 9.0);
  CHECK(s(0, 0, 2, 0) == 15.0);
  CHECK(s(0, 0, 2, 2) == 9.0);
}

TEST_CASE("conv2d with valid padding and stride 1 matches a direct loop over batches, channels and filters") {
  check_conv2d({2, 3, 5, 7}, {4, 3, 2, 3}, 1, fg::padding::valid);
  check_conv2d({1, 1, 4, 4}, {1, 1, 4, 4}, 1, fg::padding::valid);
  check_conv2d({3, 2, 6, 1}, {2, 2, 3, 1}, 1, fg::padding::valid);
}

TEST_CASE("conv2d with same padding keeps the spatial size at stride 1 and pads like PyTorch") {
  check_conv2d({2, 3, 5, 7}, {4, 3, 3, 3}, 1, fg::padding::same);
  check_conv2d({2, 2, 5, 6}, {3, 2, 2, 4}, 1, fg::padding::same);  // even kernels: more padding after
  check_conv2d({1, 1, 2, 3}, {2, 1, 5, 4}, 1, fg::padding::same);  // kernel larger than the input
  auto x = random_tensor<double, 4>({2, 3, 5, 7});
  auto k = random_tensor<double, 4>({4, 3, 3, 2});
  CHECK(fg::conv2d(x, k, fg::padding::same).dims() == fg::Shape<4>{2, 4, 5, 7});
}

TEST_CASE("conv2d with stride 2, or different strides per dimension, matches a direct loop for both paddings") {
  for (auto p : {fg::padding::valid, fg::padding::same}) {
    check_conv2d({2, 3, 7, 8}, {4, 3, 3, 3}, 2, p);
    check_conv2d({2, 2, 6, 9}, {3, 2, 2, 3}, {2, 3}, p);
    check_conv2d({1, 2, 5, 5}, {2, 2, 1, 1}, {3, 1}, p);
  }
  auto x = random_tensor<double, 4>({1, 1, 7, 8});
  auto k = random_tensor<double, 4>({1, 1, 3, 3});
  CHECK(fg::conv2d(x, k, 2).dims() == fg::Shape<4>{1, 1, 3, 3});
  CHECK(fg::conv2d(x, k, 2, fg::padding::same).dims() == fg::Shape<4>{1, 1, 4, 4});
}

TEST_CASE("conv1d matches a direct loop for both paddings and strides 1 and 2") {
  for (auto p : {fg::padding::valid, fg::padding::same}) {
    check_conv1d({2, 3, 9}, {4, 3, 3}, 1, p);
    check_conv1d({2, 3, 9}, {4, 3, 4}, 2, p);
    check_conv1d({1, 1, 5}, {2, 1, 5}, 3, p);
  }
  auto x = random_tensor<double, 3>({2, 3, 10});
  auto k = random_tensor<double, 3>({5, 3, 3});
  CHECK(fg::conv1d(x, k).dims() == fg::Shape<3>{2, 5, 8});
  CHECK(fg::conv1d(x, k, fg::padding::same).dims() == fg::Shape<3>{2, 5, 10});
  CHECK(fg::conv1d(x, k, 3, fg::padding::same).dims() == fg::Shape<3>{2, 5, 4});
}

TEST_CASE("conv2d gradients for input and kernel match central differences") {
  struct Case {
    fg::Shape<4> x, k;
    fg::conv_stride stride;
    fg::padding p;
  };
  const Case cases[] = {
      {{2, 2, 4, 5}, {3, 2, 2, 3}, 1, fg::padding::valid},
      {{2, 2, 4, 5}, {3, 2, 3, 2}, 1, fg::padding::same},
      {{2, 2, 5, 6}, {2, 2, 3, 3}, 2, fg::padding::valid},
      {{2, 2, 5, 6}, {2, 2, 3, 2}, 2, fg::padding::same},
      {{1, 3, 4, 7}, {2, 3, 2, 3}, {1, 3}, fg::padding::same},
  };
  for (const auto& c : cases) {
    const auto stride = c.stride;
    const auto p = c.p;
    fg::testing::expect_gradients_match_differences(
        "conv2d " + fg::format_shape(c.x) + " * " + fg::format_shape(c.k),
        [&](const auto& x, const auto& k) { return fg::conv2d(x, k, stride, p); }, random_tensor<double, 4>(c.x),
        random_tensor<double, 4>(c.k));
  }
}

TEST_CASE("conv1d gradients for input and kernel match central differences") {
  auto f = [](Index stride, fg::padding p) {
    return [=](const auto& x, const auto& k) { return fg::conv1d(x, k, stride, p); };
  };
  fg::testing::expect_gradients_match_differences("conv1d valid", f(1, fg::padding::valid),
                                                  random_tensor<double, 3>({2, 3, 7}), random_tensor<double, 3>({2, 3, 3}));
  fg::testing::expect_gradients_match_differences("conv1d same stride 2", f(2, fg::padding::same),
                                                  random_tensor<double, 3>({2, 2, 8}), random_tensor<double, 3>({3, 2, 4}));
}

TEST_CASE("a convolution composes with elementwise maps, broadcasting, reductions and expression operands") {
  fg::testing::expect_gradients_match_differences(
      "tanh(conv2d(2x, k) + b)",
      [](const auto& x, const auto& k, const auto& b) {
        return fg::tanh(fg::conv2d(x * 2.0, k, 2, fg::padding::same) + b);
      },
      random_tensor<double, 4>({2, 2, 5, 4}), random_tensor<double, 4>({3, 2, 3, 3}),
      random_tensor<double, 3>({3, 1, 1}));
  auto x = random_tensor<double, 4>({2, 2, 5, 4});
  auto k = random_tensor<double, 4>({3, 2, 3, 3});
  fg::Tensor<double, 0> loss = fg::sum(fg::tanh(fg::conv2d(x, k * 0.5)));
  loss.backward();
  // The same loss, written with the convolution evaluated first.
  const auto dx = x.grad(), dk = k.grad();
  x.zero_grad(), k.zero_grad();
  fg::Tensor<double, 4> y = fg::conv2d(x, k * 0.5);
  fg::Tensor<double, 0> again = fg::sum(fg::tanh(y));
  again.backward();
  check_close<4>(x.grad(), dx);
  check_close<4>(k.grad(), dk);
}

TEST_CASE("an operand used as both input and kernel receives both gradients") {
  fg::testing::expect_gradients_match_differences(
      "conv2d(x, x)", [](const auto& x) { return fg::conv2d(x, x, 1, fg::padding::same); },
      random_tensor<double, 4>({2, 2, 3, 3}));
  fg::testing::expect_gradients_match_differences(
      "conv2d(x, k) * conv2d(x, k, 1)",
      [](const auto& x, const auto& k) { return fg::conv2d(x, k) * fg::conv2d(x, k, 1); },
      random_tensor<double, 4>({1, 2, 4, 4}), random_tensor<double, 4>({2, 2, 2, 2}));
}

TEST_CASE("an input gradient is computed when the kernel is a constant, and float convolutions differentiate") {
  auto x = random_tensor<double, 4>({2, 2, 5, 5});
  auto k = random_tensor<double, 4>({3, 2, 3, 3});
  fg::Tensor<double, 0> both = fg::sum(fg::sin(fg::conv2d(x, k, 2, fg::padding::same)));
  both.backward();
  const auto dx = x.grad();
  x.zero_grad();
  k.requires_grad(false);
  fg::Tensor<double, 0> only_input = fg::sum(fg::sin(fg::conv2d(x, k, 2, fg::padding::same)));
  only_input.backward();
  check_close<4>(x.grad(), dx);

  fg::testing::expect_gradients_match_differences(
      "conv2d float", [](const auto& a, const auto& b) { return fg::conv2d(a, b, 1, fg::padding::same); },
      random_tensor<float, 4>({1, 2, 3, 4}), random_tensor<float, 4>({2, 2, 2, 3}));
}

TEST_CASE("convolutions with mismatched channels, oversized kernels or non-positive strides throw shape_error") {
  auto x = random_tensor<double, 4>({2, 3, 5, 4});
  expect_shape_error([&] { (void)fg::conv2d(x, random_tensor<double, 4>({4, 2, 3, 3})); }, "conv2d", "(2, 3, 5, 4)",
                     "(4, 2, 3, 3)");
  expect_shape_error([&] { (void)fg::conv2d(x, random_tensor<double, 4>({4, 3, 3, 5})); }, "conv2d", "(2, 3, 5, 4)",
                     "(4, 3, 3, 5)");
  expect_shape_error([&] { (void)fg::conv2d(x, random_tensor<double, 4>({4, 3, 3, 3}), {1, 0}); }, "conv2d",
                     "(2, 3, 5, 4)", "(4, 3, 3, 3)");
  expect_shape_error([&] { (void)fg::conv2d(x, random_tensor<double, 4>({4, 3, 3, 3}), -1, fg::padding::same); },
                     "conv2d", "(2, 3, 5, 4)", "(4, 3, 3, 3)");
  auto v = random_tensor<double, 3>({2, 3, 5});
  expect_shape_error([&] { (void)fg::conv1d(v, random_tensor<double, 3>({4, 1, 3})); }, "conv1d", "(2, 3, 5)",
                     "(4, 1, 3)");
  expect_shape_error([&] { (void)fg::conv1d(v, random_tensor<double, 3>({4, 3, 6})); }, "conv1d", "(2, 3, 5)",
                     "(4, 3, 6)");
  expect_shape_error([&] { (void)fg::conv1d(v, random_tensor<double, 3>({4, 3, 3}), 0); }, "conv1d", "(2, 3, 5)",
                     "(4, 3, 3)");
  // A kernel larger than the input is fine with same padding.
  CHECK(fg::conv1d(v, random_tensor<double, 3>({4, 3, 6}), fg::padding::same).dims() == fg::Shape<3>{2, 4, 5});
}

TEST_CASE("a convolution over an empty batch gives an empty output and zero gradients") {
  auto x = random_tensor<double, 4>({0, 2, 4, 4});
  auto k = random_tensor<double, 4>({3, 2, 3, 3});
  fg::Tensor<double, 4> y = fg::conv2d(x, k, fg::padding::same);
  CHECK(y.dimensions() == fg::Shape<4>{0, 3, 4, 4});
  fg::Tensor<double, 0> loss = fg::sum(fg::conv2d(x, k));
  loss.backward();
  CHECK(loss() == 0.0);
  CHECK(k.grad().dimensions() == k.dimensions());
  for (Index i = 0; i < k.grad().size(); ++i) CHECK(k.grad().data()[i] == 0.0);
}
