// torch_peers with libtorch (C++ API), one thread. See torch_peers.hpp and
// support/peer_factories.inc.
#include "torch_peers.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace torch_peers {

namespace {

namespace F = torch::nn::functional;

const torch::TensorOptions kDouble = torch::TensorOptions().dtype(torch::kFloat64);

// The shared objects mapped into this process whose file name mentions blas or lapack:
// which BLAS libtorch's GEMMs actually run on (Debian's libtorch takes whichever
// libblas.so.3 the alternatives system, or LD_LIBRARY_PATH, provides).
std::string mapped_blas() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> found;
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = path.substr(path.rfind('/') + 1);
    if (name.find("blas") != std::string::npos || name.find("lapack") != std::string::npos) found.insert(path);
  }
  std::string out;
  bool reference = false;
  for (const std::string& p : found) {
    out += (out.empty() ? "" : ", ") + p;
    // Debian's netlib reference BLAS lives in .../blas/libblas.so.3 (OpenBLAS, BLIS and
    // ATLAS in directories of their own).
    if (p.find("/blas/libblas.so") != std::string::npos) reference = true;
  }
  if (reference)
    out += "\nWARNING: that is the unoptimized reference BLAS, so libtorch's matrix products are slow; "
           "point LD_LIBRARY_PATH (or the CMake cache variable FUSEGRAD_BENCH_TORCH_LIBRARY_PATH) at the "
           "directory of an optimized libblas.so.3, e.g. OpenBLAS's openblas-serial";
  return out.empty() ? "none found" : out;
}

// The per-call steps common to all peers, in double (torch::kFloat64) or float
// (torch::kFloat32, libtorch's default dtype).
class TorchPeer : public bench::Peer {
 public:
  explicit TorchPeer(bench::Precision precision) : f32_(precision == bench::Precision::f32) {}

  double value() const override { return loss_.item<double>(); }

  void gradient(std::size_t i, double* out) const override {
    const torch::Tensor g = params_.at(i).grad().to(torch::kFloat64).contiguous();
    std::copy(g.data_ptr<double>(), g.data_ptr<double>() + g.numel(), out);
  }

  double call() override {
    for (torch::Tensor& p : params_) p.mutable_grad() = torch::Tensor();  // zero_grad(set_to_none)
    loss_ = loss();
    loss_.backward();
    double r = loss_.item<double>();
    for (const torch::Tensor& p : params_)
      r += f32_ ? double(p.grad().data_ptr<float>()[0]) : p.grad().data_ptr<double>()[0];
    return r;
  }

 protected:
  // A contiguous tensor of the peer's dtype owning a copy of `data` (float values widened
  // to double when the peer is f32: narrowing them back is exact).
  torch::Tensor copy_in(const double* data, std::vector<int64_t> shape, bool requires_grad = false) const {
    const torch::Tensor blob = torch::from_blob(const_cast<double*>(data), shape, kDouble);
    torch::Tensor t = f32_ ? blob.to(torch::kFloat32) : blob.clone();
    if (requires_grad) t.set_requires_grad(true);
    return t;
  }
  torch::TensorOptions options() const { return kDouble.dtype(f32_ ? torch::kFloat32 : torch::kFloat64); }

  virtual torch::Tensor loss() = 0;
  std::vector<torch::Tensor> params_;  // the differentiated inputs, in gradient order

 private:
  bool f32_;
  torch::Tensor loss_;
};

class ExpSin final : public TorchPeer {
 public:
  ExpSin(const double* x, long n, bench::Precision precision) : TorchPeer(precision) {
    x_ = copy_in(x, {n}, true);
    params_ = {x_};
  }

 private:
  torch::Tensor loss() override { return (torch::exp(x_) * torch::sin(x_)).sum(); }
  torch::Tensor x_;
};

