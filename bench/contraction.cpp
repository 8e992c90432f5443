// Workloads built on matrix products (issues 3 and 4), in double and in float (each
// workload a template on the scalar type T), inputs from the fixed-seed generator
// (uniform in [-1, 1) unless said; drawn and scaled in double, then rounded to T):
//   sum(A B)              A, B n x n, n = 64 and 256; gradients wrt A and B
//   ||X w - y||^2         X 10000 x 100, y 10000, w 100; gradient wrt w only
//   MLP 784-256-10        h = tanh(x W1^T + b1), logits = h W2^T + b2, loss = mean softmax
//                         cross-entropy over a batch of 128 integer labels; gradients wrt
//                         W1 (256 x 784), b1, W2 (10 x 256), b2. x uniform in [0, 1),
//                         W1 and W2 scaled by 1/sqrt(fan-in), biases uniform * 0.1.
//   tiny MLP 8-16-1       h = tanh(x W1^T + b1), loss = mean((h W2^T + b2 - y)^2), batch 4,
//                         x 4 x 8, y 4 x 1, W1 16 x 8, b1 16, W2 1 x 16, b2 1 (initialised
//                         as the MLP's); gradients wrt W1, b1, W2, b2. Overhead-dominated:
//                         ~300 multiply-adds per call.
//
// hand: careful hand-written gradients on Eigen::Matrix (row-major, as fusegrad's
// tensors), GEMMs through Eigen's matrix product with noalias().
//
// sum(A B): the hand form computes the value through the product C = A B (the program
// as written) and the gradients in closed form, dA = 1 B^T (every row of dA is B's row
// sums) and dB = A^T 1 (every column of dB is A's column sums), so it does one GEMM;
// libtorch does three (the product and two in its backward), as fusegrad does. A hand
// form that also takes the value algebraically, sum(A B) = (A^T 1) . (B 1), does no GEMM
// at all; it is verified and timed too and listed below the table, but is not "hand".
//
// Least squares and MLP: two hand-written forms each, "hand" being the faster on the
// run: X w and X^T r as two GEMVs, or in one pass over X by blocks of rows; tanh by
// Eigen's scalar std::tanh, or through Eigen's vectorized exp.
//
// ADOL-C tapes every scalar operation, so a product of an m x k and a k x n matrix puts
// m k n multiply-adds on the tape. It is timed on sum(A B) (n = 256: 1.7e7 operations,
// ~0.4 GB, ~0.16 s per call on the development machine), least squares (2e6) and the
// tiny MLP, but not on the MLP 784-256-10: x W1^T alone is 2.6e7 multiply-adds (with x
// constant, two operations each), a tape of ~5e7 operations, by the n = 256 figures
// over a gigabyte and about half a second per call, for one row of the table.
#include <fusegrad/fusegrad.hpp>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "adolc_peers.hpp"
#include "support/bench_support.hpp"
#include "torch_peers.hpp"

#include <array>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

namespace fg = fusegrad;

