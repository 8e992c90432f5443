// adolc_peers with ADOL-C (operator overloading on adouble, taping). See adolc_peers.hpp
// and support/peer_factories.inc.
//
// Each program is written as an ADOL-C user writes it: loops over adoubles, the
// parameters marked independent (<<=), the data entering as plain doubles (constants on
// the tape), the result marked dependent (>>=). The tape is recorded once, in memory
// (the buffers are sized from the operation count the factory expects, so that no tape
// file is written); a call replays it for the value (zos_forward, keep = 1) and the
// gradient (fos_reverse with weight 1).
#include "adolc_peers.hpp"

#include <adolc/adolc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef FUSEGRAD_BENCH_ADOLC_VERSION
#define FUSEGRAD_BENCH_ADOLC_VERSION "(version unknown)"
#endif

namespace adolc_peers {

namespace {

// adouble is double: ADOL-C has no single-precision tapes, so float workloads get no
// ADOL-C peer (n/a in the float table).
constexpr bench::Precision kDouble = bench::Precision::f64;

short next_tag() {
  static short tag = 0;
  return tag++;
}

using Record = std::function<adouble(const std::vector<adouble>&)>;

class TapePeer final : public bench::Peer {
 public:
  // x: the parameters' initial values, concatenated in parameter order; sizes: each
  // parameter's size; ops: the expected number of taped operations (sizes the buffers);
  // record(ax) returns the program's value from the independent adoubles ax.
  // x: the parameters' initial values, concatenated in parameter order; sizes: each
  // parameter's size; ops: the expected number of taped operations (sizes the buffers);
  // record(ax) returns the program's value from the independent adoubles ax.
  TapePeer(std::vector<double> x, std::vector<long> sizes, double ops, Record record)
      : x_(std::move(x)), g_(x_.size()), sizes_(std::move(sizes)), ops_(ops), record_(std::move(record)) {}

  ~TapePeer() override {
    if (taped_) removeTape(tag_, ADOLC_REMOVE_COMPLETELY);
  }

  double call() override {
    if (!taped_) tape();
    const int n = int(x_.size());
    if (zos_forward(tag_, 1, n, 1, x_.data(), &y_) < 0) throw std::runtime_error("adolc_peers: zos_forward failed");
    double u = 1.0;  // (fos_reverse takes a non-const weight)
    if (fos_reverse(tag_, 1, n, &u, g_.data()) < 0) throw std::runtime_error("adolc_peers: fos_reverse failed");
    double r = y_;
    std::size_t offset = 0;
    for (long s : sizes_) r += g_[offset], offset += std::size_t(s);
    return r;
  }

  double value() const override { return y_; }

  void gradient(std::size_t i, double* out) const override {
    std::size_t offset = 0;
    for (std::size_t k = 0; k < i; ++k) offset += std::size_t(sizes_.at(k));
    std::copy_n(g_.data() + offset, sizes_.at(i), out);
  }

  std::string info() const override { return info_; }

 private:
  // Records the tape, in memory: the buffers are sized from the expected operation
  // count, and if that was short, the program is taped again with the recorded sizes.
  //
  // Taping happens at the first call, not in the factory: ADOL-C's store of adouble
  // locations only grows, a tape's reverse sweep allocates and clears adjoints for the
  // whole store as it was at taping time (its NUM_MAX_LIVES), so a small tape recorded
  // after a large one pays for the large one's store at every call (ms instead of us).
  // The bench therefore makes the first calls in increasing order of parameter count
  // (main.cpp).
  void tape() {
    tag_ = next_tag();
    const auto cap = [](double v) { return uint(std::clamp(v, 65536.0, 2.0e9)); };
    const double n = double(x_.size());
    uint obs = cap(1.25 * ops_), lbs = cap(4 * ops_), vbs = cap(1.25 * ops_ + n), tbs = cap(1.25 * ops_ + n);
    size_t stats[STAT_SIZE];
    for (int attempt = 0;; ++attempt) {
      trace_on(tag_, 0, obs, lbs, vbs, tbs);
      {
        std::vector<adouble> ax(x_.size());
        for (std::size_t i = 0; i < x_.size(); ++i) ax[i] <<= x_[i];
        adouble y = record_(ax);
        y >>= y_;
        trace_off();
      }
      tapestats(tag_, stats);
      const bool in_core = !stats[OP_FILE_ACCESS] && !stats[LOC_FILE_ACCESS] && !stats[VAL_FILE_ACCESS] &&
                           stats[TAY_STACK_SIZE] <= tbs;
      if (in_core) break;
      if (attempt == 1) {
        std::fprintf(stderr, "adolc_peers: warning: tape %d (%zu operations) does not fit in memory buffers\n",
                     int(tag_), stats[NUM_OPERATIONS]);
        break;
      }
      removeTape(tag_, ADOLC_REMOVE_COMPLETELY);
      obs = cap(stats[NUM_OPERATIONS] + 16.0), lbs = cap(stats[NUM_LOCATIONS] + 16.0),
      vbs = cap(stats[NUM_VALUES] + 16.0), tbs = cap(stats[TAY_STACK_SIZE] + 16.0);
    }
    taped_ = true;
    char buf[128];
    std::snprintf(buf, sizeof buf, "tape: %.2g operations, adjoints for %zu locations",
                  double(stats[NUM_OPERATIONS]), stats[NUM_MAX_LIVES]);
    info_ = buf;
  }