class LogSumExp final : public TorchPeer {
 public:
  LogSumExp(const double* x, long n, bench::Precision precision) : TorchPeer(precision) {
    x_ = copy_in(x, {n}, true);
    params_ = {x_};
  }

 private:
  torch::Tensor loss() override { return torch::logsumexp(x_, {0}); }  // stable (shifts by the max)
  torch::Tensor x_;
};

class NormalLogDensity final : public TorchPeer {
 public:
  NormalLogDensity(const double* y, long n, double mu, double sigma, bench::Precision precision)
      : TorchPeer(precision) {
    y_ = copy_in(y, {n});
    mu_ = torch::scalar_tensor(mu, options()).set_requires_grad(true);
    sigma_ = torch::scalar_tensor(sigma, options()).set_requires_grad(true);
    params_ = {mu_, sigma_};
  }

 private:
  torch::Tensor loss() override { return (-0.5 * ((y_ - mu_) / sigma_).square() - torch::log(sigma_)).sum(); }
  torch::Tensor y_, mu_, sigma_;
};

class Mixed final : public TorchPeer {
 public:
  Mixed(const double* x, const double* y, const double* z, long n, bench::Precision precision)
      : TorchPeer(precision) {
    x_ = copy_in(x, {n}, true);
    y_ = copy_in(y, {n}, true);
    z_ = copy_in(z, {n}, true);
    params_ = {x_, y_, z_};
  }

 private:
  torch::Tensor loss() override { return ((x_ * y_ + torch::sin(z_)) / (1 + torch::exp(-x_ * z_))).sum(); }
  torch::Tensor x_, y_, z_;
};

class RowColumnReductions final : public TorchPeer {
 public:
  RowColumnReductions(const double* X, long rows, long cols, bench::Precision precision) : TorchPeer(precision) {
    X_ = copy_in(X, {rows, cols}, true);
    params_ = {X_};
  }

 private:
  torch::Tensor loss() override { return torch::logsumexp(X_, {1}).sum() + std::get<0>(X_.max(0)).sum(); }
  torch::Tensor X_;
};

class MatmulSum final : public TorchPeer {
 public:
  MatmulSum(const double* A, const double* B, long n, bench::Precision precision) : TorchPeer(precision) {
    A_ = copy_in(A, {n, n}, true);
    B_ = copy_in(B, {n, n}, true);
    params_ = {A_, B_};
  }

 private:
  torch::Tensor loss() override { return torch::matmul(A_, B_).sum(); }
  torch::Tensor A_, B_;
};

class LeastSquares final : public TorchPeer {
 public:
  LeastSquares(const double* X, const double* y, const double* w, long m, long p, bench::Precision precision)
      : TorchPeer(precision) {
    X_ = copy_in(X, {m, p});
    y_ = copy_in(y, {m});
    w_ = copy_in(w, {p}, true);
    params_ = {w_};
  }

 private:
  torch::Tensor loss() override { return (torch::matmul(X_, w_) - y_).square().sum(); }
  torch::Tensor X_, y_, w_;
};

class Mlp final : public TorchPeer {
 public:
  Mlp(const double* x, const int* labels, const double* W1, const double* b1, const double* W2, const double* b2,
      long batch, long in, long hidden, long out, bench::Precision precision)
      : TorchPeer(precision) {
    x_ = copy_in(x, {batch, in});
    labels_ = torch::empty({batch}, torch::TensorOptions().dtype(torch::kInt64));
    for (long i = 0; i < batch; ++i) labels_.data_ptr<int64_t>()[i] = labels[i];
    W1_ = copy_in(W1, {hidden, in}, true);
    b1_ = copy_in(b1, {hidden}, true);
    W2_ = copy_in(W2, {out, hidden}, true);
    b2_ = copy_in(b2, {out}, true);
    params_ = {W1_, b1_, W2_, b2_};
  }