namespace bench {

namespace {

template <class T>
using RMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;

// In double: the workloads take them through bench::input<T>, after any scaling.
RMat<double> random_matrix(Index rows, Index cols, double lo = -1, double hi = 1) {
  RMat<double> m(rows, cols);
  fill_uniform(m.data(), m.size(), lo, hi);
  return m;
}

Vec<double> random_vector(Index n, double lo = -1, double hi = 1) {
  Vec<double> v(n);
  fill_uniform(v.data(), n, lo, hi);
  return v;
}

// A fusegrad leaf holding a copy of a row-major buffer.
template <int R, class T>
fg::Tensor<T, R> fg_copy(const T* data, const std::array<Index, R>& dims, bool requires_grad) {
  fg::EigenTensor<T, R> v = Eigen::TensorMap<const fg::EigenTensor<T, R>>(data, dims);
  fg::Tensor<T, R> t(std::move(v));
  t.requires_grad(requires_grad);
  return t;
}

// The two MLPs' parameter gradients, in params() order, and the value plus one element
// of each (what a timed call returns, so that nothing is optimised away).
template <class T>
const T* parameter_gradient(std::size_t i, const fg::Tensor<T, 2>& W1, const fg::Tensor<T, 1>& b1,
                            const fg::Tensor<T, 2>& W2, const fg::Tensor<T, 1>& b2) {
  if (i == 0) return W1.grad().data();
  if (i == 1) return b1.grad().data();
  if (i == 2) return W2.grad().data();
  return b2.grad().data();
}
template <class T>
double gradient_probe(T value, const fg::Tensor<T, 2>& W1, const fg::Tensor<T, 1>& b1, const fg::Tensor<T, 2>& W2,
                      const fg::Tensor<T, 1>& b2) {
  const auto last = [](const auto& g) { return g.data()[g.size() - 1]; };
  return value + last(W1.grad()) + last(b1.grad()) + last(W2.grad()) + last(b2.grad());
}

// ---------------------------------------------------------------------------
// sum(A B), A and B n x n
// ---------------------------------------------------------------------------
//
// value = sum_ij (A B)_ij;  dA_ik = sum_j B_kj (row sums of B, the same in every row),
// dB_kj = sum_i A_ik (column sums of A, the same in every column).
template <class T>
struct MatmulSum {
  using Scalar = T;
  Index n;
  RMat<T> A, B, C, gA, gB;
  RowVec<T> colsumA;
  Vec<T> rowsumB;
  T value = 0;
  fg::Tensor<T, 2> fA, fB;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;

  explicit MatmulSum(Index size)
      : n(size), A(input<T>(random_matrix(size, size))), B(input<T>(random_matrix(size, size))), C(size, size),
        gA(size, size), gB(size, size), fA(fg_copy<2>(A.data(), {size, size}, true)),
        fB(fg_copy<2>(B.data(), {size, size}, true)) {
    const auto Ad = widened(A.data(), A.size()), Bd = widened(B.data(), B.size());
    torch = torch_peers::matmul_sum(Ad.data(), Bd.data(), n, precision_of<T>);
    adolc = adolc_peers::matmul_sum(Ad.data(), Bd.data(), n, precision_of<T>);
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

  double fusegrad_call() {
    fA.zero_grad(), fB.zero_grad();
    fg::Tensor<T, 0> loss = fg::sum(fg::matmul(fA, fB));
    loss.backward();
    fvalue = loss.item();
    return fvalue + fA.grad().data()[n * n - 1] + fB.grad().data()[n * n - 1];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t i) const { return (i == 0 ? fA : fB).grad().data(); }

  std::vector<ParamOf<T>> params() {
    return {{"A", A.data(), gA.data(), A.size()}, {"B", B.data(), gB.data(), B.size()}};
  }
  // A sum of n^3 products: its rounding is relative to the sum of their magnitudes.
  double value_scale() const { return (A.cwiseAbs() * B.cwiseAbs()).sum(); }
  static std::vector<HandSpec<MatmulSum>> hand_forms() {
    return {{"value through the product C = A B, closed-form gradients", true, &MatmulSum::hand_call},
            {"value as (A^T 1) . (B 1), no GEMM", false, &MatmulSum::hand_algebraic_call}};
  }
};

// ---------------------------------------------------------------------------
// ||X w - y||^2, gradient wrt w:  r = X w - y,  value = r . r,  dw = 2 X^T r
// ---------------------------------------------------------------------------
template <class T>
struct LeastSquares {
  using Scalar = T;
  Index m, p;
  RMat<T> X;
  Vec<T> y, w, r, gw;
  T value = 0;
  fg::Tensor<T, 2> fX;
  fg::Tensor<T, 1> fy, fw;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;

