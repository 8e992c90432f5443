// fusegrad contraction benchmark (issue 3): value + full gradient of programs built on
// matrix products, against two peers in the same process, double, single-threaded:
//   hand   a careful hand-written gradient on Eigen::Matrix (row-major, as fusegrad's
//          tensors), GEMMs through Eigen's matrix product with noalias()
//   torch  libtorch's C++ API (one intra-op, one inter-op thread), through the plain
//          interface in torch_peers.hpp so that no torch header is included here
//
//   contraction_bench [csv_path]
//
// Workloads, inputs from a fixed-seed generator (uniform in [-1, 1) unless said):
//   sum(A B)              A, B n x n, n = 64 and 256; gradients wrt A and B
//   ||X w - y||^2         X 10000 x 100, y 10000, w 100; gradient wrt w only
//   MLP 784-256-10        h = tanh(x W1^T + b1), logits = h W2^T + b2, loss = mean softmax
//                         cross-entropy over a batch of 128 integer labels; gradients wrt
//                         W1 (256 x 784), b1, W2 (10 x 256), b2. x uniform in [0, 1),
//                         W1 and W2 scaled by 1/sqrt(fan-in), biases uniform * 0.1.
//
// Verification, before anything is timed: the hand-written gradients are checked by
// central differences on a few components of every gradient (relative to the largest
// component: 1e-5), then torch's (and fusegrad's, when that column is built) value and
// gradients are compared with the hand-written ones: max |difference| / max |hand| per
// gradient, |difference| / |hand| for the value, tolerance 1e-9. A mismatch stops the
// program with a message naming the workload, and it exits non-zero.
//
// Timing as in fusegrad_bench: batches of calls lasting at least ~1 ms per sample,
// samples of the peers alternate (all see the same machine load), at least 21 samples
// and 0.2 s per peer, and the median per-call time is reported.
//
// What one timed call includes:
//   fusegrad  zero_grad() on the parameters + building and evaluating the loss +
//             backward() + reading the value and the gradients
//   hand      value and gradients computed into preallocated buffers
//   torch     gradients set to undefined (zero_grad(set_to_none)) + forward + backward()
//             + loss.item() + reading one element of each gradient
//
// sum(A B): the hand form computes the value through the product C = A B (the program
// as written) and the gradients in closed form, dA = 1 B^T (every row of dA is B's row
// sums) and dB = A^T 1 (every column of dB is A's column sums), so it does one GEMM;
// torch does three (the product and two in its backward), as fusegrad does. A hand
// form that also takes the value algebraically, sum(A B) = (A^T 1) . (B 1), does no GEMM
// at all; it is verified and timed too and listed below the table, but the ratio
// columns use the form with the product.
//
// Least squares and MLP: two hand-written forms each, "hand" being the faster on the
// run: X w and X^T r as two GEMVs, or in one pass over X by blocks of rows; tanh by
// Eigen's scalar std::tanh, or through Eigen's vectorized exp (see LeastSquares, Mlp).
// Per-form times are listed below the table.
//
// Output: a table on stdout (columns that were not built print "n/a") and the same rows
// as CSV in csv_path (default bench_contraction.csv), columns
//   workload,n,fusegrad_us,hand_us,fusegrad_over_hand,torch_us,fusegrad_over_torch,torch_over_hand
// (the first five as fusegrad_bench's CSV; a column that was not built is empty).
//
// The fusegrad column: each workload's fusegrad_loss() / fusegrad_call() and its checks
// in verify() are compiled when CMake found the API they use (FUSEGRAD_BENCH_HAS_MATMUL
// for the first two workloads, FUSEGRAD_BENCH_HAS_CROSS_ENTROPY for the MLP; see
// CMakeLists.txt); otherwise the column prints "n/a".
//
// libtorch's matrix products run on whatever libblas.so.3 the process maps (Debian's
// libtorch links the libblas.so.3 alternative, by default the unoptimized reference
// BLAS); the BLAS in use is printed, with a warning for the reference one, and
// FUSEGRAD_BENCH_TORCH_LIBRARY_PATH in CMakeLists.txt can point run_bench at another.
#include <fusegrad/fusegrad.hpp>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "torch_peers.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#ifndef FUSEGRAD_BENCH_HAS_MATMUL
#define FUSEGRAD_BENCH_HAS_MATMUL 0
#endif
#ifndef FUSEGRAD_BENCH_HAS_CROSS_ENTROPY
#define FUSEGRAD_BENCH_HAS_CROSS_ENTROPY 0
#endif

