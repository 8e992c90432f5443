// SPDX-License-Identifier: MPL-2.0
#pragma once
// Matrix products on tensor storage, for the contractions (expr/contract.hpp): a tensor's
// storage viewed in place as a matrix, the product of two such views into a third, and
// the permutation that lays a tensor out as a matrix when its dimensions are not in
// order.
//
// Every product of a program goes through one function per scalar type, `multiply`,
// whatever the operands' ranks, transposes and row blocks: those become fields of a
// MatrixRef at run time instead of Eigen types at compile time. Eigen's matrix kernels
// are then compiled once per scalar type and translation unit (four operand layouts),
// where one matmul with its backward compiled a dozen variants of them (one matmul
// statement: 195 KB of code and 3.4 s to compile at -Og).
#include <climits>
#include <type_traits>

#include "../core/config.hpp"
#include "../core/eigen.hpp"

#if defined(FUSEGRAD_HAS_BLAS) && FUSEGRAD_HAS_BLAS
// An optimized BLAS (OpenBLAS), when the build found one (CMake: FUSEGRAD_USE_BLAS).
#include <cblas.h>
#define FUSEGRAD_BLAS_PRODUCTS 1
#else
#define FUSEGRAD_BLAS_PRODUCTS 0
#endif

// Packet types carry alignment attributes that template arguments drop; harmless here,
// as Eigen notes for its own packet templates.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace fusegrad::expr::detail {

template <class S>
using ColumnMajorMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class S>
using RowMajorMatrixType = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A dense rows x cols matrix at `data`, row-major or column-major.
template <class T>
struct MatrixRef {
  T* data;
  Index rows, cols;
  bool row_major;

  // The same storage read as the transposed matrix.
  MatrixRef transposed() const { return {data, cols, rows, !row_major}; }
  // Rows [first, first + count) of a row-major matrix.
  MatrixRef middle_rows(Index first, Index count) const { return {data + first * cols, count, cols, true}; }
  operator MatrixRef<const T>() const { return {data, rows, cols, row_major}; }
};

// A rank-1 or rank-2 tensor's storage as the matrix of a matrix product: `RowsContracted`
// says whether the product runs along the matrix's rows (a right operand) or its
// columns (a left operand), `contracted` which tensor dimension it runs along. A
// row-major buffer read as column-major is its transpose, so no view copies.
template <bool RowsContracted, class T>
MatrixRef<T> matrix_of(T* data, const Index* dims, int rank, Index contracted) {
  if (rank == 1) return RowsContracted ? MatrixRef<T>{data, dims[0], 1, false} : MatrixRef<T>{data, 1, dims[0], true};
  if ((contracted == 0) == RowsContracted) return {data, dims[0], dims[1], true};
  return {data, dims[1], dims[0], false};
}

// A vector stored either way: marked so that Eigen reads it with a unit stride known at
// compile time (a column of a row-major matrix is read through a run-time stride,
// measured 1.8 times slower in a matrix-vector product).
template <class T>
void prefer_unit_stride(MatrixRef<T>& m) {
  if (m.cols == 1) m.row_major = false;
  else if (m.rows == 1) m.row_major = true;
}

// The product of two maps by coefficients, below Eigen's own bound for that (then the
// kernels' set-up costs more than the product).
template <class D, class A, class B>
bool multiply_small(D& d, const A& a, const B& b, bool add) {
  using Scalar = typename std::remove_cvref_t<D>::Scalar;
  if (a.rows() + a.cols() + b.cols() >= 20) return false;
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < b.cols(); ++j) {
      Scalar total(0);
      for (Index k = 0; k < a.cols(); ++k) total += a(i, k) * b(k, j);
      d(i, j) = add ? d(i, j) + total : total;
    }
  return true;
}

// Products too small to repay a library kernel's set-up (dispatch, blocking, packing) run
// the loops below: through OpenBLAS a 16 x 4 x 8 float product took 79-91 ns, the loops
// 55-63 ns; a 16 x 1 x 4 one 20 ns against 12 ns (a small model's step is made of such).
// Timed against OpenBLAS on 64 to 4096 multiply-adds, they win up to 4 KB of multiply-adds
// (1024 in float, 512 in double); with a row-major left operand, which OpenBLAS reads
// slowly and the loops first copy, up to twice that when the depth is at most 16; times a
// vector, up to a depth of 16.
template <class S>
inline constexpr Index small_product_work = 4096 / Index(sizeof(S));
inline constexpr Index small_product_depth = 16;
template <class S>
constexpr bool small_product_scalar = std::is_same_v<S, float> || std::is_same_v<S, double>;

