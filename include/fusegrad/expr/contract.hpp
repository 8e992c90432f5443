// SPDX-License-Identifier: MPL-2.0
#pragma once
// Contractions (tensordot, matmul, dot, outer): nodes that bound fused regions. Their
// operands are evaluated once (a leaf's value is used in place), the product runs on
// Eigen's contraction kernels, and so do both adjoints:
//   C = A . B over pairs (a_j, b_j)   =>   dA = G . B over B's free dimensions,
//                                          dB = A . G over A's free dimensions,
// each followed by a permutation back to the operand's dimension order when the
// contraction does not produce it directly (for matmul it always does: no transposed
// copies of A or B are made).
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

template <class Left, class Right, int P>
struct Contract : expression_base {
  using Scalar = typename Left::Scalar;
  static constexpr int left_rank = Left::rank, right_rank = Right::rank;
  static constexpr int rank = left_rank + right_rank - 2 * P;
  static_assert(std::is_same_v<typename Left::Scalar, typename Right::Scalar>,
                "fusegrad: both operands of a contraction must have the same scalar type");
  static_assert(P <= left_rank && P <= right_rank, "fusegrad: more contracted pairs than an operand has dimensions");

  detail::EvaluatedOperand<Left> left;
  detail::EvaluatedOperand<Right> right;
  std::array<DimensionPair, P> pairs;
  Shape<rank> shape;
  std::shared_ptr<EigenTensor<Scalar, rank>> cache = pool::make_cache<Scalar, rank>();
  // Adjoint plans: which dimensions of G and of the other operand are contracted, and
  // the permutation that puts the result in the operand's own dimension order.
  std::array<DimensionPair, right_rank - P> left_adjoint_pairs;
  std::array<Index, left_rank> left_adjoint_order;
  std::array<DimensionPair, left_rank - P> right_adjoint_pairs;
  std::array<Index, right_rank> right_adjoint_order;

  Contract(Left l, Right r, std::array<DimensionPair, P> p, const char* operation)
      : left(std::move(l)), right(std::move(r)), pairs(p) {
    const auto& a = left.node.dims();
    const auto& b = right.node.dims();
    std::array<bool, left_rank> a_contracted{};
    std::array<bool, right_rank> b_contracted{};
    for (const auto& pair : pairs) {
      if (pair.first < 0 || pair.first >= left_rank || pair.second < 0 || pair.second >= right_rank ||
          a_contracted[pair.first] || b_contracted[pair.second] || a[pair.first] != b[pair.second])
        throw_shape_mismatch(operation, a, b);
      a_contracted[pair.first] = b_contracted[pair.second] = true;
    }
    int k = 0;
    std::array<Index, left_rank> position_in_output{};
    for (int i = 0; i < left_rank; ++i)
      if (!a_contracted[i]) position_in_output[i] = k, shape[k++] = a[i];
    const int left_free = k;
    std::array<Index, right_rank> right_position_in_output{};
    for (int j = 0; j < right_rank; ++j)
      if (!b_contracted[j]) right_position_in_output[j] = k, shape[k++] = b[j];
    checked_element_count(shape, operation);

    // dA = G . B, contracting G's right-free dimensions with B's free ones. The result
    // holds A's free dimensions, then B's contracted ones in B's order.
    int m = 0;
    for (int j = 0; j < right_rank; ++j)
      if (!b_contracted[j]) left_adjoint_pairs[m++] = {right_position_in_output[j], j};
    for (int i = 0; i < left_rank; ++i) {
      if (!a_contracted[i]) {
        left_adjoint_order[position_in_output[i]] = i;
      } else {
        const Index partner = partner_of_left(i);
        int rank_among = 0;
        for (int j = 0; j < partner; ++j) rank_among += b_contracted[j];
        left_adjoint_order[left_free + rank_among] = i;
      }
    }
    // dB = A . G, contracting A's free dimensions with G's left-free ones. The result
    // holds A's contracted dimensions in A's order, then B's free ones.
    m = 0;
    for (int i = 0; i < left_rank; ++i)
      if (!a_contracted[i]) right_adjoint_pairs[m++] = {i, position_in_output[i]};
    for (int j = 0; j < right_rank; ++j) {
      if (!b_contracted[j]) {
        right_adjoint_order[P + right_position_in_output[j] - left_free] = j;
      } else {
        const Index partner = partner_of_right(j);
        int rank_among = 0;
        for (int i = 0; i < partner; ++i) rank_among += a_contracted[i];
        right_adjoint_order[rank_among] = j;
      }
    }
    // The orders above map result positions to operand dimensions; Eigen's shuffle
    // wants, for each operand dimension, the result position it comes from.
    left_adjoint_order = invert(left_adjoint_order);
    right_adjoint_order = invert(right_adjoint_order);
  }

