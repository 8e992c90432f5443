// Elementwise and reduction workloads (issues 2 and 4), in double and in float (each
// workload a template on the scalar type T), inputs uniform in [-1, 1) from the
// fixed-seed generator:
//   sum(exp(x) * sin(x))                        n = 10^2, 10^4, 10^6
//   logsumexp(x) (stable)                       n = 10^4, 10^6
//   normal log-density sum(-0.5 ((y - mu) / sigma)^2 - log(sigma)), gradient wrt the
//   scalars mu and sigma, y data              n = 10^4, 10^6
//   sum((x*y + sin(z)) / (1 + exp(-x*z)))       n = 10^5, gradient wrt x, y and z
//   sum(row logsumexp) + sum(column max): logsumexp of each row and max of each column of X, 512 x 512
//
// One timed fusegrad call = zero_grad() on the parameters + building and evaluating the
// value + backward() + reading the value and the gradients. One timed hand call = value
// and gradients computed into preallocated buffers.
//
// Hand-written forms. Eigen 3.4 has a vectorized (AVX-512) exp for double but only a
// scalar sin/cos (and tanh); an expression that mixes them is evaluated one scalar at a
// time, so the careful forms keep the vectorizable parts in assignments of their own and
// evaluate each scalar-only function once. (For float, Eigen 3.4 vectorizes sin, cos and
// tanh too; the float forms are the same forms, which then lose nothing by the split.) The elementwise workloads are written twice,
// on Eigen::Array and on Eigen::Tensor (through TensorMaps of the same buffers; sin/cos
// via unaryExpr with Eigen's scalar_sin_op / scalar_cos_op, as Eigen::Tensor 3.4 has no
// sin()/cos() members). On the development machine the two were within a few percent
// and which one won changed with n and from run to run, so "hand" is the faster one on
// the run (any fixed choice would favour fusegrad somewhere).
#include <fusegrad/fusegrad.hpp>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "adolc_peers.hpp"
#include "support/bench_support.hpp"
#include "torch_peers.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace fg = fusegrad;

namespace bench {

namespace {

template <class T>
using ArrayX = Eigen::Array<T, Eigen::Dynamic, 1>;
template <class T>
using TMap = Eigen::TensorMap<Eigen::Tensor<T, 1>>;
template <class T>
using TScalar = Eigen::TensorMap<Eigen::Tensor<T, 0>>;
using Eigen::internal::scalar_cos_op;
using Eigen::internal::scalar_sin_op;

// Drawn in double, as T (bench::input).
template <class T>
ArrayX<T> random_array(Index n, double lo = -1, double hi = 1) {
  Eigen::ArrayXd a(n);
  fill_uniform(a.data(), n, lo, hi);
  return input<T>(a);
}

// A fusegrad leaf holding a copy of `a`.
template <class T>
fg::Tensor<T, 1> fg_copy(const ArrayX<T>& a, bool requires_grad) {
  fg::EigenTensor<T, 1> v = Eigen::TensorMap<const fg::EigenTensor<T, 1>>(a.data(), a.size());
  fg::Tensor<T, 1> t(std::move(v));
  t.requires_grad(requires_grad);
  return t;
}

template <class T>
TMap<T> tmap(ArrayX<T>& a) {
  return TMap<T>(a.data(), a.size());
}

// ---------------------------------------------------------------------------
// sum(exp(x) * sin(x)),  d/dx = exp(x) * (sin(x) + cos(x))
// ---------------------------------------------------------------------------
//
// Hand-written: e = exp(x) and s = sin(x) each once into a buffer, value = sum(e*s),
// grad = e*(s + cos(x)) (cos once, inside the gradient pass).
template <class T>
struct ExpSin {
  using Scalar = T;
  Index n;
  ArrayX<T> x, e, s, g;
  T value = 0;
  fg::Tensor<T, 1> fx;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;

  explicit ExpSin(Index size)
      : n(size), x(random_array<T>(size)), e(size), s(size), g(size), fx(fg_copy(x, true)) {
    const auto xd = widened(x.data(), n);
    torch = torch_peers::exp_sin(xd.data(), n, precision_of<T>);
    adolc = adolc_peers::exp_sin(xd.data(), n, precision_of<T>);
  }

  double hand_array() {
    e = x.exp();
    s = x.sin();
    value = (e * s).sum();
    g = e * (s + x.cos());
    return value + g[n - 1];
  }

