// SPDX-License-Identifier: MPL-2.0
#pragma once
// The functions and operators users build expressions with. Each only assembles a
// node; nothing is computed until the expression is assigned to a Tensor.
#include "../ops/binary.hpp"
#include "../ops/reduction.hpp"
#include "../ops/unary.hpp"
#include "cast.hpp"
#include "sweep.hpp"
#include "map.hpp"
#include "materialize.hpp"
#include "reduce.hpp"
#include "zip.hpp"

namespace fusegrad {

namespace expr {

template <class T>
struct scalar_or_void {
  using type = void;
};
template <class T>
  requires Operand<T>
struct scalar_or_void<T> {
  using type = typename node_of<T>::Scalar;
};

// The scalar type of an operation's result: the operands', or the dual one when a plain
// operand meets a dual one.
template <class A, class B>
struct common_scalar {
  using a = typename scalar_or_void<A>::type;
  using b = typename scalar_or_void<B>::type;
  using type = std::conditional_t<std::is_void_v<a>, b, std::conditional_t<std::is_void_v<b>, a, promoted_scalar<a, b>>>;
};

// The values' type of a condition: a mask remembers the type it compared.
template <class Condition>
struct condition_scalar {
  using type = typename Condition::Scalar;
};
template <class Condition>
  requires std::is_same_v<typename Condition::Scalar, bool>
struct condition_scalar<Condition> {
  using type = typename Condition::Value;
};

// A number operand becomes a Constant of the tensor operand's scalar type.
template <class S, class T>
auto to_node(T&& v) {
  if constexpr (Number<T>)
    return Constant<S>(static_cast<S>(v));
  else
    return operand_node(in_scalar<S>(as_node(std::forward<T>(v))));
}

template <class Rule, class X>
auto make_map(Rule rule, X&& x) {
  if constexpr (any_refused<X>) {
    return refused{};
  } else if constexpr (EigenDense<X>) {
    static_assert(always_false<X>, "fusegrad: an Eigen matrix or vector where a fusegrad tensor or expression is expected: use fg::constant(m) (read in place, no gradient) or copy it into a tensor, fg::Tensor<double, 2>(m)");
    return refused{};
  } else {
    return Map<Rule, node_of<X>>(std::move(rule), as_node(std::forward<X>(x)));
  }
}

// Whether a and b hold different real types (float and double), neither of them dual.
template <class A, class B>
inline constexpr bool mixes_precisions = [] {
  using a = typename scalar_or_void<A>::type;
  using b = typename scalar_or_void<B>::type;
  if constexpr (std::is_void_v<a> || std::is_void_v<b>)
    return false;
  else
    return !std::is_same_v<typename real_of<a>::type, typename real_of<b>::type>;
}();

template <class Rule, class A, class B>
auto make_zip(Rule rule, A&& a, B&& b) {
  if constexpr (any_refused<A, B>) {
    return refused{};
  } else if constexpr (EigenDense<A> || EigenDense<B>) {
    static_assert(always_false<A>, "fusegrad: an Eigen matrix or vector where a fusegrad tensor or expression is expected: use fg::constant(m) (read in place, no gradient) or copy it into a tensor, fg::Tensor<double, 2>(m)");
    return refused{};
  } else if constexpr (mixes_precisions<std::remove_cvref_t<A>, std::remove_cvref_t<B>>) {
    static_assert(always_false<A>,
                  "fusegrad: an operation on a float tensor and a double tensor: give both one scalar type (for "
                  "example fg::Tensor<double, R> x(y.value().cast<double>()), a copy through which no gradient "
                  "flows)");
    return refused{};
  } else {
    using S = typename common_scalar<std::remove_cvref_t<A>, std::remove_cvref_t<B>>::type;
    using Left = decltype(to_node<S>(std::declval<const std::remove_cvref_t<A>&>()));
    using Right = decltype(to_node<S>(std::declval<const std::remove_cvref_t<B>&>()));
    return Zip<Rule, Left, Right>(std::move(rule), to_node<S>(std::forward<A>(a)), to_node<S>(std::forward<B>(b)));
  }
}

template <class Rule, class A, class B>
auto make_compare(Rule rule, const A& a, const B& b) {
  using S = typename common_scalar<A, B>::type;
  return Compare<Rule, decltype(to_node<S>(a)), decltype(to_node<S>(b))>(rule, to_node<S>(a), to_node<S>(b));
}

template <class Rule, bool Keep, class X, std::size_t K>
auto make_reduce(Rule rule, X&& x, std::array<Index, K> axes) {
  return Reduce<Rule, node_of<X>, int(K), Keep>(std::move(rule), as_node(std::forward<X>(x)), axes);
}

template <int R>
std::array<Index, R> all_axes() {
  std::array<Index, R> axes;
  for (int i = 0; i < R; ++i) axes[i] = i;
  return axes;
}

// The reduction overloads shared by sum, mean, max, min, prod and logsumexp.
template <class Rule, class X>
auto reduce_all(Rule rule, X&& x) {
  return make_reduce<Rule, false>(std::move(rule), std::forward<X>(x), all_axes<node_of<X>::rank>());
}

}  // namespace expr

// (An Eigen matrix on either side is taken only to be refused with one sentence.)
template <class A, class B>
concept ElementwisePair = (Operand<A> || Operand<B>) && (expr::OperandOrMatrix<A> || Number<A>) &&
                          (expr::OperandOrMatrix<B> || Number<B>);

// Arithmetic, with NumPy broadcasting and numbers on either side.
/// a + b elementwise, broadcast as NumPy does; numbers on either side.
/// Throws fusegrad::shape_error when the shapes do not broadcast.
template <class A, class B> requires ElementwisePair<A, B>
auto operator+(A&& a, B&& b) { return expr::make_zip(ops::Add{}, std::forward<A>(a), std::forward<B>(b)); }
/// a - b elementwise, broadcast; throws shape_error as operator+.
template <class A, class B> requires ElementwisePair<A, B>
auto operator-(A&& a, B&& b) { return expr::make_zip(ops::Subtract{}, std::forward<A>(a), std::forward<B>(b)); }
/// a * b elementwise, broadcast; throws shape_error as operator+.
template <class A, class B> requires ElementwisePair<A, B>
auto operator*(A&& a, B&& b) { return expr::make_zip(ops::Multiply{}, std::forward<A>(a), std::forward<B>(b)); }
/// a / b elementwise, broadcast; throws shape_error as operator+.
template <class A, class B> requires ElementwisePair<A, B>
auto operator/(A&& a, B&& b) { return expr::make_zip(ops::Divide{}, std::forward<A>(a), std::forward<B>(b)); }
/// -x elementwise.
template <Operand X>
auto operator-(X&& x) { return expr::make_map(ops::Negate{}, std::forward<X>(x)); }

/// a^b elementwise, broadcast; b a number or an operand (then d/db = a^b ln a).
template <class A, class B> requires ElementwisePair<A, B>
auto pow(const A& a, const B& b) {
  if constexpr (Number<B>) {
    using S = typename expr::node_of<A>::Scalar;
    return expr::make_map(ops::PowScalar<S>{static_cast<S>(b)}, a);
  } else {
    return expr::make_zip(ops::Pow<typename expr::common_scalar<A, B>::type>{}, a, b);
  }
}
/// The larger of a and b elementwise, broadcast; NaN propagates; a tie sends the gradient to a.
template <class A, class B> requires ElementwisePair<A, B>
auto maximum(const A& a, const B& b) {
  return expr::make_zip(ops::Maximum<typename expr::common_scalar<A, B>::type>{}, a, b);
}
/// The smaller of a and b elementwise, broadcast; NaN propagates; a tie sends the gradient to a.
template <class A, class B> requires ElementwisePair<A, B>
auto minimum(const A& a, const B& b) {
  return expr::make_zip(ops::Minimum<typename expr::common_scalar<A, B>::type>{}, a, b);
}

// Comparisons give masks for `where`; they carry no gradient.
/// Masks a > b, a >= b, a < b, a <= b, a == b, a != b elementwise, broadcast:
/// conditions for fg::where, with no gradient.
template <class A, class B> requires ElementwisePair<A, B>
auto operator>(const A& a, const B& b) { return expr::make_compare(ops::Greater{}, a, b); }
/// Mask a >= b, for fg::where.
template <class A, class B> requires ElementwisePair<A, B>
auto operator>=(const A& a, const B& b) { return expr::make_compare(ops::GreaterEqual{}, a, b); }
/// Mask a < b, for fg::where.
template <class A, class B> requires ElementwisePair<A, B>
auto operator<(const A& a, const B& b) { return expr::make_compare(ops::Less{}, a, b); }
/// Mask a <= b, for fg::where.
template <class A, class B> requires ElementwisePair<A, B>
auto operator<=(const A& a, const B& b) { return expr::make_compare(ops::LessEqual{}, a, b); }
/// Mask a == b, for fg::where.
template <class A, class B> requires ElementwisePair<A, B>
auto operator==(const A& a, const B& b) { return expr::make_compare(ops::Equal{}, a, b); }
/// Mask a != b, for fg::where.
template <class A, class B> requires ElementwisePair<A, B>
auto operator!=(const A& a, const B& b) { return expr::make_compare(ops::NotEqual{}, a, b); }

/// a where condition holds, else b (broadcast); the gradient goes to the branch taken, none to condition.
template <Operand C, class A, class B>
  requires(Operand<A> || Number<A>) && (Operand<B> || Number<B>)
auto where(const C& condition, const A& a, const B& b) {
  using Cn = expr::node_of<C>;
  using S = typename std::conditional_t<Operand<A> || Operand<B>, expr::common_scalar<A, B>,
                                        expr::condition_scalar<Cn>>::type;
  using An = decltype(expr::to_node<S>(a));
  using Bn = decltype(expr::to_node<S>(b));
  return expr::Where<Cn, An, Bn>(expr::as_node(condition), expr::to_node<S>(a), expr::to_node<S>(b));
}

// Elementwise functions.
/// e^x elementwise.
template <expr::OperandOrMatrix X> auto exp(X&& x) { return expr::make_map(ops::Exp{}, std::forward<X>(x)); }
/// ln x elementwise.
template <expr::OperandOrMatrix X> auto log(X&& x) { return expr::make_map(ops::Log{}, std::forward<X>(x)); }
/// sin x elementwise (SLEEF's packets when FUSEGRAD_HAS_SLEEF=1).
template <expr::OperandOrMatrix X> auto sin(X&& x) { return expr::make_map(ops::Sin{}, std::forward<X>(x)); }
/// cos x elementwise (SLEEF's packets when FUSEGRAD_HAS_SLEEF=1).
template <expr::OperandOrMatrix X> auto cos(X&& x) { return expr::make_map(ops::Cos{}, std::forward<X>(x)); }
/// tan x elementwise (SLEEF's packets when FUSEGRAD_HAS_SLEEF=1).
template <expr::OperandOrMatrix X> auto tan(X&& x) { return expr::make_map(ops::Tan{}, std::forward<X>(x)); }
/// tanh x elementwise.
template <expr::OperandOrMatrix X> auto tanh(X&& x) { return expr::make_map(ops::Tanh{}, std::forward<X>(x)); }
/// 1 / (1 + e^-x) elementwise.
template <expr::OperandOrMatrix X> auto sigmoid(X&& x) { return expr::make_map(ops::Sigmoid{}, std::forward<X>(x)); }
/// log(1 + e^x) elementwise, stable for inputs of any magnitude; gradient sigmoid(x).
template <expr::OperandOrMatrix X> auto softplus(X&& x) { return expr::make_map(ops::Softplus{}, std::forward<X>(x)); }
/// log(sigmoid(x)) = -softplus(-x) elementwise, stable; gradient sigmoid(-x).
template <expr::OperandOrMatrix X> auto log_sigmoid(X&& x) { return expr::make_map(ops::LogSigmoid{}, std::forward<X>(x)); }
/// max(x, 0) elementwise; gradient 0 at 0.
template <expr::OperandOrMatrix X> auto relu(X&& x) { return expr::make_map(ops::Relu{}, std::forward<X>(x)); }
/// Square root elementwise.
template <expr::OperandOrMatrix X> auto sqrt(X&& x) { return expr::make_map(ops::Sqrt{}, std::forward<X>(x)); }
/// |x| elementwise; gradient sign(x), 0 at 0.
template <expr::OperandOrMatrix X> auto abs(X&& x) { return expr::make_map(ops::Abs{}, std::forward<X>(x)); }
/// x^2 elementwise.
template <expr::OperandOrMatrix X> auto square(X&& x) { return expr::make_map(ops::Square{}, std::forward<X>(x)); }

/// clamp(x, lo, hi); an infinite bound means no bound on that side.
template <Operand X, Number L, Number H>
auto clamp(const X& x, L lo, H hi) {
  using S = typename expr::node_of<X>::Scalar;
  return expr::make_map(ops::Clamp<S>{static_cast<S>(lo), static_cast<S>(hi)}, x);
}

/// The seeds' generic primitives with user functions on scalars.
/// map(x, f, df): f(x) elementwise, df its derivative.
template <Operand X, class F, class DF>
auto map(const X& x, F f, DF df) {
  using S = typename expr::node_of<X>::Scalar;
  return expr::make_map(ops::UserMap<S, F, DF>{std::move(f), std::move(df)}, x);
}
/// zip(x, y, f, dfdx, dfdy): f(x, y) elementwise with broadcasting, and its partials.
template <class A, class B, class F, class DX, class DY> requires ElementwisePair<A, B>
auto zip(const A& a, const B& b, F f, DX dfdx, DY dfdy) {
  using S = typename expr::common_scalar<A, B>::type;
  return expr::make_zip(ops::UserZip<S, F, DX, DY>{std::move(f), std::move(dfdx), std::move(dfdy)}, a, b);
}

// Reductions: over all dimensions (rank 0), over listed ones, or keeping them as size 1.
template <class Rule, Operand X>
auto reduction(Rule rule, X&& x) {
  return expr::reduce_all(std::move(rule), std::forward<X>(x));
}
template <class Rule, Operand X, int K>
auto reduction(Rule rule, const X& x, expr::Axes<K> axes) {
  return expr::make_reduce<Rule, false>(std::move(rule), x, axes.values);
}
template <class Rule, Operand X, int K>
auto reduction(Rule rule, const X& x, expr::Axes<K> axes, expr::keep_dims_t) {
  return expr::make_reduce<Rule, true>(std::move(rule), x, axes.values);
}
template <class Rule, Operand X>
auto reduction(Rule rule, const X& x, expr::keep_dims_t) {
  return expr::make_reduce<Rule, true>(std::move(rule), x, expr::all_axes<expr::node_of<X>::rank>());
}

/// Sum of x: over every dimension (rank 0), or sum(x, fg::dims(...)) over the listed ones, with a
/// final fg::keep_dims to keep them as size 1. Throws shape_error for a dimension out of range.
template <Operand X, class... Options> auto sum(X&& x, Options... o) { return reduction(ops::Sum{}, std::forward<X>(x), o...); }
/// Mean of x, over dimensions as fg::sum.
template <Operand X, class... Options> auto mean(X&& x, Options... o) { return reduction(ops::Mean{}, std::forward<X>(x), o...); }
/// Largest element of x, over dimensions as fg::sum; ties share the gradient.
template <Operand X, class... Options> auto max(X&& x, Options... o) { return reduction(ops::Max{}, std::forward<X>(x), o...); }
/// Smallest element of x, over dimensions as fg::sum; ties share the gradient.
template <Operand X, class... Options> auto min(X&& x, Options... o) { return reduction(ops::Min{}, std::forward<X>(x), o...); }
/// Product of x, over dimensions as fg::sum; exact gradient also with zeros.
template <Operand X, class... Options> auto prod(X&& x, Options... o) { return reduction(ops::Prod{}, std::forward<X>(x), o...); }
/// log(sum(e^x)), computed stably, over dimensions as fg::sum; gradient softmax(x).
template <Operand X, class... Options>
auto logsumexp(X&& x, Options... o) { return reduction(ops::LogSumExp{}, std::forward<X>(x), o...); }

/// reduce(x, [axes, [keep_dims,]] initial, combine, partial): a user reduction where
/// combine(accumulated, element) folds and partial(element, result) = d result / d element.
template <Operand X, class... Arguments>
auto reduce(const X& x, Arguments... arguments) {
  using S = typename expr::node_of<X>::Scalar;
  auto all = std::make_tuple(arguments...);
  constexpr std::size_t n = sizeof...(Arguments);
  static_assert(n >= 3, "fusegrad: reduce(x, [axes, [keep_dims,]] initial, combine, partial)");
  auto rule_from = [](auto initial, auto combine, auto partial) {
    return ops::UserReduce<S, decltype(combine), decltype(partial)>{static_cast<S>(initial), combine, partial};
  };
  auto rule = rule_from(std::get<n - 3>(all), std::get<n - 2>(all), std::get<n - 1>(all));
  if constexpr (n == 3)
    return reduction(rule, x);
  else if constexpr (n == 4)
    return reduction(rule, x, std::get<0>(all));
  else
    return reduction(rule, x, std::get<0>(all), std::get<1>(all));
}

}  // namespace fusegrad
