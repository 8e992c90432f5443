// SPDX-License-Identifier: MPL-2.0
#pragma once
// Contractions (tensordot, matmul, dot, outer): nodes that bound fused regions. Their
// operands are evaluated once (a leaf's value is used in place). Every contraction is
// one matrix product on Eigen's matrix kernels (expr/matrix_product.hpp), and so are
// both adjoints:
//   C = A' B'   =>   dA' = G B'^T,  dB' = A'^T G,
// with A' and B' the operands laid out as matrices (free dimensions, contracted ones).
// For matmul, dot and outer the layouts are the operands' own storage, transposed
// operands included: nothing is copied. A tensordot whose dimensions are not in order
// copies an operand into order, and its gradient back.
#include <algorithm>
#include <memory>
#include <string>

#include "functions.hpp"
#include "layout.hpp"
#include "matrix_product.hpp"

namespace fusegrad::expr {

namespace detail {

template <class Child>
inline constexpr bool is_leaf = false;
template <class S, int R>
inline constexpr bool is_leaf<Leaf<S, R>> = true;

// An operand's value as a tensor: a leaf's own storage, or its expression evaluated.
template <class Child>
struct EvaluatedOperand {
  using S = typename Child::Scalar;
  static constexpr int rank = Child::rank;
  Child node;
  std::shared_ptr<EigenTensor<S, rank>> cache;

  explicit EvaluatedOperand(Child c) : node(std::move(c)) {
    if constexpr (!is_leaf<Child>) cache = pool::make_cache<S, rank>();
  }
  void prepare() const {
    node.prepare();
    if constexpr (!is_leaf<Child>) {
      pool::fit(*cache, node.dims());
      evaluate_into(*cache, node.forward());
    }
  }
  const EigenTensor<S, rank>& value() const {
    if constexpr (is_leaf<Child>)
      return *node.variable->value;
    else
      return *cache;
  }
  // Gives the operand a gradient produced by `write(buffer, add)`: into a leaf's
  // gradient buffer directly, or into a tensor passed on to the expression below.
  template <class Write>
  void backward_in_place(Write&& write) const {
    if constexpr (is_leaf<Child>) {
      if (node.variable->tracks()) node.variable->accumulate_in_place(write);
    } else {
      pool::Recycled<S, rank> evaluated(node.dims());
      write(evaluated.tensor, false);
      node.backward(evaluated.tensor);
    }
  }
  // Gives the operand its gradient: a leaf evaluates the contraction straight into its
  // gradient buffer; an expression below gets it evaluated once.
  template <class E>
  void backward(const E& contribution) const {
    if constexpr (is_leaf<Child>) {
      node.backward(contribution);
    } else {
      pool::Recycled<S, rank> evaluated(node.dims());
      evaluate_into(evaluated.tensor, contribution);
      node.backward(evaluated.tensor);
    }
  }
};

// An upstream gradient that is one value everywhere, as a full sum passes down.
template <class G>
inline constexpr bool is_uniform = false;
template <class S, class Shape>
inline constexpr bool is_uniform<Eigen::TensorCwiseNullaryOp<Eigen::internal::scalar_constant_op<S>, Shape>> = true;

template <std::size_t N>
bool is_identity(const std::array<Index, N>& permutation) {
  for (std::size_t i = 0; i < N; ++i)
    if (permutation[i] != Index(i)) return false;
  return true;
}

}  // namespace detail

// A pair of contracted dimensions: (dimension of the left operand, of the right one).
using DimensionPair = Eigen::IndexPair<Index>;

// A contraction's shapes: every contraction is one matrix product C (free_rows x
// free_cols) = A' B', with A' (free_rows x depth) A's dimensions reordered as its free
// ones then the contracted ones in pair order, and B' (depth x free_cols) B's contracted
// ones in pair order then its free ones. C is then the result as stored. An order that
// is the identity is read in place; others are copied (permute_into). Computed and
// checked by code that depends on the ranks alone, not on the operands' types.
template <int LeftRank, int RightRank, int P>
struct ContractionShapes {
  static constexpr int rank = LeftRank + RightRank - 2 * P;
  std::array<DimensionPair, P> pairs;
  Shape<rank> shape;
  std::array<Index, LeftRank> left_order;
  std::array<Index, RightRank> right_order;
  Index free_rows = 1, depth = 1, free_cols = 1;

