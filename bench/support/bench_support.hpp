#pragma once
// What every benchmark workload shares: verification against the hand-written
// gradient, timing, the allocation counter, and the Case a workload becomes.
//
// A workload is a class template W<T> on the scalar type, double or float (see
// elementwise.cpp, contraction.cpp), whose instances have
//   using Scalar = T;
//   static std::vector<bench::HandSpec<W>> hand_forms();
//                          its hand-written gradients, each `counts` or not (a form that
//                          is not a gradient of the program as written, or not of the
//                          same dynamic-shape program, is timed and listed but is never
//                          "hand"); every form reads the same inputs and writes `value`
//                          and the gradient buffers of params(); the first form is the
//                          reference that everything else is checked against
//   T value;               the value of the last hand-written call
//   std::vector<bench::ParamOf<T>> params();
//                          the differentiated inputs of the hand-written forms: their
//                          storage (perturbed by the central-difference check) and
//                          their gradient buffers
//   double fusegrad_call(); T fusegrad_value(); const T* fusegrad_gradient(i);
//                          one timed fusegrad call; its value and gradient i afterwards
//   std::unique_ptr<bench::Peer> torch, adolc;    null when not built or not timed
//                          (ADOL-C is double-only: null for float)
// and whose inputs are made, in double, by the fixed-seed generator and then converted
// with bench::input<T> (so that the float workload's double twin, below, gets the same
// inputs).
//   optional: double value_scale()   the scale a value's rounding error is relative to
//                                    (sum |terms| for a sum; default |value|)
//             std::string adolc_note why ADOL-C is not timed on this workload
//             static constexpr double kFdStep   relative central-difference step
//                                               (default 1e-4)
//             static constexpr double kGradTolerance   double: for the gradients
//                                               (default kTolerance), with the reason
//             static constexpr double kFloatTolerance  float: the value and gradients
//                                               of every form against the float
//                                               reference (default kFloatTolerance)
//             static constexpr double kFloatReferenceTolerance  float: the float
//                                               reference against the exact gradient
//                                               (default kFloatReferenceTolerance)
//
// Float verification. Central differences in float say little: the value's rounding
// noise (~1e-7 of sum |terms|, ~0.1 absolute at n = 10^6) divided by any step that
// keeps the truncation error small swamps the gradient. So a float workload is checked
// against its double twin, W<double> built on the same inputs (the float values,
// widened): the twin's reference by central differences as in double, then the float
// reference against the twin's (kFloatReferenceTolerance: float's own rounding against
// the exact gradient), then every float form against the float reference
// (kFloatTolerance: two float roundings, e.g. a pairwise sum against a sequential one).
#include "peer.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
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
// Float defaults, for sums of up to 10^6 terms (the value relative to sum |terms|, a
// gradient relative to its largest component). Eigen accumulates a float sum in 32
// lanes (two AVX-512 packets; 16 with AVX2), each a sequential sum of n/32 terms: a
// rounding error of about sqrt(n/32) eps_f ~ 1e-5 (eps_f = 6e-8) at n = 10^6 when the
// terms have one sign, against ~eps_f for libtorch's pairwise sums; a gradient that is
// such a sum, or is divided by one (logsumexp), or a difference of two (normal
// log-density's d/dsigma, about 3x cancellation), inherits it. 1e-4 is ten times that
// estimate (the largest difference seen, with --errors, was 3.4e-6: normal log-density
// n = 10^6, d/dsigma) and still 10^4 times below a wrong term, which is O(1).
constexpr double kFloatTolerance = 1e-4;
// The float reference against its double twin: the same rounding error with one side
// exact, so the same bound (largest seen 2.9e-6, the same d/dsigma).
constexpr double kFloatReferenceTolerance = 1e-4;

// Heap allocations so far in this process (alloc_counter.cpp): operator new and, on
// glibc, malloc/calloc/realloc and the aligned allocators.
long allocation_count();
bool counts_malloc();

// Keeps the compiler from discarding timed work.
inline volatile double sink = 0;

// --errors: print every verified difference and its tolerance (the margins that the
// tolerances were chosen with), not only the failures.
inline bool show_errors = false;

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
void check_value(const std::string& what, double got, double want, double scale, double tolerance = kTolerance);

// A differentiated input of the hand-written forms: its storage and its gradient's.
template <class T>
struct ParamOf {
  std::string name;
  T* value;
  const T* grad;
  Index size;
};
using Param = ParamOf<double>;

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
// The generator itself, so that a float workload's double twin can replay its draws.
std::mt19937_64& generator();

// True while a float workload's double twin is built: its inputs are rounded to float
// as the float workload's are.
bool inputs_in_float();
class InputsInFloat {
 public:
  InputsInFloat();
  ~InputsInFloat();
  InputsInFloat(const InputsInFloat&) = delete;
  InputsInFloat& operator=(const InputsInFloat&) = delete;

