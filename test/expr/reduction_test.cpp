// Every reduction: over all dimensions, over listed ones, keeping dimensions; reverse
// mode against central differences and against closed forms.
#include "../support/gradient_check.hpp"

#include <functional>
#include <numeric>

namespace fg = fusegrad;
using fg::testing::domain;
using fg::testing::random_tensor;
using fg::Index;

namespace {

// Runs one reduction through the checker in all its forms on ranks 0 to 4.
template <class Op>
void check_reduction(const char* name, Op op, domain d = domain::mixed) {
  auto for_scalar = [&]<class S>(S) {
    fg::testing::for_ranks_0_to_4<S>([&](auto rank) {
      constexpr int R = decltype(rank)::value;
      auto x = random_tensor<S, R>(fg::testing::sample_shape<R>(), d);
      fg::testing::expect_gradients_match_differences(name, [&](const auto& a) { return op(a); }, x);
      fg::testing::expect_gradients_match_differences(name, [&](const auto& a) { return op(a, fg::keep_dims); }, x);
      if constexpr (R >= 1) {
        fg::testing::expect_gradients_match_differences(name, [&](const auto& a) { return op(a, fg::dims(R - 1)); }, x);
        fg::testing::expect_gradients_match_differences(
            name, [&](const auto& a) { return op(a, fg::dims(0), fg::keep_dims); }, x);
      }
      if constexpr (R >= 3)
        fg::testing::expect_gradients_match_differences(name, [&](const auto& a) { return op(a, fg::dims(2, 0)); }, x);
    });
  };
  // (The loops are compiled per scalar type, but written once: float runs them through
  // the checker above.)
  for_scalar(double{});
}

// The gradient of a full reduction, seeded with 1.
template <class Op>
fg::EigenTensor<double, 2> full_gradient(Op op, const fg::EigenTensor<double, 2>& value) {
  fg::Tensor<double, 2> x(value);
  x.requires_grad(true);
  fg::Tensor<double, 0> r = op(x);
  r.backward();
  return x.grad();
}

const fg::EigenTensor<double, 2>& sample_matrix() {
  static const fg::EigenTensor<double, 2> m = [] {
    fg::EigenTensor<double, 2> v(2, 3);
    v.setValues({{0.5, -1.5, 2.0}, {1.25, 3.0, -0.75}});
    return v;
  }();
  return m;
}

}  // namespace