  ContractionShapes(const Shape<LeftRank>& a, const Shape<RightRank>& b, std::array<DimensionPair, P> p,
                    const char* operation)
      : pairs(p) {
    std::array<bool, LeftRank> a_contracted{};
    std::array<bool, RightRank> b_contracted{};
    for (const auto& pair : pairs) {
      if (pair.first < 0 || pair.first >= LeftRank || pair.second < 0 || pair.second >= RightRank ||
          a_contracted[pair.first] || b_contracted[pair.second] || a[pair.first] != b[pair.second])
        throw_shape_mismatch(operation, a, b);
      a_contracted[pair.first] = b_contracted[pair.second] = true;
    }
    int k = 0, in_left = 0, in_right = P;
    for (int i = 0; i < LeftRank; ++i)
      if (!a_contracted[i]) shape[k++] = a[i], free_rows *= a[i], left_order[in_left++] = i;
    for (int j = 0; j < RightRank; ++j)
      if (!b_contracted[j]) shape[k++] = b[j], free_cols *= b[j], right_order[in_right++] = j;
    for (int m = 0; m < P; ++m) {
      left_order[in_left++] = pairs[m].first;
      right_order[m] = pairs[m].second;
      depth *= a[pairs[m].first];
    }
    checked_element_count(shape, operation);
  }
};

template <class Left, class Right, int P>
struct Contract : expression_base, ContractionShapes<Left::rank, Right::rank, P> {
  using Scalar = typename Left::Scalar;
  static constexpr int left_rank = Left::rank, right_rank = Right::rank;
  static constexpr int rank = left_rank + right_rank - 2 * P;
  static_assert(std::is_same_v<typename Left::Scalar, typename Right::Scalar>,
                "fusegrad: both operands of a contraction must have the same scalar type");
  static_assert(P <= left_rank && P <= right_rank, "fusegrad: more contracted pairs than an operand has dimensions");
  using Shapes = ContractionShapes<left_rank, right_rank, P>;
  using Shapes::depth;
  using Shapes::free_cols;
  using Shapes::free_rows;
  using Shapes::left_order;
  using Shapes::pairs;
  using Shapes::right_order;
  using Shapes::shape;

  detail::EvaluatedOperand<Left> left;
  detail::EvaluatedOperand<Right> right;
  std::shared_ptr<EigenTensor<Scalar, rank>> cache = pool::make_cache<Scalar, rank>();

  // (The shapes are computed from the operands before they are moved in.)
  Contract(Left l, Right r, std::array<DimensionPair, P> p, const char* operation)
      : Shapes(l.dims(), r.dims(), p, operation), left(std::move(l)), right(std::move(r)) {}

  // Products of matrices and vectors read their operands in place, transposed ones
  // included, and have a backward for a uniform seed without any product.
  static constexpr bool is_matrix_product = P == 1 && left_rank <= 2 && right_rank <= 2 && rank >= 1;

  template <bool RowsContracted, class T>
  static auto matrix(T& tensor, Index contracted) {
    return detail::matrix_of<RowsContracted>(tensor.data(), tensor.dimensions().data(), int(T::NumIndices),
                                             contracted);
  }
  template <bool RowsContracted, class T, class F>
  static void view(T& tensor, Index contracted, F&& f) {
    detail::with_matrix_view<RowsContracted, int(T::NumIndices)>(tensor.data(), tensor.dimensions().data(),
                                                                 contracted, f);
  }
  // The output (or its gradient) as the row-major matrix C.
  template <class T>
  detail::MatrixRef<T> output_matrix(T* data) const {
    return {data, free_rows, free_cols, true};
  }

