// SPDX-License-Identifier: MPL-2.0
#pragma once
// fusegrad::Tensor: a handle to a value and its gradient, as torch::Tensor is. Copies
// share both; assigning an expression evaluates it (one fused Eigen evaluation) into a
// new value, rebinds the handle to it and, when a gradient can flow, records the
// statement on the tape.
#include <initializer_list>
#include <random>

#include "../expr/forward_lanes.hpp"
#include "../expr/functions.hpp"
#include "../expr/interop.hpp"
#include "graph.hpp"

namespace fusegrad {

namespace detail {
template <class S, int R>
struct nested_list {
  using type = std::initializer_list<typename nested_list<S, R - 1>::type>;
};
template <class S>
struct nested_list<S, 1> {
  using type = std::initializer_list<S>;
};

template <class S, int R, class List>
void measure(const List& list, Shape<R>& dims, int depth) {
  if constexpr (std::is_same_v<List, std::initializer_list<S>>) {
    dims[depth] = static_cast<Index>(list.size());
  } else {
    dims[depth] = static_cast<Index>(list.size());
    bool first = true;
    for (const auto& inner : list) {
      Shape<R> inner_dims = dims;
      measure<S, R>(inner, inner_dims, depth + 1);
      if (first) {
        dims = inner_dims;
        first = false;
      } else if (inner_dims != dims) {
        throw shape_error("fusegrad: Tensor from nested lists: the lists are not rectangular");
      }
    }
  }
}

template <class S, class List>
void fill_row_major(const List& list, S*& out) {
  if constexpr (std::is_same_v<List, std::initializer_list<S>>) {
    for (S v : list) *out++ = v;
  } else {
    for (const auto& inner : list) fill_row_major<S>(inner, out);
  }
}

// What Tensor<S, R>'s constructors take from one argument; anything else meets a
// static_assert instead of a list of candidates.
template <class S, int R, class T>
concept tensor_accepts = std::is_arithmetic_v<T> || std::is_convertible_v<const T&, S> || EigenDense<T> ||
                         expr::Node<T> || expr::is_tensor<T> || std::is_same_v<T, Shape<R>> ||
                         std::is_convertible_v<const T&, EigenTensor<S, R>> ||
                         std::is_convertible_v<const T&, Eigen::Tensor<S, R, Eigen::ColMajor>> ||
                         std::is_same_v<T, expr::refused>;

inline std::mt19937_64& random_engine() {
  thread_local std::mt19937_64 engine{0x5eed};
  return engine;
}
}  // namespace detail

/// Seeds the generator behind Tensor::random on this thread.
inline void manual_seed(std::uint64_t seed) { detail::random_engine().seed(seed); }

/// A handle to a value (a row-major Eigen::Tensor<S, R>) and its gradient, as torch::Tensor
/// is: copies share both. Assigning an expression evaluates it in one fused pass and records
/// it on the tape when a gradient can flow. S: float, double, long double or fg::Dual of one.
template <class S, int R>
class Tensor {
  static_assert(TensorScalar<S>,
                "fusegrad: a Tensor's scalar type must be float, double, long double or fusegrad::Dual of one");
  static_assert(R >= 0, "fusegrad: a Tensor's rank cannot be negative");

 public:
  /// The element type.
  using Scalar = S;
  /// The number of dimensions.
  static constexpr int rank = R;
  /// The value's and gradient's type: a row-major Eigen::Tensor<S, R>.
  using Value = EigenTensor<S, R>;

  /// Zeros of the given dimensions (a rank-0 Tensor holds one zero).
  template <std::integral... I>
    requires(sizeof...(I) == R)
  explicit Tensor(I... dimensions) : Tensor(Shape<R>{static_cast<Index>(dimensions)...}) {}

  /// Zeros of the given shape. Throws shape_error for a negative dimension.
  explicit Tensor(const Shape<R>& dimensions) {
    check_dimensions(dimensions);
    Value v(dimensions);
    v.setZero();
    bind(std::move(v));
  }

  /// A rank-0 Tensor from a number.
  Tensor(S value)
    requires(R == 0)
  {
    Value v;
    v() = value;
    bind(std::move(v));
  }

