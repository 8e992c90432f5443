// SPDX-License-Identifier: MPL-2.0
#pragma once
// Stochastic gradient descent with momentum, Nesterov momentum and weight decay, by the
// update rule PyTorch documents for torch.optim.SGD (so that runs compare step by step):
//   g = grad + weight_decay * p
//   b = g at the first step, else momentum * b + (1 - dampening) * g   (momentum != 0)
//   g = nesterov ? g + momentum * b : b                                  (momentum != 0)
//   p = p - lr * g
#include <vector>

#include "optimizer.hpp"

namespace fusegrad::optim {

/// Options of SGD, with PyTorch's defaults.
struct SGDOptions {
  double lr = 1e-3;          ///< learning rate
  double momentum = 0;       ///< momentum factor (0: none)
  double dampening = 0;      ///< dampening of the momentum
  double weight_decay = 0;   ///< L2 penalty added to the gradient
  bool nesterov = false;     ///< Nesterov momentum (needs momentum > 0, dampening 0)
};

/// Stochastic gradient descent: `step()` updates every parameter a backward reached.
template <class S = double>
class SGD : public Optimizer<S> {
 public:
  /// Over leaf tensors of any ranks: `SGD sgd({W, b}, {.lr = 0.1, .momentum = 0.9})`.
  SGD(std::initializer_list<Parameter<std::type_identity_t<S>>> parameters, SGDOptions options = {})
      : SGD(ParameterList<S>(parameters), options) {}
  /// Over a list of parameters; throws std::invalid_argument on inconsistent options.
  SGD(ParameterList<S> parameters, SGDOptions options = {})
      : Optimizer<S>(std::move(parameters), options.lr), options_(options), momentum_(this->parameters_.size()) {
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
      throw std::invalid_argument("fusegrad: SGD: Nesterov momentum needs momentum > 0 and dampening 0");
    if (options.momentum < 0 || options.weight_decay < 0)
      throw std::invalid_argument("fusegrad: SGD: momentum and weight decay must be >= 0");
  }

  /// One update of every parameter that has a gradient.
  void step() {
    const S lr = S(this->lr_), mu = S(options_.momentum), wd = S(options_.weight_decay);
    const S keep = S(1) - S(options_.dampening);
    for (std::size_t k = 0; k < this->parameters_.size(); ++k) {
      Parameter<S>& p = this->parameters_[k];
      const S* g = p.gradient();
      if (!g) continue;
      S* x = p.values();
      const Index n = p.size();
      if (mu == S(0)) {
        for (Index i = 0; i < n; ++i) x[i] -= lr * (g[i] + wd * x[i]);
        continue;
      }
      std::vector<S>& b = momentum_[k];
      const bool first = b.empty();
      if (first) b.resize(std::size_t(n));
      S* buffer = b.data();
      for (Index i = 0; i < n; ++i) {
        const S d = g[i] + wd * x[i];
        const S m = first ? d : mu * buffer[i] + keep * d;
        buffer[i] = m;
        x[i] -= lr * (options_.nesterov ? d + mu * m : m);
      }
    }
    ++this->steps_;
  }

  /// Writes the momentum buffers, the step count and the learning rate to `path`.
  void save(const std::string& path) const {
    archive::Writer out(path, "sgd", sizeof(S));
    out.word(std::uint64_t(this->steps_));
    out.word(this->lr_);
    out.word(std::uint64_t(momentum_.size()));
    for (const std::vector<S>& b : momentum_) {
      out.word(std::uint8_t(!b.empty()));
      if (!b.empty()) out.array(b.data(), b.size());
    }
    out.commit();
  }
  /// Reads what save wrote; throws file_error and changes nothing if it does not fit.
  void load(const std::string& path) {
    archive::Reader in(path, "sgd", sizeof(S));
    const auto steps = in.word<std::uint64_t>();
    const auto lr = in.word<double>();
    if (in.word<std::uint64_t>() != momentum_.size()) in.fail("it holds state for a different number of parameters");
    std::vector<std::vector<S>> state;
    for (std::size_t k = 0; k < momentum_.size(); ++k) {
      const auto present = in.word<std::uint8_t>();
      if (present > 1) in.fail("its state is corrupt");
      state.push_back(present ? in.template array<S>(std::uint64_t(this->parameters_[k].size()),
                                                    "the momentum of parameter " + std::to_string(k) + " of shape " +
                                                        this->parameters_[k].shape())
                              : std::vector<S>());
    }
    in.finish();
    this->steps_ = steps;
    this->lr_ = lr;
    momentum_ = std::move(state);
  }

 private:
  SGDOptions options_;
  std::vector<std::vector<S>> momentum_;  // empty until the parameter's first step
};

}  // namespace fusegrad::optim