  Index partner_of_left(Index i) const {
    for (const auto& pair : pairs)
      if (pair.first == i) return pair.second;
    return -1;
  }
  Index partner_of_right(Index j) const {
    for (const auto& pair : pairs)
      if (pair.second == j) return pair.first;
    return -1;
  }
  template <std::size_t N>
  static std::array<Index, N> invert(const std::array<Index, N>& order) {
    std::array<Index, N> inverse{};
    for (std::size_t i = 0; i < N; ++i) inverse[order[i]] = Index(i);
    return inverse;
  }

  // Products of matrices and vectors run on Eigen's matrix kernels (GEMM and GEMV),
  // which beat its general tensor contraction, most of all for matrix-vector products.
  static constexpr bool is_matrix_product = P == 1 && left_rank <= 2 && right_rank <= 2 && rank >= 1;

  template <bool RowsContracted, class T, class F>
  static void view(T& tensor, Index contracted, F&& f) {
    detail::with_matrix_view<RowsContracted, int(T::NumIndices)>(tensor.data(), tensor.dimensions().data(),
                                                                 contracted, f);
  }
  // The output (or its gradient) as a row-major matrix: rows from the left operand.
  template <class T>
  static auto output_view(T* data, const Shape<rank>& s) {
    using Matrix = std::conditional_t<std::is_const_v<T>, const detail::RowMajorMatrixType<Scalar>,
                                      detail::RowMajorMatrixType<Scalar>>;
    const Index rows = left_rank == 2 ? s[0] : 1;
    const Index cols = right_rank == 2 ? s[rank - 1] : 1;
    return Eigen::Map<Matrix>(data, rows, cols);
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
      constexpr Index block_bytes = 8 * 1024, min_bytes = 256 * 1024;
      const Index rows_per_block = std::max<Index>(32, block_bytes / (inner * Index(sizeof(Scalar))) / 8 * 8);
      if (pairs[0].first == 1 && right.node.needs_grad() && rows * inner * Index(sizeof(Scalar)) >= min_bytes &&
          rows >= 2 * rows_per_block)
        return {right_rank == 2 ? shape[1] : 1, rows_per_block};
    }
    return {};
  }
  bool rows_deferred() const { return rows_are_deferred; }
  void defer_rows(bool deferred) const { rows_are_deferred = deferred; }
  bool has_gathered_rows() const { return gathered_right != nullptr; }

  // The output rows [first, last) as a matrix, or as a vector when B is one: a vector
  // destination known at compile time takes Eigen's matrix-vector kernel directly (a
  // one-column block of a row-major matrix measured 1.8 times slower there).
  template <class T>
  auto output_rows(T* data, Index first, Index last) const {
    if constexpr (right_rank == 1) {
      using Vector = std::conditional_t<std::is_const_v<T>, const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>,
                                        Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
      return Eigen::Map<Vector>(data + first, last - first);
    } else {
      return output_view(data, shape).middleRows(first, last - first);
    }
  }
  void forward_rows(Index first, Index last) const {
    if constexpr (can_block_rows) {
      auto out = output_rows(cache->data(), first, last);
      view<false>(left.value(), 1, [&](const auto& a) {
        view<true>(right.value(), pairs[0].second,
                   [&](const auto& b) { detail::multiply_into(out, a.middleRows(first, last - first), b, false); });
      });
    }
  }
  void gather_rows(const Scalar* adjoint, Index first, Index last) const {
    if constexpr (can_block_rows) {
      if (first == 0) gathered_right = pool::make_shared_tensor<Scalar, right_rank>(right.node.dims());
      const auto g = output_rows(adjoint, first, last);
      view<false>(left.value(), 1, [&](const auto& a) {
        view<true>(*gathered_right, pairs[0].second, [&](auto& d) {
          detail::multiply_into(d, a.middleRows(first, last - first).transpose(), g, first != 0);
        });
      });
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
      auto out = output_view(cache->data(), shape);
      view<false>(left.value(), pairs[0].first, [&](const auto& a) {
        view<true>(right.value(), pairs[0].second, [&](const auto& b) { detail::multiply_into(out, a, b, false); });
      });
    } else {
      evaluate_into(*cache, left.value().contract(right.value(), pairs));
    }
  }
  const EigenTensor<Scalar, rank>& forward() const { return *cache; }
  bool needs_grad() const { return left.node.needs_grad() || right.node.needs_grad(); }
  int gradient_paths() const { return left.node.gradient_paths() + right.node.gradient_paths(); }

  template <class G>
  void backward(const G& g) const {
    // G is read by both adjoint products: evaluate it once unless it already is a tensor.
    if constexpr (detail::is_uniform<G> && rank > 0) {
      backward_uniform(g.functor()());
    } else if constexpr (is_matrix_product) {
      if constexpr (std::is_same_v<G, EigenTensor<Scalar, rank>>) {
        backward_matrix(g);
      } else {
        pool::Recycled<Scalar, rank> upstream(shape);
        evaluate_into(upstream.tensor, g);
        backward_matrix(upstream.tensor);
      }
    } else if constexpr (std::is_same_v<G, EigenTensor<Scalar, rank>>) {
      backward_from(g);
    } else {
      pool::Recycled<Scalar, rank> upstream(shape);
      evaluate_into(upstream.tensor, g);
      backward_from(upstream.tensor);
    }
  }
  // Eigen cannot contract a rank-0 tensor: for a full contraction (dot) each adjoint
  // product is the other operand scaled by g.
  void backward_from(const EigenTensor<Scalar, rank>& g) const {
    if (left.node.needs_grad()) {
      if constexpr (rank == 0)
        give(left, right.value() * g(), left_adjoint_order);
      else
        give(left, g.contract(right.value(), left_adjoint_pairs), left_adjoint_order);
    }
    if (right.node.needs_grad()) {
      if constexpr (rank == 0)
        give(right, left.value() * g(), right_adjoint_order);
      else
        give(right, left.value().contract(g, right_adjoint_pairs), right_adjoint_order);
    }
  }
  // C = A B as matrices: dA = G B^T and dB = A^T G, each written in place through a
  // view of the gradient buffer (transposed views where the operand is).
  void backward_matrix(const EigenTensor<Scalar, rank>& upstream) const {
    const auto g = output_view(upstream.data(), shape);
    if (left.node.needs_grad()) backward_left(upstream);
    if (right.node.needs_grad()) {
      right.backward_in_place([&](auto& gradient, bool add) {
        view<true>(gradient, pairs[0].second, [&](auto& d) {
          view<false>(left.value(), pairs[0].first, [&](const auto& a) {
            detail::multiply_into(d, a.transpose(), g, add);
          });
        });
      });
    }
  }
  void backward_left(const EigenTensor<Scalar, rank>& upstream) const {
    if constexpr (is_matrix_product) {
      const auto g = output_view(upstream.data(), shape);
      left.backward_in_place([&](auto& gradient, bool add) {
        view<false>(gradient, pairs[0].first, [&](auto& d) {
          view<true>(right.value(), pairs[0].second, [&](const auto& b) {
            detail::multiply_into(d, g, b.transpose(), add);
          });
        });
      });
    }
  }

  // With G = c everywhere (the contraction feeds a full sum), dA = c times B summed
  // over its free dimensions, stretched over A's: a reduction instead of a product.
  void backward_uniform(Scalar c) const {
    if constexpr (is_matrix_product) {
      // dA = c 1 (B 1)^T: every row of dA is c times B's row sums; dB = c (A^T 1) 1^T:
      // every column of dB is c times A's column sums. No product, no temporary matrix.
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
      return;
    }
    if (left.node.needs_grad()) {
      std::array<Index, right_rank - P> b_free;
      for (int m = 0; m < right_rank - P; ++m) b_free[m] = left_adjoint_pairs[m].second;
      const EigenTensor<Scalar, P> summed = right.value().sum(b_free) * c;
      give(left, stretch_over_free<left_rank>(summed, true), left_adjoint_order);
    }
    if (right.node.needs_grad()) {
      std::array<Index, left_rank - P> a_free;
      for (int m = 0; m < left_rank - P; ++m) a_free[m] = right_adjoint_pairs[m].first;
      const EigenTensor<Scalar, P> summed = left.value().sum(a_free) * c;
      give(right, stretch_over_free<right_rank>(summed, false), right_adjoint_order);
    }
  }
  // `summed` (contracted dimensions) stretched over the output's free dimensions of one
  // operand: A's free ones first (for dA), or B's free ones last (for dB).
  template <int R>
  auto stretch_over_free(const EigenTensor<Scalar, P>& summed, bool free_first) const {
    Shape<R> kept, factors;
    kept.fill(1);
    factors.fill(1);
    const int free = R - P;
    const int free_offset = free_first ? 0 : P;
    const int contracted_offset = free_first ? free : 0;
    for (int i = 0; i < P; ++i) kept[contracted_offset + i] = summed.dimension(i);
    for (int i = 0; i < free; ++i) factors[free_offset + i] = shape[free_first ? i : (left_rank - P) + i];
    return summed.reshape(kept).broadcast(factors);
  }

  template <class Operand, class Product, class Order>
  static void give(const Operand& operand, const Product& product, const Order& order) {
    if (detail::is_identity(order))
      operand.backward(product);
    else
      operand.backward(product.shuffle(order));
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    left.node.for_each_leaf(f);
    right.node.for_each_leaf(f);
  }
};