 private:
  bool before_;
};

// An input made in double (drawn and scaled exactly as the double workloads always
// were), as a workload of scalar T holds it: unchanged for double, rounded to float for
// float and for a float workload's double twin.
template <class T>
T input(double v) {
  return std::is_same_v<T, float> || inputs_in_float() ? T(float(v)) : T(v);
}
template <class T, class Derived>
auto input(const Eigen::DenseBase<Derived>& e) {
  using Result = typename std::decay_t<decltype(e.derived().template cast<T>())>::PlainObject;
  if (std::is_same_v<T, float> || inputs_in_float())
    return Result(e.derived().template cast<float>().template cast<T>());
  return Result(e.derived().template cast<T>());
}

template <class T>
constexpr Precision precision_of = std::is_same_v<T, float> ? Precision::f32 : Precision::f64;
template <class T>
const char* scalar_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

// A peer factory's double view of a workload's buffer: the buffer itself in double, a
// widened copy in float.
template <class T>
class Widened {
 public:
  Widened(const T* p, Index n) {
    if constexpr (std::is_same_v<T, double>)
      data_ = p;
    else
      copy_.assign(p, p + n), data_ = copy_.data();
  }
  const double* data() const { return data_; }

 private:
  std::vector<double> copy_;
  const double* data_;
};
template <class T>
Widened<T> widened(const T* p, Index n) {
  return Widened<T>(p, n);
}

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
  std::string scalar;   // "double" or "float"
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
    return std::abs(double(w.value));
}

template <class W>
constexpr double fd_step_of() {
  if constexpr (requires { W::kFdStep; })
    return W::kFdStep;
  else
    return 1e-4;
}

// The tolerances of W's checks against its reference form, and of its float reference
// against the double twin (bench_support.hpp's header comment).
template <class W>
constexpr double grad_tolerance_of() {
  if constexpr (std::is_same_v<typename W::Scalar, float>) {
    if constexpr (requires { W::kFloatTolerance; }) return W::kFloatTolerance;
    return kFloatTolerance;
  } else if constexpr (requires { W::kGradTolerance; }) {
    return W::kGradTolerance;
  } else {
    return kTolerance;
  }
}
template <class W>
constexpr double value_tolerance_of() {
  if constexpr (std::is_same_v<typename W::Scalar, float>)
    return grad_tolerance_of<W>();
  else
    return kTolerance;
}
template <class W>
constexpr double float_reference_tolerance_of() {
  if constexpr (requires { W::kFloatReferenceTolerance; })
    return W::kFloatReferenceTolerance;
  else
    return kFloatReferenceTolerance;
}

// The value, its rounding scale and the gradients (widened to double) of a reference
// form's call, and the parameters' names.
struct Result {
  double value, scale;
  std::vector<std::vector<double>> gradients;
  std::vector<std::string> names;
};

// Calls W's reference hand-written form; when `by_differences`, first checks its
// gradient by central differences (double workloads only).
template <class W>
Result reference_result(W& w, const std::string& label, bool by_differences) {
  const HandSpec<W> ref = W::hand_forms().front();
  const auto ref_value = [&] {
    (w.*ref.call)();
    return double(w.value);
  };
  ref_value();
  Result r{0, value_scale_of(w), {}, {}};
  if constexpr (std::is_same_v<typename W::Scalar, double>) {
    if (by_differences)
      check_by_differences(label + " (hand: " + ref.name + ")", w.params(), ref_value, r.scale, fd_step_of<W>());
  }
  r.value = ref_value();
  for (const auto& p : w.params()) {
    r.gradients.emplace_back(p.grad, p.grad + p.size);
    r.names.push_back(p.name);
  }
  return r;
}

// Checks a value and gradients against `want`; gradient_of(i) points at gradient i, of
// any scalar type.
template <class GradientOf>
void check_against(const std::string& what, double value, const Result& want, const GradientOf& gradient_of,
                   double value_tolerance, double grad_tolerance) {
  check_value(what, value, want.value, want.scale, value_tolerance);
  for (std::size_t i = 0; i < want.gradients.size(); ++i) {
    const auto* g = gradient_of(i);
    const std::vector<double> wide(g, g + want.gradients[i].size());
    check_gradient(what + " d/d" + want.names[i], wide.data(), want.gradients[i].data(), Index(wide.size()),
                   grad_tolerance);
  }
}