  // Row blocking (expr/lanes.hpp): a product A B with A a matrix contracted along its
  // columns, inside a full sum that wants B's gradient, computes its rows a block at a
  // time during the sum's pass and gathers dB = sum over blocks of A_block^T G_block
  // from the same blocks, so A is read from memory once per backward instead of twice:
  // a block of A stays in the first-level cache between the two products. Below 256 KB,
  // A stays in the second-level cache across two passes anyway.
  static constexpr bool can_block_rows = is_matrix_product && left_rank == 2 && std::is_floating_point_v<Scalar>;
  mutable bool rows_are_deferred = false;
  mutable std::shared_ptr<EigenTensor<Scalar, right_rank>> gathered_right;

  RowBlocking row_blocking() const {
    if constexpr (can_block_rows) {
      const Index rows = shape[0], inner = left.node.dims()[1];
      // Blocks of at least 32 rows and about 8 KB: fewer rows per block make too many
      // small products; wider blocks were slower on narrow matrices (p = 20) when measured.
      // (A product over an empty inner dimension is below min_bytes: the block size, which
      // divides by that dimension, is computed only past that test.)
      constexpr Index block_bytes = 8 * 1024, min_bytes = 256 * 1024;
      if (pairs[0].first != 1 || !right.node.needs_grad() || rows * inner * Index(sizeof(Scalar)) < min_bytes)
        return {};
      const Index rows_per_block = std::max<Index>(32, block_bytes / (inner * Index(sizeof(Scalar))) / 8 * 8);
      if (rows >= 2 * rows_per_block) return {right_rank == 2 ? shape[1] : 1, rows_per_block};
    }
    return {};
  }
  bool rows_deferred() const { return rows_are_deferred; }
  void defer_rows(bool deferred) const { rows_are_deferred = deferred; }
  bool has_gathered_rows() const { return gathered_right != nullptr; }

  void forward_rows(Index first, Index last) const {
    if constexpr (can_block_rows) {
      const auto a = matrix<false>(left.value(), 1).middle_rows(first, last - first);
      if constexpr (right_rank == 1)
        detail::multiply_vector(cache->data() + first, a, right.value().data(), false);
      else
        detail::multiply(output_matrix(cache->data()).middle_rows(first, last - first), a,
                         matrix<true>(right.value(), pairs[0].second), false);
    }
  }
  void gather_rows(const Scalar* adjoint, Index first, Index last) const {
    if constexpr (can_block_rows) {
      if (first == 0) gathered_right = pool::make_shared_tensor<Scalar, right_rank>(right.node.dims());
      const auto a_transposed = matrix<false>(left.value(), 1).middle_rows(first, last - first).transposed();
      if constexpr (right_rank == 1)
        detail::multiply_vector(gathered_right->data(), a_transposed, adjoint + first, first != 0);
      else
        detail::multiply(matrix<true>(*gathered_right, pairs[0].second), a_transposed,
                         output_matrix(adjoint).middle_rows(first, last - first), first != 0);
    }
  }
  // Backward with B's gradient gathered for seed 1: dB = seed * gathered, dA = seed G B^T.
  void backward_gathered(const EigenTensor<Scalar, rank>& adjoint, Scalar seed) const {
    const std::shared_ptr<EigenTensor<Scalar, right_rank>> gathered = std::move(gathered_right);
    if (left.node.needs_grad()) {
      if (exactly_one(seed)) {
        backward_left(adjoint);
      } else {
        pool::Recycled<Scalar, rank> upstream(shape);
        evaluate_into(upstream.tensor, adjoint * seed);
        backward_left(upstream.tensor);
      }
    }
    if (exactly_one(seed))
      right.backward(*gathered);
    else
      right.backward(*gathered * seed);
  }