namespace fg = fusegrad;

namespace {

using Clock = std::chrono::steady_clock;
using Index = Eigen::Index;
using RMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vec = Eigen::VectorXd;
using RowVec = Eigen::RowVectorXd;
using ConstMapArray = Eigen::Map<const Eigen::ArrayXd>;

constexpr double kTolerance = 1e-9;     // peers against the hand-written gradient
constexpr double kFdTolerance = 1e-5;   // hand-written gradient against central differences
constexpr double kMinSecondsPerSide = 0.2;
constexpr double kMinSampleSeconds = 1e-3;
constexpr int kMinSamples = 21;

volatile double g_sink = 0;

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "contraction_bench: VERIFICATION FAILED: %s\n", message.c_str());
  std::fflush(stdout);
  std::exit(EXIT_FAILURE);
}

// max_i |a_i - b_i| / max_i |b_i|.
double relative_difference(const double* a, const double* b, Index n) {
  const ConstMapArray A(a, n), B(b, n);
  const double scale = B.abs().maxCoeff();
  const double diff = (A - B).abs().maxCoeff();
  if (!std::isfinite(diff) || !std::isfinite(scale)) return INFINITY;
  return scale > 0 ? diff / scale : diff;
}

void check_gradient(const std::string& what, const double* peer, const double* hand, Index n) {
  const double d = relative_difference(peer, hand, n);
  if (!(d <= kTolerance)) {
    char buf[320];
    std::snprintf(buf, sizeof buf, "%s: max |peer - hand| / max |hand| = %.3e exceeds %.0e", what.c_str(), d,
                  kTolerance);
    fail(buf);
  }
}

void check_value(const std::string& what, double peer, double hand) {
  const double d = std::abs(peer - hand) / std::max(std::abs(hand), 1e-300);
  if (!(d <= kTolerance)) {
    char buf[320];
    std::snprintf(buf, sizeof buf, "%s: value %.17g vs hand %.17g (relative %.3e) exceeds %.0e", what.c_str(), peer,
                  hand, d, kTolerance);
    fail(buf);
  }
}

// A differentiated input of a hand-written workload: its storage and its gradient's.
struct Param {
  const char* name;
  double* value;
  const double* grad;
  Index size;
};

// Central differences on components 0, size/2 and size-1 of every parameter, against the
// hand-written gradient. `value` recomputes the loss from the current inputs.
void check_by_differences(const std::string& label, const std::vector<Param>& params,
                          const std::function<double()>& value) {
  for (const Param& p : params) {
    const std::vector<double> g(p.grad, p.grad + p.size);  // the gradient at the unperturbed inputs
    const double scale = std::max(ConstMapArray(g.data(), p.size).abs().maxCoeff(), 1e-300);
    for (Index i : {Index(0), p.size / 2, p.size - 1}) {
      const double x = p.value[i];
      const double h = 1e-6 * std::max(1.0, std::abs(x));
      p.value[i] = x + h;
      const double up = value();
      p.value[i] = x - h;
      const double down = value();
      p.value[i] = x;
      const double fd = (up - down) / (2 * h);
      if (!(std::abs(fd - g[i]) / scale <= kFdTolerance)) {
        char buf[320];
        std::snprintf(buf, sizeof buf,
                      "%s: hand-written d/d%s[%ld] = %.10g but central difference %.10g (relative to max %.3e)",
                      label.c_str(), p.name, long(i), g[i], fd, scale);
        fail(buf);
      }
    }
  }
  value();  // leave the hand-written buffers at the unperturbed inputs
}