TEST_CASE("sum passes the upstream gradient to every reduced element") {
  check_reduction("sum", [](const auto& x, auto... o) { return fg::sum(x, o...); });
  const auto g = full_gradient([](const auto& x) { return fg::sum(x); }, sample_matrix());
  for (fg::Index i = 0; i < g.size(); ++i) CHECK(g.data()[i] == 1.0);
}
TEST_CASE("mean passes 1/n of the upstream gradient to every reduced element") {
  check_reduction("mean", [](const auto& x, auto... o) { return fg::mean(x, o...); });
  const auto g = full_gradient([](const auto& x) { return fg::mean(x); }, sample_matrix());
  for (fg::Index i = 0; i < g.size(); ++i) CHECK(g.data()[i] == doctest::Approx(1.0 / 6));
}
TEST_CASE("max routes the gradient to the largest element") {
  check_reduction("max", [](const auto& x, auto... o) { return fg::max(x, o...); }, domain::distinct);
  const auto g = full_gradient([](const auto& x) { return fg::max(x); }, sample_matrix());
  for (fg::Index i = 0; i < g.size(); ++i) CHECK(g.data()[i] == (i == 4 ? 1.0 : 0.0));
}
TEST_CASE("min routes the gradient to the smallest element") {
  check_reduction("min", [](const auto& x, auto... o) { return fg::min(x, o...); }, domain::distinct);
  const auto g = full_gradient([](const auto& x) { return fg::min(x); }, sample_matrix());
  for (fg::Index i = 0; i < g.size(); ++i) CHECK(g.data()[i] == (i == 1 ? 1.0 : 0.0));
}
TEST_CASE("max shares the gradient equally between tied elements") {
  fg::Tensor<double, 1> x{1.0, 3.0, 3.0, -2.0};
  x.requires_grad(true);
  fg::Tensor<double, 0> r = fg::max(x);
  r.backward();
  CHECK(x.grad()(0) == 0.0);
  CHECK(x.grad()(1) == 0.5);
  CHECK(x.grad()(2) == 0.5);
  CHECK(x.grad()(3) == 0.0);
}
TEST_CASE("prod gives each element the product of the others") {
  check_reduction("prod", [](const auto& x, auto... o) { return fg::prod(x, o...); });
  const auto g = full_gradient([](const auto& x) { return fg::prod(x); }, sample_matrix());
  const double total = 0.5 * -1.5 * 2.0 * 1.25 * 3.0 * -0.75;
  for (fg::Index i = 0; i < g.size(); ++i) CHECK(g.data()[i] == doctest::Approx(total / sample_matrix().data()[i]));
}
TEST_CASE("prod's gradient is exact where elements are zero") {
  fg::Tensor<double, 2> x{{2.0, 0.0, 3.0}, {0.0, 0.0, 5.0}};
  x.requires_grad(true);
  fg::Tensor<double, 1> r = fg::prod(x, fg::dims(1));
  r.backward();
  // Row 0 has one zero: it receives the product of the others; the rest get 0.
  CHECK(x.grad()(0, 0) == 0.0);
  CHECK(x.grad()(0, 1) == 6.0);
  CHECK(x.grad()(0, 2) == 0.0);
  // Row 1 has two zeros: every partial derivative is 0.
  for (int j = 0; j < 3; ++j) CHECK(x.grad()(1, j) == 0.0);
}
TEST_CASE("logsumexp has the softmax as its gradient") {
  check_reduction("logsumexp", [](const auto& x, auto... o) { return fg::logsumexp(x, o...); });
  const auto g = full_gradient([](const auto& x) { return fg::logsumexp(x); }, sample_matrix());
  double z = 0;
  for (fg::Index i = 0; i < 6; ++i) z += std::exp(sample_matrix().data()[i]);
  for (fg::Index i = 0; i < g.size(); ++i) CHECK(g.data()[i] == doctest::Approx(std::exp(sample_matrix().data()[i]) / z));
}
TEST_CASE("logsumexp stays finite for inputs of magnitude 1000") {
  fg::Tensor<double, 2> x{{1000.0, 999.0, -1000.0}, {-1000.0, -1001.0, -999.5}};
  x.requires_grad(true);
  fg::Tensor<double, 1> r = fg::logsumexp(x, fg::dims(1));
  CHECK(r(0) == doctest::Approx(1000.0 + std::log(1 + std::exp(-1.0))));
  CHECK(r(1) == doctest::Approx(-999.5 + std::log(1 + std::exp(-0.5) + std::exp(-1.5))));
  r.backward();
  CHECK(x.grad()(0, 0) == doctest::Approx(1 / (1 + std::exp(-1.0))));
  for (fg::Index i = 0; i < 6; ++i) CHECK(std::isfinite(x.grad().data()[i]));
}
TEST_CASE("a user reduction is differentiated by its given partial") {
  // The sum of squares as a fold, with d result / d element = 2 element.
  check_reduction("reduce(sum of squares)", [](const auto& x, auto... o) {
    using S = typename fg::expr::node_of<std::remove_cvref_t<decltype(x)>>::Scalar;
    return fg::reduce(x, o..., S(0), [](S acc, S e) { return acc + e * e; }, [](S e, S) { return 2 * e; });
  });
}
TEST_CASE("reductions keep the dimensions they are told to keep") {
  auto x = random_tensor<double, 3>({2, 3, 4});
  fg::Tensor<double, 3> kept = fg::sum(x, fg::dims(1), fg::keep_dims);
  CHECK(kept.dimensions() == fg::Shape<3>{2, 1, 4});
  fg::Tensor<double, 3> all_kept = fg::max(x, fg::keep_dims);
  CHECK(all_kept.dimensions() == fg::Shape<3>{1, 1, 1});
  fg::Tensor<double, 1> reduced = fg::mean(x, fg::dims(0, 2));
  CHECK(reduced.dimensions() == fg::Shape<1>{3});
}
TEST_CASE("reductions and elementwise operations compose in one statement") {
  auto f = [](const auto& a, const auto& b) {
    return fg::exp(a - fg::logsumexp(a, fg::dims(1), fg::keep_dims)) * b + fg::sum(fg::square(b), fg::dims(0));
  };
  fg::testing::expect_gradients_match_differences("softmax-like", f, random_tensor<double, 2>({3, 4}),
                                                  random_tensor<double, 2>({3, 4}));
  auto g = [](const auto& a) { return fg::sum(fg::tanh(fg::mean(a, fg::dims(0)) * a)); };
  fg::testing::expect_gradients_match_differences("nested", g, random_tensor<double, 3>({2, 3, 2}));
}

