// Forward mode and second order against the first-order calls they build on (issues 5
// and 19; the targets printed are issue 19's),
// double, one thread, n = 10^4:
//   hvp(f, x, v) / grad(f, x)       for f(x) = sum(exp(x) sin(x)) + logsumexp(x^2)
//   jvp(g, x, v) / g(x)             for g(x) = exp(x) sin(x) + tanh(x), the plain
//                                   evaluation (one fused forward pass); and jvp into
//                                   two tensors reused from call to call, whose
//                                   storage, like g(x)'s pooled result, is not
//                                   allocated again
// Both are checked against central differences before they are timed. Prints a table
// and writes it as CSV (default bench_second_order.csv).
#include <fusegrad/fusegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace fg = fusegrad;

namespace {

// Median time of one call in microseconds, over samples of at least 1 ms each.
template <class F>
double median_us(F&& call) {
  using clock = std::chrono::steady_clock;
  int batch = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (int i = 0; i < batch; ++i) call();
    if (clock::now() - t0 > std::chrono::milliseconds(1)) break;
    batch *= 2;
  }
  std::vector<double> samples;
  const auto start = clock::now();
  while (samples.size() < 21 || clock::now() - start < std::chrono::milliseconds(300)) {
    const auto t0 = clock::now();
    for (int i = 0; i < batch; ++i) call();
    samples.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / batch);
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "second_order_bench: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string csv_path = argc > 1 ? argv[1] : "bench_second_order.csv";
  const fg::Index n = 10000;
  fg::manual_seed(7);
  const auto x = fg::Tensor<double, 1>::random(n);
  const fg::EigenTensor<double, 1> v = fg::Tensor<double, 1>::random(n).value();
  auto f = [](const auto& p) { return fg::sum(fg::exp(p) * fg::sin(p)) + fg::logsumexp(fg::square(p)); };
  auto g = [](const auto& p) { return fg::exp(p) * fg::sin(p) + fg::tanh(p); };

  // Verification: H v against differences of gradients, J v against differences of g.
  const double h = 1e-5;
  {
    const auto hv = fg::hvp(f, x, v);
    const auto plus = fg::grad(f, fg::Tensor<double, 1>(fg::EigenTensor<double, 1>(x.value() + v * h)));
    const auto minus = fg::grad(f, fg::Tensor<double, 1>(fg::EigenTensor<double, 1>(x.value() - v * h)));
    for (fg::Index i = 0; i < n; ++i) {
      const double numeric = (plus(i) - minus(i)) / (2 * h);
      if (std::abs(hv(i) - numeric) > 1e-5 * std::max(1.0, std::abs(numeric))) fail("hvp disagrees with differences");
    }
    const auto [value, tangent] = fg::jvp(g, x, v);
    const fg::Tensor<double, 1> gp = g(fg::Tensor<double, 1>(fg::EigenTensor<double, 1>(x.value() + v * h)));
    const fg::Tensor<double, 1> gm = g(fg::Tensor<double, 1>(fg::EigenTensor<double, 1>(x.value() - v * h)));
    for (fg::Index i = 0; i < n; ++i) {
      const double numeric = (gp(i) - gm(i)) / (2 * h);
      if (std::abs(tangent(i) - numeric) > 1e-6 * std::max(1.0, std::abs(numeric))) fail("jvp disagrees with differences");
    }
    fg::EigenTensor<double, 1> value_into, tangent_into;
    fg::jvp(g, x, v, value_into, tangent_into);
    for (fg::Index i = 0; i < n; ++i)
      if (value_into(i) != value(i) || tangent_into(i) != tangent(i)) fail("jvp into tensors disagrees with jvp");
  }

  double sink = 0;
  const double grad_us = median_us([&] { sink += fg::grad(f, x)(0); });
  const double hvp_us = median_us([&] { sink += fg::hvp(f, x, v)(0); });
  const double forward_us = median_us([&] {
    const fg::Tensor<double, 1> y = g(x);
    sink += y(0);
  });
  const double jvp_us = median_us([&] { sink += fg::jvp(g, x, v).second(0); });
  fg::EigenTensor<double, 1> jvp_value, jvp_tangent;  // reused from call to call
  const double jvp_into_us = median_us([&] {
    fg::jvp(g, x, v, jvp_value, jvp_tangent);
    sink += jvp_tangent(0);
  });

  std::printf("\nforward mode and second order, double, one thread, n = %ld, median per call (us)\n", long(n));
  std::printf("%-44s | %10s | %10s | %6s | %s\n", "ratio", "numerator", "baseline", "ratio", "target");
  std::printf("%-44s | %10.1f | %10.1f | %6.2f | %s\n", "hvp / grad, sum(exp sin) + logsumexp(x^2)", hvp_us,
              grad_us, hvp_us / grad_us, "<= 2.0");
  std::printf("%-44s | %10.1f | %10.1f | %6.2f | %s\n", "jvp / forward, exp sin + tanh", jvp_us, forward_us,
              jvp_us / forward_us, "<= 1.3");
  std::printf("%-44s | %10.1f | %10.1f | %6.2f | %s\n", "jvp into reused tensors / forward", jvp_into_us,
              forward_us, jvp_into_us / forward_us, "<= 1.3");
  std::ofstream csv(csv_path);
  csv << "ratio,n,numerator_us,baseline_us,ratio_value,target\n"
      << "hvp_over_grad," << n << ',' << hvp_us << ',' << grad_us << ',' << hvp_us / grad_us << ",2.0\n"
      << "jvp_over_forward," << n << ',' << jvp_us << ',' << forward_us << ',' << jvp_us / forward_us << ",1.3\n"
      << "jvp_into_over_forward," << n << ',' << jvp_into_us << ',' << forward_us << ',' << jvp_into_us / forward_us
      << ",1.3\n";
  std::printf("CSV written to %s%s\n", csv_path.c_str(), sink == 12345.678 ? " " : "");
  return 0;
}