// Checks every implementation of w against the reference hand-written gradient `ref`
// (already computed from w). Stops the program on a mismatch.
template <class W>
void verify_against_reference(W& w, const std::string& label, const Result& ref) {
  constexpr double value_tol = value_tolerance_of<W>(), grad_tol = grad_tolerance_of<W>();
  const std::vector<HandSpec<W>> forms = W::hand_forms();
  std::vector<ParamOf<typename W::Scalar>> params = w.params();
  for (std::size_t k = 1; k < forms.size(); ++k) {
    (w.*forms[k].call)();
    check_against(label + " (hand: " + forms[k].name + ")", double(w.value), ref,
                  [&](std::size_t i) { return params[i].grad; }, value_tol, grad_tol);
  }
  // Two calls each: the second checks that clearing the previous gradients works.
  w.fusegrad_call();
  w.fusegrad_call();
  check_against(label + " (fusegrad)", double(w.fusegrad_value()), ref,
                [&](std::size_t i) { return w.fusegrad_gradient(i); }, value_tol, grad_tol);
  std::vector<double> buffer;
  for (auto [peer, who] : {std::pair{w.torch.get(), "libtorch"}, std::pair{w.adolc.get(), "ADOL-C"}}) {
    if (!peer) continue;
    peer->call();
    peer->call();
    check_against(label + " (" + who + ")", peer->value(), ref,
                  [&](std::size_t i) {
                    buffer.assign(params[i].size, 0.0);
                    peer->gradient(i, buffer.data());
                    return buffer.data();
                  },
                  value_tol, grad_tol);
  }
}

// A double workload: its reference by central differences, then everything else
// against the reference.
template <class W>
void verify_workload(W& w, const std::string& label) {
  verify_against_reference(w, label, reference_result(w, label, true));
}

// A float workload w, with its double twin (W<double> on the same inputs): the twin's
// reference by central differences, w's reference against the twin's, then everything
// else of w against w's reference.
template <class W, class Twin>
void verify_float_workload(W& w, Twin& twin, const std::string& label) {
  const Result exact = reference_result(twin, label + " (double twin)", true);
  const Result ref = reference_result(w, label, false);
  const double tol = float_reference_tolerance_of<W>();
  check_against(label + " (float reference hand: " + W::hand_forms().front().name + ", against the double twin)",
                ref.value, exact, [&](std::size_t i) { return ref.gradients[i].data(); }, tol, tol);
  verify_against_reference(w, label, ref);
}

// The same workload template in double: W = Tmpl<float> gives Tmpl<double>.
template <class W>
struct double_twin;
template <template <class> class Tmpl, class T>
struct double_twin<Tmpl<T>> {
  using type = Tmpl<double>;
};

template <class W, class... Args>
Case make_case(const std::string& workload, long n, Args&&... args) {
  using T = typename W::Scalar;
  // The name is a CSV field and a gnuplot label, written unquoted.
  if (workload.find_first_of(",\"") != std::string::npos)
    throw std::logic_error("bench: workload name '" + workload + "' holds a comma or a quote");
  // A float workload's twin replays the generator from here (see verify_float_workload).
  const std::mt19937_64 generator_before = generator();
  auto w = std::make_shared<W>(args...);
  Case c;
  c.workload = workload;
  c.n = n;
  c.scalar = scalar_name<T>();
  const std::string label = workload + " n=" + std::to_string(n) + " " + c.scalar;
  if constexpr (std::is_same_v<T, double>) {
    c.verify = [w, label] { verify_workload(*w, label); };
  } else {
    c.verify = [w, label, generator_before, saved = std::tuple<std::decay_t<Args>...>(args...)] {
      const std::mt19937_64 generator_now = generator();
      generator() = generator_before;
      std::unique_ptr<typename double_twin<W>::type> twin;
      {
        InputsInFloat rounded;
        twin = std::apply([](const auto&... a) { return std::make_unique<typename double_twin<W>::type>(a...); },
                          saved);
      }
      generator() = generator_now;
      verify_float_workload(*w, *twin, label);
    };
  }
  for (const HandSpec<W>& h : W::hand_forms())
    c.hand.push_back({h.name, h.counts, [w, call = h.call] { return (w.get()->*call)(); }});
  c.fusegrad = [w] { return w->fusegrad_call(); };
  if (w->torch) c.torch = std::shared_ptr<Peer>(w, w->torch.get());
  if (w->adolc) c.adolc = std::shared_ptr<Peer>(w, w->adolc.get());
  if constexpr (requires { w->adolc_note; }) c.adolc_note = w->adolc_note;
  if (std::is_same_v<T, float>) c.adolc_note = "ADOL-C tapes double only";
  for (const auto& p : w->params()) c.parameters += long(p.size);
  return c;
}

// The workloads, in the order of the README's table (elementwise.cpp, contraction.cpp),
// in double or float.
void add_elementwise_cases(std::vector<Case>& out, Precision precision);
void add_contraction_cases(std::vector<Case>& out, Precision precision);
void add_mixed_cases(std::vector<Case>& out, Precision precision);
void add_tiny_mlp_cases(std::vector<Case>& out, Precision precision);

}  // namespace bench