namespace {

// The reference for a reduction over any set of dimensions of a rank-4 tensor: plain
// loops that visit every element with the index of the result it reduces into.
struct SlicesOf {
  fg::Shape<4> shape;
  unsigned reduced_mask;
  Index result_of(Index flat) const {  // row-major: the last dimension is the fastest
    std::array<Index, 4> at;
    for (int d = 3; d >= 0; --d) at[d] = flat % shape[d], flat /= shape[d];
    Index result = 0;
    for (int d = 0; d < 4; ++d)
      if (!(reduced_mask >> d & 1)) result = result * shape[d] + at[d];
    return result;
  }
  Index result_count() const {
    Index n = 1;
    for (int d = 0; d < 4; ++d)
      if (!(reduced_mask >> d & 1)) n *= shape[d];
    return n;
  }
};

// Reference value (long double) and d r / d x of each rule on the elements of one slice.
struct ReferenceRule {
  const char* name;
  long double (*value)(const std::vector<long double>& slice);
  long double (*partial)(long double x, long double r, const std::vector<long double>& slice);
};

const ReferenceRule reference_rules[] = {
    {"sum", [](const auto& s) { return std::accumulate(s.begin(), s.end(), 0.0L); },
     [](long double, long double, const auto&) { return 1.0L; }},
    {"mean", [](const auto& s) { return std::accumulate(s.begin(), s.end(), 0.0L) / s.size(); },
     [](long double, long double, const auto& s) { return 1.0L / s.size(); }},
    {"max", [](const auto& s) { return *std::max_element(s.begin(), s.end()); },
     [](long double x, long double r, const auto& s) { return (x == r ? 1.0L : 0.0L) / std::count(s.begin(), s.end(), r); }},
    {"min", [](const auto& s) { return *std::min_element(s.begin(), s.end()); },
     [](long double x, long double r, const auto& s) { return (x == r ? 1.0L : 0.0L) / std::count(s.begin(), s.end(), r); }},
    {"prod", [](const auto& s) { return std::accumulate(s.begin(), s.end(), 1.0L, std::multiplies<>()); },
     [](long double x, long double r, const auto&) { return r / x; }},
    {"logsumexp",
     [](const auto& s) {
       long double total = 0;
       for (long double e : s) total += std::exp(e);
       return std::log(total);
     },
     [](long double x, long double r, const auto&) { return std::exp(x - r); }},
};

template <class S, int K>
void expect_reduction_matches_slices(const ReferenceRule& rule, const fg::EigenTensor<S, 4>& values,
                                     const std::array<Index, K>& axes) {
  constexpr int Rr = 4 - K;
  unsigned mask = 0;
  for (Index a : axes) mask |= 1u << a;
  const SlicesOf slices{values.dimensions(), mask};
  const std::string where = std::string(rule.name) + " over dimension mask " + std::to_string(mask);
  CAPTURE(where);

  fg::Tensor<S, 4> x(values);
  x.requires_grad(true);
  const fg::expr::Axes<K> over{axes};
  const std::string name = rule.name;
  fg::Tensor<S, Rr> r = name == "sum"    ? fg::Tensor<S, Rr>(fg::sum(x, over))
                        : name == "mean" ? fg::Tensor<S, Rr>(fg::mean(x, over))
                        : name == "max"  ? fg::Tensor<S, Rr>(fg::max(x, over))
                        : name == "min"  ? fg::Tensor<S, Rr>(fg::min(x, over))
                        : name == "prod" ? fg::Tensor<S, Rr>(fg::prod(x, over))
                                         : fg::Tensor<S, Rr>(fg::logsumexp(x, over));
  // Upstream weights 1, 2, 3, ... tell the results apart in the gradient.
  fg::EigenTensor<S, Rr> weights(r.dimensions());
  for (Index o = 0; o < weights.size(); ++o) weights.data()[o] = S(o + 1);
  r.backward(weights);

  std::vector<std::vector<long double>> slice(slices.result_count());
  for (Index i = 0; i < values.size(); ++i) slice[slices.result_of(i)].push_back(values.data()[i]);
  const long double tolerance = 16 * std::numeric_limits<S>::epsilon();
  REQUIRE(r.value().size() == slices.result_count());
  for (Index o = 0; o < slices.result_count(); ++o) {
    const long double expected = rule.value(slice[o]);
    CHECK(std::abs(r.value().data()[o] - expected) <= tolerance * (1 + std::abs(expected)));
  }
  for (Index i = 0; i < values.size(); ++i) {
    const Index o = slices.result_of(i);
    const long double expected = (o + 1) * rule.partial(values.data()[i], rule.value(slice[o]), slice[o]);
    CHECK(std::abs(x.grad().data()[i] - expected) <= tolerance * (1 + std::abs(expected)) * slice[o].size());
  }
}

}  // namespace

