#pragma once
// What every benchmark workload shares: verification against the hand-written
// gradient, timing, the allocation counter, and the Case a workload becomes.
//
// A workload is a struct W (see elementwise.cpp, contraction.cpp) with
//   static std::vector<bench::HandSpec<W>> hand_forms();
//                          its hand-written gradients, each `counts` or not (a form that
//                          is not a gradient of the program as written, or not of the
//                          same dynamic-shape program, is timed and listed but is never
//                          "hand"); every form reads the same inputs and writes `value`
//                          and the gradient buffers of params(); the first form is the
//                          reference that everything else is checked against
//   double value;          the value of the last hand-written call
//   std::vector<bench::Param> params();
//                          the differentiated inputs of the hand-written forms: their
//                          storage (perturbed by the central-difference check) and
//                          their gradient buffers
//   double fusegrad_call(); double fusegrad_value(); const double* fusegrad_gradient(i);
//                          one timed fusegrad call; its value and gradient i afterwards
//   std::unique_ptr<bench::Peer> torch, adolc;    null when not built or not timed
//   optional: double value_scale()   the scale a value's rounding error is relative to
//                                    (sum |terms| for a sum; default |value|)
//             std::string adolc_note why ADOL-C is not timed on this workload
//             static constexpr double kFdStep   relative central-difference step
//                                               (default 1e-4)
//             static constexpr double kGradTolerance   for the gradients (default
//                                               kTolerance), with the reason
#include "peer.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bench {

using Index = Eigen::Index;

// Peers (and every other hand-written form) against the reference hand-written
// gradient: max |difference| / max |reference| per gradient, |difference| / scale for
// the value.
constexpr double kTolerance = 1e-9;
// The reference hand-written gradient against central differences (relative to the
// gradient's largest component, plus the value's rounding noise divided by the step).
constexpr double kFdTolerance = 1e-5;

// Heap allocations so far in this process (alloc_counter.cpp): operator new and, on
// glibc, malloc/calloc/realloc and the aligned allocators.
long allocation_count();
bool counts_malloc();

// Keeps the compiler from discarding timed work.
inline volatile double sink = 0;

[[noreturn]] void fail(const std::string& message);

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

// max_i |a_i - b_i| / max_i |b_i| (an elementwise relative error is meaningless where a
// component is near zero).
double relative_difference(const double* a, const double* b, Index n);
void check_gradient(const std::string& what, const double* got, const double* want, Index n,
                    double tolerance = kTolerance);
// |got - want| / scale; scale is sum |terms| for a sum (its rounding error is relative to
// that, not to the sum).
void check_value(const std::string& what, double got, double want, double scale);

// A differentiated input of the hand-written forms: its storage and its gradient's.
struct Param {
  std::string name;
  double* value;
  const double* grad;
  Index size;
};

// Central differences on components 0, size/2 and size-1 of every parameter, against the
// gradient the last call left in params. `value` recomputes the value from the current
// inputs; `value_scale` is the value's rounding scale; the step is step * max(1, |x|).
void check_by_differences(const std::string& label, const std::vector<Param>& params,
                          const std::function<double()>& value, double value_scale, double step);

// ---------------------------------------------------------------------------
// Inputs: one fixed-seed generator for all workloads
// ---------------------------------------------------------------------------
void fill_uniform(double* p, Index n, double lo, double hi);
int uniform_int(int lo, int hi);

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------
//
// Each function is called in batches (enough calls that a sample takes at least ~1 ms);
// samples of a case's implementations alternate so that all see the same machine load;
// an implementation is sampled until it has 21 samples and 0.2 s in total (or, for slow
// ones, 7 samples and 1.5 s). The result is the median over samples of the per-call time.
std::vector<double> measure(const std::vector<std::function<double()>>& fs);

// Heap allocations per call of f, counted over a few calls after warm-up.
double allocations_per_call(const std::function<double()>& f);

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

template <class W>
struct HandSpec {
  std::string name;
  bool counts;
  double (W::*call)();
};

struct HandForm {
  std::string name;
  bool counts;
  std::function<double()> call;
};