// Compares a torch peer (after a call) with the hand-written value and gradients.
void check_peer(const std::string& label, torch_peers::Peer& peer, double hand_value,
                const std::vector<Param>& params) {
  peer.call();
  peer.call();  // twice: the second checks that clearing the gradients works
  check_value(label + " (torch)", peer.value(), hand_value);
  std::vector<double> g;
  for (std::size_t i = 0; i < params.size(); ++i) {
    g.assign(params[i].size, 0.0);
    peer.gradient(i, g.data());
    check_gradient(label + " (torch) d/d" + params[i].name, g.data(), params[i].grad, params[i].size);
  }
}

std::mt19937_64& rng() {
  static std::mt19937_64 engine(2024);
  return engine;
}

void fill_uniform(double* p, Index n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  for (Index i = 0; i < n; ++i) p[i] = u(rng());
}

RMat random_matrix(Index rows, Index cols, double lo = -1, double hi = 1) {
  RMat m(rows, cols);
  fill_uniform(m.data(), m.size(), lo, hi);
  return m;
}

Vec random_vector(Index n, double lo = -1, double hi = 1) {
  Vec v(n);
  fill_uniform(v.data(), n, lo, hi);
  return v;
}

#if FUSEGRAD_BENCH_HAS_MATMUL || FUSEGRAD_BENCH_HAS_CROSS_ENTROPY
// A fusegrad leaf holding a copy of a row-major buffer.
template <int R>
fg::Tensor<double, R> fg_copy(const double* data, const std::array<Index, R>& dims, bool requires_grad) {
  fg::EigenTensor<double, R> v = Eigen::TensorMap<const fg::EigenTensor<double, R>>(data, dims);
  fg::Tensor<double, R> t(std::move(v));
  t.requires_grad(requires_grad);
  return t;
}

template <int R>
void check_fusegrad_gradient(const std::string& what, const fg::Tensor<double, R>& t, const double* hand) {
  check_gradient(what, t.grad().data(), hand, t.size());
}
#endif

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

double run_batch(const std::function<double()>& f, long batch) {
  double acc = 0;
  const auto t0 = Clock::now();
  for (long i = 0; i < batch; ++i) acc += f();
  const auto t1 = Clock::now();
  g_sink = g_sink + acc;
  return std::chrono::duration<double>(t1 - t0).count();
}

