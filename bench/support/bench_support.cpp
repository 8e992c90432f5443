// Verification and timing shared by all workloads; see bench_support.hpp.
#include "bench_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <random>

namespace bench {

namespace {

using Clock = std::chrono::steady_clock;
using ConstMapArray = Eigen::Map<const Eigen::ArrayXd>;

constexpr double kMinSampleSeconds = 1e-3;
constexpr double kMinSeconds = 0.2;
constexpr int kMinSamples = 21;  // the median then survives bursts of load from other processes
constexpr double kSlowSeconds = 1.5;
constexpr int kSlowMinSamples = 7;

std::mt19937_64& rng() {
  static std::mt19937_64 engine(2024);
  return engine;
}

bool g_inputs_in_float = false;

// Seconds for `batch` calls.
double run_batch(const std::function<double()>& f, long batch) {
  double acc = 0;
  const auto t0 = Clock::now();
  for (long i = 0; i < batch; ++i) acc += f();
  const auto t1 = Clock::now();
  sink = sink + acc;
  return std::chrono::duration<double>(t1 - t0).count();
}

// Doubles the batch until one sample takes at least kMinSampleSeconds.
long calibrate(const std::function<double()>& f) {
  for (int i = 0; i < 3; ++i) sink = sink + f();  // warm up caches and allocators
  long batch = 1;
  while (run_batch(f, batch) < kMinSampleSeconds && batch < (1L << 30)) batch *= 2;
  return batch;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

[[noreturn]] void fail(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "fusegrad_bench: VERIFICATION FAILED: %s\n", message.c_str());
  std::exit(EXIT_FAILURE);
}

double relative_difference(const double* a, const double* b, Index n) {
  const ConstMapArray A(a, n), B(b, n);
  const double scale = B.abs().maxCoeff();
  const double diff = (A - B).abs().maxCoeff();
  if (!std::isfinite(diff) || !std::isfinite(scale)) return INFINITY;
  return scale > 0 ? diff / scale : diff;
}

void check_gradient(const std::string& what, const double* got, const double* want, Index n, double tolerance) {
  const double d = relative_difference(got, want, n);
  if (show_errors) std::printf("  %-110s %.2e (tolerance %.0e)\n", what.c_str(), d, tolerance);
  if (!(d <= tolerance)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, ": max |difference| / max |reference| = %.3e exceeds %.0e", d, tolerance);
    fail(what + buf);
  }
}

void check_value(const std::string& what, double got, double want, double scale, double tolerance) {
  const double d = std::abs(got - want) / std::max(scale, 1e-300);
  if (show_errors) std::printf("  %-110s %.2e (tolerance %.0e)\n", (what + " value").c_str(), d, tolerance);
  if (!(d <= tolerance)) {
    char buf[200];
    std::snprintf(buf, sizeof buf, ": value %.17g vs reference %.17g (relative %.3e) exceeds %.0e", got, want, d,
                  tolerance);
    fail(what + buf);
  }
}

void check_by_differences(const std::string& label, const std::vector<Param>& params,
                          const std::function<double()>& value, double value_scale, double step) {
  constexpr double eps = std::numeric_limits<double>::epsilon();
  // The gradients at the unperturbed inputs (every value() below overwrites them).
  std::vector<std::vector<double>> grads;
  for (const Param& p : params) grads.emplace_back(p.grad, p.grad + p.size);
  for (std::size_t k = 0; k < params.size(); ++k) {
    const Param& p = params[k];
    const std::vector<double>& g = grads[k];
    const double scale = std::max(ConstMapArray(g.data(), p.size).abs().maxCoeff(), 1e-300);
    for (Index i : {Index(0), p.size / 2, p.size - 1}) {
      const double x = p.value[i];
      const double h = step * std::max(1.0, std::abs(x));
      p.value[i] = x + h;
      const double up = value();
      p.value[i] = x - h;
      const double down = value();
      p.value[i] = x;
      const double fd = (up - down) / (2 * h);
      const double allowed = kFdTolerance * scale + 16 * eps * value_scale / h;
      if (!(std::abs(fd - g[i]) <= allowed)) {
        char buf[320];
        std::snprintf(buf, sizeof buf,
                      ": hand-written d/d%s[%ld] = %.10g but central difference %.10g (allowed difference %.3e)",
                      p.name.c_str(), long(i), g[i], fd, allowed);
        fail(label + buf);
      }
    }
  }
  value();  // leave the hand-written buffers at the unperturbed inputs
}

void fill_uniform(double* p, Index n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  for (Index i = 0; i < n; ++i) p[i] = u(rng());
}

int uniform_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng()); }

std::mt19937_64& generator() { return rng(); }

bool inputs_in_float() { return g_inputs_in_float; }
InputsInFloat::InputsInFloat() : before_(g_inputs_in_float) { g_inputs_in_float = true; }
InputsInFloat::~InputsInFloat() { g_inputs_in_float = before_; }

std::vector<double> measure(const std::vector<std::function<double()>>& fs) {
  std::vector<long> batch;
  for (const auto& f : fs) batch.push_back(calibrate(f));
  std::vector<std::vector<double>> per_call(fs.size());
  std::vector<double> total(fs.size(), 0.0);
  const auto done = [&](std::size_t i) {
    const std::size_t k = per_call[i].size();
    return (k >= std::size_t(kMinSamples) && total[i] >= kMinSeconds) ||
           (k >= std::size_t(kSlowMinSamples) && total[i] >= kSlowSeconds);
  };
  for (;;) {
    bool all_done = true;
    for (std::size_t i = 0; i < fs.size(); ++i) {
      if (done(i)) continue;
      all_done = false;
      const double s = run_batch(fs[i], batch[i]);
      total[i] += s;
      per_call[i].push_back(s / double(batch[i]));
    }
    if (all_done) break;
  }
  std::vector<double> out;
  for (auto& v : per_call) out.push_back(median(v));
  return out;
}

double allocations_per_call(const std::function<double()>& f) {
  constexpr int kCalls = 4;
  sink = sink + f();  // steady state: the timed runs came before
  const long before = allocation_count();
  double acc = 0;
  for (int i = 0; i < kCalls; ++i) acc += f();
  const long after = allocation_count();
  sink = sink + acc;
  return double(after - before) / kCalls;
}

}  // namespace bench