// The packet types of S from the widest down: Full, its half and its quarter (the same
// type again where the instruction set has no narrower one).
template <class S>
struct packets_of {
  using Full = typename Eigen::internal::packet_traits<S>::type;
  using Half = typename Eigen::internal::unpacket_traits<Full>::half;
  using Quarter = typename Eigen::internal::unpacket_traits<Half>::half;
  static constexpr Index full = Eigen::internal::unpacket_traits<Full>::size;
  static constexpr Index half = Eigen::internal::unpacket_traits<Half>::size;
  static constexpr Index quarter = Eigen::internal::unpacket_traits<Quarter>::size;
};

// Rows [first, first + width of P) and columns [j, j + N) of d = a b (or d += a b), d
// column-major: each column of the block is a sum over p of a's column p scaled by
// b(p, j), held in a register (P an Eigen packet, or the scalar itself for single rows;
// N independent sums hide the latency of each multiply-add).
template <class P, Index N, class S>
void small_product_block(S* d, Index m, Index k, const S* columns, const S* b, Index b_row_step,
                         Index b_column_step, Index first, Index j, bool add) {
  using namespace Eigen::internal;
  P total[N];
  const P a0 = ploadu<P>(columns + first);
  for (Index c = 0; c < N; ++c) {
    const P s = pset1<P>(b[(j + c) * b_column_step]);
    // From +0 when assigning, as the other paths sum: a product whose terms are all -0
    // is +0 whatever its size.
    total[c] = pmadd(a0, s, add ? ploadu<P>(d + (j + c) * m + first) : pset1<P>(S(0)));
  }
  for (Index p = 1; p < k; ++p) {
    const P ap = ploadu<P>(columns + p * m + first);
    for (Index c = 0; c < N; ++c) total[c] = pmadd(ap, pset1<P>(b[p * b_row_step + (j + c) * b_column_step]), total[c]);
  }
  for (Index c = 0; c < N; ++c) pstoreu(d + (j + c) * m + first, total[c]);
}

template <class P, class S>
void small_product_rows(S* d, Index m, Index n, Index k, const S* columns, const S* b, Index b_row_step,
                        Index b_column_step, Index first, bool add) {
  Index j = 0;
  for (; n - j >= 4; j += 4)
    small_product_block<P, 4>(d, m, k, columns, b, b_row_step, b_column_step, first, j, add);
  for (; j < n; ++j) small_product_block<P, 1>(d, m, k, columns, b, b_row_step, b_column_step, first, j, add);
}

// d = a v, or d += a v, for a row-major a (m x k) and a vector v: each element the dot
// product of a's row with v (both contiguous), in packets P of S along k, the rest one by
// one.
template <class P, class S>
void small_dot_product(S* d, Index m, Index k, const S* a, const S* v, bool add) {
  using namespace Eigen::internal;
  constexpr Index width = unpacket_traits<P>::size;
  for (Index i = 0; i < m; ++i) {
    const S* row = a + i * k;
    P total = pset1<P>(S(0));
    Index p = 0;
    for (; k - p >= width; p += width) total = pmadd(ploadu<P>(row + p), ploadu<P>(v + p), total);
    S sum = predux(total);
    for (; p < k; ++p) sum += row[p] * v[p];
    d[i] = add ? d[i] + sum : sum;
  }
}

// out (column-major, m x k) = a (row-major, m x k): in square tiles of the narrowest packet,
// transposed in registers, the edges one element at a time (a 16 x 8 float copy one by one
// was a third of a small model's products).
template <class S>
void copy_column_major(const S* a, Index m, Index k, S* out) {
  using Quarter = typename packets_of<S>::Quarter;
  constexpr Index width = packets_of<S>::quarter;
  using Block = Eigen::internal::PacketBlock<Quarter, int(width)>;
  Index i0 = 0;
  if constexpr (width > 1 && requires(Block& block) { Eigen::internal::ptranspose(block); }) {
    for (; m - i0 >= width; i0 += width) {
      Index p0 = 0;
      for (; k - p0 >= width; p0 += width) {
        Block block;
        for (Index r = 0; r < width; ++r) block.packet[r] = Eigen::internal::ploadu<Quarter>(a + (i0 + r) * k + p0);
        Eigen::internal::ptranspose(block);
        for (Index c = 0; c < width; ++c) Eigen::internal::pstoreu(out + (p0 + c) * m + i0, block.packet[c]);
      }
      for (; p0 < k; ++p0)
        for (Index r = 0; r < width; ++r) out[p0 * m + i0 + r] = a[(i0 + r) * k + p0];
    }
  }
  for (; i0 < m; ++i0)
    for (Index p = 0; p < k; ++p) out[p * m + i0] = a[i0 * k + p];
}