  double hand_tensor() {
    TMap<T> xt = tmap(x), et = tmap(e), st = tmap(s), gt = tmap(g);
    TScalar<T> v(&value);
    et = xt.exp();
    st = xt.unaryExpr(scalar_sin_op<T>());
    v = (et * st).sum();
    gt = et * (st + xt.unaryExpr(scalar_cos_op<T>()));
    return value + g[n - 1];
  }

  double fusegrad_call() {
    fx.zero_grad();
    fg::Tensor<T, 0> loss = fg::sum(fg::exp(fx) * fg::sin(fx));
    loss.backward();
    fvalue = loss.item();
    return fvalue + fx.grad().data()[n - 1];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t) const { return fx.grad().data(); }

  std::vector<ParamOf<T>> params() { return {{"x", x.data(), g.data(), n}}; }
  double value_scale() const { return (x.exp() * x.sin()).abs().sum(); }
  static std::vector<HandSpec<ExpSin>> hand_forms() {
    return {{"Eigen::Array", true, &ExpSin::hand_array}, {"Eigen::Tensor", true, &ExpSin::hand_tensor}};
  }
};

// ---------------------------------------------------------------------------
// logsumexp(x) = m + log(sum(exp(x - m))), m = max(x);  d/dx = softmax(x)
// ---------------------------------------------------------------------------
//
// Hand-written: m, e = exp(x - m) into a buffer (vectorized exp), s = sum(e), the
// gradient e / s.
template <class T>
struct LogSumExp {
  using Scalar = T;
  static constexpr double kFdStep = 3e-3;  // gradient components ~1/n: a larger step
                                           // keeps them above the value's rounding noise
  // Differentiating through the max (as ADOL-C's fmax does) adds 1 - sum(softmax) to the
  // argmax component: zero, up to ~sqrt(n) eps of rounding, against components of ~1/n.
  static constexpr double kGradTolerance = 1e-7;
  Index n;
  ArrayX<T> x, e, g;
  T value = 0;
  fg::Tensor<T, 1> fx;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;

  explicit LogSumExp(Index size) : n(size), x(random_array<T>(size)), e(size), g(size), fx(fg_copy(x, true)) {
    const auto xd = widened(x.data(), n);
    torch = torch_peers::logsumexp(xd.data(), n, precision_of<T>);
    adolc = adolc_peers::logsumexp(xd.data(), n, precision_of<T>);
  }

  double hand_array() {
    const T m = x.maxCoeff();
    e = (x - m).exp();
    const T s = e.sum();
    value = m + std::log(s);
    g = e * (T(1) / s);
    return value + g[n - 1];
  }

  double hand_tensor() {
    TMap<T> xt = tmap(x), et = tmap(e), gt = tmap(g);
    T m = 0, s = 0;
    TScalar<T> mt(&m), sum(&s);
    mt = xt.maximum();
    et = (xt - m).exp();
    sum = et.sum();
    value = m + std::log(s);
    gt = et * (T(1) / s);
    return value + g[n - 1];
  }

  double fusegrad_call() {
    fx.zero_grad();
    fg::Tensor<T, 0> l = fg::logsumexp(fx);
    l.backward();
    fvalue = l.item();
    return fvalue + fx.grad().data()[n - 1];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t) const { return fx.grad().data(); }

  std::vector<ParamOf<T>> params() { return {{"x", x.data(), g.data(), n}}; }
  static std::vector<HandSpec<LogSumExp>> hand_forms() {
    return {{"Eigen::Array", true, &LogSumExp::hand_array}, {"Eigen::Tensor", true, &LogSumExp::hand_tensor}};
  }
};

// ---------------------------------------------------------------------------
// Normal log-density of data y at scalar parameters mu, sigma:
//   f = sum_i (-0.5 z_i^2 - log(sigma)),  z_i = (y_i - mu) / sigma
//   df/dmu = sum(y - mu) / sigma^2,  df/dsigma = sum((y - mu)^2) / sigma^3 - n / sigma
// ---------------------------------------------------------------------------
//
// The hand-written gradient needs two sums over the data at each call, S1 = sum(y - mu)
// and S2 = sum((y - mu)^2); nothing about y is precomputed. Two forms: two vectorized
// Eigen reductions (two passes over y), or one pass in blocks of 2048 (16 KB, in L1)
// giving both sums.
template <class T>
struct NormalLogDensity {
  using Scalar = T;
  Index n;
  ArrayX<T> y;
  T mu = input<T>(0.3), sigma = input<T>(0.8);
  T value = 0, gmu = 0, gsigma = 0;
  fg::Tensor<T, 1> fy;
  fg::Tensor<T, 0> fmu, fsigma;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;

