// fusegrad benchmark: value + gradient, fusegrad against a hand-written gradient in
// plain Eigen, in the same process, single-threaded.
//
//   fusegrad_bench [csv_path]
//
// Workloads (issue 2), double, inputs uniform in [-1, 1):
//   sum(exp(x) * sin(x))                        n = 10^2, 10^4, 10^6
//   sum((x*y + sin(z)) / (1 + exp(-x*z)))       n = 10^5, gradient wrt x, y and z
//
// Before anything is timed, every workload's value and gradients from fusegrad are
// compared with each hand-written form (gradients: max |difference| / max |hand|;
// value: |difference| / sum |terms|; tolerance 1e-10); on a mismatch the program stops
// with a message naming the workload and input, and exits non-zero. Timing: each
// function is called in batches (enough calls that a sample takes at least ~1 ms),
// samples of fusegrad and the hand forms alternate so that all see the same machine
// load, sampling continues until each has run for at least 0.2 s (and at least 21
// samples), and the reported time is the median over samples of the per-call time.
//
// One timed fusegrad call = zero_grad() on the inputs + building and evaluating the
// loss + backward() + reading the value and the gradients. One timed hand call =
// value and gradients computed into preallocated buffers.
//
// The hand-written gradient exists in two careful forms, on Eigen::Array and on
// Eigen::Tensor (same steps, same temporaries). Both are verified and timed; "hand" is
// the faster of the two on this run. On the development machine (Xeon, AVX-512, g++ 12,
// Eigen 3.4.0) they were within ~4% of each other, and which one won changed with n and
// from run to run (Tensor was more often ahead at n = 10^6 and on the second workload,
// Array at n <= 10^4); any fixed choice would favour fusegrad somewhere, so the
// yardstick is the faster one. The per-form times are printed after the table.
//
// Output: a table on stdout and the same rows as CSV in csv_path (default
// bench_results.csv in the working directory).
#include <fusegrad/fusegrad.hpp>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fg = fusegrad;

namespace {

using Clock = std::chrono::steady_clock;
using ArrayX = Eigen::ArrayXd;
using Tensor1 = Eigen::Tensor<double, 1>;          // the hand-written Tensor form
using MapArray = Eigen::Map<const Eigen::ArrayXd>;

constexpr double kTolerance = 1e-10;
constexpr double kMinSecondsPerSide = 0.2;
constexpr double kMinSampleSeconds = 1e-3;
constexpr int kMinSamples = 21;  // the median then survives bursts of load from other processes

volatile double g_sink = 0;  // keeps the compiler from discarding timed work

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "fusegrad_bench: VERIFICATION FAILED: %s\n", message.c_str());
  std::fflush(stdout);
  std::exit(EXIT_FAILURE);
}

// max_i |a_i - b_i| / max_i |b_i|: the error relative to the gradient's scale (an
// elementwise relative error is meaningless where a component is near zero, as
// exp(x) * (sin(x) + cos(x)) is near x = -pi/4).
double relative_difference(const double* a, const double* b, Eigen::Index n) {
  const MapArray A(a, n), B(b, n);
  const double scale = B.abs().maxCoeff();
  const double diff = (A - B).abs().maxCoeff();
  if (!std::isfinite(diff) || !std::isfinite(scale)) return INFINITY;
  return scale > 0 ? diff / scale : diff;
}

void check_gradient(const std::string& what, const double* fusegrad_grad, const double* hand_grad,
                    Eigen::Index n) {
  const double d = relative_difference(fusegrad_grad, hand_grad, n);
  if (!(d <= kTolerance)) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: max |fusegrad - hand| / max |hand| = %.3e exceeds %.0e", what.c_str(),
                  d, kTolerance);
    fail(buf);
  }
}

// `scale` is sum_i |f_i|: a sum's rounding error is relative to it, not to the sum.
void check_value(const std::string& what, double fusegrad_value, double hand_value, double scale) {
  const double d = std::abs(fusegrad_value - hand_value) / std::max(scale, 1e-300);
  if (!(d <= kTolerance)) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: value fusegrad %.17g vs hand %.17g (relative %.3e) exceeds %.0e",
                  what.c_str(), fusegrad_value, hand_value, d, kTolerance);
    fail(buf);
  }
}

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

// Seconds for `batch` calls.
double run_batch(const std::function<double()>& f, long batch) {
  double acc = 0;
  const auto t0 = Clock::now();
  for (long i = 0; i < batch; ++i) acc += f();
  const auto t1 = Clock::now();
  g_sink = g_sink + acc;
  return std::chrono::duration<double>(t1 - t0).count();
}