// A workload at one size, type-erased: its verification and its timed calls. A null
// peer was not built or is not timed on this workload ("n/a"; adolc_note says why).
struct Case {
  std::string workload;
  long n = 0;
  long parameters = 0;  // the number of differentiated scalars
  std::function<void()> verify;
  std::vector<HandForm> hand;
  std::function<double()> fusegrad;
  std::shared_ptr<Peer> torch, adolc;  // share ownership of the workload
  std::string adolc_note;
};

// The workloads selected on the command line (all by default); set by main.
bool selected(const std::string& workload);

template <class W>
double value_scale_of(W& w) {
  if constexpr (requires { w.value_scale(); })
    return w.value_scale();
  else
    return std::abs(w.value);
}

template <class W>
constexpr double fd_step_of() {
  if constexpr (requires { W::kFdStep; })
    return W::kFdStep;
  else
    return 1e-4;
}

template <class W>
constexpr double grad_tolerance_of() {
  if constexpr (requires { W::kGradTolerance; })
    return W::kGradTolerance;
  else
    return kTolerance;
}

// Checks every implementation of w against the reference hand-written gradient (which
// is first checked by central differences). Stops the program on a mismatch.
template <class W>
void verify_workload(W& w, const std::string& label) {
  const std::vector<HandSpec<W>> forms = W::hand_forms();
  const HandSpec<W>& ref = forms.front();
  const auto ref_value = [&] {
    (w.*ref.call)();
    return w.value;
  };
  ref_value();
  const double scale = value_scale_of(w);
  check_by_differences(label + " (hand: " + ref.name + ")", w.params(), ref_value, scale, fd_step_of<W>());
  ref_value();
  const double v = w.value;
  const std::vector<Param> params = w.params();
  std::vector<std::vector<double>> g;
  for (const Param& p : params) g.emplace_back(p.grad, p.grad + p.size);

  const auto check_all = [&](const std::string& who, double value, const auto& gradient_of) {
    check_value(label + " (" + who + ")", value, v, scale);
    for (std::size_t i = 0; i < params.size(); ++i)
      check_gradient(label + " (" + who + ") d/d" + params[i].name, gradient_of(i), g[i].data(), params[i].size,
                     grad_tolerance_of<W>());
  };
  for (std::size_t k = 1; k < forms.size(); ++k) {
    (w.*forms[k].call)();
    check_all("hand: " + forms[k].name, w.value, [&](std::size_t i) { return params[i].grad; });
  }
  // Two calls each: the second checks that clearing the previous gradients works.
  w.fusegrad_call();
  w.fusegrad_call();
  check_all("fusegrad", w.fusegrad_value(), [&](std::size_t i) { return w.fusegrad_gradient(i); });
  std::vector<double> buffer;
  for (auto [peer, who] : {std::pair{w.torch.get(), "libtorch"}, std::pair{w.adolc.get(), "ADOL-C"}}) {
    if (!peer) continue;
    peer->call();
    peer->call();
    check_all(who, peer->value(), [&](std::size_t i) {
      buffer.assign(params[i].size, 0.0);
      peer->gradient(i, buffer.data());
      return buffer.data();
    });
  }
}

template <class W, class... Args>
Case make_case(const std::string& workload, long n, Args&&... args) {
  auto w = std::make_shared<W>(std::forward<Args>(args)...);
  Case c;
  c.workload = workload;
  c.n = n;
  c.verify = [w, label = workload + " n=" + std::to_string(n)] { verify_workload(*w, label); };
  for (const HandSpec<W>& h : W::hand_forms())
    c.hand.push_back({h.name, h.counts, [w, call = h.call] { return (w.get()->*call)(); }});
  c.fusegrad = [w] { return w->fusegrad_call(); };
  if (w->torch) c.torch = std::shared_ptr<Peer>(w, w->torch.get());
  if (w->adolc) c.adolc = std::shared_ptr<Peer>(w, w->adolc.get());
  if constexpr (requires { w->adolc_note; }) c.adolc_note = w->adolc_note;
  for (const Param& p : w->params()) c.parameters += long(p.size);
  return c;
}

// The workloads, in the order of the README's table (elementwise.cpp, contraction.cpp).
void add_elementwise_cases(std::vector<Case>& out);
void add_contraction_cases(std::vector<Case>& out);
void add_mixed_cases(std::vector<Case>& out);
void add_tiny_mlp_cases(std::vector<Case>& out);

}  // namespace bench