// d = a b, or d += a b (d column-major, m x n; a m x k; b k x n) for products within the
// bounds above: false for the others. Rows go in packets of decreasing width, then one at
// a time; a row-major a is first copied column-major, except when b is one column (then
// dot products of a's rows). d is written without being read when `add` is false, so a
// NaN left in its storage never reaches the result.
// (Plain arguments: MatrixRefs passed by value went through the stack, and reading them
// back as wider words than were written stalled the call by about 25 ns.)
template <class S>
bool multiply_small_block(S* d, Index m, Index n, Index k, const S* a, bool a_row_major, const S* b,
                          bool b_row_major, bool add) {
  static_assert(small_product_scalar<S>);
  using Packets = packets_of<S>;
  using Full = typename Packets::Full;
  using Half = typename Packets::Half;
  using Quarter = typename Packets::Quarter;
  if (m == 0 || n == 0) return true;  // nothing to write (multiply returns before this)
  // Each size first, so that m n k cannot overflow for huge operands.
  const Index most = 2 * small_product_work<S>;
  if (m > most || n > most || k > most || m * n > most) return false;
  const Index work = m * n * k;
  const bool copy = a_row_major && m > 1 && k > 1;
  if (work > (copy ? 2 : 1) * small_product_work<S> || ((copy || n == 1) && k > small_product_depth)) return false;
  if (k == 0) {
    if (!add) std::fill(d, d + m * n, S(0));
    return true;
  }
  if (copy && n == 1) {  // b is one contiguous column, whatever its flag says
    if (k >= Packets::full) small_dot_product<Full>(d, m, k, a, b, add);
    else if (k >= Packets::half) small_dot_product<Half>(d, m, k, a, b, add);
    else if (k >= Packets::quarter) small_dot_product<Quarter>(d, m, k, a, b, add);
    else small_dot_product<S>(d, m, k, a, b, add);
    return true;
  }
  const S* columns = a;
  alignas(64) S copied[small_product_work<S>];  // m k <= 2 work / n, and n > 1 here
  if (copy) {
    copy_column_major(a, m, k, copied);
    columns = copied;
  }
  const Index b_row_step = b_row_major ? n : 1, b_column_step = b_row_major ? 1 : k;
  Index first = 0;
  const auto rows = [&]<class P>(P*) {
    for (constexpr Index width = Eigen::internal::unpacket_traits<P>::size; m - first >= width; first += width)
      small_product_rows<P>(d, m, n, k, columns, b, b_row_step, b_column_step, first, add);
  };
  rows(static_cast<Full*>(nullptr));
  if constexpr (Packets::half < Packets::full) rows(static_cast<Half*>(nullptr));
  if constexpr (Packets::quarter < Packets::half) rows(static_cast<Quarter*>(nullptr));
  rows(static_cast<S*>(nullptr));
  return true;
}

template <class D, class A, class B>
void multiply_maps(D& d, const A& a, const B& b, bool add) {
  using Scalar = typename D::Scalar;
  if (multiply_small(d, a, b, add)) return;
  if (!add) d.setZero();
  if constexpr (B::ColsAtCompileTime == 1) {
    Eigen::internal::generic_product_impl<A, B, Eigen::DenseShape, Eigen::DenseShape,
                                          Eigen::GemvProduct>::scaleAndAddTo(d, a, b, Scalar(1));
  } else {
    Eigen::internal::generic_product_impl<A, B, Eigen::DenseShape, Eigen::DenseShape,
                                          Eigen::GemmProduct>::scaleAndAddTo(d, a, b, Scalar(1));
  }
}

// The BLAS path of multiply and multiply_vector: float and double products that BLAS's
// 32-bit sizes can describe and that are not below the small-product bound (there a
// plain loop is faster than any library call). OpenBLAS's kernels ran the MLP's
// products (128 x 784 x 256) 16-20% faster than Eigen's on one thread, and 64 x 64
// products a third faster (bench/: the MLP and sum(A B) rows). Returns false where
// Eigen takes the product. beta = 0 makes BLAS write d without reading it, as Eigen's
// path zeroes it first: a NaN left in d's storage never reaches the result.
template <class S>
constexpr bool blas_scalar = FUSEGRAD_BLAS_PRODUCTS && (std::is_same_v<S, float> || std::is_same_v<S, double>);