  LeastSquares(Index rows, Index cols)
      : m(rows), p(cols), X(input<T>(random_matrix(rows, cols))), y(input<T>(random_vector(rows))),
        w(input<T>(random_vector(cols))), r(rows), gw(cols), fX(fg_copy<2>(X.data(), {rows, cols}, false)),
        fy(fg_copy<1>(y.data(), {rows}, false)), fw(fg_copy<1>(w.data(), {cols}, true)) {
    const auto Xd = widened(X.data(), X.size()), yd = widened(y.data(), m), wd = widened(w.data(), p);
    torch = torch_peers::least_squares(Xd.data(), yd.data(), wd.data(), m, p, precision_of<T>);
    adolc = adolc_peers::least_squares(Xd.data(), yd.data(), wd.data(), m, p, precision_of<T>);
  }

  // X as the hand forms read it: in place, from fusegrad's leaf. One copy of the 8 MB of
  // data for the hand forms and fusegrad: with a copy each, the two hand forms, timed one
  // after the other, found theirs in cache where fusegrad found its own evicted by the
  // peers (fusegrad/hand 1.25-1.31 here against 1.04-1.06 standalone). X itself stays
  // allocated: freeing it changed the heap under the peers (ADOL-C 7.4 -> 13 ms).
  Eigen::Map<const RMat<T>> data_matrix() const { return fg::as_matrix(fX.value()); }

  double hand_call() {
    r.noalias() = data_matrix() * w;
    r -= y;
    value = r.squaredNorm();
    gw.noalias() = T(2) * (data_matrix().transpose() * r);
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
      rb.noalias() = data_matrix().middleRows(i, rows) * w;
      rb -= y.segment(i, rows);
      gw.noalias() += data_matrix().middleRows(i, rows).transpose() * rb;
    }
    value = r.squaredNorm();
    gw *= T(2);
    return value + gw[p - 1];
  }

  double fusegrad_call() {
    fw.zero_grad();
    fg::Tensor<T, 0> loss = fg::sum(fg::square(fg::matmul(fX, fw) - fy));
    loss.backward();
    fvalue = loss.item();
    return fvalue + fw.grad().data()[p - 1];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t) const { return fw.grad().data(); }

  std::vector<ParamOf<T>> params() { return {{"w", w.data(), gw.data(), p}}; }
  static std::vector<HandSpec<LeastSquares>> hand_forms() {
    return {{"two GEMVs over X", true, &LeastSquares::hand_call},
            {"one pass over X in blocks of 32 rows", true, &LeastSquares::hand_blocked_call}};
  }
};

// ---------------------------------------------------------------------------
// MLP in-hidden-out with tanh and mean softmax cross-entropy
// ---------------------------------------------------------------------------
//
// Forward:  Z = x W1^T + b1,  H = tanh(Z),  L = H W2^T + b2,
//           loss = (1/B) sum_i (logsumexp(L_i) - L_i,y_i), logsumexp taken as
//           m_i + log sum_j exp(L_ij - m_i) with m_i = max_j L_ij (stable).
// Backward: dL = (softmax(L) - onehot(y)) / B,  dW2 = dL^T H,  db2 = dL^T 1,
//           dH = dL W2,  dZ = dH * (1 - H^2),  dW1 = dZ^T x,  db1 = dZ^T 1.
// Four GEMMs (x W1^T and dZ^T x carry nearly all the work); dx is not formed.
template <class T>
struct Mlp {
  using Scalar = T;
  Index batch, in, hidden, out;
  RMat<T> x, W1, W2;
  Vec<T> b1, b2;
  std::vector<int> labels;
  // work buffers and gradients
  RMat<T> H, L, P, dH, gW1, gW2;
  Vec<T> rowmax, rowsum, gb1, gb2;
  T value = 0;
  fg::Tensor<T, 2> fx, fW1, fW2;
  fg::Tensor<T, 1> fb1, fb2;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;
  std::string adolc_note;

