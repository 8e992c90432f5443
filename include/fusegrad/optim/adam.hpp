// SPDX-License-Identifier: MPL-2.0
#pragma once
// Adam and AdamW by the update rules PyTorch documents for torch.optim.Adam and AdamW
// (so that runs compare step by step), at step t:
//   Adam:  g = grad + weight_decay * p          AdamW:  p = p * (1 - lr * weight_decay)
//   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/vector_math.hpp"
#include "optimizer.hpp"

namespace fusegrad::optim {

/// Options of Adam and AdamW, with PyTorch's defaults.
struct AdamOptions {
  double lr = 1e-3;         ///< learning rate
  double beta1 = 0.9;       ///< decay of the first moment
  double beta2 = 0.999;     ///< decay of the second moment
  double eps = 1e-8;        ///< added to the denominator
  double weight_decay = 0;  ///< Adam: added to the gradient; AdamW: decoupled (AdamW::defaults() has 0.01)
};

namespace detail {

template <class S, bool Decoupled>
class AdamFamily : public Optimizer<S> {
 public:
  /// Checks the options (betas in [0, 1), eps and weight decay >= 0).
  AdamFamily(ParameterList<S> parameters, AdamOptions options)
      : Optimizer<S>(std::move(parameters), options.lr), options_(options), moments_(this->parameters_.size()) {
    if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1))
      throw std::invalid_argument("fusegrad: Adam: betas must be in [0, 1)");
    if (!(options.eps >= 0 && options.weight_decay >= 0))
      throw std::invalid_argument("fusegrad: Adam: eps and weight decay must be >= 0");
  }

  /// One update of every parameter that has a gradient.
  void step() {
    const std::uint64_t t = this->steps_ + 1;
    const S lr = S(this->lr_), b1 = S(options_.beta1), b2 = S(options_.beta2), eps = S(options_.eps);
    const S wd = S(options_.weight_decay);
    const S bias1 = S(1) - S(std::pow(options_.beta1, double(t)));
    const S bias2_root = S(std::sqrt(1 - std::pow(options_.beta2, double(t))));
    const S step_size = lr / bias1;
    const S decay = S(1) - lr * wd;
    for (std::size_t k = 0; k < this->parameters_.size(); ++k) {
      Parameter<S>& p = this->parameters_[k];
      const S* g = p.gradient();
      if (!g) continue;
      S* x = p.values();
      const Index n = p.size();
      Moments& state = moments_[k];
      if (state.m.empty()) state.m.assign(std::size_t(n), S(0)), state.v.assign(std::size_t(n), S(0));
      S* m = state.m.data();
      S* v = state.v.data();
      // In blocks that stay in the first-level cache, each statement an Eigen array
      // expression: vectorized, where a loop calling std::sqrt is not (the compiler
      // must keep sqrt's errno for negative inputs, so it emits scalar code). The
      // square root is the correctly rounded instruction (vector_math::sqrt_op; Eigen's
      // float packet sqrt is approximate under EIGEN_FAST_MATH), and the operations are
      // those of the rule above in the same order.
      using Array = Eigen::Array<S, Eigen::Dynamic, 1>;
      constexpr Index block = 512;
      for (Index first = 0; first < n; first += block) {
        const Index count = std::min(block, n - first);
        Eigen::Map<Array> X(x + first, count), M(m + first, count), V(v + first, count);
        const Eigen::Map<const Array> G(g + first, count);
        if constexpr (Decoupled) {
          X *= decay;
          M = b1 * M + (S(1) - b1) * G;
          V = b2 * V + (S(1) - b2) * G * G;
        } else {
          M = b1 * M + (S(1) - b1) * (G + wd * X);
          V = b2 * V + (S(1) - b2) * (G + wd * X) * (G + wd * X);
        }
        X -= step_size * M / (V.unaryExpr(vector_math::sqrt_op<S>()) / bias2_root + eps);
      }
    }
    this->steps_ = t;
  }

  /// Writes the moments, the step count and the learning rate to `path`.
  void save(const std::string& path) const {
    archive::Writer out(path, kind, sizeof(S));
    out.word(std::uint64_t(this->steps_));
    out.word(this->lr_);
    out.word(std::uint64_t(moments_.size()));
    for (const Moments& s : moments_) {
      out.word(std::uint8_t(!s.m.empty()));
      if (!s.m.empty()) out.array(s.m.data(), s.m.size()), out.array(s.v.data(), s.v.size());
    }
    out.commit();
  }
  /// Reads what save wrote; throws file_error and changes nothing if it does not fit.
  void load(const std::string& path) {
    archive::Reader in(path, kind, sizeof(S));
    const auto steps = in.word<std::uint64_t>();
    const auto lr = in.word<double>();
    if (in.word<std::uint64_t>() != moments_.size()) in.fail("it holds state for a different number of parameters");
    std::vector<Moments> state(moments_.size());
    for (std::size_t k = 0; k < moments_.size(); ++k) {
      const auto present = in.word<std::uint8_t>();
      if (present > 1) in.fail("its state is corrupt");
      if (!present) continue;
      const auto n = std::uint64_t(this->parameters_[k].size());
      const std::string what = "the moments of parameter " + std::to_string(k) + " of shape " + this->parameters_[k].shape();
      state[k].m = in.template array<S>(n, what);
      state[k].v = in.template array<S>(n, what);
    }
    in.finish();
    this->steps_ = steps;
    this->lr_ = lr;
    moments_ = std::move(state);
  }

 private:
  static constexpr const char* kind = Decoupled ? "adamw" : "adam";
  struct Moments {
    std::vector<S> m, v;  // empty until the parameter's first step
  };
  AdamOptions options_;
  std::vector<Moments> moments_;
};

}  // namespace detail

/// Adam: `step()` updates every parameter a backward reached; `save`/`load` its state.
template <class S = double>
class Adam : public detail::AdamFamily<S, false> {
 public:
  /// Over leaf tensors of any ranks: `Adam adam({W, b}, {.lr = 1e-3})`.
  Adam(std::initializer_list<Parameter<std::type_identity_t<S>>> parameters, AdamOptions options = {})
      : detail::AdamFamily<S, false>(ParameterList<S>(parameters), options) {}
  /// Over a list of parameters.
  Adam(ParameterList<S> parameters, AdamOptions options = {}) : detail::AdamFamily<S, false>(std::move(parameters), options) {}
};

/// AdamW: Adam with decoupled weight decay (PyTorch's default for it: 0.01).
template <class S = double>
class AdamW : public detail::AdamFamily<S, true> {
 public:
  /// AdamOptions with weight_decay 0.01.
  static AdamOptions defaults() {
    AdamOptions o;
    o.weight_decay = 0.01;
    return o;
  }
  /// Over leaf tensors of any ranks: `AdamW adamw({W, b})`.
  AdamW(std::initializer_list<Parameter<std::type_identity_t<S>>> parameters, AdamOptions options = defaults())
      : detail::AdamFamily<S, true>(ParameterList<S>(parameters), options) {}
  /// Over a list of parameters.
  AdamW(ParameterList<S> parameters, AdamOptions options = defaults())
      : detail::AdamFamily<S, true>(std::move(parameters), options) {}
};

}  // namespace fusegrad::optim