TEST_CASE("every reduction's value and gradient match plain loops over its slices, for every set of dimensions") {
  // A size-1 dimension between others, so that runs of reduced and kept dimensions merge
  // across it; values drawn from a few levels, so that max and min meet ties.
  auto for_scalar = [&]<class S>(S) {
    fg::EigenTensor<S, 4> values(3, 1, 4, 2);
    for (Index i = 0; i < values.size(); ++i) values.data()[i] = S(0.25) * S((i * 7) % 9) - S(1.125);  // never 0
    for (const ReferenceRule& rule : reference_rules) {
      for (unsigned mask = 0; mask < 16; ++mask) {
        std::vector<Index> listed;
        for (Index d = 0; d < 4; ++d)
          if (mask >> d & 1) listed.push_back(d);
        [&]<int... K>(std::integer_sequence<int, K...>) {
          ((listed.size() == std::size_t(K) ? [&] {
             std::array<Index, K> axes;
             std::copy(listed.begin(), listed.end(), axes.begin());
             expect_reduction_matches_slices<S, K>(rule, values, axes);
           }()
                                            : void()),
           ...);
        }(std::make_integer_sequence<int, 5>{});
      }
    }
  };
  // (The loops are compiled per scalar type, but written once: float runs them through
  // the checker above.)
  for_scalar(double{});
}

TEST_CASE("a sum or mean that is not differentiated equals that of the evaluated expression") {
  // Without gradients, a full sum of an elementwise region is taken as the region is
  // evaluated, a row at a time where an operand is stretched over rows.
  auto for_scalar = [&]<class S>(S) {
    for (const fg::Shape<2>& shape : {fg::Shape<2>{0, 3}, fg::Shape<2>{1, 1}, fg::Shape<2>{5, 7}, fg::Shape<2>{33, 65}}) {
      CAPTURE(shape[0]);
      CAPTURE(shape[1]);
      auto a = random_tensor<S, 2>(shape);
      auto row = random_tensor<S, 1>(fg::Shape<1>{shape[1]});
      a.requires_grad(true);
      fg::no_grad values_only;
      const auto expression = fg::exp(a) * row + a;
      fg::Tensor<S, 2> evaluated = expression;
      long double total = 0, magnitude = 0;
      for (Index i = 0; i < evaluated.value().size(); ++i)
        total += evaluated.value().data()[i], magnitude += std::abs(evaluated.value().data()[i]);
      fg::Tensor<S, 0> sum = fg::sum(expression), mean = fg::mean(expression);
      const long double tolerance = 64 * std::numeric_limits<S>::epsilon() * (1 + magnitude);
      CHECK(std::abs(sum.item() - total) <= tolerance);
      if (evaluated.value().size() == 0)
        CHECK(std::isnan(mean.item()));
      else
        CHECK(std::abs(mean.item() - total / evaluated.value().size()) <= tolerance / evaluated.value().size());
    }
  };
  for_scalar(double{});
  for_scalar(float{});
}

TEST_CASE("a reduction's gradient is added to the gradient its operand already has") {
  // The second backward without zero_grad adds the same gradient again: exactly twice
  // the first, for the rules whose gradient is written into the operand's own.
  auto for_scalar = [&]<class S>(S) {
    auto x = random_tensor<S, 2>({3, 4});
    x.requires_grad(true);
    const auto check = [&](const char* name, const auto& reduce) {
      CAPTURE(name);
      x.zero_grad();
      fg::Tensor<S, 0> first = fg::sum(reduce(x));
      first.backward();
      const fg::EigenTensor<S, 2> once = x.grad();
      fg::Tensor<S, 0> second = fg::sum(reduce(x));
      second.backward();
      for (Index i = 0; i < once.size(); ++i) CHECK(x.grad().data()[i] == S(2) * once.data()[i]);
    };
    check("max", [](const auto& a) { return fg::max(a, fg::dims(1)); });
    check("min", [](const auto& a) { return fg::min(a, fg::dims(0)); });
    check("prod", [](const auto& a) { return fg::prod(a, fg::dims(1)); });
    check("logsumexp", [](const auto& a) { return fg::logsumexp(a, fg::dims(0)); });
    check("reduce", [](const auto& a) {
      return fg::reduce(a, fg::dims(1), S(0), [](S acc, S e) { return acc + e * e; }, [](S e, S) { return 2 * e; });
    });
  };
  for_scalar(double{});
  for_scalar(float{});
}