  const Shape<rank>& dims() const { return shape; }
  void prepare() const {
    left.prepare();
    right.prepare();
    pool::fit(*cache, shape);
    if (rows_are_deferred) return;  // computed a block of rows at a time (forward_rows)
    if constexpr (is_matrix_product) {
      detail::multiply(output_matrix(cache->data()), matrix<false>(left.value(), pairs[0].first),
                       matrix<true>(right.value(), pairs[0].second), false);
    } else {
      with_left_matrix([&](detail::MatrixRef<const Scalar> a) {
        with_right_matrix(
            [&](detail::MatrixRef<const Scalar> b) { detail::multiply(output_matrix(cache->data()), a, b, false); });
      });
    }
  }
  const EigenTensor<Scalar, rank>& forward() const { return *cache; }
  bool needs_grad() const { return left.node.needs_grad() || right.node.needs_grad(); }
  int gradient_paths() const { return left.node.gradient_paths() + right.node.gradient_paths(); }

  // f(M), M the operand laid out as a rows x cols matrix by `order`: read in place when
  // the order is the identity, else copied (permute_into) into pooled scratch.
  template <class T, std::size_t N, class F>
  static void laid_out(const T& operand, const std::array<Index, N>& order, Index rows, Index cols, F&& f) {
    constexpr int R = int(N);
    static_assert(R <= detail::most_permuted_dimensions, "fusegrad: a contraction operand of too many dimensions");
    if (detail::is_identity(order)) return f(detail::MatrixRef<const Scalar>{operand.data(), rows, cols, true});
    Shape<R> dims;
    for (int i = 0; i < R; ++i) dims[i] = operand.dimension(order[i]);
    pool::Recycled<Scalar, R> copy(dims);
    detail::permute_into(operand.data(), operand.dimensions().data(), order.data(), R, copy.tensor.data());
    f(detail::MatrixRef<const Scalar>{copy.tensor.data(), rows, cols, true});
  }
  template <class F>
  void with_left_matrix(F&& f) const {
    laid_out(left.value(), left_order, free_rows, depth, f);
  }
  template <class F>
  void with_right_matrix(F&& f) const {
    laid_out(right.value(), right_order, depth, free_cols, f);
  }

  template <class G>
  void backward(const G& g) const {
    // G is read by both adjoint products: evaluate it once unless it already is a tensor.
    if constexpr (detail::is_uniform<G> && is_matrix_product) {
      backward_uniform(g.functor()());
    } else if constexpr (std::is_same_v<G, EigenTensor<Scalar, rank>>) {
      backward_from(g);
    } else {
      pool::Recycled<Scalar, rank> upstream(shape);
      evaluate_into(upstream.tensor, g);
      backward_from(upstream.tensor);
    }
  }
  // dA' = G B'^T and dB' = A'^T G, written into the operands' gradient buffers in
  // place when their orders are the identity (always for matrix products, whose
  // transposed operands are read as views).
  void backward_from(const EigenTensor<Scalar, rank>& upstream) const {
    if constexpr (is_matrix_product) {
      if (left.node.needs_grad()) backward_left(upstream);
      if (right.node.needs_grad()) {
        right.backward_in_place([&](auto& gradient, bool add) {
          detail::multiply(matrix<true>(gradient, pairs[0].second),
                           matrix<false>(left.value(), pairs[0].first).transposed(), output_matrix(upstream.data()),
                           add);
        });
      }
    } else {
      const auto g = output_matrix(upstream.data());
      // dA' reads only B', dB' only A': an operand is laid out only for the other's gradient.
      if (left.node.needs_grad())
        with_right_matrix([&](detail::MatrixRef<const Scalar> b) {
          give(left, left_order, free_rows, depth,
               [&](detail::MatrixRef<Scalar> d, bool add) { detail::multiply(d, g, b.transposed(), add); });
        });
      if (right.node.needs_grad())
        with_left_matrix([&](detail::MatrixRef<const Scalar> a) {
          give(right, right_order, depth, free_cols,
               [&](detail::MatrixRef<Scalar> d, bool add) { detail::multiply(d, a.transposed(), g, add); });
        });
    }
  }
  // Gives an operand the gradient `product(d, add)` computes in its matrix layout
  // (rows x cols): into its gradient buffer in place when the layout is its own, else
  // through a copy put back in its dimension order.
  template <class Operand, std::size_t N, class Product>
  static void give(const Operand& operand, const std::array<Index, N>& order, Index rows, Index cols,
                   Product&& product) {
    constexpr int R = int(N);
    if (detail::is_identity(order)) {
      operand.backward_in_place([&](auto& gradient, bool add) {
        product(detail::MatrixRef<Scalar>{gradient.data(), rows, cols, true}, add);
      });
      return;
    }
    Shape<R> laid_out_dims;
    for (int i = 0; i < R; ++i) laid_out_dims[i] = operand.node.dims()[order[i]];
    pool::Recycled<Scalar, R> laid_out(laid_out_dims);
    product(detail::MatrixRef<Scalar>{laid_out.tensor.data(), rows, cols, true}, false);
    std::array<Index, R> back;
    for (int i = 0; i < R; ++i) back[order[i]] = i;
    operand.backward_in_place([&](auto& gradient, bool add) {
      if (!add) {
        detail::permute_into(laid_out.tensor.data(), laid_out_dims.data(), back.data(), R, gradient.data());
        return;
      }
      pool::Recycled<Scalar, R> ordered(operand.node.dims());
      detail::permute_into(laid_out.tensor.data(), laid_out_dims.data(), back.data(), R, ordered.tensor.data());
      evaluate_into(gradient, gradient + ordered.tensor);
    });
  }
  void backward_left(const EigenTensor<Scalar, rank>& upstream) const {
    if constexpr (is_matrix_product) {
      left.backward_in_place([&](auto& gradient, bool add) {
        detail::multiply(matrix<false>(gradient, pairs[0].first), output_matrix(upstream.data()),
                         matrix<true>(right.value(), pairs[0].second).transposed(), add);
      });
    }
  }