// Doubles the batch until one sample takes at least kMinSampleSeconds.
long calibrate(const std::function<double()>& f) {
  for (int i = 0; i < 3; ++i) g_sink = g_sink + f();  // warm up caches and allocators
  long batch = 1;
  while (run_batch(f, batch) < kMinSampleSeconds && batch < (1L << 30)) batch *= 2;
  return batch;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Median per-call seconds of each function; samples of the functions alternate.
std::vector<double> measure(const std::vector<std::function<double()>>& fs) {
  std::vector<long> batch;
  for (const auto& f : fs) batch.push_back(calibrate(f));
  std::vector<std::vector<double>> per_call(fs.size());
  std::vector<double> total(fs.size(), 0.0);
  for (;;) {
    bool done = true;
    for (std::size_t i = 0; i < fs.size(); ++i)
      if (total[i] < kMinSecondsPerSide || per_call[i].size() < std::size_t(kMinSamples)) done = false;
    if (done) break;
    for (std::size_t i = 0; i < fs.size(); ++i) {
      const double s = run_batch(fs[i], batch[i]);
      total[i] += s;
      per_call[i].push_back(s / double(batch[i]));
    }
  }
  std::vector<double> out;
  for (auto& v : per_call) out.push_back(median(v));
  return out;
}

// ---------------------------------------------------------------------------
// Workload 1: sum(exp(x) * sin(x)),  d/dx = exp(x) * (sin(x) + cos(x))
// ---------------------------------------------------------------------------
//
// Hand-written: e = exp(x) and s = sin(x) are each computed once into a buffer,
// value = (e*s).sum(), grad = e*(s + cos(x)) (cos computed once, inside the gradient
// pass). Eigen 3.4 has a vectorized (AVX-512) exp for double but only a scalar sin/cos;
// keeping exp in its own assignment lets it run on packets, whereas any expression that
// mixes it with sin/cos is evaluated one scalar at a time. The Tensor form does the same
// with sin/cos through unaryExpr with Eigen's scalar_sin_op/scalar_cos_op
// (Eigen::Tensor 3.4 has no sin()/cos() members).
struct ExpSin {
  Eigen::Index n;
  fg::Tensor<double, 1> x;
  // hand, Array form
  ArrayX xa, e, s, grad_a;
  double value_a = 0;
  // hand, Tensor form
  Tensor1 xt, et, st, grad_t;
  double value_t = 0;

  explicit ExpSin(Eigen::Index size) : n(size), x(fg::Tensor<double, 1>::random(size)) {
    x.requires_grad(true);
    xa = MapArray(x.data(), n);
    e.resize(n), s.resize(n), grad_a.resize(n);
    xt = Eigen::TensorMap<const Tensor1>(x.data(), n);
    et.resize(n), st.resize(n), grad_t.resize(n);
  }

  double fusegrad_call() {
    x.zero_grad();
    fg::Tensor<double, 0> loss = fg::sum(fg::exp(x) * fg::sin(x));
    loss.backward();
    const fg::EigenTensor<double, 1>& g = x.grad();
    return loss.item() + g.data()[n - 1];
  }

  double hand_array() {
    e = xa.exp();
    s = xa.sin();
    value_a = (e * s).sum();
    grad_a = e * (s + xa.cos());
    return value_a + grad_a[n - 1];
  }

  double hand_tensor() {
    et = xt.exp();
    st = xt.unaryExpr(Eigen::internal::scalar_sin_op<double>());
    Eigen::Tensor<double, 0> v = (et * st).sum();
    value_t = v();
    grad_t = et * (st + xt.unaryExpr(Eigen::internal::scalar_cos_op<double>()));
    return value_t + grad_t(n - 1);
  }

  void verify(const std::string& label) {
    // Two fusegrad calls: the second checks that zero_grad resets the accumulation.
    fusegrad_call();
    x.zero_grad();
    fg::Tensor<double, 0> loss = fg::sum(fg::exp(x) * fg::sin(x));
    loss.backward();
    hand_array();
    hand_tensor();
    const double scale = (xa.exp() * xa.sin()).abs().sum();
    check_value(label + " (Array)", loss.item(), value_a, scale);
    check_value(label + " (Tensor)", loss.item(), value_t, scale);
    check_gradient(label + " d/dx (Array)", x.grad().data(), grad_a.data(), n);
    check_gradient(label + " d/dx (Tensor)", x.grad().data(), grad_t.data(), n);
  }
};

// ---------------------------------------------------------------------------
// Workload 2: sum((x*y + sin(z)) / (1 + exp(-x*z)))
// ---------------------------------------------------------------------------
//
// With u = x*y + sin(z), e = exp(-x*z), s = 1/(1+e) (the sigmoid of x*z) and
// w = u * e * s^2 = u * s * (1 - s)  (= d f_i / d(x_i z_i)):
//   f  = sum(u * s)
//   df/dx = y*s + z*w,   df/dy = x*s,   df/dz = cos(z)*s + x*w.
// w is formed as u*e*s*s rather than u*s*(1-s) to avoid the cancellation in 1 - s.
// Hand-written (Array and Tensor forms alike), for the same reason as workload 1: the
// vectorizable parts (e, s, w and the gradients) run on packets in their own
// assignments, and the scalar-only sin(z) and cos(z) are each evaluated exactly once.
struct Mixed {
  Eigen::Index n;
  fg::Tensor<double, 1> x, y, z;
  // hand, Array form
  ArrayX xa, ya, za, e, s, u, w, gx, gy, gz;
  double value_a = 0;
  // hand, Tensor form
  Tensor1 xt, yt, zt, et, st, ut, wt, gxt, gyt, gzt;
  double value_t = 0;

  explicit Mixed(Eigen::Index size)
      : n(size),
        x(fg::Tensor<double, 1>::random(size)),
        y(fg::Tensor<double, 1>::random(size)),
        z(fg::Tensor<double, 1>::random(size)) {
    x.requires_grad(true), y.requires_grad(true), z.requires_grad(true);
    xa = MapArray(x.data(), n), ya = MapArray(y.data(), n), za = MapArray(z.data(), n);
    for (ArrayX* a : {&e, &s, &u, &w, &gx, &gy, &gz}) a->resize(n);
    xt = Eigen::TensorMap<const Tensor1>(x.data(), n);
    yt = Eigen::TensorMap<const Tensor1>(y.data(), n);
    zt = Eigen::TensorMap<const Tensor1>(z.data(), n);
    for (Tensor1* t : {&et, &st, &ut, &wt, &gxt, &gyt, &gzt}) t->resize(n);
  }

  fg::Tensor<double, 0> fusegrad_loss() {
    x.zero_grad(), y.zero_grad(), z.zero_grad();
    fg::Tensor<double, 0> loss = fg::sum((x * y + fg::sin(z)) / (1.0 + fg::exp(-x * z)));
    loss.backward();
    return loss;
  }

  double fusegrad_call() {
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    const fg::EigenTensor<double, 1>& gxf = x.grad();
    const fg::EigenTensor<double, 1>& gyf = y.grad();
    const fg::EigenTensor<double, 1>& gzf = z.grad();
    return loss.item() + gxf.data()[n - 1] + gyf.data()[n - 1] + gzf.data()[n - 1];
  }

  double hand_array() {
    e = (-xa * za).exp();
    s = (1.0 + e).inverse();
    u = xa * ya + za.sin();
    value_a = (u * s).sum();
    w = u * e * s.square();
    gx = ya * s + za * w;
    gy = xa * s;
    gz = za.cos() * s + xa * w;
    return value_a + gx[n - 1] + gy[n - 1] + gz[n - 1];
  }

  double hand_tensor() {
    et = (-xt * zt).exp();
    st = (et + 1.0).inverse();
    ut = xt * yt + zt.unaryExpr(Eigen::internal::scalar_sin_op<double>());
    Eigen::Tensor<double, 0> v = (ut * st).sum();
    value_t = v();
    wt = ut * et * st.square();
    gxt = yt * st + zt * wt;
    gyt = xt * st;
    gzt = zt.unaryExpr(Eigen::internal::scalar_cos_op<double>()) * st + xt * wt;
    return value_t + gxt(n - 1) + gyt(n - 1) + gzt(n - 1);
  }

  void verify(const std::string& label) {
    fusegrad_call();
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    hand_array();
    hand_tensor();
    const double scale = ((xa * ya + za.sin()) / (1.0 + (-xa * za).exp())).abs().sum();
    check_value(label + " (Array)", loss.item(), value_a, scale);
    check_value(label + " (Tensor)", loss.item(), value_t, scale);
    check_gradient(label + " d/dx (Array)", x.grad().data(), gx.data(), n);
    check_gradient(label + " d/dy (Array)", y.grad().data(), gy.data(), n);
    check_gradient(label + " d/dz (Array)", z.grad().data(), gz.data(), n);
    check_gradient(label + " d/dx (Tensor)", x.grad().data(), gxt.data(), n);
    check_gradient(label + " d/dy (Tensor)", y.grad().data(), gyt.data(), n);
    check_gradient(label + " d/dz (Tensor)", z.grad().data(), gzt.data(), n);
  }
};

// ---------------------------------------------------------------------------

struct Row {
  std::string workload;
  long n;
  double fusegrad_us, array_us, tensor_us;
  double hand_us() const { return std::min(array_us, tensor_us); }
  const char* hand_form() const { return array_us <= tensor_us ? "Array" : "Tensor"; }
};

// A workload at one size: its verification and its timed calls (fusegrad, hand Array,
// hand Tensor), sharing one set of inputs.
struct Case {
  std::string name;
  long n;
  std::function<void()> verify;
  std::vector<std::function<double()>> calls;
};

template <class W>
Case make_case(const std::string& name, long n) {
  auto w = std::make_shared<W>(n);
  return {name,
          n,
          [w, label = name + " n=" + std::to_string(n)] { w->verify(label); },
          {[w] { return w->fusegrad_call(); }, [w] { return w->hand_array(); }, [w] { return w->hand_tensor(); }}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string csv_path = "bench_results.csv";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf("usage: %s [csv_path]   (csv_path defaults to bench_results.csv)\n", argv[0]);
      return 0;
    }
    csv_path = a;
  }
#ifndef NDEBUG
  std::fprintf(stderr, "fusegrad_bench: warning: built without NDEBUG; build the Release configuration\n");
#endif
  {
    // Timings on a machine that other processes keep busy are noisy; say so.
    std::ifstream loadavg("/proc/loadavg");
    double load1 = 0;
    if (loadavg >> load1 && load1 >= 1.0)
      std::printf("note: 1-minute load average %.2f before the run; other processes may perturb the timings\n",
                  load1);
  }
  fg::manual_seed(2024);

  std::vector<Case> cases;
  for (long n : {100L, 10000L, 1000000L}) cases.push_back(make_case<ExpSin>("sum(exp(x)*sin(x))", n));
  cases.push_back(make_case<Mixed>("sum((x*y+sin(z))/(1+exp(-x*z)))", 100000L));

  // Every gradient is checked before anything is timed.
  for (const Case& c : cases) c.verify();

  std::vector<Row> rows;
  for (const Case& c : cases) {
    const std::vector<double> t = measure(c.calls);
    rows.push_back({c.name, c.n, t[0] * 1e6, t[1] * 1e6, t[2] * 1e6});
  }

  std::printf("fusegrad value+gradient vs hand-written Eigen (double, single thread, median per call)\n");
  std::printf("gradients verified equal (relative tolerance %.0e) before timing\n\n", kTolerance);
  std::printf("%-34s | %8s | %14s | %12s | %13s\n", "workload", "n", "fusegrad (us)", "hand (us)", "fusegrad/hand");
  std::printf("%s\n", std::string(34 + 8 + 14 + 12 + 13 + 12, '-').c_str());
  for (const Row& r : rows)
    std::printf("%-34s | %8ld | %14.3f | %12.3f | %13.2f\n", r.workload.c_str(), r.n, r.fusegrad_us, r.hand_us(),
                r.fusegrad_us / r.hand_us());
  std::printf("\nhand-written forms (us); 'hand' above is the faster of the two\n");
  for (const Row& r : rows)
    std::printf("%-34s | %8ld | Eigen::Array %12.3f | Eigen::Tensor %12.3f | hand = %s\n", r.workload.c_str(), r.n,
                r.array_us, r.tensor_us, r.hand_form());

  std::ofstream csv(csv_path);
  if (!csv) {
    std::fprintf(stderr, "fusegrad_bench: cannot write %s\n", csv_path.c_str());
    return EXIT_FAILURE;
  }
  csv << "workload,n,fusegrad_us,hand_us,fusegrad_over_hand\n";
  char line[256];
  for (const Row& r : rows) {
    std::snprintf(line, sizeof line, "\"%s\",%ld,%.4f,%.4f,%.4f\n", r.workload.c_str(), r.n, r.fusegrad_us,
                  r.hand_us(), r.fusegrad_us / r.hand_us());
    csv << line;
  }
  csv.close();
  if (!csv) {
    std::fprintf(stderr, "fusegrad_bench: error writing %s\n", csv_path.c_str());
    return EXIT_FAILURE;
  }
  std::printf("\nCSV written to %s\n", csv_path.c_str());
  return 0;
}