  short tag_ = -1;
  bool taped_ = false;
  std::vector<double> x_, g_;
  std::vector<long> sizes_;
  double ops_;
  Record record_;
  double y_ = 0;
  std::string info_;
};

std::vector<double> concat(std::initializer_list<std::pair<const double*, long>> parts) {
  std::vector<double> out;
  for (const auto& [p, n] : parts) out.insert(out.end(), p, p + n);
  return out;
}

}  // namespace

bool available() { return true; }

std::string setup() {
  return std::string("ADOL-C ") + FUSEGRAD_BENCH_ADOLC_VERSION +
         ", tape recorded once per workload, replayed per call (zos_forward + fos_reverse)";
}

std::unique_ptr<bench::Peer> exp_sin(const double* x, long n, bench::Precision precision) {
  if (precision != kDouble) return nullptr;
  return std::make_unique<TapePeer>(concat({{x, n}}), std::vector<long>{n}, 5.0 * n,
                                    [n](const std::vector<adouble>& ax) {
                                      adouble s = 0;
                                      for (long i = 0; i < n; ++i) s += exp(ax[i]) * sin(ax[i]);
                                      return s;
                                    });
}

std::unique_ptr<bench::Peer> logsumexp(const double* x, long n, bench::Precision precision) {
  if (precision != kDouble) return nullptr;
  return std::make_unique<TapePeer>(concat({{x, n}}), std::vector<long>{n}, 10.0 * n,
                                    [n](const std::vector<adouble>& ax) {
                                      adouble m = ax[0];
                                      for (long i = 1; i < n; ++i) m = fmax(m, ax[i]);
                                      adouble s = 0;
                                      for (long i = 0; i < n; ++i) s += exp(ax[i] - m);
                                      return adouble(m + log(s));
                                    });
}

std::unique_ptr<bench::Peer> normal_log_density(const double* y, long n, double mu, double sigma,
                                                bench::Precision precision) {
  if (precision != kDouble) return nullptr;
  std::vector<double> data(y, y + n);
  return std::make_unique<TapePeer>(std::vector<double>{mu, sigma}, std::vector<long>{1, 1}, 7.0 * n,
                                    [data = std::move(data)](const std::vector<adouble>& p) {
                                      const adouble& mu_ = p[0];
                                      const adouble& sigma_ = p[1];
                                      const adouble log_sigma = log(sigma_);  // loop-invariant
                                      adouble s = 0;
                                      for (double yi : data) {
                                        const adouble z = (yi - mu_) / sigma_;
                                        s += -0.5 * z * z - log_sigma;
                                      }
                                      return s;
                                    });
}

std::unique_ptr<bench::Peer> mixed(const double* x, const double* y, const double* z, long n,
                                   bench::Precision precision) {
  if (precision != kDouble) return nullptr;
  return std::make_unique<TapePeer>(concat({{x, n}, {y, n}, {z, n}}), std::vector<long>{n, n, n}, 17.0 * n,
                                    [n](const std::vector<adouble>& a) {
                                      const adouble* x_ = a.data();
                                      const adouble* y_ = x_ + n;
                                      const adouble* z_ = y_ + n;
                                      adouble s = 0;
                                      for (long i = 0; i < n; ++i)
                                        s += (x_[i] * y_[i] + sin(z_[i])) / (1.0 + exp(-x_[i] * z_[i]));
                                      return s;
                                    });
}

std::unique_ptr<bench::Peer> matmul_sum(const double* A, const double* B, long n, bench::Precision precision) {
  if (precision != kDouble) return nullptr;
  return std::make_unique<TapePeer>(concat({{A, n * n}, {B, n * n}}), std::vector<long>{n * n, n * n},
                                    2.2 * double(n) * n * n, [n](const std::vector<adouble>& a) {
                                      const adouble* A_ = a.data();
                                      const adouble* B_ = A_ + n * n;
                                      adouble s = 0;
                                      for (long i = 0; i < n; ++i)
                                        for (long j = 0; j < n; ++j) {
                                          adouble c = 0;
                                          for (long k = 0; k < n; ++k) c += A_[i * n + k] * B_[k * n + j];
                                          s += c;
                                        }
                                      return s;
                                    });
}

std::unique_ptr<bench::Peer> least_squares(const double* X, const double* y, const double* w, long m, long p,
                                            bench::Precision precision) {
  if (precision != kDouble) return nullptr;
  std::vector<double> Xd(X, X + m * p), yd(y, y + m);
  return std::make_unique<TapePeer>(concat({{w, p}}), std::vector<long>{p}, 2.2 * double(m) * p,
                                    [m, p, Xd = std::move(Xd), yd = std::move(yd)](const std::vector<adouble>& w_) {
                                      adouble s = 0;
                                      for (long i = 0; i < m; ++i) {
                                        adouble r = -yd[i];
                                        for (long j = 0; j < p; ++j) r += Xd[i * p + j] * w_[j];
                                        s += r * r;
                                      }
                                      return s;
                                    });
}

// Not taped: a workload added for fusegrad's reduction loops, with libtorch as its peer;
// the bench prints n/a.
std::unique_ptr<bench::Peer> row_column_reductions(const double*, long, long, bench::Precision) { return nullptr; }

// Not taped: its GEMMs would put ~5e7 scalar operations on the tape (see contraction.cpp);
// the bench prints n/a.
std::unique_ptr<bench::Peer> mlp(const double*, const int*, const double*, const double*, const double*,
                                 const double*, long, long, long, long, bench::Precision) {
  return nullptr;
}

std::unique_ptr<bench::Peer> tiny_mlp(const double* x, const double* y, const double* W1, const double* b1,
                                      const double* W2, const double* b2, long batch, long in, long hidden,
                                      long out, bench::Precision precision) {
  if (precision != kDouble) return nullptr;
  std::vector<double> xd(x, x + batch * in), yd(y, y + batch * out);
  return std::make_unique<TapePeer>(
      concat({{W1, hidden * in}, {b1, hidden}, {W2, out * hidden}, {b2, out}}),
      std::vector<long>{hidden * in, hidden, out * hidden, out},
      3.0 * double(batch) * (hidden * in + out * hidden) + 100.0,
      [=, xd = std::move(xd), yd = std::move(yd)](const std::vector<adouble>& a) {
        const adouble* W1_ = a.data();
        const adouble* b1_ = W1_ + hidden * in;
        const adouble* W2_ = b1_ + hidden;
        const adouble* b2_ = W2_ + out * hidden;
        std::vector<adouble> h(hidden);
        adouble s = 0;
        for (long i = 0; i < batch; ++i) {
          for (long j = 0; j < hidden; ++j) {
            adouble z = b1_[j];
            for (long k = 0; k < in; ++k) z += xd[i * in + k] * W1_[j * in + k];
            h[j] = tanh(z);
          }
          for (long o = 0; o < out; ++o) {
            adouble v = b2_[o];
            for (long j = 0; j < hidden; ++j) v += h[j] * W2_[o * hidden + j];
            const adouble r = v - yd[i * out + o];
            s += r * r;
          }
        }
        return adouble(s / double(batch * out));
      });
}

}  // namespace adolc_peers