// Batched matrix product (b, m, k) x (b, k, n) -> (b, m, n), equal batch sizes: one
// Eigen contraction per batch element, forward and backward.
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
  void prepare() const {
    left.prepare();
    right.prepare();
    pool::fit(*cache, shape);
    const std::array<DimensionPair, 1> inner{DimensionPair{1, 0}};
    for (Index i = 0; i < shape[0]; ++i)
      cache->chip(i, 0) = left.value().chip(i, 0).contract(right.value().chip(i, 0), inner);
  }
  const EigenTensor<Scalar, 3>& forward() const { return *cache; }
  bool needs_grad() const { return left.node.needs_grad() || right.node.needs_grad(); }
  int gradient_paths() const { return left.node.gradient_paths() + right.node.gradient_paths(); }
  template <class G>
  void backward(const G& upstream) const {
    const EigenTensor<Scalar, 3> g = upstream;
    if (left.node.needs_grad()) {
      EigenTensor<Scalar, 3> d(left.node.dims());
      const std::array<DimensionPair, 1> pairs{DimensionPair{1, 1}};  // G_i B_i^T
      for (Index i = 0; i < shape[0]; ++i) d.chip(i, 0) = g.chip(i, 0).contract(right.value().chip(i, 0), pairs);
      left.backward(d);
    }
    if (right.node.needs_grad()) {
      EigenTensor<Scalar, 3> d(right.node.dims());
      const std::array<DimensionPair, 1> pairs{DimensionPair{0, 0}};  // A_i^T G_i
      for (Index i = 0; i < shape[0]; ++i) d.chip(i, 0) = left.value().chip(i, 0).contract(g.chip(i, 0), pairs);
      right.backward(d);
    }
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