  /// A copy of a row-major Eigen tensor.
  Tensor(const Value& value) { bind(Value(value)); }
  /// Takes a row-major Eigen tensor's storage.
  Tensor(Value&& value) { bind(std::move(value)); }
  /// A column-major Eigen tensor is converted so that t(i, j) names the same element.
  Tensor(const Eigen::Tensor<S, R, Eigen::ColMajor>& value) {
    if constexpr (R <= 1) {
      bind(Value(value.swap_layout()));
    } else {
      std::array<Index, R> reverse;
      for (int i = 0; i < R; ++i) reverse[i] = R - 1 - i;
      Value v = value.swap_layout().shuffle(reverse);
      bind(std::move(v));
    }
  }

  /// A copy of a dense Eigen matrix or vector expression (Matrix, Map with any strides,
  /// Block, A * 2, ...) into a rank-1 or rank-2 tensor; element (i, j) stays (i, j).
  template <EigenDense M>
  Tensor(const M& matrix) : Tensor(detail::value_from_dense<S, R>(matrix)) {}

  /// Anything else gets one readable error here, instead of every constructor listed as
  /// a candidate that does not fit.
  template <class T>
    requires(!detail::tensor_accepts<S, R, T>)
  Tensor(const T&) {
    static_assert(sizeof(T) == 0,
                  "fusegrad: a Tensor is built from dimensions, a Shape, nested lists, an Eigen::Tensor, a dense "
                  "Eigen matrix or vector (rank 1 or 2), a fusegrad expression, or (rank 0) a number; this "
                  "argument is none of these");
  }

  /// From nested lists, row-major: Tensor<double, 2>{{1, 2}, {3, 4}}.
  Tensor(typename detail::nested_list<S, (R > 0 ? R : 1)>::type list)
    requires(R > 0)
  {
    Shape<R> dims{};
    detail::measure<S, R>(list, dims, 0);
    Value v(dims);
    S* out = v.data();
    detail::fill_row_major<S>(list, out);
    bind(std::move(v));
  }

  /// Evaluates an expression (one fused Eigen evaluation) and records it on the tape.
  /// (A temporary expression is moved into the tape rather than copied: fewer reference
  /// counts to touch per statement.)
  template <class E>
    requires expr::Node<std::remove_cvref_t<E>>
  Tensor(E&& expression) {
    assign(std::forward<E>(expression));
  }

  /// What an operation returns after refusing its arguments at compile time (a
  /// static_assert saying why): taken without a further error.
  Tensor(expr::refused) {}

  /// A wrong number of dimensions: one readable error instead of every constructor.
  template <std::integral... I>
    requires(sizeof...(I) != R && !(R == 0 && sizeof...(I) == 1))
  explicit Tensor(I...) {
    static_assert(sizeof...(I) == R,
                  "fusegrad: Tensor<S, R>(d0, d1, ...) takes exactly R dimensions, one per rank: this call gives "
                  "another number of them");
  }

  /// Another handle to the same value and gradient.
  Tensor(const Tensor&) = default;
  /// Takes over the handle.
  Tensor(Tensor&&) noexcept = default;
  /// Rebinds this handle to other's value and gradient.
  Tensor& operator=(const Tensor&) = default;
  /// Rebinds this handle, taking over other's.
  Tensor& operator=(Tensor&&) noexcept = default;

  /// Rebinds this handle to the expression's value; other handles keep the old one.
  template <class E>
    requires expr::Node<std::remove_cvref_t<E>>
  Tensor& operator=(E&& expression) {
    assign(std::forward<E>(expression));
    return *this;
  }

  /// Takes a refused operation's result (see Tensor(expr::refused)).
  Tensor& operator=(expr::refused) { return *this; }

