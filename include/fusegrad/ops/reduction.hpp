// SPDX-License-Identifier: MPL-2.0
#pragma once
// The catalogue of reductions (the seeds' `reduce`). Each rule holds its forward
// `evaluate(x, axes, out, broadcast)` next to `partial(x, r, state, broadcast)`, the
// derivative of a reduced value r with respect to each element x that it reduced.
// `broadcast(t)` stretches a tensor of the reduced shape back over x's shape, and
// `broadcast.reduced_count` is how many elements each reduced value covers;
// `backward_state(x, r, axes, broadcast)` computes, once per backward, any reduced
// quantity the partial needs (a count of ties, a count of zeros).
#include <cmath>
#include <limits>

#include "../core/config.hpp"
#include "../core/elementwise.hpp"
#include "../core/pool.hpp"
#include "../core/vector_math.hpp"
#include "markers.hpp"

namespace fusegrad::ops {

struct NoState {};

// x - r stretched over x: a plain scalar subtraction when r is a single value (a full
// reduction), which Eigen vectorises, rather than a broadcast.
template <class X, class R, class B>
auto minus_stretched(const X& x, const R& r, const B& broadcast) {
  if constexpr (R::NumIndices == 0)
    return x - r();
  else
    return x - broadcast(r);
}
template <class X, class R, class B>
auto equals_stretched(const X& x, const R& r, const B& broadcast) {
  if constexpr (R::NumIndices == 0)
    return x == r();
  else
    return x == broadcast(r);
}

// `of_nothing<S>()` is a rule's value over no elements (NumPy's and PyTorch's): a rule
// without it (max, min) has none, and reducing empty slices with it is a shape_error.
template <class S>
S not_a_number() {
  return S(std::numeric_limits<typename real_of<S>::type>::quiet_NaN());
}

struct Sum {
  static constexpr const char* name = "sum";
  template <class S>
  static S of_nothing() { return S(0); }
  template <class X, class A, class Out, class B>
  void evaluate(const X& x, const A& axes, Out& out, const B&) const { out = x.sum(axes); }
  template <class X, class R, class A, class B>
  NoState backward_state(const X&, const R&, const A&, const B&) const { return {}; }
  template <class X, class R, class B>
  One partial(const X&, const R&, NoState, const B&) const { return {}; }
};

struct Mean {
  static constexpr const char* name = "mean";
  template <class S>
  static S of_nothing() { return not_a_number<S>(); }  // 0 / 0
  template <class X, class A, class Out, class B>
  void evaluate(const X& x, const A& axes, Out& out, const B&) const { out = x.mean(axes); }
  template <class X, class R, class A, class B>
  auto backward_state(const X&, const R&, const A&, const B& broadcast) const {
    using S = typename X::Scalar;
    return S(1) / S(broadcast.reduced_count);
  }
  template <class X, class R, class S, class B>
  auto partial(const X& x, const R&, S scale, const B&) const { return x.constant(scale); }
};

// The gradient of a max or min goes to the selected element; ties share it equally.
template <bool Largest>
struct Extremum {
  static constexpr const char* name = Largest ? "max" : "min";
  template <class X, class A, class Out, class B>
  void evaluate(const X& x, const A& axes, Out& out, const B& broadcast) const {
    // NaN propagates, as in NumPy: a slice holding a NaN reduces to NaN.
    if constexpr (Largest)
      out = x.template maximum<A, elementwise::nan_mode<typename X::Scalar>>(axes);
    else
      out = x.template minimum<A, elementwise::nan_mode<typename X::Scalar>>(axes);
    using S = typename X::Scalar;
    if constexpr (is_dual<S>) {
      // Forward mode: the tangent is the mean of the tied elements' tangents, the
      // directional derivative of the reverse rule's shared gradient (the reduction
      // itself keeps one element's), and the value that of the values alone, so that
      // NaN propagates (dual numbers compare by value, which skips NaN).
      using Real = typename real_of<S>::type;
      constexpr int R = Out::NumIndices;
      Shape<R> dims;
      for (int i = 0; i < R; ++i) dims[i] = out.dimension(i);
      pool::Scratch<S, R> tied_sum(dims), ties(dims), values(dims);
      const auto value_of = x.unaryExpr([](const S& d) { return S(d.value); });
      if constexpr (Largest)
        values.tensor = value_of.template maximum<A, Eigen::PropagateNaN>(axes);
      else
        values.tensor = value_of.template minimum<A, Eigen::PropagateNaN>(axes);
      const auto tied = equals_stretched(x, out, broadcast);
      tied_sum.tensor = tied.select(x, x.constant(S(0))).sum(axes);
      ties.tensor = tied.template cast<S>().sum(axes);
      out = values.tensor.binaryExpr(tied_sum.tensor / ties.tensor, [](const S& extremum, const S& mean_of_ties) {
        return S(extremum.value, mean_of_ties.value == mean_of_ties.value ? mean_of_ties.tangent : Real(0));
      });
    }
  }
  template <class X, class R, class A, class B>
  auto backward_state(const X& x, const R& r, const A& axes, const B& broadcast) const {
    using S = typename X::Scalar;
    EigenTensor<S, R::NumIndices> ties = equals_stretched(x, r, broadcast).template cast<S>().sum(axes);
    return ties;
  }
  template <class X, class R, class T, class B>
  auto partial(const X& x, const R& r, const T& ties, const B& broadcast) const {
    using S = typename X::Scalar;
    if constexpr (R::NumIndices == 0)
      return equals_stretched(x, r, broadcast).template cast<S>() / ties();
    else
      return equals_stretched(x, r, broadcast).template cast<S>() / broadcast(ties);
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
  template <class X, class A, class Out, class B>
  void evaluate(const X& x, const A& axes, Out& out, const B&) const { out = x.prod(axes); }
  template <class S, int R>
  struct SpecialState {
    EigenTensor<S, R> specials;          // how many elements of the slice are 0 or infinite
    EigenTensor<S, R> ordinary_product;  // the product of the others
  };
  template <class X>
  static auto special(const X& x) {
    using S = typename X::Scalar;
    const S inf = Eigen::NumTraits<S>::infinity();
    return (x == S(0)) || (x == inf) || (x == -inf);
  }
  template <class X, class R, class A, class B>
  auto backward_state(const X& x, const R&, const A& axes, const B&) const {
    using S = typename X::Scalar;
    SpecialState<S, R::NumIndices> state;
    state.specials = special(x).template cast<S>().sum(axes);
    state.ordinary_product = special(x).select(x.constant(S(1)), x).prod(axes);
    return state;
  }
  template <class X, class R, class T, class B>
  auto partial(const X& x, const R& r, const T& state, const B& broadcast) const {
    using S = typename X::Scalar;
    const auto quotient = broadcast(r) / x;
    return special(x).select((broadcast(state.specials) == S(1))
                                 .select(broadcast(state.ordinary_product), (x == S(0)).select(x.constant(S(0)), quotient)),
                             quotient);
  }
};

// log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m the maximum, so that
// inputs of any magnitude give finite values.
struct LogSumExp {
  static constexpr const char* name = "logsumexp";
  template <class S>
  static S of_nothing() { return S(-std::numeric_limits<typename real_of<S>::type>::infinity()); }  // log 0
  template <class X, class A, class Out, class B>
  void evaluate(const X& x, const A& axes, Out& out, const B& broadcast) const {
    using S = typename X::Scalar;
    Shape<Out::NumIndices> dims;
    for (int i = 0; i < Out::NumIndices; ++i) dims[i] = out.dimension(i);
    pool::Scratch<S, Out::NumIndices> shift_buffer(dims);
    auto& shift = shift_buffer.tensor;
    shift = x.template maximum<A, elementwise::nan_mode<typename X::Scalar>>(axes);
    shift = shift.unaryExpr([](S m) {
      using std::isfinite;
      return isfinite(m) ? m : S(0);
    });
    out = shift + minus_stretched(x, shift, broadcast).unaryExpr(vector_math::exp_op<S>()).sum(axes).log();
  }
  template <class X, class R, class A, class B>
  NoState backward_state(const X&, const R&, const A&, const B&) const { return {}; }
  // d r / d x = exp(x - r). A slice that is -inf everywhere (r = -inf) has no element
  // with mass, and its gradient is 0 rather than exp(-inf + inf) = NaN: it is shifted by
  // +inf instead, which makes every exponential exp(-inf) = 0.
  template <class S>
  static S massless_to_infinity(S r) {
    return r == -Eigen::NumTraits<S>::infinity() ? Eigen::NumTraits<S>::infinity() : r;
  }
  template <class X, class R, class B>
  auto partial(const X& x, const R& r, NoState, const B& broadcast) const {
    using S = typename X::Scalar;
    if constexpr (R::NumIndices == 0)
      return (x - massless_to_infinity(r())).unaryExpr(vector_math::exp_op<S>());
    else
      return (x - broadcast(r.unaryExpr([](S m) { return massless_to_infinity(m); })))
          .unaryExpr(vector_math::exp_op<S>());
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
  struct Reducer {
    S initial;
    Combine combine;
    void reduce(const S element, S* accumulated) const { *accumulated = combine(*accumulated, element); }
    S initialize() const { return initial; }
    S finalize(const S accumulated) const { return accumulated; }
  };
  template <class X, class A, class Out, class B>
  void evaluate(const X& x, const A& axes, Out& out, const B&) const { out = x.reduce(axes, Reducer{initial, combine}); }
  template <class X, class R, class A, class B>
  NoState backward_state(const X&, const R&, const A&, const B&) const { return {}; }
  template <class X, class R, class B>
  auto partial(const X& x, const R& r, NoState, const B& broadcast) const {
    auto fn = partial_function;
    return x.binaryExpr(broadcast(r), [fn](S element, S result) { return fn(element, result); });
  }
};

}  // namespace fusegrad::ops