  Mlp(Index b, Index n_in, Index n_hidden, Index n_out)
      : batch(b), in(n_in), hidden(n_hidden), out(n_out), x(input<T>(random_matrix(b, n_in, 0, 1))),
        W1(input<T>(random_matrix(n_hidden, n_in) / std::sqrt(double(n_in)))),
        W2(input<T>(random_matrix(n_out, n_hidden) / std::sqrt(double(n_hidden)))),
        b1(input<T>(random_vector(n_hidden) * 0.1)), b2(input<T>(random_vector(n_out) * 0.1)), labels(b), H(b, n_hidden), L(b, n_out), P(b, n_out), dH(b, n_hidden),
        gW1(n_hidden, n_in), gW2(n_out, n_hidden), rowmax(b), rowsum(b), gb1(n_hidden), gb2(n_out),
        fx(fg_copy<2>(x.data(), {b, n_in}, false)), fW1(fg_copy<2>(W1.data(), {n_hidden, n_in}, true)),
        fW2(fg_copy<2>(W2.data(), {n_out, n_hidden}, true)), fb1(fg_copy<1>(b1.data(), {n_hidden}, true)),
        fb2(fg_copy<1>(b2.data(), {n_out}, true)) {
    for (int& l : labels) l = uniform_int(0, int(n_out) - 1);
    const auto xd = widened(x.data(), x.size()), W1d = widened(W1.data(), W1.size()),
               b1d = widened(b1.data(), hidden), W2d = widened(W2.data(), W2.size()), b2d = widened(b2.data(), out);
    torch = torch_peers::mlp(xd.data(), labels.data(), W1d.data(), b1d.data(), W2d.data(), b2d.data(), batch, in,
                             hidden, out, precision_of<T>);
    adolc_note = "not taped: a tape of ~5e7 operations, over 1 GB (contraction.cpp)";
  }

  // Two forms, differing only in tanh. Eigen 3.4 evaluates tanh on doubles one scalar at a
  // time (std::tanh); the second form takes it as 1 - 2 / (exp(2 z) + 1) on Eigen's
  // vectorized exp (absolute error ~1e-16; exp(2z) = inf gives 1, exp(2z) = 0 gives -1).
  // In float, Eigen's tanh is vectorized (a rational approximation), and the second
  // form's absolute error is ~1e-7.
  double hand_call() { return hand<false>(); }
  double hand_exp_tanh_call() { return hand<true>(); }
#if FUSEGRAD_BLAS_PRODUCTS
  // The vectorized-tanh form with its four products called on OpenBLAS (cblas), as
  // fusegrad calls them when the build found it: listed for reference, never 'hand'
  // (the hand-written gradient the bench compares with is plain Eigen).
  double hand_blas_call() { return hand<true, true>(); }

  // C (m x n) = op(A) op(B), row-major, on OpenBLAS.
  static void blas_product(T* c, const T* a, bool a_transposed, const T* b, bool b_transposed, Index m, Index n,
                           Index k) {
    const int lda = int(a_transposed ? m : k), ldb = int(b_transposed ? k : n);
    const auto op = [](bool t) { return t ? CblasTrans : CblasNoTrans; };
    if constexpr (std::is_same_v<T, double>)
      cblas_dgemm(CblasRowMajor, op(a_transposed), op(b_transposed), int(m), int(n), int(k), 1.0, a, lda, b, ldb, 0.0,
                  c, int(n));
    else
      cblas_sgemm(CblasRowMajor, op(a_transposed), op(b_transposed), int(m), int(n), int(k), 1.0f, a, lda, b, ldb,
                  0.0f, c, int(n));
  }
#endif