  /// Zeros of the given shape.
  static Tensor zeros(const Shape<R>& dims) { return Tensor(dims); }
  /// value everywhere, of the given shape. Throws shape_error for a negative dimension.
  static Tensor constant(const Shape<R>& dims, S value) {
    check_dimensions(dims);
    Value v(dims);
    v.setConstant(value);
    return Tensor(std::move(v));
  }
  /// Ones of the given shape.
  static Tensor ones(const Shape<R>& dims) { return constant(dims, S(1)); }
  /// Uniform in [-1, 1), from the generator seeded by fg::manual_seed.
  static Tensor random(const Shape<R>& dims) {
    check_dimensions(dims);
    Value v(dims);
    using Real = typename real_of<S>::type;
    std::uniform_real_distribution<Real> uniform(Real(-1), Real(1));
    for (Index i = 0; i < v.size(); ++i) v.data()[i] = S(uniform(detail::random_engine()));
    return Tensor(std::move(v));
  }
  /// Zeros of dimensions d...
  template <std::integral... I> requires(sizeof...(I) == R)
  static Tensor zeros(I... d) { return zeros(Shape<R>{static_cast<Index>(d)...}); }
  /// Ones of dimensions d...
  template <std::integral... I> requires(sizeof...(I) == R)
  static Tensor ones(I... d) { return ones(Shape<R>{static_cast<Index>(d)...}); }
  /// Uniform in [-1, 1), of dimensions d...
  template <std::integral... I> requires(sizeof...(I) == R)
  static Tensor random(I... d) { return random(Shape<R>{static_cast<Index>(d)...}); }

  /// The value (row-major; fg::to_matrix or fg::to_col_major copy it into Eigen's default layout).
  const Value& value() const { return *var().value; }
  /// Writable access to the value, for updates outside differentiation (an optimizer
  /// step). Each call counts as a change of the value: a statement recorded before it
  /// that reads this tensor is refused at backward (graph_error) instead of being
  /// differentiated at the new value. Expressions held in `auto` read the value as it is
  /// when they are evaluated.
  Value& mutable_value() {
    Variable<S, R>& v = var();
    ++v.version;
    return *v.value;
  }
  /// The value's elements in row-major order.
  const S* data() const { return var().value->data(); }
  /// The shape, outermost dimension first.
  Shape<R> dimensions() const { return var().dimensions(); }
  /// The size of dimension i.
  Index dimension(int i) const { return var().value->dimension(i); }
  /// The number of elements.
  Index size() const { return var().value->size(); }
  /// The element at (i, j, ...).
  template <std::integral... I> requires(sizeof...(I) == R)
  S operator()(I... index) const { return (*var().value)(static_cast<Index>(index)...); }
  /// The value of a rank-0 tensor.
  S item() const requires(R == 0) { return (*var().value)(); }

  // Switching it between a forward statement and its backward makes that backward a
  // graph_error (the statement was recorded for the other setting).
  /// Makes a leaf take part in differentiation (or not). Throws graph_error on a non-leaf.
  Tensor& requires_grad(bool on) {
    Variable<S, R>& v = var();
    if (on && !v.is_leaf())
      throw graph_error("fusegrad: requires_grad can only be set on a leaf tensor (one no statement produced)");
    if (v.requires_grad != on) ++v.version;
    v.requires_grad = on;
    return *this;
  }
  /// Whether a gradient flows to or through this tensor.
  bool requires_grad() const { return var().tracks(); }
  /// Whether no recorded statement produced this tensor.
  bool is_leaf() const { return var().is_leaf(); }
  // Keeps this intermediate's gradient after backward (leaves always keep theirs).
  /// Keeps this intermediate's gradient after backward (leaves always keep theirs). Throws
  /// graph_error when it does not require a gradient.
  Tensor& retain_grad() {
    if (!var().tracks())
      throw graph_error("fusegrad: retain_grad on a tensor that does not require a gradient");
    variable_->retains_grad = true;
    return *this;
  }