  explicit NormalLogDensity(Index size)
      : n(size), y(random_array<T>(size)), fy(fg_copy(y, false)), fmu(mu), fsigma(sigma) {
    fmu.requires_grad(true), fsigma.requires_grad(true);
    const auto yd = widened(y.data(), n);
    torch = torch_peers::normal_log_density(yd.data(), n, mu, sigma, precision_of<T>);
    adolc = adolc_peers::normal_log_density(yd.data(), n, mu, sigma, precision_of<T>);
  }

  double finish(T s1, T s2) {
    const T inv = T(1) / sigma;
    value = T(-0.5) * s2 * inv * inv - T(n) * std::log(sigma);
    gmu = s1 * inv * inv;
    gsigma = s2 * inv * inv * inv - T(n) * inv;
    return value + gmu + gsigma;
  }

  double hand_two_reductions() { return finish((y - mu).sum(), (y - mu).square().sum()); }

  // Blocks of 2048 elements: 16 KB in double, 8 KB in float, in L1 either way.
  double hand_blocked() {
    constexpr Index kBlock = 2048;
    T s1 = 0, s2 = 0;
    for (Index i = 0; i < n; i += kBlock) {
      const auto d = y.segment(i, std::min(kBlock, n - i)) - mu;
      s1 += d.sum();
      s2 += d.square().sum();
    }
    return finish(s1, s2);
  }

  double fusegrad_call() {
    fmu.zero_grad(), fsigma.zero_grad();
    fg::Tensor<T, 0> l = fg::sum(T(-0.5) * fg::square((fy - fmu) / fsigma) - fg::log(fsigma));
    l.backward();
    fvalue = l.item();
    return fvalue + fmu.grad().data()[0] + fsigma.grad().data()[0];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t i) const { return (i == 0 ? fmu : fsigma).grad().data(); }

  std::vector<ParamOf<T>> params() { return {{"mu", &mu, &gmu, 1}, {"sigma", &sigma, &gsigma, 1}}; }
  double value_scale() const { return (T(-0.5) * ((y - mu) / sigma).square() - std::log(sigma)).abs().sum(); }
  static std::vector<HandSpec<NormalLogDensity>> hand_forms() {
    return {{"two Eigen reductions", true, &NormalLogDensity::hand_two_reductions},
            {"one pass in blocks of 2048", true, &NormalLogDensity::hand_blocked}};
  }
};

// ---------------------------------------------------------------------------
// sum((x*y + sin(z)) / (1 + exp(-x*z)))
// ---------------------------------------------------------------------------
//
// With u = x*y + sin(z), e = exp(-x*z), s = 1/(1+e) (the sigmoid of x*z) and
// w = u * e * s^2 = u * s * (1 - s)  (= d f_i / d(x_i z_i)):
//   f  = sum(u * s)
//   df/dx = y*s + z*w,   df/dy = x*s,   df/dz = cos(z)*s + x*w.
// w is formed as u*e*s*s rather than u*s*(1-s) to avoid the cancellation in 1 - s.
template <class T>
struct Mixed {
  using Scalar = T;
  Index n;
  ArrayX<T> x, y, z, e, s, u, w, gx, gy, gz;
  T value = 0;
  fg::Tensor<T, 1> fx, fy, fz;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;

  explicit Mixed(Index size)
      : n(size), x(random_array<T>(size)), y(random_array<T>(size)), z(random_array<T>(size)), fx(fg_copy(x, true)),
        fy(fg_copy(y, true)), fz(fg_copy(z, true)) {
    for (ArrayX<T>* a : {&e, &s, &u, &w, &gx, &gy, &gz}) a->resize(n);
    const auto xd = widened(x.data(), n), yd = widened(y.data(), n), zd = widened(z.data(), n);
    torch = torch_peers::mixed(xd.data(), yd.data(), zd.data(), n, precision_of<T>);
    adolc = adolc_peers::mixed(xd.data(), yd.data(), zd.data(), n, precision_of<T>);
  }

  double hand_array() {
    e = (-x * z).exp();
    s = (T(1) + e).inverse();
    u = x * y + z.sin();
    value = (u * s).sum();
    w = u * e * s.square();
    gx = y * s + z * w;
    gy = x * s;
    gz = z.cos() * s + x * w;
    return value + gx[n - 1] + gy[n - 1] + gz[n - 1];
  }