inline bool blas_sizes(Index rows, Index depth, Index cols) {
  return rows + depth + cols >= 20 && rows < INT_MAX && depth < INT_MAX && cols < INT_MAX;
}

template <class S>
bool blas_matrix([[maybe_unused]] MatrixRef<S> d, [[maybe_unused]] MatrixRef<const S> a,
                 [[maybe_unused]] MatrixRef<const S> b, [[maybe_unused]] bool add) {
  if constexpr (blas_scalar<S>) {
#if FUSEGRAD_BLAS_PRODUCTS
    // d is column-major here (multiply rewrote the product so).
    if (d.row_major || !blas_sizes(d.rows, a.cols, d.cols)) return false;
    if (a.cols == 0) {  // an empty sum: d = 0, or d unchanged
      if (!add) std::fill(d.data, d.data + d.rows * d.cols, S(0));
      return true;
    }
    // A row-major r x c matrix is the column-major c x r matrix transposed.
    const auto transpose = [](bool row_major) { return row_major ? CblasTrans : CblasNoTrans; };
    const int m = int(d.rows), n = int(d.cols), k = int(a.cols);
    const int lda = int(a.row_major ? a.cols : a.rows), ldb = int(b.row_major ? b.cols : b.rows);
    const S beta = add ? S(1) : S(0);
    if constexpr (std::is_same_v<S, double>)
      cblas_dgemm(CblasColMajor, transpose(a.row_major), transpose(b.row_major), m, n, k, 1.0, a.data, lda, b.data,
                  ldb, beta, d.data, m);
    else
      cblas_sgemm(CblasColMajor, transpose(a.row_major), transpose(b.row_major), m, n, k, 1.0f, a.data, lda, b.data,
                  ldb, beta, d.data, m);
    return true;
#endif
  }
  return false;
}

template <class S>
bool blas_vector([[maybe_unused]] S* d, [[maybe_unused]] MatrixRef<const S> a, [[maybe_unused]] const S* v,
                 [[maybe_unused]] bool add) {
  if constexpr (blas_scalar<S>) {
#if FUSEGRAD_BLAS_PRODUCTS
    // A column-major a stays on Eigen's kernel, which was faster there (double: 1.24 ms
    // against 1.59 ms for 100 x 10000, 0.21 against 0.36 us for 100 x 32 blocks); OpenBLAS
    // was faster on row-major ones (1.41 against 1.53 ms for 10000 x 100).
    if (!a.row_major || !blas_sizes(a.rows, a.cols, 1) || a.rows == 0) return false;
    if (a.cols == 0) {
      if (!add) std::fill(d, d + a.rows, S(0));
      return true;
    }
    // Row-major a is the column-major a.cols x a.rows matrix transposed.
    const int stored_rows = int(a.cols), stored_cols = int(a.rows);
    const S beta = add ? S(1) : S(0);
    if constexpr (std::is_same_v<S, double>)
      cblas_dgemv(CblasColMajor, CblasTrans, stored_rows, stored_cols, 1.0, a.data, stored_rows, v, 1, beta, d, 1);
    else
      cblas_sgemv(CblasColMajor, CblasTrans, stored_rows, stored_cols, 1.0f, a.data, stored_rows, v, 1, beta, d, 1);
    return true;
#endif
  }
  return false;
}

// d = a v, or d += a v when `add`: a matrix times a vector (d of a.rows elements, v of
// a.cols), straight to Eigen's matrix-vector kernel. multiply's vectors end here; the
// row-blocked products of a summed region (one call per block of 32 or more rows) call
// it directly, without multiply's rewriting, which measured 5-10% of a least-squares
// step in float.
template <class S>
void multiply_vector(S* d, MatrixRef<const S> a, const S* v, bool add) {
  if (blas_vector(d, a, v, add)) return;
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  Eigen::Map<Vector> dv(d, a.rows);
  const Eigen::Map<const Vector> vv(v, a.cols);
  if (a.row_major)
    multiply_maps(dv, Eigen::Map<const RowMajorMatrixType<S>>(a.data, a.rows, a.cols), vv, add);
  else
    multiply_maps(dv, Eigen::Map<const ColumnMajorMatrix<S>>(a.data, a.rows, a.cols), vv, add);
}

