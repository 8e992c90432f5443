#pragma once
// libtorch (C++ API) peers for contraction_bench, behind a plain C++ interface so that
// the fusegrad / Eigen translation unit never includes torch headers (compile time,
// macro clashes). Two implementations:
//   torch_peers.cpp       the real one, built when libtorch is found
//   torch_peers_none.cpp  a stub (available() == false, factories return nullptr)
//
// Every factory copies its inputs once into torch tensors (double, contiguous,
// row-major as the caller's buffers); the parameters being differentiated get
// requires_grad. One call() is what a libtorch user writes per step: clear the
// gradients (set to undefined, as optimizer.zero_grad(set_to_none=true)), build the
// loss, backward(), read the loss with item() and touch one element of each gradient.
#include <cstddef>
#include <memory>
#include <string>

namespace torch_peers {

// True when the bench was built against libtorch.
bool available();

// Restricts libtorch to one intra-op and one inter-op thread; returns a one-line
// description (libtorch version, threads, the BLAS library mapped into the process).
// Call once before any other torch_peers function.
std::string setup();

class Peer {
 public:
  virtual ~Peer() = default;
  // One timed call: value and all gradients; returns the value plus one element of
  // each gradient (the caller sinks it so nothing is optimised away).
  virtual double call() = 0;
  // After call(): the loss, and gradient i (in the factory's parameter order) copied
  // row-major into out (as many doubles as the parameter has).
  virtual double value() const = 0;
  virtual void gradient(std::size_t i, double* out) const = 0;
};

// sum(A B), A and B n x n; gradients wrt A, B.
std::unique_ptr<Peer> matmul_sum(const double* A, const double* B, long n);

// ||X w - y||^2, X m x p, y m, w p; gradient wrt w.
std::unique_ptr<Peer> least_squares(const double* X, const double* y, const double* w, long m, long p);

// mean softmax cross-entropy of  tanh(x W1^T + b1) W2^T + b2  against labels;
// x batch x in, W1 hidden x in, b1 hidden, W2 out x hidden, b2 out, labels batch
// (0 <= label < out); gradients wrt W1, b1, W2, b2.
std::unique_ptr<Peer> mlp(const double* x, const int* labels, const double* W1, const double* b1, const double* W2,
                          const double* b2, long batch, long in, long hidden, long out);

}  // namespace torch_peers