  template <bool ExpTanh, bool Blas = false>
  double hand() {
    // Inputs and parameters read in place from fusegrad's leaves (as in LeastSquares):
    // one copy for every in-process form, so that none finds its inputs in cache only
    // because another form with the same copy ran just before.
    const auto xv = fg::as_matrix(fx.value()), W1v = fg::as_matrix(fW1.value()), W2v = fg::as_matrix(fW2.value());
    const auto b1v = fg::as_vector(fb1.value()), b2v = fg::as_vector(fb2.value());
    // forward
    product<Blas>(H, xv, false, W1v, true);
    H.rowwise() += b1v.transpose();
    if constexpr (ExpTanh)
      H = T(1) - T(2) * ((T(2) * H.array()).exp() + T(1)).inverse();
    else
      H = H.array().tanh();
    product<Blas>(L, H, false, W2v, true);
    L.rowwise() += b2v.transpose();
    rowmax = L.rowwise().maxCoeff();
    P = (L.colwise() - rowmax).array().exp();
    rowsum = P.rowwise().sum();
    T total = (rowmax.array() + rowsum.array().log()).sum();
    for (Index i = 0; i < batch; ++i) total -= L(i, labels[i]);
    value = total / T(batch);
    // backward: P becomes dL = (softmax - onehot) / B
    P.array().colwise() *= (T(1) / (T(batch) * rowsum.array()));
    for (Index i = 0; i < batch; ++i) P(i, labels[i]) -= T(1) / T(batch);
    product<Blas>(gW2, P, true, H, false);
    gb2 = P.colwise().sum().transpose();
    product<Blas>(dH, P, false, W2v, false);
    dH.array() *= T(1) - H.array().square();  // dH becomes dZ
    product<Blas>(gW1, dH, true, xv, false);
    gb1 = dH.colwise().sum().transpose();
    return value + gW1(hidden - 1, in - 1) + gb1[hidden - 1] + gW2(out - 1, hidden - 1) + gb2[out - 1];
  }

  // c = op(a) op(b): Eigen's product, or (Blas) OpenBLAS's on the same row-major storage.
  template <bool Blas, class A, class B>
  static void product(RMat<T>& c, const A& a, bool a_transposed, const B& b, bool b_transposed) {
    if constexpr (Blas) {
#if FUSEGRAD_BLAS_PRODUCTS
      const Index k = a_transposed ? a.rows() : a.cols();
      blas_product(c.data(), a.data(), a_transposed, b.data(), b_transposed, c.rows(), c.cols(), k);
#endif
    } else if (a_transposed) {
      if (b_transposed)
        c.noalias() = a.transpose() * b.transpose();
      else
        c.noalias() = a.transpose() * b;
    } else {
      if (b_transposed)
        c.noalias() = a * b.transpose();
      else
        c.noalias() = a * b;
    }
  }

  double fusegrad_call() {
    fW1.zero_grad(), fb1.zero_grad(), fW2.zero_grad(), fb2.zero_grad();
    fg::Tensor<T, 2> h = fg::tanh(fg::matmul(fx, fg::transpose(fW1)) + fb1);
    fg::Tensor<T, 0> loss = fg::cross_entropy(fg::matmul(h, fg::transpose(fW2)) + fb2, labels);
    loss.backward();
    fvalue = loss.item();
    return gradient_probe(fvalue, fW1, fb1, fW2, fb2);
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t i) const { return parameter_gradient(i, fW1, fb1, fW2, fb2); }

  std::vector<ParamOf<T>> params() {
    // fusegrad's leaves hold the parameters that every in-process form reads (hand()).
    return {{"W1", fW1.mutable_value().data(), gW1.data(), W1.size()},
            {"b1", fb1.mutable_value().data(), gb1.data(), hidden},
            {"W2", fW2.mutable_value().data(), gW2.data(), W2.size()},
            {"b2", fb2.mutable_value().data(), gb2.data(), out}};
  }
  static std::vector<HandSpec<Mlp>> hand_forms() {
    return {{std::is_same_v<T, float> ? "tanh by Eigen (vectorized in float)" : "tanh by Eigen (scalar std::tanh)", true,
             &Mlp::hand_call},
            {"tanh as 1 - 2/(exp(2z)+1) (vectorized exp)", true, &Mlp::hand_exp_tanh_call},
#if FUSEGRAD_BLAS_PRODUCTS
            {"the same, its four products on OpenBLAS (cblas gemm)", false, &Mlp::hand_blas_call},
#endif
    };
  }
};

// ---------------------------------------------------------------------------
// Tiny MLP 8-16-1, tanh, mean squared error, batch 4
// ---------------------------------------------------------------------------
//
// Forward:  H = tanh(x W1^T + b1),  O = H W2^T + b2,  R = O - y,  loss = mean(R^2)
// Backward: dO = 2 R / (B out),  dW2 = dO^T H,  db2 = dO^T 1,  dZ = (dO W2) * (1 - H^2),
//           dW1 = dZ^T x,  db1 = dZ^T 1.
// Two hand forms: dynamic-size matrices with preallocated buffers (the same
// dynamic-shape program as fusegrad's, "hand"), and fixed-size matrices (shapes known at
// compile time: a different program, listed for reference only).
template <class T>
struct TinyMlp {
  using Scalar = T;
  static constexpr Index kBatch = 4, kIn = 8, kHidden = 16, kOut = 1;
  Index batch = kBatch, in = kIn, hidden = kHidden, out = kOut;
  RMat<T> x, y, W1, W2;
  Vec<T> b1, b2;
  RMat<T> H, O, dZ, gW1, gW2;
  Vec<T> gb1, gb2;
  T value = 0;
  fg::Tensor<T, 2> fx, fy, fW1, fW2;
  fg::Tensor<T, 1> fb1, fb2;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;