  // d(backward root)/d(this), of this tensor's shape. Its storage stays where it is from
  // one backward to the next while the shape is unchanged, so a view of it (an
  // Eigen::Map kept by an optimizer) stays valid.
  /// The gradient accumulated by backward, of this tensor's shape (zeros before any). Throws
  /// graph_error when it does not require a gradient, or is an intermediate without retain_grad().
  const Value& grad() const {
    Variable<S, R>& v = var();
    if (!v.tracks())
      throw graph_error("fusegrad: grad() of a tensor that does not require a gradient; call requires_grad(true) "
                        "on it before building the computation");
    if (!v.is_leaf()) {
      if (!v.retains_grad)
        throw graph_error("fusegrad: grad() of an intermediate tensor is kept only after retain_grad()");
      if (!v.has_retained) {
        v.retained = Value(v.dimensions());
        v.retained.setZero();
        v.has_retained = true;
      }
      return v.retained;
    }
    if (!v.has_grad) {
      pool::fit(v.grad, v.dimensions());
      v.grad.setZero();
      v.has_grad = true;
    }
    return v.grad;
  }

  /// The accumulated gradient of a leaf, writable (to clip it, or to average it across
  /// processes): zeros when no backward reached the leaf since its last zero_grad(), which
  /// then counts as a gradient. Throws graph_error as grad() does.
  Value& mutable_grad() {
    if (!var().is_leaf()) throw graph_error("fusegrad: mutable_grad() of a tensor that a statement produced; only leaves");
    return const_cast<Value&>(grad());
  }

  /// Whether a backward has given this leaf a gradient since its last zero_grad() (grad()
  /// would then return zeros).
  bool has_grad() const {
    const Variable<S, R>& v = var();
    return v.is_leaf() ? v.has_grad : v.has_retained;
  }

  // The buffer is kept, but not filled: the next backward writes its first
  // contribution over it instead of adding to zeros.
  /// Clears the accumulated gradient.
  void zero_grad() {
    Variable<S, R>& v = var();
    if (v.is_leaf()) v.has_grad = false;
    if (v.has_retained) v.retained.setZero();
  }

  // Reverse pass seeded with ones (1 for a rank-0 tensor).
  /// Reverse pass from this tensor, seeded with ones (1 for rank 0); adds into the inputs' grad().
  /// Throws graph_error when it does not require a gradient or its graph was freed by an
  /// earlier backward (see fg::retain_graph).
  void backward() { backward_seeded(nullptr, false); }
  /// backward(), keeping the graph for another backward.
  void backward(retain_graph_t) { backward_seeded(nullptr, true); }
  /// Reverse pass seeded with grad_out, of this tensor's shape (else shape_error).
  void backward(const Value& grad_out) { backward_seeded(&grad_out, false); }
  /// backward(grad_out), keeping the graph.
  void backward(const Value& grad_out, retain_graph_t) { backward_seeded(&grad_out, true); }
  /// Reverse pass seeded with grad_out's value.
  void backward(const Tensor& grad_out) { backward_seeded(&grad_out.value(), false); }
  /// backward(grad_out), keeping the graph.
  void backward(const Tensor& grad_out, retain_graph_t) { backward_seeded(&grad_out.value(), true); }

  /// The same value, cut from the graph: no gradient flows through it.
  Tensor detach() const {
    Tensor t;
    t.variable_ = make_variable<S, R>(var().value);
    return t;
  }

  /// Records `make(variable)`, a graph node computing this tensor's inputs' gradients from
  /// its own, as what produced this tensor (fg::apply, tape/function.hpp).
  template <class Make>
  void record_producer(Make&& make) {
    Variable<S, R>& v = var();
    v.producer = make(&v);
  }

  /// A tensor of the given shape whose value `fill(value)` writes, its storage reused
  /// from the pool (nodes written like fg::apply's allocate nothing once warm).
  template <class Fill>
  static Tensor filled(const Shape<R>& dims, Fill&& fill) {
    check_dimensions(dims);
    auto value = pool::make_shared_tensor<S, R>(dims);
    fill(*value);
    Tensor t;
    t.variable_ = make_variable<S, R>(std::move(value));
    return t;
  }

  /// This tensor as an expression leaf.
  expr::Leaf<S, R> leaf() const {
    if (!variable_) throw_moved_from();
    return expr::Leaf<S, R>(variable_);
  }

 private:
  Tensor() = default;

  // A moved-from handle points to nothing: every use is a graph_error, never a crash.
  Variable<S, R>& var() const {
    if (!variable_) throw_moved_from();
    return *variable_;
  }