// d = a b, or d += a b when `add` (d rows x cols, a rows x depth, b depth x cols). The
// product is rewritten so that d is column-major, with one column when it is a vector
// (d^T = b^T a^T where needed), so Eigen's kernels see four operand layouts in all, and
// a matrix times a vector goes to the matrix-vector kernel directly (through the
// matrix-matrix entry point, which finds the same kernel at run time, products of
// 32-row blocks measured 5-8% slower). Small float and double products run
// multiply_small_block; below Eigen's small-product bound other scalars run a plain loop:
// Eigen's vectorized product by coefficients is never compiled.
// (The operands by reference: passed by value, they went through the stack and were
// read back in wider words than written, a stall of about 15 ns per small product.)
template <class S>
void multiply(const MatrixRef<S>& d_given, const MatrixRef<const S>& a_given, const MatrixRef<const S>& b_given,
              bool add) {
  MatrixRef<S> d = d_given;
  MatrixRef<const S> a = a_given, b = b_given;
  if (d.rows == 0 || d.cols == 0) return;
  const bool row_vector = d.rows == 1 && d.cols != 1;
  if (row_vector || (d.row_major && d.rows != 1 && d.cols != 1)) {
    d = d.transposed();
    const MatrixRef<const S> new_a = b.transposed();
    b = a.transposed();
    a = new_a;
  }
  if constexpr (small_product_scalar<S>) {
    // d is column-major here, or one column (stored the same either way).
    if (multiply_small_block(d.data, d.rows, d.cols, a.cols, a.data, a.row_major, b.data, b.row_major, add)) return;
  }
  prefer_unit_stride(a);
  if (d.cols == 1) return multiply_vector(d.data, a, b.data, add);  // b: one column, contiguous
  prefer_unit_stride(b);
  if (blas_matrix(d, a, b, add)) return;
  using Row = Eigen::Map<const RowMajorMatrixType<S>>;
  using Column = Eigen::Map<const ColumnMajorMatrix<S>>;
  Eigen::Map<ColumnMajorMatrix<S>> dm(d.data, d.rows, d.cols);
  const auto with_b = [&](const auto& am) {
    if (b.row_major)
      multiply_maps(dm, am, Row(b.data, b.rows, b.cols), add);
    else
      multiply_maps(dm, am, Column(b.data, b.rows, b.cols), add);
  };
  if (a.row_major)
    with_b(Row(a.data, a.rows, a.cols));
  else
    with_b(Column(a.data, a.rows, a.cols));
}

// to = from with its dimensions reordered: dimension i of `to` is dimension order[i] of
// `from` (row-major storage, `rank` dimensions of sizes from_dims).
// At most most_permuted_dimensions of them (the contractions check at compile time).
inline constexpr int most_permuted_dimensions = 16;
template <class S>
void permute_into(const S* from, const Index* from_dims, const Index* order, int rank, S* to) {
  Index total = 1;
  for (int i = 0; i < rank; ++i) total *= from_dims[i];
  if (total == 0) return;
  constexpr int most = most_permuted_dimensions;
  Index from_strides[most], strides[most], sizes[most], position[most] = {};
  Index stride = 1;
  for (int i = rank - 1; i >= 0; --i) from_strides[i] = stride, stride *= from_dims[i];
  for (int i = 0; i < rank; ++i) strides[i] = from_strides[order[i]], sizes[i] = from_dims[order[i]];
  // The innermost dimension as a loop, the others as an odometer.
  const Index inner = rank > 0 ? sizes[rank - 1] : 1, inner_stride = rank > 0 ? strides[rank - 1] : 0;
  Index offset = 0;
  for (Index written = 0; written < total; written += inner) {
    for (Index j = 0; j < inner; ++j) to[written + j] = from[offset + j * inner_stride];
    for (int i = rank - 2; i >= 0; --i) {
      offset += strides[i];
      if (++position[i] < sizes[i]) break;
      offset -= strides[i] * sizes[i];
      position[i] = 0;
    }
  }
}

// A rank-1 or rank-2 tensor's storage viewed in place as an Eigen matrix (as matrix_of),
// for the reductions of a product's backward: `f` receives the map.
template <bool RowsContracted, int Rank, class T, class F>
void with_matrix_view(T* data, const Index* dims, Index contracted, F&& f) {
  using S = std::remove_const_t<T>;
  using Row = std::conditional_t<std::is_const_v<T>, const RowMajorMatrixType<S>, RowMajorMatrixType<S>>;
  using Column = std::conditional_t<std::is_const_v<T>, const ColumnMajorMatrix<S>, ColumnMajorMatrix<S>>;
  const MatrixRef<T> m = matrix_of<RowsContracted>(data, dims, Rank, contracted);
  if (m.row_major) {
    Eigen::Map<Row> view(data, m.rows, m.cols);
    f(view);
  } else {
    Eigen::Map<Column> view(data, m.rows, m.cols);
    f(view);
  }
}

}  // namespace fusegrad::expr::detail

#pragma GCC diagnostic pop