  // With G = c everywhere (the product feeds a full sum): dA = c 1 (B 1)^T, every row of
  // dA c times B's row sums; dB = c (A^T 1) 1^T, every column of dB c times A's column
  // sums. No product, no temporary matrix.
  void backward_uniform(Scalar c) const {
    using Vector = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
    if (left.node.needs_grad()) {
      view<true>(right.value(), pairs[0].second, [&](const auto& b) {
        pool::Recycled<Scalar, 1> buffer(Shape<1>{Index(b.rows())});
        Vector sums(buffer.tensor.data(), b.rows());
        sums.noalias() = b.rowwise().sum() * c;
        left.backward_in_place([&](auto& gradient, bool add) {
          view<false>(gradient, pairs[0].first, [&](auto& d) {
            if (add)
              d.rowwise() += sums.transpose();
            else
              d.rowwise() = sums.transpose();
          });
        });
      });
    }
    if (right.node.needs_grad()) {
      view<false>(left.value(), pairs[0].first, [&](const auto& a) {
        pool::Recycled<Scalar, 1> buffer(Shape<1>{Index(a.cols())});
        Vector sums(buffer.tensor.data(), a.cols());
        sums.noalias() = a.colwise().sum().transpose() * c;
        right.backward_in_place([&](auto& gradient, bool add) {
          view<true>(gradient, pairs[0].second, [&](auto& d) {
            if (add)
              d.colwise() += sums;
            else
              d.colwise() = sums;
          });
        });
      });
    }
  }

  template <class F>
  void for_each_leaf(F&& f) const {
    left.node.for_each_leaf(f);
    right.node.for_each_leaf(f);
  }
};

// Batched matrix product (b, m, k) x (b, k, n) -> (b, m, n), equal batch sizes: one
// matrix product per batch element, forward and backward.
template <class Left, class Right>
struct BatchedMatmul : expression_base {
  using Scalar = typename Left::Scalar;
  static constexpr int rank = 3;
  static_assert(Left::rank == 3 && Right::rank == 3, "fusegrad: batched matmul takes two rank-3 operands");
  detail::EvaluatedOperand<Left> left;
  detail::EvaluatedOperand<Right> right;
  Shape<3> shape;
  std::shared_ptr<EigenTensor<Scalar, 3>> cache = pool::make_cache<Scalar, 3>();