 private:
  // As a libtorch user writes it (linear = addmm with the bias; cross_entropy =
  // log_softmax + nll_loss, mean over the batch).
  torch::Tensor loss() override {
    const torch::Tensor h = torch::tanh(F::linear(x_, W1_, b1_));
    const torch::Tensor logits = F::linear(h, W2_, b2_);
    return F::cross_entropy(logits, labels_);
  }
  torch::Tensor x_, labels_, W1_, b1_, W2_, b2_;
};

class TinyMlp final : public TorchPeer {
 public:
  TinyMlp(const double* x, const double* y, const double* W1, const double* b1, const double* W2, const double* b2,
          long batch, long in, long hidden, long out, bench::Precision precision)
      : TorchPeer(precision) {
    x_ = copy_in(x, {batch, in});
    y_ = copy_in(y, {batch, out});
    W1_ = copy_in(W1, {hidden, in}, true);
    b1_ = copy_in(b1, {hidden}, true);
    W2_ = copy_in(W2, {out, hidden}, true);
    b2_ = copy_in(b2, {out}, true);
    params_ = {W1_, b1_, W2_, b2_};
  }

 private:
  torch::Tensor loss() override {
    const torch::Tensor h = torch::tanh(F::linear(x_, W1_, b1_));
    return (F::linear(h, W2_, b2_) - y_).square().mean();
  }
  torch::Tensor x_, y_, W1_, b1_, W2_, b2_;
};

}  // namespace

bool available() { return true; }

std::string setup() {
  torch::set_num_threads(1);
  try {
    at::set_num_interop_threads(1);  // throws if inter-op work has already started
  } catch (const std::exception&) {
  }
  return "libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
         " (C++ API), intra-op threads " + std::to_string(at::get_num_threads()) + ", inter-op threads " +
         std::to_string(at::get_num_interop_threads()) + ", BLAS: " + mapped_blas();
}

std::unique_ptr<bench::Peer> exp_sin(const double* x, long n, bench::Precision precision) {
  return std::make_unique<ExpSin>(x, n, precision);
}

std::unique_ptr<bench::Peer> logsumexp(const double* x, long n, bench::Precision precision) {
  return std::make_unique<LogSumExp>(x, n, precision);
}

std::unique_ptr<bench::Peer> normal_log_density(const double* y, long n, double mu, double sigma,
                                                bench::Precision precision) {
  return std::make_unique<NormalLogDensity>(y, n, mu, sigma, precision);
}

std::unique_ptr<bench::Peer> mixed(const double* x, const double* y, const double* z, long n,
                                   bench::Precision precision) {
  return std::make_unique<Mixed>(x, y, z, n, precision);
}

std::unique_ptr<bench::Peer> row_column_reductions(const double* X, long rows, long cols, bench::Precision precision) {
  return std::make_unique<RowColumnReductions>(X, rows, cols, precision);
}

std::unique_ptr<bench::Peer> matmul_sum(const double* A, const double* B, long n, bench::Precision precision) {
  return std::make_unique<MatmulSum>(A, B, n, precision);
}

std::unique_ptr<bench::Peer> least_squares(const double* X, const double* y, const double* w, long m, long p,
                                            bench::Precision precision) {
  return std::make_unique<LeastSquares>(X, y, w, m, p, precision);
}

std::unique_ptr<bench::Peer> mlp(const double* x, const int* labels, const double* W1, const double* b1, const double* W2,
                                 const double* b2, long batch, long in, long hidden, long out,
                                 bench::Precision precision) {
  return std::make_unique<Mlp>(x, labels, W1, b1, W2, b2, batch, in, hidden, out, precision);
}

std::unique_ptr<bench::Peer> tiny_mlp(const double* x, const double* y, const double* W1, const double* b1,
                                      const double* W2, const double* b2, long batch, long in, long hidden,
                                      long out, bench::Precision precision) {
  return std::make_unique<TinyMlp>(x, y, W1, b1, W2, b2, batch, in, hidden, out, precision);
}

}  // namespace torch_peers