  static void check_dimensions(const Shape<R>& dims) {
    for (Index d : dims)
      if (d < 0) throw shape_error("fusegrad: Tensor dimensions " + format_shape(dims) + " include a negative size");
    checked_element_count(dims, "Tensor");
  }

  void bind(Value&& v) { variable_ = make_variable<S, R>(pool::share(std::move(v))); }

  template <class Expression>
  void assign(Expression&& expression) {
    using E = std::remove_cvref_t<Expression>;
    static_assert(E::rank == R,
                  "fusegrad: the expression's rank differs from the Tensor's rank (reduce or reshape it first)");
    static_assert(E::rank != R || std::is_same_v<typename E::Scalar, S>,
                  "fusegrad: the expression's scalar type differs from the Tensor's (mixing float and double?)");
    if constexpr (E::rank == R && std::is_same_v<typename E::Scalar, S>) assign_checked(std::forward<Expression>(expression));
  }

  template <class Expression>
  void assign_checked(Expression&& expression) {
    using E = std::remove_cvref_t<Expression>;
    expression.prepare();
    auto value = pool::make_shared_tensor<S, R>(expression.dims());
    expr::evaluate_node(expression, *value);
    auto variable = make_variable<S, R>(std::move(value));
    if (grad_enabled() && expression.needs_grad())
      variable->producer = make_graph_node<tape::Statement<S, R, E>>(std::forward<Expression>(expression), variable.get());
    variable_ = std::move(variable);
  }

  void backward_seeded(const Value* grad_out, bool keep_graph) {
    // Held for the whole pass: a user's derivative (fg::apply) may drop the last handle to
    // this tensor, which would free the root and the graph while the pass walks them.
    const std::shared_ptr<Variable<S, R>> keep = variable_;
    Variable<S, R>& v = var();
    if (!v.tracks())
      throw graph_error("fusegrad: backward() on a tensor that does not require a gradient (no input of its "
                        "computation has requires_grad(true))");
    if (grad_out) {
      Shape<R> given;
      for (int i = 0; i < R; ++i) given[i] = grad_out->dimension(i);
      if (given != v.dimensions()) throw_shape_mismatch("backward(grad_out)", v.dimensions(), given);
      v.accumulate(*grad_out);
    } else {
      v.accumulate(v.value->constant(S(1)));
    }
    tape::run_reverse_pass(v, keep_graph);
  }

  std::shared_ptr<Variable<S, R>> variable_;
};

/// Evaluates an expression into a Tensor (recorded on the tape if it needs a gradient).
template <Operand E>
auto eval(const E& expression) {
  using Node = expr::node_of<E>;
  return Tensor<typename Node::Scalar, Node::rank>(expr::as_node(expression));
}

namespace detail {
// A tensor as it is, an expression evaluated.
template <Operand T>
auto as_tensor(const T& operand) {
  if constexpr (expr::is_tensor<T>)
    return operand;
  else
    return eval(operand);
}
}  // namespace detail

/// concat(dim, a, b, ...) and stack(dim, a, b, ...): the operands may be expressions of any
/// kinds (a braced list must hold one type); each is evaluated once, as concat and stack
/// evaluate their operands anyway.
template <Operand First, Operand... Rest>
auto concat(Index dim, const First& first, const Rest&... rest) {
  using T = decltype(detail::as_tensor(first));
  static_assert((std::is_same_v<decltype(detail::as_tensor(rest)), T> && ...),
                "fusegrad: concat: the operands must have one scalar type and one rank");
  return concat({detail::as_tensor(first), detail::as_tensor(rest)...}, dim);
}
/// stack(dim, a, b, ...): operands of one shape, expressions allowed, along a new dimension at dim.
template <Operand First, Operand... Rest>
auto stack(Index dim, const First& first, const Rest&... rest) {
  using T = decltype(detail::as_tensor(first));
  static_assert((std::is_same_v<decltype(detail::as_tensor(rest)), T> && ...),
                "fusegrad: stack: the operands must have one scalar type and one rank");
  return stack({detail::as_tensor(first), detail::as_tensor(rest)...}, dim);
}

}  // namespace fusegrad