  BatchedMatmul(Left l, Right r) : left(std::move(l)), right(std::move(r)) {
    const auto& a = left.node.dims();
    const auto& b = right.node.dims();
    if (a[0] != b[0] || a[2] != b[1]) throw_shape_mismatch("matmul (batched)", a, b);
    shape = {a[0], a[1], b[2]};
    checked_element_count(shape, "matmul (batched)");
  }
  const Shape<3>& dims() const { return shape; }
  // Batch element i of a rank-3 tensor of `dims`, as a row-major matrix.
  template <class T>
  static detail::MatrixRef<T> slice(T* data, const Shape<3>& dims, Index i) {
    return {data + i * dims[1] * dims[2], dims[1], dims[2], true};
  }
  void prepare() const {
    left.prepare();
    right.prepare();
    pool::fit(*cache, shape);
    for (Index i = 0; i < shape[0]; ++i)
      detail::multiply(slice(cache->data(), shape, i), slice(left.value().data(), left.node.dims(), i),
                       slice(right.value().data(), right.node.dims(), i), false);
  }
  const EigenTensor<Scalar, 3>& forward() const { return *cache; }
  bool needs_grad() const { return left.node.needs_grad() || right.node.needs_grad(); }
  int gradient_paths() const { return left.node.gradient_paths() + right.node.gradient_paths(); }
  template <class G>
  void backward(const G& upstream) const {
    if constexpr (std::is_same_v<G, EigenTensor<Scalar, 3>>) {
      backward_from(upstream);
    } else {
      pool::Recycled<Scalar, 3> g(shape);
      evaluate_into(g.tensor, upstream);
      backward_from(g.tensor);
    }
  }
  // dA_i = G_i B_i^T and dB_i = A_i^T G_i, into the gradient buffers in place.
  void backward_from(const EigenTensor<Scalar, 3>& g) const {
    const Shape<3>& a = left.node.dims();
    const Shape<3>& b = right.node.dims();
    if (left.node.needs_grad())
      left.backward_in_place([&](auto& gradient, bool add) {
        for (Index i = 0; i < shape[0]; ++i)
          detail::multiply(slice(gradient.data(), a, i), slice(g.data(), shape, i),
                           slice(right.value().data(), b, i).transposed(), add);
      });
    if (right.node.needs_grad())
      right.backward_in_place([&](auto& gradient, bool add) {
        for (Index i = 0; i < shape[0]; ++i)
          detail::multiply(slice(gradient.data(), b, i), slice(left.value().data(), a, i).transposed(),
                           slice(g.data(), shape, i), add);
      });
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    left.node.for_each_leaf(f);
    right.node.for_each_leaf(f);
  }
};

template <int P, class A, class B>
auto make_contract(A&& a, B&& b, std::array<DimensionPair, P> pairs, const char* operation) {
  using S = typename common_scalar<std::remove_cvref_t<A>, std::remove_cvref_t<B>>::type;
  auto left = to_node<S>(std::forward<A>(a));
  auto right = to_node<S>(std::forward<B>(b));
  return Contract<decltype(left), decltype(right), P>(std::move(left), std::move(right), pairs, operation);
}

}  // namespace fusegrad::expr