long calibrate(const std::function<double()>& f) {
  for (int i = 0; i < 3; ++i) g_sink = g_sink + f();
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
// Workload 1: sum(A B), A and B n x n
// ---------------------------------------------------------------------------
//
// value = sum_ij (A B)_ij;  dA_ik = sum_j B_kj (row sums of B, the same in every row),
// dB_kj = sum_i A_ik (column sums of A, the same in every column).
struct MatmulSum {
  Index n;
  RMat A, B, C, gA, gB;
  RowVec colsumA;
  Vec rowsumB;
  double value = 0;
  std::unique_ptr<torch_peers::Peer> torch;
#if FUSEGRAD_BENCH_HAS_MATMUL
  fg::Tensor<double, 2> fA, fB;
#endif

  explicit MatmulSum(Index size)
      : n(size), A(random_matrix(size, size)), B(random_matrix(size, size)), C(size, size), gA(size, size),
        gB(size, size)
#if FUSEGRAD_BENCH_HAS_MATMUL
        ,
        fA(fg_copy<2>(A.data(), {size, size}, true)),
        fB(fg_copy<2>(B.data(), {size, size}, true))
#endif
  {
    torch = torch_peers::matmul_sum(A.data(), B.data(), n);
  }

  double hand_call() {
    C.noalias() = A * B;
    value = C.sum();
    rowsumB = B.rowwise().sum();
    colsumA = A.colwise().sum();
    gA.rowwise() = rowsumB.transpose();
    gB.colwise() = colsumA.transpose();
    return value + gA(n - 1, n - 1) + gB(n - 1, n - 1);
  }

  // The same gradients, and the value as (A^T 1) . (B 1): no GEMM.
  double hand_algebraic_call() {
    rowsumB = B.rowwise().sum();
    colsumA = A.colwise().sum();
    value = colsumA.dot(rowsumB);
    gA.rowwise() = rowsumB.transpose();
    gB.colwise() = colsumA.transpose();
    return value + gA(n - 1, n - 1) + gB(n - 1, n - 1);
  }

#if FUSEGRAD_BENCH_HAS_MATMUL
  fg::Tensor<double, 0> fusegrad_loss() {
    fA.zero_grad(), fB.zero_grad();
    fg::Tensor<double, 0> loss = fg::sum(fg::matmul(fA, fB));
    loss.backward();
    return loss;
  }
  double fusegrad_call() {
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    return loss.item() + fA.grad().data()[n * n - 1] + fB.grad().data()[n * n - 1];
  }
#endif

  std::vector<Param> params() { return {{"A", A.data(), gA.data(), A.size()}, {"B", B.data(), gB.data(), B.size()}}; }

  static std::vector<std::tuple<std::string, bool, double (MatmulSum::*)()>> hand_forms() {
    return {{"value through the product C = A B, closed-form gradients", true, &MatmulSum::hand_call},
            {"value as (A^T 1) . (B 1), no GEMM", false, &MatmulSum::hand_algebraic_call}};
  }

  void verify(const std::string& label) {
    hand_call();
    check_by_differences(label + " (hand)", params(), [this] { hand_call(); return value; });
    const double v = value;
    hand_algebraic_call();
    check_value(label + " (hand, algebraic)", value, v);
    hand_call();
    if (torch) check_peer(label, *torch, value, params());
#if FUSEGRAD_BENCH_HAS_MATMUL
    fusegrad_call();
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    check_value(label + " (fusegrad)", loss.item(), value);
    check_fusegrad_gradient(label + " (fusegrad) d/dA", fA, gA.data());
    check_fusegrad_gradient(label + " (fusegrad) d/dB", fB, gB.data());
#endif
  }
};

// ---------------------------------------------------------------------------
// Workload 2: ||X w - y||^2, gradient wrt w:  r = X w - y,  value = r . r,  dw = 2 X^T r
// ---------------------------------------------------------------------------
struct LeastSquares {
  Index m, p;
  RMat X;
  Vec y, w, r, gw;
  double value = 0;
  std::unique_ptr<torch_peers::Peer> torch;
#if FUSEGRAD_BENCH_HAS_MATMUL
  fg::Tensor<double, 2> fX;
  fg::Tensor<double, 1> fy, fw;
#endif

  LeastSquares(Index rows, Index cols)
      : m(rows), p(cols), X(random_matrix(rows, cols)), y(random_vector(rows)), w(random_vector(cols)), r(rows),
        gw(cols)
#if FUSEGRAD_BENCH_HAS_MATMUL
        ,
        fX(fg_copy<2>(X.data(), {rows, cols}, false)),
        fy(fg_copy<1>(y.data(), {rows}, false)),
        fw(fg_copy<1>(w.data(), {cols}, true))
#endif
  {
    torch = torch_peers::least_squares(X.data(), y.data(), w.data(), m, p);
  }

  double hand_call() {
    r.noalias() = X * w;
    r -= y;
    value = r.squaredNorm();
    gw.noalias() = 2.0 * (X.transpose() * r);
    return value + gw[p - 1];
  }

  // One pass over X instead of two: blocks of kRows rows (25 KB at p = 100, in L1)
  // give their residuals and their part of X^T r while they are in cache.
  double hand_blocked_call() {
    constexpr Index kRows = 32;
    gw.setZero();
    for (Index i = 0; i < m; i += kRows) {
      const Index rows = std::min(kRows, m - i);
      auto rb = r.segment(i, rows);
      rb.noalias() = X.middleRows(i, rows) * w;
      rb -= y.segment(i, rows);
      gw.noalias() += X.middleRows(i, rows).transpose() * rb;
    }
    value = r.squaredNorm();
    gw *= 2.0;
    return value + gw[p - 1];
  }

#if FUSEGRAD_BENCH_HAS_MATMUL
  fg::Tensor<double, 0> fusegrad_loss() {
    fw.zero_grad();
    fg::Tensor<double, 0> loss = fg::sum(fg::square(fg::matmul(fX, fw) - fy));
    loss.backward();
    return loss;
  }
  double fusegrad_call() {
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    return loss.item() + fw.grad().data()[p - 1];
  }
#endif

  std::vector<Param> params() { return {{"w", w.data(), gw.data(), p}}; }

  static std::vector<std::tuple<std::string, bool, double (LeastSquares::*)()>> hand_forms() {
    return {{"two GEMVs over X", true, &LeastSquares::hand_call},
            {"one pass over X in blocks of 32 rows", true, &LeastSquares::hand_blocked_call}};
  }

  void verify(const std::string& label) {
    hand_blocked_call();
    check_by_differences(label + " (hand, blocked)", params(), [this] { hand_blocked_call(); return value; });
    const double v = value;
    const Vec g = gw;
    hand_call();
    check_by_differences(label + " (hand)", params(), [this] { hand_call(); return value; });
    check_value(label + " (hand, blocked)", v, value);
    check_gradient(label + " (hand, blocked) d/dw", g.data(), gw.data(), p);
    if (torch) check_peer(label, *torch, value, params());
#if FUSEGRAD_BENCH_HAS_MATMUL
    fusegrad_call();
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    check_value(label + " (fusegrad)", loss.item(), value);
    check_fusegrad_gradient(label + " (fusegrad) d/dw", fw, gw.data());
#endif
  }
};

// ---------------------------------------------------------------------------
// Workload 3: MLP in-hidden-out with tanh and mean softmax cross-entropy
// ---------------------------------------------------------------------------
//
// Forward:  Z = x W1^T + b1,  H = tanh(Z),  L = H W2^T + b2,
//           loss = (1/B) sum_i (logsumexp(L_i) - L_i,y_i), logsumexp taken as
//           m_i + log sum_j exp(L_ij - m_i) with m_i = max_j L_ij (stable).
// Backward: dL = (softmax(L) - onehot(y)) / B,  dW2 = dL^T H,  db2 = dL^T 1,
//           dH = dL W2,  dZ = dH * (1 - H^2),  dW1 = dZ^T x,  db1 = dZ^T 1.
// Four GEMMs (x W1^T and dZ^T x carry nearly all the work); dx is not formed.
struct Mlp {
  Index batch, in, hidden, out;
  RMat x, W1, W2;
  Vec b1, b2;
  std::vector<int> labels;
  // work buffers and gradients
  RMat H, L, P, dH, gW1, gW2;
  Vec rowmax, rowsum, gb1, gb2;
  double value = 0;
  std::unique_ptr<torch_peers::Peer> torch;
#if FUSEGRAD_BENCH_HAS_CROSS_ENTROPY
  fg::Tensor<double, 2> fx, fW1, fW2;
  fg::Tensor<double, 1> fb1, fb2;
#endif

  Mlp(Index b, Index n_in, Index n_hidden, Index n_out)
      : batch(b), in(n_in), hidden(n_hidden), out(n_out), x(random_matrix(b, n_in, 0, 1)),
        W1(random_matrix(n_hidden, n_in) / std::sqrt(double(n_in))),
        W2(random_matrix(n_out, n_hidden) / std::sqrt(double(n_hidden))), b1(random_vector(n_hidden) * 0.1),
        b2(random_vector(n_out) * 0.1), labels(b), H(b, n_hidden), L(b, n_out), P(b, n_out), dH(b, n_hidden),
        gW1(n_hidden, n_in), gW2(n_out, n_hidden), rowmax(b), rowsum(b), gb1(n_hidden), gb2(n_out)
#if FUSEGRAD_BENCH_HAS_CROSS_ENTROPY
        ,
        fx(fg_copy<2>(x.data(), {b, n_in}, false)),
        fW1(fg_copy<2>(W1.data(), {n_hidden, n_in}, true)),
        fW2(fg_copy<2>(W2.data(), {n_out, n_hidden}, true)),
        fb1(fg_copy<1>(b1.data(), {n_hidden}, true)),
        fb2(fg_copy<1>(b2.data(), {n_out}, true))
#endif
  {
    std::uniform_int_distribution<int> label(0, int(n_out) - 1);
    for (int& l : labels) l = label(rng());
    torch = torch_peers::mlp(x.data(), labels.data(), W1.data(), b1.data(), W2.data(), b2.data(), batch, in, hidden,
                             out);
  }

  // Two forms, differing only in tanh. Eigen 3.4 evaluates tanh on doubles one scalar at a
  // time (std::tanh; ~0.5 ms of the ~2.5 ms here); the second form takes it as
  // 1 - 2 / (exp(2 z) + 1) on Eigen's vectorized exp (absolute error ~1e-16; exp(2z) = inf
  // gives 1, exp(2z) = 0 gives -1). "hand" is the faster.
  double hand_call() { return hand<false>(); }
  double hand_exp_tanh_call() { return hand<true>(); }

  template <bool ExpTanh>
  double hand() {
    // forward
    H.noalias() = x * W1.transpose();
    H.rowwise() += b1.transpose();
    if constexpr (ExpTanh)
      H = 1.0 - 2.0 * ((2.0 * H.array()).exp() + 1.0).inverse();
    else
      H = H.array().tanh();
    L.noalias() = H * W2.transpose();
    L.rowwise() += b2.transpose();
    rowmax = L.rowwise().maxCoeff();
    P = (L.colwise() - rowmax).array().exp();
    rowsum = P.rowwise().sum();
    double total = (rowmax.array() + rowsum.array().log()).sum();
    for (Index i = 0; i < batch; ++i) total -= L(i, labels[i]);
    value = total / double(batch);
    // backward: P becomes dL = (softmax - onehot) / B
    P.array().colwise() *= (1.0 / (double(batch) * rowsum.array()));
    for (Index i = 0; i < batch; ++i) P(i, labels[i]) -= 1.0 / double(batch);
    gW2.noalias() = P.transpose() * H;
    gb2 = P.colwise().sum().transpose();
    dH.noalias() = P * W2;
    dH.array() *= 1.0 - H.array().square();  // dH becomes dZ
    gW1.noalias() = dH.transpose() * x;
    gb1 = dH.colwise().sum().transpose();
    return value + gW1(hidden - 1, in - 1) + gb1[hidden - 1] + gW2(out - 1, hidden - 1) + gb2[out - 1];
  }

#if FUSEGRAD_BENCH_HAS_CROSS_ENTROPY
  fg::Tensor<double, 0> fusegrad_loss() {
    fW1.zero_grad(), fb1.zero_grad(), fW2.zero_grad(), fb2.zero_grad();
    fg::Tensor<double, 2> h = fg::tanh(fg::matmul(fx, fg::transpose(fW1)) + fb1);
    fg::Tensor<double, 0> loss = fg::cross_entropy(fg::matmul(h, fg::transpose(fW2)) + fb2, labels);
    loss.backward();
    return loss;
  }
  double fusegrad_call() {
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    return loss.item() + fW1.grad().data()[hidden * in - 1] + fb1.grad().data()[hidden - 1] +
           fW2.grad().data()[out * hidden - 1] + fb2.grad().data()[out - 1];
  }
#endif

  std::vector<Param> params() {
    return {{"W1", W1.data(), gW1.data(), W1.size()},
            {"b1", b1.data(), gb1.data(), hidden},
            {"W2", W2.data(), gW2.data(), W2.size()},
            {"b2", b2.data(), gb2.data(), out}};
  }

  static std::vector<std::tuple<std::string, bool, double (Mlp::*)()>> hand_forms() {
    return {{"tanh by Eigen (scalar std::tanh)", true, &Mlp::hand_call},
            {"tanh as 1 - 2/(exp(2z)+1) (vectorized exp)", true, &Mlp::hand_exp_tanh_call}};
  }

  void verify(const std::string& label) {
    // The exp-tanh form: by differences, and against the std::tanh form.
    hand_exp_tanh_call();
    check_by_differences(label + " (hand, exp tanh)", params(), [this] { hand_exp_tanh_call(); return value; });
    const double v = value;
    std::vector<std::vector<double>> g;
    for (const Param& p : params()) g.emplace_back(p.grad, p.grad + p.size);
    hand_call();
    check_by_differences(label + " (hand)", params(), [this] { hand_call(); return value; });
    check_value(label + " (hand, exp tanh)", v, value);
    for (std::size_t i = 0; i < g.size(); ++i)
      check_gradient(label + " (hand, exp tanh) d/d" + params()[i].name, g[i].data(), params()[i].grad,
                     params()[i].size);
    if (torch) check_peer(label, *torch, value, params());
#if FUSEGRAD_BENCH_HAS_CROSS_ENTROPY
    fusegrad_call();
    const fg::Tensor<double, 0> loss = fusegrad_loss();
    check_value(label + " (fusegrad)", loss.item(), value);
    check_fusegrad_gradient(label + " (fusegrad) d/dW1", fW1, gW1.data());
    check_fusegrad_gradient(label + " (fusegrad) d/db1", fb1, gb1.data());
    check_fusegrad_gradient(label + " (fusegrad) d/dW2", fW2, gW2.data());
    check_fusegrad_gradient(label + " (fusegrad) d/db2", fb2, gb2.data());
#endif
  }
};

// ---------------------------------------------------------------------------

// A hand-written form of a workload. "hand" in the table is the fastest form whose
// `counts` is set; every form is verified and timed, and listed below the table.
struct HandForm {
  std::string name;
  bool counts;
  std::function<double()> call;
};

// A workload at one size: its verification and its timed calls. An empty function is a
// peer that was not built; its column prints "n/a".
struct Case {
  std::string name;
  long n;
  std::function<void()> verify;
  std::function<double()> fusegrad, torch;
  std::vector<HandForm> hand;
};

struct Row {
  std::string workload;
  long n;
  std::optional<double> fusegrad_us;
  double hand_us = INFINITY;
  std::string hand_form;
  std::optional<double> torch_us;
  std::vector<std::pair<const HandForm*, double>> forms_us;
};

template <class W, class... Sizes>
Case make_case(const std::string& name, long n, Sizes... sizes) {
  auto w = std::make_shared<W>(sizes...);
  Case c{name, n, [w, label = name + " n=" + std::to_string(n)] { w->verify(label); }, {}, {}, {}};
  if constexpr (requires { w->fusegrad_call(); }) c.fusegrad = [w] { return w->fusegrad_call(); };
  if (w->torch) c.torch = [w] { return w->torch->call(); };
  for (const auto& form : W::hand_forms()) {
    const auto member = std::get<2>(form);
    c.hand.push_back({std::get<0>(form), std::get<1>(form), [w, member] { return (w.get()->*member)(); }});
  }
  return c;
}

Row time_case(const Case& c) {
  std::vector<std::function<double()>> fs;
  for (const HandForm& h : c.hand) fs.push_back(h.call);
  if (c.fusegrad) fs.push_back(c.fusegrad);
  if (c.torch) fs.push_back(c.torch);
  const std::vector<double> t = measure(fs);
  Row r{c.name, c.n};
  std::size_t k = 0;
  for (const HandForm& h : c.hand) {
    const double us = t[k++] * 1e6;
    r.forms_us.emplace_back(&h, us);
    if (h.counts && us < r.hand_us) r.hand_us = us, r.hand_form = h.name;
  }
  if (c.fusegrad) r.fusegrad_us = t[k++] * 1e6;
  if (c.torch) r.torch_us = t[k++] * 1e6;
  return r;
}

std::optional<double> ratio(std::optional<double> a, std::optional<double> b) {
  if (a && b) return *a / *b;
  return std::nullopt;
}

std::string cell(std::optional<double> v, const char* format) {
  if (!v) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}

std::string csv_field(std::optional<double> v) { return v ? cell(v, "%.4f") : ""; }

}  // namespace