  TinyMlp()
      : x(input<T>(random_matrix(kBatch, kIn))), y(input<T>(random_matrix(kBatch, kOut))),
        W1(input<T>(random_matrix(kHidden, kIn) / std::sqrt(double(kIn)))),
        W2(input<T>(random_matrix(kOut, kHidden) / std::sqrt(double(kHidden)))),
        b1(input<T>(random_vector(kHidden) * 0.1)), b2(input<T>(random_vector(kOut) * 0.1)), H(kBatch, kHidden), O(kBatch, kOut), dZ(kBatch, kHidden), gW1(kHidden, kIn),
        gW2(kOut, kHidden), gb1(kHidden), gb2(kOut), fx(fg_copy<2>(x.data(), {kBatch, kIn}, false)),
        fy(fg_copy<2>(y.data(), {kBatch, kOut}, false)), fW1(fg_copy<2>(W1.data(), {kHidden, kIn}, true)),
        fW2(fg_copy<2>(W2.data(), {kOut, kHidden}, true)), fb1(fg_copy<1>(b1.data(), {kHidden}, true)),
        fb2(fg_copy<1>(b2.data(), {kOut}, true)) {
    const auto xd = widened(x.data(), x.size()), yd = widened(y.data(), y.size()),
               W1d = widened(W1.data(), W1.size()), b1d = widened(b1.data(), hidden),
               W2d = widened(W2.data(), W2.size()), b2d = widened(b2.data(), out);
    torch = torch_peers::tiny_mlp(xd.data(), yd.data(), W1d.data(), b1d.data(), W2d.data(), b2d.data(), batch, in,
                                  hidden, out, precision_of<T>);
    adolc = adolc_peers::tiny_mlp(xd.data(), yd.data(), W1d.data(), b1d.data(), W2d.data(), b2d.data(), batch, in,
                                  hidden, out, precision_of<T>);
  }

  double hand_dynamic() {
    H.noalias() = x * W1.transpose();
    H.rowwise() += b1.transpose();
    H = H.array().tanh();
    O.noalias() = H * W2.transpose();
    O.rowwise() += b2.transpose();
    O -= y;  // O becomes R
    value = O.squaredNorm() / T(batch * out);
    O *= T(2) / T(batch * out);  // O becomes dO
    gW2.noalias() = O.transpose() * H;
    gb2 = O.colwise().sum().transpose();
    dZ.noalias() = O * W2;
    dZ.array() *= T(1) - H.array().square();
    gW1.noalias() = dZ.transpose() * x;
    gb1 = dZ.colwise().sum().transpose();
    return value + gW1(hidden - 1, in - 1) + gb1[hidden - 1] + gW2(out - 1, hidden - 1) + gb2[out - 1];
  }