namespace fusegrad {

/// tensordot(a, b, {{1, 0}}): contracts a's dimension 1 with b's dimension 0 (NumPy's
/// tensordot with explicit axes); result dimensions: a's free ones, then b's.
template <Operand A, Operand B, std::size_t P>
auto tensordot(const A& a, const B& b, const std::array<std::array<Index, 2>, P>& axes) {
  std::array<expr::DimensionPair, P> pairs;
  for (std::size_t i = 0; i < P; ++i) pairs[i] = {axes[i][0], axes[i][1]};
  return expr::make_contract<int(P)>(a, b, pairs, "tensordot");
}
/// tensordot with the pairs as a braced list: tensordot(a, b, {{1, 0}, {2, 1}}).
template <Operand A, Operand B, std::size_t P>
auto tensordot(const A& a, const B& b, const std::array<Index, 2> (&axes)[P]) {
  std::array<std::array<Index, 2>, P> list;
  for (std::size_t i = 0; i < P; ++i) list[i] = axes[i];
  return tensordot(a, b, list);
}

namespace expr::detail {
// A transposed matrix operand is contracted in place, along its other dimension: no
// transposed copy is made, forward or backward.
template <class N>
inline constexpr bool is_matrix_permute = false;
template <class C>
inline constexpr bool is_matrix_permute<Permute<C>> = C::rank == 2;

template <class N>
auto without_transpose(N&& node, Index& contracted_dimension) {
  if constexpr (is_matrix_permute<std::remove_cvref_t<N>>) {
    contracted_dimension = node.permutation[contracted_dimension];
    return std::forward<N>(node).child;
  } else {
    return std::remove_cvref_t<N>(std::forward<N>(node));
  }
}
}  // namespace expr::detail

namespace detail {
template <class A, class B>
auto matmul_of(const A& a, const B& b) {
  constexpr int ra = expr::node_of<A>::rank, rb = expr::node_of<B>::rank;
  constexpr bool valid = ((ra == 1 || ra == 2) && (rb == 1 || rb == 2) && !(ra == 1 && rb == 1)) || (ra == 3 && rb == 3);
  static_assert(valid, "fusegrad: matmul takes 2-D x 2-D, 2-D x 1-D, 1-D x 2-D or batched 3-D x 3-D operands "
                       "(use dot for two vectors)");
  if constexpr (!valid)
    return expr::refused{};
  else if constexpr (ra == 3)
    return expr::BatchedMatmul<expr::node_of<A>, expr::node_of<B>>(expr::as_node(a), expr::as_node(b));
  else {
    Index left_dimension = ra - 1, right_dimension = 0;
    auto left = expr::detail::without_transpose(expr::as_node(a), left_dimension);
    auto right = expr::detail::without_transpose(expr::as_node(b), right_dimension);
    return expr::make_contract<1>(std::move(left), std::move(right),
                                  {expr::DimensionPair{left_dimension, right_dimension}}, "matmul");
  }
}
}  // namespace detail

/// Matrix products: 2-D x 2-D, 2-D x 1-D (matrix-vector), 1-D x 2-D, and batched
/// 3-D x 3-D with equal batch sizes.
template <expr::OperandOrMatrix A, expr::OperandOrMatrix B>
auto matmul(const A& a, const B& b) {
  if constexpr (EigenDense<A> || EigenDense<B>) {
    static_assert(expr::always_false<A>,
                  "fusegrad: matmul of an Eigen matrix: use fg::constant(m) (read in place, no gradient) or copy "
                  "it into a tensor, fg::Tensor<double, 2>(m)");
    return expr::refused{};
  } else {
    return detail::matmul_of(a, b);
  }
}


/// Inner product of two vectors (rank 0) and their outer product (rank 2).
template <Operand A, Operand B>
auto dot(const A& a, const B& b) {
  static_assert(expr::node_of<A>::rank == 1 && expr::node_of<B>::rank == 1, "fusegrad: dot takes two vectors");
  return expr::make_contract<1>(a, b, {expr::DimensionPair{0, 0}}, "dot");
}
/// Outer product u v^T of two vectors: (n,) and (m,) -> (n, m).
template <Operand A, Operand B>
auto outer(const A& a, const B& b) {
  static_assert(expr::node_of<A>::rank == 1 && expr::node_of<B>::rank == 1, "fusegrad: outer takes two vectors");
  return expr::make_contract<0>(a, b, {}, "outer");
}

}  // namespace fusegrad