  double hand_tensor() {
    TMap<T> xt = tmap(x), yt = tmap(y), zt = tmap(z), et = tmap(e), st = tmap(s), ut = tmap(u), wt = tmap(w),
            gxt = tmap(gx), gyt = tmap(gy), gzt = tmap(gz);
    TScalar<T> v(&value);
    et = (-xt * zt).exp();
    st = (et + T(1)).inverse();
    ut = xt * yt + zt.unaryExpr(scalar_sin_op<T>());
    v = (ut * st).sum();
    wt = ut * et * st.square();
    gxt = yt * st + zt * wt;
    gyt = xt * st;
    gzt = zt.unaryExpr(scalar_cos_op<T>()) * st + xt * wt;
    return value + gx[n - 1] + gy[n - 1] + gz[n - 1];
  }

  double fusegrad_call() {
    fx.zero_grad(), fy.zero_grad(), fz.zero_grad();
    fg::Tensor<T, 0> loss = fg::sum((fx * fy + fg::sin(fz)) / (T(1) + fg::exp(-fx * fz)));
    loss.backward();
    fvalue = loss.item();
    return fvalue + fx.grad().data()[n - 1] + fy.grad().data()[n - 1] + fz.grad().data()[n - 1];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t i) const { return (i == 0 ? fx : i == 1 ? fy : fz).grad().data(); }

  std::vector<ParamOf<T>> params() {
    return {{"x", x.data(), gx.data(), n}, {"y", y.data(), gy.data(), n}, {"z", z.data(), gz.data(), n}};
  }
  double value_scale() const { return ((x * y + z.sin()) / (T(1) + (-x * z).exp())).abs().sum(); }
  static std::vector<HandSpec<Mixed>> hand_forms() {
    return {{"Eigen::Array", true, &Mixed::hand_array}, {"Eigen::Tensor", true, &Mixed::hand_tensor}};
  }
};

// ---------------------------------------------------------------------------
// One small statement, y = x * w + b on n = 8 elements, and its backward for a seed of
// ones (value: sum(y)). The arithmetic is a few nanoseconds: fusegrad's time minus the
// hand form's is what recording and back-propagating one statement costs (issue 19).
// ---------------------------------------------------------------------------
template <class T>
struct Statement {
  using Scalar = T;
  Index n;
  ArrayX<T> x, w, b, y, gx, gw, gb;
  T value = 0;
  fg::Tensor<T, 1> fx, fw, fb;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;
  std::string adolc_note = "not taped: the per-statement cost of a tape replayed per call is not comparable";

  explicit Statement(Index size)
      : n(size), x(random_array<T>(size)), w(random_array<T>(size)), b(random_array<T>(size)), y(size), gx(size),
        gw(size), gb(size), fx(fg_copy(x, true)), fw(fg_copy(w, true)), fb(fg_copy(b, true)) {}

  double hand_array() {
    y = x * w + b;
    value = y.sum();
    gx = w;
    gw = x;
    gb.setOnes();
    return value + gx[n - 1] + gw[n - 1] + gb[n - 1];
  }

  double fusegrad_call() {
    fx.zero_grad(), fw.zero_grad(), fb.zero_grad();
    fg::Tensor<T, 1> fy = fx * fw + fb;
    fy.backward();
    const T* v = fy.data();
    fvalue = 0;
    for (Index i = 0; i < n; ++i) fvalue += v[i];
    return fvalue + fx.grad().data()[n - 1] + fw.grad().data()[n - 1] + fb.grad().data()[n - 1];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t i) const { return (i == 0 ? fx : i == 1 ? fw : fb).grad().data(); }

  std::vector<ParamOf<T>> params() {
    return {{"x", x.data(), gx.data(), n}, {"w", w.data(), gw.data(), n}, {"b", b.data(), gb.data(), n}};
  }
  double value_scale() const { return (x * w + b).abs().sum(); }
  static std::vector<HandSpec<Statement>> hand_forms() { return {{"Eigen::Array", true, &Statement::hand_array}}; }
};

// ---------------------------------------------------------------------------
// Reductions along one dimension of an n x n matrix X (row-major):
//   f = sum_i logsumexp(X_i,:) + sum_j max_i X_ij
//   df/dX_ij = softmax(X_i,:)_j + [X_ij is the largest of column j]
// (random inputs have no ties).
// ---------------------------------------------------------------------------
template <class T>
struct RowColumnReductions {
  using Scalar = T;
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Index n;
  Matrix X, E, G;
  Eigen::Matrix<T, Eigen::Dynamic, 1> row_max, row_sum;
  Eigen::Matrix<T, 1, Eigen::Dynamic> column_max;
  T value = 0;
  fg::Tensor<T, 2> fX;
  T fvalue = 0;
  std::unique_ptr<Peer> torch, adolc;
  std::string adolc_note = "not taped: a workload added for the reduction kernels, with libtorch as its peer";