  double hand_fixed() {
    using X = Eigen::Matrix<T, kBatch, kIn, Eigen::RowMajor>;
    using Hm = Eigen::Matrix<T, kBatch, kHidden, Eigen::RowMajor>;
    using W1m = Eigen::Matrix<T, kHidden, kIn, Eigen::RowMajor>;
    using W2m = Eigen::Matrix<T, kOut, kHidden, Eigen::RowMajor>;
    using Om = Eigen::Matrix<T, kBatch, kOut>;
    const Eigen::Map<const X> xs(x.data());
    const Eigen::Map<const Om> ys(y.data());
    const Eigen::Map<const W1m> W1s(W1.data());
    const Eigen::Map<const W2m> W2s(W2.data());
    const Eigen::Map<const Eigen::Matrix<T, kHidden, 1>> b1s(b1.data());
    Hm Hs = xs * W1s.transpose();
    Hs.rowwise() += b1s.transpose();
    Hs = Hs.array().tanh();
    Om R = Hs * W2s.transpose();
    R.array() += b2[0] - ys.array();
    value = R.squaredNorm() / T(kBatch * kOut);
    R *= T(2) / T(kBatch * kOut);
    Eigen::Map<W2m>(gW2.data()) = R.transpose() * Hs;
    gb2[0] = R.sum();
    Hm dZs = R * W2s;
    dZs.array() *= T(1) - Hs.array().square();
    Eigen::Map<W1m>(gW1.data()) = dZs.transpose() * xs;
    Eigen::Map<Eigen::Matrix<T, kHidden, 1>>(gb1.data()) = dZs.colwise().sum().transpose();
    return value + gW1(hidden - 1, in - 1) + gb1[hidden - 1] + gW2(out - 1, hidden - 1) + gb2[out - 1];
  }

  double fusegrad_call() {
    fW1.zero_grad(), fb1.zero_grad(), fW2.zero_grad(), fb2.zero_grad();
    fg::Tensor<T, 2> h = fg::tanh(fg::matmul(fx, fg::transpose(fW1)) + fb1);
    fg::Tensor<T, 0> loss = fg::mean(fg::square(fg::matmul(h, fg::transpose(fW2)) + fb2 - fy));
    loss.backward();
    fvalue = loss.item();
    return gradient_probe(fvalue, fW1, fb1, fW2, fb2);
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t i) const { return parameter_gradient(i, fW1, fb1, fW2, fb2); }

  std::vector<ParamOf<T>> params() {
    return {{"W1", W1.data(), gW1.data(), W1.size()},
            {"b1", b1.data(), gb1.data(), hidden},
            {"W2", W2.data(), gW2.data(), W2.size()},
            {"b2", b2.data(), gb2.data(), out}};
  }
  static std::vector<HandSpec<TinyMlp>> hand_forms() {
    return {{"dynamic-size Eigen::Matrix, preallocated buffers", true, &TinyMlp::hand_dynamic},
            {"fixed-size Eigen::Matrix (shapes known at compile time)", false, &TinyMlp::hand_fixed}};
  }
};

template <class T>
void add_contraction(std::vector<Case>& out) {
  if (const std::string w = "sum(A B)"; selected(w))
    for (long n : {64L, 256L}) out.push_back(make_case<MatmulSum<T>>(w, n, n));
  if (const std::string w = "||X w - y||^2 X n x 100"; selected(w))
    out.push_back(make_case<LeastSquares<T>>(w, 10000, 10000, 100));
  if (const std::string w = "MLP 784-256-10 tanh CE batch n"; selected(w))
    out.push_back(make_case<Mlp<T>>(w, 128, 128, 784, 256, 10));
}

}  // namespace

void add_contraction_cases(std::vector<Case>& out, Precision precision) {
  precision == Precision::f32 ? add_contraction<float>(out) : add_contraction<double>(out);
}

void add_tiny_mlp_cases(std::vector<Case>& out, Precision precision) {
  if (const std::string w = "tiny MLP 8-16-1 tanh MSE batch n"; selected(w))
    out.push_back(precision == Precision::f32 ? make_case<TinyMlp<float>>(w, 4) : make_case<TinyMlp<double>>(w, 4));
}

}  // namespace bench
