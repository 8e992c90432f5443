// SPDX-License-Identifier: MPL-2.0
#pragma once
// The catalogue of reductions (the seeds' `reduce`). Each rule holds its forward
// `evaluate(x, plan, r)` next to its derivative: `gradient(x, r, upstream, plan, dx, add)`
// writes (or, with add, adds to dx) upstream * d r / d x for every element x, or, where that derivative is the
// same for every element (sum, mean), `uniform_partial(plan)` gives it. x, r, upstream
// and dx are contiguous row-major arrays, walked as `plan` says (core/reduction_plan.hpp):
// the loops are compiled once per rule and scalar type, whatever expression was reduced.
#include <cmath>
#include <limits>

#include "../core/config.hpp"
#include "../core/dual.hpp"
#include "../core/pool.hpp"
#include "../core/reduction_plan.hpp"
#include "../core/vector_math.hpp"
#include "markers.hpp"

namespace fusegrad::ops {

using reducing::for_each_element;
using reducing::for_each_run;
using reducing::Plan;
using reducing::run_of;

// `of_nothing<S>()` is a rule's value over no elements (NumPy's and PyTorch's): a rule
// without it (max, min) has none, and reducing empty slices with it is a shape_error.
template <class S>
S not_a_number() {
  return S(std::numeric_limits<typename real_of<S>::type>::quiet_NaN());
}
template <class S>
S infinity() {
  return S(std::numeric_limits<typename real_of<S>::type>::infinity());
}

// A reduced tensor of scratch: one value per result.
template <class S>
using Reduced = pool::Scratch<S, 1>;

struct Sum {
  static constexpr const char* name = "sum";
  template <class S>
  static S of_nothing() { return S(0); }
  template <class S>
  void evaluate(const S* x, const Plan& p, S* r) const {
    run_of(r, p.result_count).setZero();
    for_each_run(p, [&](Index i, Index o, Index n) {
      if (p.inner_reduced)
        r[o] += run_of(x + i, n).sum();
      else
        run_of(r + o, n) += run_of(x + i, n);
    });
  }
  template <class S>
  One uniform_partial(const Plan&) const { return {}; }
};

struct Mean {
  static constexpr const char* name = "mean";
  template <class S>
  static S of_nothing() { return not_a_number<S>(); }  // 0 / 0
  template <class S>
  void evaluate(const S* x, const Plan& p, S* r) const {
    Sum{}.evaluate(x, p, r);
    run_of(r, p.result_count) /= S(p.reduced_count);
  }
  template <class S>
  S uniform_partial(const Plan& p) const { return S(1) / S(p.reduced_count); }
};

// The gradient of a max or min goes to the selected element; ties share it equally.
template <bool Largest>
struct Extremum {
  static constexpr const char* name = Largest ? "max" : "min";
  // NaN propagates, as in NumPy: a slice holding a NaN reduces to NaN. Dual numbers are
  // compared by value.
  template <class S>
  static bool replaces(const S& candidate, const S& current) {
    const auto c = value_part(candidate), m = value_part(current);
    return m == m && (c != c || (Largest ? c > m : c < m));
  }
  template <class S>
  static void select(const S* x, const Plan& p, S* r) {
    run_of(r, p.result_count).setConstant(Largest ? -infinity<S>() : infinity<S>());
    if constexpr (std::is_floating_point_v<S>) {
      // Eigen's SIMD extremum, which propagates NaN.
      for_each_run(p, [&](Index i, Index o, Index n) {
        if (p.inner_reduced) {
          const S best = Largest ? run_of(x + i, n).template maxCoeff<Eigen::PropagateNaN>()
                                 : run_of(x + i, n).template minCoeff<Eigen::PropagateNaN>();
          if (replaces(best, r[o])) r[o] = best;
        } else if constexpr (Largest) {
          run_of(r + o, n) = run_of(r + o, n).binaryExpr(run_of(x + i, n), Eigen::internal::scalar_max_op<S, S, Eigen::PropagateNaN>());
        } else {
          run_of(r + o, n) = run_of(r + o, n).binaryExpr(run_of(x + i, n), Eigen::internal::scalar_min_op<S, S, Eigen::PropagateNaN>());
        }
      });
      return;
    }
    for_each_element(p, [&](Index i, Index o) {
      if (replaces(x[i], r[o])) r[o] = x[i];
    });
  }
  // How many elements of each slice equal its result.
  template <class S, class Tied>
  static void visit_ties(const S* x, const S* r, const Plan& p, Tied&& tied) {
    for_each_element(p, [&](Index i, Index o) {
      if (x[i] == r[o]) tied(i, o);
    });
  }
  template <class S>
  void evaluate(const S* x, const Plan& p, S* r) const {
    select(x, p, r);
    if constexpr (is_dual<S>) {
      // Forward mode: the tangent is the mean of the tied elements' tangents, the
      // directional derivative of the reverse rule's shared gradient (the selection keeps
      // one element's); a NaN result, tied with nothing, gets 0.
      using Real = typename real_of<S>::type;
      Reduced<Real> tangent_sum(Shape<1>{p.result_count}), ties(Shape<1>{p.result_count});
      tangent_sum.tensor.setZero();
      ties.tensor.setZero();
      visit_ties(x, r, p, [&](Index i, Index o) { tangent_sum.tensor(o) += x[i].tangent, ties.tensor(o) += 1; });
      for (Index o = 0; o < p.result_count; ++o)
        r[o].tangent = ties.tensor(o) > 0 ? tangent_sum.tensor(o) / ties.tensor(o) : Real(0);
    }
  }
  // d r / d x = (x == r) / ties: a slice reduced to NaN (no ties) gives 0 / 0 everywhere.
  template <class S>
  void gradient(const S* x, const S* r, const S* upstream, const Plan& p, S* dx, bool add) const {
    Reduced<S> ties(Shape<1>{p.result_count});
    ties.tensor.setZero();
    visit_ties(x, r, p, [&](Index, Index o) { ties.tensor(o) += S(1); });
    for_each_element(p, [&](Index i, Index o) {
      const S d = upstream[o] * (S(x[i] == r[o] ? 1 : 0) / ties.tensor(o));
      dx[i] = add ? dx[i] + d : d;
    });
  }
};
using Max = Extremum<true>;
using Min = Extremum<false>;

// d prod / d x_i is the product of the other elements, r / x_i, except where x_i is 0
// or infinite (0/0, inf/inf): the only such element of a slice gets the product of the
// others; with more, a zero gets 0 (another zero is among its others) and an infinity
// r / x_i.
struct Prod {
  static constexpr const char* name = "prod";
  template <class S>
  static S of_nothing() { return S(1); }
  template <class S>
  void evaluate(const S* x, const Plan& p, S* r) const {
    run_of(r, p.result_count).setConstant(S(1));
    for_each_run(p, [&](Index i, Index o, Index n) {
      if (p.inner_reduced)
        r[o] *= run_of(x + i, n).prod();
      else
        run_of(r + o, n) *= run_of(x + i, n);
    });
  }
  template <class S>
  static bool special(const S& x) {
    return x == S(0) || x == infinity<S>() || x == -infinity<S>();
  }
  template <class S>
  void gradient(const S* x, const S* r, const S* upstream, const Plan& p, S* dx, bool add) const {
    // Per slice: how many elements are 0 or infinite, and the product of the others.
    Reduced<S> specials(Shape<1>{p.result_count}), ordinary_product(Shape<1>{p.result_count});
    specials.tensor.setZero();
    ordinary_product.tensor.setConstant(S(1));
    for_each_element(p, [&](Index i, Index o) {
      if (special(x[i]))
        specials.tensor(o) += S(1);
      else
        ordinary_product.tensor(o) *= x[i];
    });
    for_each_element(p, [&](Index i, Index o) {
      const S quotient = r[o] / x[i];
      const S partial = !special(x[i])               ? quotient
                        : specials.tensor(o) == S(1) ? ordinary_product.tensor(o)
                        : x[i] == S(0)               ? S(0)
                                                     : quotient;
      const S d = upstream[o] * partial;
      dx[i] = add ? dx[i] + d : d;
    });
  }
};

// log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m the maximum, so that
// inputs of any magnitude give finite values.
struct LogSumExp {
  static constexpr const char* name = "logsumexp";
  template <class S>
  static S of_nothing() { return -infinity<S>(); }  // log 0
  template <class S>
  void evaluate(const S* x, const Plan& p, S* r) const {
    Reduced<S> shift_buffer(Shape<1>{p.result_count});
    S* shift = shift_buffer.tensor.data();
    Max::select(x, p, shift);
    for (Index o = 0; o < p.result_count; ++o) {
      using std::isfinite;
      if (!isfinite(shift[o])) shift[o] = S(0);
    }
    run_of(r, p.result_count).setZero();  // the sums of exponentials, first
    const vector_math::exp_op<S> exp;
    for_each_run(p, [&](Index i, Index o, Index n) {
      if (p.inner_reduced)
        r[o] += (run_of(x + i, n) - shift[o]).unaryExpr(exp).sum();
      else
        run_of(r + o, n) += (run_of(x + i, n) - run_of(shift + o, n)).unaryExpr(exp);
    });
    for (Index o = 0; o < p.result_count; ++o) {
      using std::log;
      r[o] = shift[o] + log(r[o]);
    }
  }
  // d r / d x = exp(x - r). A slice that is -inf everywhere (r = -inf) has no element
  // with mass, and its gradient is 0 rather than exp(-inf + inf) = NaN: it is shifted by
  // +inf instead, which makes every exponential exp(-inf) = 0.
  template <class S>
  static S massless_to_infinity(S r) {
    return r == -infinity<S>() ? infinity<S>() : r;
  }
  template <class S>
  void gradient(const S* x, const S* r, const S* upstream, const Plan& p, S* dx, bool add) const {
    Reduced<S> shift_buffer(Shape<1>{p.result_count});
    S* shift = shift_buffer.tensor.data();
    for (Index o = 0; o < p.result_count; ++o) shift[o] = massless_to_infinity(r[o]);
    const vector_math::exp_op<S> exp;
    const auto write = [add](auto&& to, const auto& d) {
      if (add)
        to += d;
      else
        to = d;
    };
    for_each_run(p, [&](Index i, Index o, Index n) {
      if (p.inner_reduced)
        write(run_of(dx + i, n), upstream[o] * (run_of(x + i, n) - shift[o]).unaryExpr(exp));
      else
        write(run_of(dx + i, n), run_of(upstream + o, n) * (run_of(x + i, n) - run_of(shift + o, n)).unaryExpr(exp));
    });
  }
};

// A user's reduction: fg::reduce(x, axes, init, combine, partial) where
// combine(accumulated, element) folds and partial(element, result) is d result / d element.
template <class S, class Combine, class Partial>
struct UserReduce {
  static constexpr const char* name = "reduce";
  S initial;
  template <class T>
  T of_nothing() const { return initial; }
  Combine combine;
  Partial partial_function;
  template <class T>
  void evaluate(const T* x, const Plan& p, T* r) const {
    run_of(r, p.result_count).setConstant(initial);
    for_each_element(p, [&](Index i, Index o) { r[o] = combine(r[o], x[i]); });
  }
  template <class T>
  void gradient(const T* x, const T* r, const T* upstream, const Plan& p, T* dx, bool add) const {
    for_each_element(p, [&](Index i, Index o) {
      const T d = upstream[o] * T(partial_function(x[i], r[o]));
      dx[i] = add ? dx[i] + d : d;
    });
  }
};

}  // namespace fusegrad::ops