int main(int argc, char** argv) {
  std::string csv_path = "bench_contraction.csv";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf("usage: %s [csv_path]   (csv_path defaults to bench_contraction.csv)\n", argv[0]);
      return 0;
    }
    csv_path = a;
  }
#ifndef NDEBUG
  std::fprintf(stderr, "contraction_bench: warning: built without NDEBUG; build the Release configuration\n");
#endif
  {
    std::ifstream loadavg("/proc/loadavg");
    double load1 = 0;
    if (loadavg >> load1 && load1 >= 1.0)
      std::printf("note: 1-minute load average %.2f before the run; other processes may perturb the timings\n",
                  load1);
  }
  const std::string torch_info = torch_peers::setup();

  std::vector<Case> cases;
  for (long n : {64L, 256L}) cases.push_back(make_case<MatmulSum>("sum(A B), A B n x n", n, n));
  cases.push_back(make_case<LeastSquares>("||X w - y||^2, X n x 100", 10000, 10000, 100));
  cases.push_back(make_case<Mlp>("MLP 784-256-10 tanh CE, batch n", 128, 128, 784, 256, 10));

  for (const Case& c : cases) c.verify();

  std::vector<Row> rows;
  for (const Case& c : cases) rows.push_back(time_case(c));

  std::printf("value + full gradient, double, single thread, median per call (us)\n");
  std::printf("hand = hand-written Eigen::Matrix (row-major, noalias GEMMs); torch = %s\n", torch_info.c_str());
  std::printf("fusegrad column: %s\n",
              FUSEGRAD_BENCH_HAS_MATMUL ? (FUSEGRAD_BENCH_HAS_CROSS_ENTROPY ? "all workloads" : "not built for the MLP (no fg::cross_entropy)")
                                        : "not built (no fg::matmul)");
  std::printf("hand-written gradients checked by central differences, peers against them (relative %.0e), "
              "before timing\n\n",
              kTolerance);
  std::printf("%-32s | %6s | %10s | %10s | %10s | %13s | %14s | %10s\n", "workload", "n", "fusegrad", "hand", "torch",
              "fusegrad/hand", "fusegrad/torch", "torch/hand");
  std::printf("%s\n", std::string(32 + 6 + 3 * 10 + 13 + 14 + 10 + 7 * 3, '-').c_str());
  for (const Row& r : rows)
    std::printf("%-32s | %6ld | %10s | %10s | %10s | %13s | %14s | %10s\n", r.workload.c_str(), r.n,
                cell(r.fusegrad_us, "%.2f").c_str(), cell(r.hand_us, "%.2f").c_str(), cell(r.torch_us, "%.2f").c_str(),
                cell(ratio(r.fusegrad_us, r.hand_us), "%.2f").c_str(),
                cell(ratio(r.fusegrad_us, r.torch_us), "%.2f").c_str(),
                cell(ratio(r.torch_us, r.hand_us), "%.2f").c_str());
  std::printf("\nhand-written forms (us); 'hand' above is the fastest form marked *\n");
  for (const Row& r : rows)
    for (const auto& [form, us] : r.forms_us)
      std::printf("%-32s | %6ld | %10.2f | %c %s\n", r.workload.c_str(), r.n, us,
                  form->name == r.hand_form ? '*' : (form->counts ? ' ' : '-'), form->name.c_str());
  std::printf("(- : a form that is not a gradient of the program as written; never used as 'hand')\n");

  std::ofstream csv(csv_path);
  if (!csv) {
    std::fprintf(stderr, "contraction_bench: cannot write %s\n", csv_path.c_str());
    return EXIT_FAILURE;
  }
  csv << "workload,n,fusegrad_us,hand_us,fusegrad_over_hand,torch_us,fusegrad_over_torch,torch_over_hand\n";
  for (const Row& r : rows)
    csv << '"' << r.workload << "\"," << r.n << ',' << csv_field(r.fusegrad_us) << ',' << csv_field(r.hand_us) << ','
        << csv_field(ratio(r.fusegrad_us, r.hand_us)) << ',' << csv_field(r.torch_us) << ','
        << csv_field(ratio(r.fusegrad_us, r.torch_us)) << ',' << csv_field(ratio(r.torch_us, r.hand_us)) << '\n';
  csv.close();
  if (!csv) {
    std::fprintf(stderr, "contraction_bench: error writing %s\n", csv_path.c_str());
    return EXIT_FAILURE;
  }
  std::printf("\nCSV written to %s\n", csv_path.c_str());
  return 0;
}