  explicit RowColumnReductions(Index size)
      : n(size), X(Eigen::Map<const Matrix>(random_array<T>(size * size).data(), size, size)), E(size, size),
        G(size, size), row_max(size), row_sum(size), column_max(size), fX(tensor_of(X)) {
    const auto Xd = widened(X.data(), n * n);
    torch = torch_peers::row_column_reductions(Xd.data(), n, n, precision_of<T>);
  }

  static fg::Tensor<T, 2> tensor_of(const Matrix& m) {
    fg::EigenTensor<T, 2> value(m.rows(), m.cols());
    std::copy(m.data(), m.data() + m.size(), value.data());
    fg::Tensor<T, 2> t(value);
    t.requires_grad(true);
    return t;
  }

  // A row at a time: its max, exponentials, sum and softmax while the row is in cache.
  double hand() {
    value = 0;
    for (Index i = 0; i < n; ++i) {
      const auto x = X.row(i).array();
      auto e = E.row(i).array();
      const T m = x.maxCoeff();
      e = (x - m).exp();
      const T s = e.sum();
      value += m + std::log(s);
      G.row(i).array() = e * (T(1) / s);
    }
    column_max = X.colwise().maxCoeff();
    value += column_max.sum();
    for (Index i = 0; i < n; ++i) G.row(i).array() += (X.row(i).array() == column_max.array()).template cast<T>();
    return value + G(n - 1, n - 1);
  }

  double fusegrad_call() {
    fX.zero_grad();
    fg::Tensor<T, 0> l = fg::sum(fg::logsumexp(fX, fg::dims(1))) + fg::sum(fg::max(fX, fg::dims(0)));
    l.backward();
    fvalue = l.item();
    return fvalue + fX.grad().data()[n * n - 1];
  }
  T fusegrad_value() const { return fvalue; }
  const T* fusegrad_gradient(std::size_t) const { return fX.grad().data(); }

  std::vector<ParamOf<T>> params() { return {{"X", X.data(), G.data(), n * n}}; }
  static std::vector<HandSpec<RowColumnReductions>> hand_forms() {
    return {{"Eigen::Matrix", true, &RowColumnReductions::hand}};
  }
};

template <class T>
void add_elementwise(std::vector<Case>& out) {
  if (const std::string w = "sum(exp(x)*sin(x))"; selected(w))
    for (long n : {100L, 10000L, 1000000L}) out.push_back(make_case<ExpSin<T>>(w, n, n));
  if (const std::string w = "logsumexp(x)"; selected(w))
    for (long n : {10000L, 1000000L}) out.push_back(make_case<LogSumExp<T>>(w, n, n));
  if (const std::string w = "normal log-density d/d(mu sigma)"; selected(w))
    for (long n : {10000L, 1000000L}) out.push_back(make_case<NormalLogDensity<T>>(w, n, n));
  if (const std::string w = "sum(row logsumexp) + sum(column max)"; selected(w))
    out.push_back(make_case<RowColumnReductions<T>>(w, 512, 512));
  if (const std::string w = "one statement y = x*w + b and backward"; selected(w))
    out.push_back(make_case<Statement<T>>(w, 8, 8));
}

template <class T>
void add_mixed(std::vector<Case>& out) {
  if (const std::string w = "sum((x*y+sin(z))/(1+exp(-x*z)))"; selected(w))
    out.push_back(make_case<Mixed<T>>(w, 100000L, 100000L));
}

}  // namespace

void add_elementwise_cases(std::vector<Case>& out, Precision precision) {
  precision == Precision::f32 ? add_elementwise<float>(out) : add_elementwise<double>(out);
}

void add_mixed_cases(std::vector<Case>& out, Precision precision) {
  precision == Precision::f32 ? add_mixed<float>(out) : add_mixed<double>(out);
}

}  // namespace bench
