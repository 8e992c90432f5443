// Tensors with a dimension of size 0: every operation gives an empty result of the
// right shape, or the value NumPy and PyTorch give (sum 0, prod 1, mean NaN, logsumexp
// -inf; max and min of nothing are errors), with gradients of the right shapes.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace fg = fusegrad;
using fg::Index;
using fg::testing::check_mentions;
using fg::testing::shape_error_of;

namespace {

template <class S, int R>
fg::Tensor<S, R> leaf(const fg::Shape<R>& dims, S fill = S(1)) {
  fg::Tensor<S, R> t = fg::Tensor<S, R>::constant(dims, fill);
  t.requires_grad(true);
  return t;
}

template <class T>
bool all_equal(const T& t, double v) {
  for (Index i = 0; i < t.size(); ++i)
    if (double(t.data()[i]) != v) return false;
  return true;
}

template <class T>
bool all_nan(const T& t) {
  for (Index i = 0; i < t.size(); ++i)
    if (!std::isnan(double(t.data()[i]))) return false;
  return true;
}

constexpr double infinity = std::numeric_limits<double>::infinity();

}  // namespace

#define FLOATING_TYPES float, double

TEST_CASE_TEMPLATE("elementwise operations on empty tensors give empty results of the broadcast shape", S,
                   FLOATING_TYPES) {
  auto a = leaf<S, 2>({0, 3});
  auto b = leaf<S, 1>({3});
  auto c = leaf<S, 2>({1, 3});
  auto column = leaf<S, 2>({0, 1});

  fg::Tensor<S, 2> sum_ab = a + b;
  CHECK(sum_ab.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> product = fg::exp(a) * b - S(2) * c / a;
  CHECK(product.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> stretched = c * column;  // (1, 3) and (0, 1) meet at (0, 3)
  CHECK(stretched.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> negated = -fg::tanh(fg::sin(a));
  CHECK(negated.size() == 0);

  fg::Tensor<S, 0> loss = fg::sum(product * stretched + sum_ab + negated);
  CHECK(loss.item() == S(0));
  loss.backward();
  CHECK(a.grad().dimensions() == a.dimensions());
  CHECK(b.grad().dimensions() == fg::Shape<1>{3});
  CHECK(all_equal(b.grad(), 0));
  CHECK(c.grad().dimensions() == fg::Shape<2>{1, 3});
  CHECK(all_equal(c.grad(), 0));
  CHECK(column.grad().dimensions() == fg::Shape<2>{0, 1});
}

TEST_CASE_TEMPLATE("a statement whose result is empty records a backward that leaves non-empty inputs at zero", S,
                   FLOATING_TYPES) {
  auto x = leaf<S, 2>({0, 4});
  auto w = leaf<S, 1>({4}, S(0.5));
  fg::Tensor<S, 2> h = fg::tanh(x * w);  // empty intermediate on the tape
  fg::Tensor<S, 2> y = h * h + w;
  fg::Tensor<S, 0> loss = fg::sum(y) + fg::sum(w);  // w also reached by a non-empty path
  loss.backward();
  CHECK(x.grad().size() == 0);
  CHECK(all_equal(w.grad(), 1));
}

TEST_CASE_TEMPLATE("full reductions of an empty vector give the identity of the reduction", S, FLOATING_TYPES) {
  auto x = leaf<S, 1>({0});
  fg::Tensor<S, 0> total = fg::sum(x);
  CHECK(total.item() == S(0));
  fg::Tensor<S, 0> product = fg::prod(x);
  CHECK(product.item() == S(1));
  fg::Tensor<S, 0> average = fg::mean(x);
  CHECK(std::isnan(double(average.item())));
  fg::Tensor<S, 0> lse = fg::logsumexp(x);
  CHECK(double(lse.item()) == -infinity);
  fg::Tensor<S, 0> of_expression = fg::sum(fg::exp(x) * x + S(1));
  CHECK(of_expression.item() == S(0));

  fg::Tensor<S, 0> loss = total + product + of_expression + fg::sum(fg::square(x)) + fg::prod(x * S(2));
  loss.backward();
  CHECK(x.grad().dimensions() == fg::Shape<1>{0});
  average.backward();
  lse.backward();
  CHECK(x.grad().size() == 0);
}

TEST_CASE_TEMPLATE("max and min of nothing are a shape_error naming the operation", S, FLOATING_TYPES) {
  fg::Tensor<S, 1> empty(0);
  fg::Tensor<S, 2> rows(3, 0);
  check_mentions(shape_error_of([&] { fg::Tensor<S, 0> m = fg::max(empty); }), {"max", "(0,)"});
  check_mentions(shape_error_of([&] { fg::Tensor<S, 0> m = fg::min(empty); }), {"min", "(0,)"});
  check_mentions(shape_error_of([&] { fg::Tensor<S, 1> m = fg::max(rows, fg::dims(1)); }), {"max", "(3, 0)"});
  check_mentions(shape_error_of([&] { fg::Tensor<S, 2> m = fg::min(rows, fg::dims(1), fg::keep_dims); }),
                 {"min", "(3, 0)"});
  check_mentions(shape_error_of([&] { fg::Tensor<S, 0> m = fg::max(empty + S(1)); }), {"max"});
}

TEST_CASE_TEMPLATE("reductions over a size-0 dimension fill a non-empty result with the identity", S, FLOATING_TYPES) {
  auto x = leaf<S, 2>({3, 0});
  auto bias = leaf<S, 1>({3}, S(2));
  fg::Tensor<S, 1> sums = fg::sum(x, fg::dims(1));
  CHECK(sums.dimensions() == fg::Shape<1>{3});
  CHECK(all_equal(sums.value(), 0));
  fg::Tensor<S, 2> kept = fg::prod(x, fg::dims(1), fg::keep_dims);
  CHECK(kept.dimensions() == fg::Shape<2>{3, 1});
  CHECK(all_equal(kept.value(), 1));
  fg::Tensor<S, 1> means = fg::mean(x * S(3), fg::dims(1));
  CHECK(all_nan(means.value()));
  fg::Tensor<S, 1> lse = fg::logsumexp(x, fg::dims(1));
  CHECK(all_equal(lse.value(), -infinity));

  fg::Tensor<S, 0> loss = fg::sum(sums * bias + fg::sum(kept, fg::dims(1)) * bias + fg::sum(x - S(1), fg::dims(1)));
  CHECK(loss.item() == S(6));
  loss.backward();
  CHECK(x.grad().dimensions() == fg::Shape<2>{3, 0});
  CHECK(all_equal(bias.grad(), 1));
  lse.backward();
  CHECK(x.grad().size() == 0);
}

TEST_CASE_TEMPLATE("a reduction whose result is empty is empty", S, FLOATING_TYPES) {
  auto x = leaf<S, 2>({0, 4});
  fg::Tensor<S, 1> maxima = fg::max(x, fg::dims(1));
  CHECK(maxima.dimensions() == fg::Shape<1>{0});
  fg::Tensor<S, 2> minima = fg::min(x, fg::dims(1), fg::keep_dims);
  CHECK(minima.dimensions() == fg::Shape<2>{0, 1});
  fg::Tensor<S, 1> lse = fg::logsumexp(x * S(2), fg::dims(1));
  CHECK(lse.size() == 0);
  fg::Tensor<S, 0> loss = fg::sum(maxima) + fg::sum(minima) + fg::sum(lse) + fg::sum(fg::mean(x, fg::dims(1)));
  CHECK(loss.item() == S(0));
  loss.backward();
  CHECK(x.grad().dimensions() == fg::Shape<2>{0, 4});
}

TEST_CASE_TEMPLATE("layout operations on empty tensors give empty results of the right shape", S, FLOATING_TYPES) {
  auto x = leaf<S, 2>({0, 3});
  auto full = leaf<S, 2>({2, 3});
  auto row = leaf<S, 2>({1, 3});

  fg::Tensor<S, 2> reshaped = fg::reshape(x + S(1), {3, 0});
  CHECK(reshaped.dimensions() == fg::Shape<2>{3, 0});
  fg::Tensor<S, 2> inferred = fg::reshape(x, {-1, 3});
  CHECK(inferred.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> transposed = fg::transpose(x * S(2));
  CHECK(transposed.dimensions() == fg::Shape<2>{3, 0});
  fg::Tensor<S, 2> none = fg::slice(full, {1, 0}, {0, 3});
  CHECK(none.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> reversed = fg::reverse(x - S(1));
  CHECK(reversed.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> stretched = fg::broadcast_to(row, {0, 3});
  CHECK(stretched.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 3> widened = fg::broadcast_to(x, {2, 0, 3});
  CHECK(widened.dimensions() == fg::Shape<3>{2, 0, 3});
  fg::Tensor<S, 2> padded = fg::pad(x * S(3), {std::pair<Index, Index>{1, 1}, {0, 1}});
  CHECK(padded.dimensions() == fg::Shape<2>{2, 4});
  CHECK(all_equal(padded.value(), 0));
  fg::Tensor<S, 2> joined = fg::concat({x, full, x}, 0);
  CHECK(joined.dimensions() == fg::Shape<2>{2, 3});
  CHECK(all_equal(joined.value(), 1));
  fg::Tensor<S, 3> stacked = fg::stack({x, x}, 1);
  CHECK(stacked.dimensions() == fg::Shape<3>{0, 2, 3});

  fg::Tensor<S, 0> loss = fg::sum(reshaped) + fg::sum(inferred) + fg::sum(transposed) + fg::sum(none) +
                          fg::sum(reversed) + fg::sum(stretched) + fg::sum(widened) + fg::sum(padded) +
                          fg::sum(joined) + fg::sum(stacked);
  CHECK(loss.item() == S(6));
  loss.backward();
  CHECK(x.grad().dimensions() == fg::Shape<2>{0, 3});
  CHECK(all_equal(full.grad(), 1));  // from the concat only: the empty slice sends zeros
  CHECK(row.grad().dimensions() == fg::Shape<2>{1, 3});
  CHECK(all_equal(row.grad(), 0));
}

TEST_CASE_TEMPLATE("cross_entropy of an empty batch is NaN as a mean and zero as a sum", S, FLOATING_TYPES) {
  auto logits = leaf<S, 2>({0, 5});
  fg::Tensor<S, 0> mean_loss = fg::cross_entropy(logits, std::vector<int>{});
  CHECK(std::isnan(double(mean_loss.item())));
  fg::Tensor<S, 0> summed = fg::cross_entropy(logits, std::vector<int>{}, fg::loss_reduction::sum);
  CHECK(summed.item() == S(0));
  summed.backward();
  mean_loss.backward();
  CHECK(logits.grad().dimensions() == fg::Shape<2>{0, 5});
}

TEST_CASE_TEMPLATE("mse of empty tensors is NaN with empty gradients", S, FLOATING_TYPES) {
  auto prediction = leaf<S, 2>({0, 2});
  fg::Tensor<S, 2> target(0, 2);
  fg::Tensor<S, 0> loss = fg::mse(prediction, target);
  CHECK(std::isnan(double(loss.item())));
  loss.backward();
  CHECK(prediction.grad().dimensions() == fg::Shape<2>{0, 2});
}

TEST_CASE_TEMPLATE("where, comparisons, maximum and pow on empty tensors give empty results", S, FLOATING_TYPES) {
  auto a = leaf<S, 2>({0, 3});
  auto b = leaf<S, 1>({3}, S(2));
  fg::Tensor<S, 2> chosen = fg::where(a > b, a, b);
  CHECK(chosen.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> masked = fg::where(a <= S(0), S(1), a);
  CHECK(masked.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> larger = fg::maximum(a, b) + fg::minimum(b, a) + fg::clamp(a, -1, 1);
  CHECK(larger.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 2> powers = fg::pow(a, b) + fg::pow(a, S(3)) + fg::pow(S(2), a);
  CHECK(powers.dimensions() == fg::Shape<2>{0, 3});
  fg::Tensor<S, 0> loss = fg::sum(chosen + masked + larger + powers);
  loss.backward();
  CHECK(a.grad().size() == 0);
  CHECK(b.grad().dimensions() == fg::Shape<1>{3});
  CHECK(all_equal(b.grad(), 0));
}

TEST_CASE_TEMPLATE("an empty leaf has an empty grad before and after backward", S, FLOATING_TYPES) {
  auto x = leaf<S, 3>({2, 0, 4});
  CHECK(x.grad().dimensions() == fg::Shape<3>{2, 0, 4});
  fg::Tensor<S, 3> y = x * S(2);
  y.backward();
  CHECK(x.grad().dimensions() == fg::Shape<3>{2, 0, 4});
  fg::Tensor<S, 3> z = fg::exp(x);
  z.backward(fg::Tensor<S, 3>(2, 0, 4));
  x.zero_grad();
  CHECK(x.grad().size() == 0);
}

TEST_CASE_TEMPLATE("a training loop over empty tensors runs a thousand steps and leaves the parameters alone", S,
                   FLOATING_TYPES) {
  auto w = leaf<S, 2>({3, 2}, S(0.25));
  auto b = leaf<S, 1>({2}, S(0.5));
  fg::Tensor<S, 2> inputs(0, 3), targets(0, 2);
  for (int step = 0; step < 1000; ++step) {
    fg::Tensor<S, 2> hidden = fg::tanh(fg::matmul(inputs, w) + b);
    fg::Tensor<S, 0> loss = fg::sum(fg::square(hidden - targets)) + fg::sum(fg::relu(hidden));
    REQUIRE(loss.item() == S(0));
    loss.backward();
    REQUIRE(all_equal(w.grad(), 0));
    REQUIRE(all_equal(b.grad(), 0));
    w.mutable_value() = w.value() - w.grad() * S(0.1);
    w.zero_grad();
    b.zero_grad();
  }
  CHECK(all_equal(w.value(), 0.25));
}

TEST_CASE_TEMPLATE("a matrix product over an inner dimension of size 0 is zeros with empty gradients", S,
                   FLOATING_TYPES) {
  auto a = leaf<S, 2>({4, 0});
  auto b = leaf<S, 2>({0, 3});
  fg::Tensor<S, 2> c = fg::matmul(a, b);
  CHECK(c.dimensions() == fg::Shape<2>{4, 3});
  CHECK(all_equal(c.value(), 0));
  fg::Tensor<S, 2> of_expressions = fg::matmul(fg::exp(a) * S(2), b - S(1));
  CHECK(of_expressions.dimensions() == fg::Shape<2>{4, 3});
  CHECK(all_equal(of_expressions.value(), 0));
  fg::Tensor<S, 0> loss = fg::sum(c * c + c) + fg::sum(of_expressions);
  loss.backward();
  CHECK(a.grad().dimensions() == fg::Shape<2>{4, 0});
  CHECK(b.grad().dimensions() == fg::Shape<2>{0, 3});

  auto u = leaf<S, 1>({0});
  fg::Tensor<S, 0> d = fg::dot(u, u);
  CHECK(d.item() == S(0));
  d.backward();
  fg::Tensor<S, 1> matvec = fg::matmul(a, u);
  CHECK(all_equal(matvec.value(), 0));
  CHECK(matvec.dimensions() == fg::Shape<1>{4});
  matvec.backward();
  CHECK(u.grad().size() == 0);
}

// Found by the random programs with size-0 dimensions: choosing row blocks for the
// product inside the summed region divided by the inner dimension (SIGFPE).
TEST_CASE_TEMPLATE("a summed region around a matrix product over an inner dimension of size 0 runs", S,
                   FLOATING_TYPES) {
  auto x = leaf<S, 2>({5, 0});
  auto w = leaf<S, 2>({0, 3});
  fg::Tensor<S, 1> bias{S(0.5), S(-1), S(2)};
  bias.requires_grad(true);
  // relu(0 + bias) summed over 5 rows.
  fg::Tensor<S, 0> loss = fg::sum(fg::relu(fg::matmul(x, w) + bias));
  CHECK(loss.item() == S(5 * 2.5));
  loss.backward();
  CHECK(x.grad().dimensions() == fg::Shape<2>{5, 0});
  CHECK(w.grad().dimensions() == fg::Shape<2>{0, 3});
  CHECK(bias.grad()(0) == S(5));
  CHECK(bias.grad()(1) == S(0));
  CHECK(bias.grad()(2) == S(5));
}

TEST_CASE_TEMPLATE("a matrix product with an empty free dimension is empty and gives the other operand zeros", S,
                   FLOATING_TYPES) {
  auto a = leaf<S, 2>({0, 3});
  auto b = leaf<S, 2>({3, 2});
  fg::Tensor<S, 2> c = fg::matmul(a, b);
  CHECK(c.dimensions() == fg::Shape<2>{0, 2});
  fg::Tensor<S, 0> loss = fg::sum(fg::exp(c)) + fg::sum(fg::matmul(a, fg::transpose(a)));
  loss.backward();
  CHECK(b.grad().dimensions() == fg::Shape<2>{3, 2});
  CHECK(all_equal(b.grad(), 0));

  auto u = leaf<S, 1>({0});
  auto v = leaf<S, 1>({5});
  fg::Tensor<S, 2> o = fg::outer(u, v);
  CHECK(o.dimensions() == fg::Shape<2>{0, 5});
  o.backward();
  CHECK(all_equal(v.grad(), 0));

  auto t = leaf<S, 3>({2, 0, 3});
  auto k = leaf<S, 2>({3, 0});
  fg::Tensor<S, 3> contracted = fg::tensordot(t, k, {{2, 0}});
  CHECK(contracted.dimensions() == fg::Shape<3>{2, 0, 0});
  fg::Tensor<S, 2> over_empty = fg::tensordot(t, t, {{0, 0}, {1, 1}});
  CHECK(over_empty.dimensions() == fg::Shape<2>{3, 3});
  CHECK(all_equal(over_empty.value(), 0));
  fg::Tensor<S, 0> total = fg::sum(contracted) + fg::sum(over_empty);
  total.backward();
  CHECK(t.grad().size() == 0);
  CHECK(k.grad().size() == 0);

  auto batch_a = leaf<S, 3>({0, 2, 3});
  auto batch_b = leaf<S, 3>({0, 3, 4});
  fg::Tensor<S, 3> batched = fg::matmul(batch_a, batch_b);
  CHECK(batched.dimensions() == fg::Shape<3>{0, 2, 4});
  batched.backward();
  auto inner_a = leaf<S, 3>({2, 2, 0});
  auto inner_b = leaf<S, 3>({2, 0, 4});
  fg::Tensor<S, 3> inner = fg::matmul(inner_a, inner_b);
  CHECK(inner.dimensions() == fg::Shape<3>{2, 2, 4});
  CHECK(all_equal(inner.value(), 0));
  inner.backward();
  CHECK(inner_a.grad().size() == 0);
}

TEST_CASE_TEMPLATE("convolutions of an empty batch or over no channels have the right shapes and zero gradients", S,
                   FLOATING_TYPES) {
  auto kernel = leaf<S, 4>({2, 3, 2, 2});
  auto no_batch = leaf<S, 4>({0, 3, 5, 5});
  fg::Tensor<S, 4> y = fg::conv2d(no_batch * S(2), kernel);
  CHECK(y.dimensions() == fg::Shape<4>{0, 2, 4, 4});
  fg::Tensor<S, 0> loss = fg::sum(y * y);
  loss.backward();
  CHECK(kernel.grad().dimensions() == fg::Shape<4>{2, 3, 2, 2});
  CHECK(all_equal(kernel.grad(), 0));

  auto no_channels = leaf<S, 4>({1, 0, 4, 4});
  auto thin_kernel = leaf<S, 4>({2, 0, 3, 3});
  fg::Tensor<S, 4> z = fg::conv2d(no_channels, thin_kernel, 1, fg::padding::same);
  CHECK(z.dimensions() == fg::Shape<4>{1, 2, 4, 4});
  CHECK(all_equal(z.value(), 0));
  z.backward();
  CHECK(no_channels.grad().size() == 0);
  CHECK(thin_kernel.grad().dimensions() == fg::Shape<4>{2, 0, 3, 3});

  auto no_filters = leaf<S, 3>({0, 3, 2});
  auto signal = leaf<S, 3>({2, 3, 6});
  fg::Tensor<S, 3> w = fg::conv1d(signal, no_filters - S(1), 2);
  CHECK(w.dimensions() == fg::Shape<3>{2, 0, 3});
  w.backward();
  CHECK(all_equal(signal.grad(), 0));
}

TEST_CASE_TEMPLATE("jvp on an empty input gives empty tangents and the identities of reductions", S, FLOATING_TYPES) {
  fg::Tensor<S, 2> x(0, 3);
  fg::EigenTensor<S, 2> direction(0, 3);
  const auto [value, tangent] = fg::jvp([](const auto& t) { return fg::exp(t) * t + S(1); }, x, direction);
  CHECK(value.dimension(0) == 0);
  CHECK(tangent.dimension(1) == 3);
  const auto [total, total_tangent] = fg::jvp([](const auto& t) { return fg::sum(fg::sin(t)); }, x, direction);
  CHECK(total() == S(0));
  CHECK(total_tangent() == S(0));
  const auto [rows, rows_tangent] =
      fg::jvp([](const auto& t) { return fg::sum(fg::transpose(t), fg::dims(1)); }, x, direction);
  CHECK(rows.dimension(0) == 3);
  CHECK(all_equal(rows_tangent, 0));
}

TEST_CASE_TEMPLATE("the functional gradient of an empty input is empty", S, FLOATING_TYPES) {
  fg::Tensor<S, 2> x(4, 0);
  const auto g = fg::grad([](const auto& t) { return fg::sum(fg::exp(t) * t); }, x);
  CHECK(g.dimension(0) == 4);
  CHECK(g.dimension(1) == 0);
  fg::Tensor<S, 1> w = fg::Tensor<S, 1>::ones(4);
  const auto [gx, gw] = fg::grad([](const auto& t, const auto& v) { return fg::sum(fg::sum(t, fg::dims(1)) * v); }, x, w);
  CHECK(gx.size() == 0);
  CHECK(all_equal(gw, 0));
  const auto [value, gradient] = fg::value_and_grad([](const auto& t) { return fg::mean(t); }, x);
  CHECK(std::isnan(double(value)));
  CHECK(gradient.size() == 0);
}

TEST_CASE_TEMPLATE("softmax and log_softmax over slices of no elements are empty, as PyTorch's", S, double, float) {
  // Found by the random programs once size-0 dimensions were drawn: the constant max of
  // log_softmax was a max of nothing.
  fg::Tensor<S, 2> x(2, 0);
  x.requires_grad(true);
  fg::Tensor<S, 2> p = fg::softmax(x, 1);
  fg::Tensor<S, 2> q = fg::log_softmax(x * S(2), 1);
  CHECK(p.dimensions() == fg::Shape<2>{2, 0});
  CHECK(q.dimensions() == fg::Shape<2>{2, 0});
  fg::Tensor<S, 0> total = fg::sum(p) + fg::sum(q);
  total.backward();
  CHECK(x.grad().size() == 0);
}
