// The one matrix-product function every contraction calls (expr/matrix_product.hpp),
// against plain loops in long double: every storage order of the operands and of the
// result, assigned and added, empty sums, vectors, non-finite operands, and products
// large enough for the optimized path (OpenBLAS when the build found it, Eigen's
// kernels otherwise) next to the small ones fusegrad's own loops take.
#include <cmath>
#include <limits>
#include <vector>

#include "../support/gradient_check.hpp"

namespace fg = fusegrad;
namespace detail = fusegrad::expr::detail;

namespace {

// Element (i, j) of a rows x cols matrix stored row- or column-major.
template <class T>
T& at(std::vector<T>& storage, fg::Index cols, fg::Index rows, bool row_major, fg::Index i, fg::Index j) {
  return storage[row_major ? i * cols + j : j * rows + i];
}

template <class S>
std::vector<S> filled(fg::Index count, unsigned seed) {
  std::vector<S> values(count);
  for (fg::Index k = 0; k < count; ++k) values[k] = S(std::sin(double(seed * 131 + k) * 0.7));
  return values;
}

// d (rows x cols) = or += a (rows x depth) b (depth x cols), every combination of storage
// orders, checked element by element against a long double loop.
template <class S>
void check_products(fg::Index rows, fg::Index depth, fg::Index cols) {
  const S nan = std::numeric_limits<S>::quiet_NaN();
  for (int orders = 0; orders < 8; ++orders) {
    const bool a_rows = orders & 1, b_rows = orders & 2, d_rows = orders & 4;
    std::vector<S> a = filled<S>(rows * depth, 1), b = filled<S>(depth * cols, 2);
    for (const bool add : {false, true}) {
      CAPTURE(rows);
      CAPTURE(depth);
      CAPTURE(cols);
      CAPTURE(a_rows);
      CAPTURE(b_rows);
      CAPTURE(d_rows);
      CAPTURE(add);
      // Assigned: what the storage held (NaN) must not reach the result.
      std::vector<S> d = add ? filled<S>(rows * cols, 3) : std::vector<S>(rows * cols, nan);
      const std::vector<S> before = d;
      detail::multiply(detail::MatrixRef<S>{d.data(), rows, cols, d_rows},
                       detail::MatrixRef<const S>{a.data(), rows, depth, a_rows},
                       detail::MatrixRef<const S>{b.data(), depth, cols, b_rows}, add);
      for (fg::Index i = 0; i < rows; ++i)
        for (fg::Index j = 0; j < cols; ++j) {
          long double expected = add ? before[d_rows ? i * cols + j : j * rows + i] : 0.0L;
          for (fg::Index k = 0; k < depth; ++k)
            expected += (long double)at(a, depth, rows, a_rows, i, k) * at(b, cols, depth, b_rows, k, j);
          const S got = at(d, cols, rows, d_rows, i, j);
          CHECK(double(got) == doctest::Approx(double(expected)).epsilon(std::is_same_v<S, float> ? 1e-5 : 1e-12));
        }
    }
  }
}

}  // namespace

TEST_CASE("matrix products match plain loops for every storage order, assigned and added") {
  // (33, 17, 29) and larger reach the optimized kernels; (2, 3, 4) and (7, 9, 11) take
  // fusegrad's small-product loops.
  for (const auto& [rows, depth, cols] : std::vector<std::array<fg::Index, 3>>{
           {7, 9, 11}, {2, 3, 4}, {33, 17, 29}, {1, 40, 23}, {23, 40, 1}, {40, 1, 30}, {64, 64, 64}}) {
    check_products<double>(rows, depth, cols);
    check_products<float>(rows, depth, cols);
  }
}

TEST_CASE("small products run fusegrad's own loops and match plain loops at every packet width") {
  // Rows around each packet width (16, 8 and 4 floats; 8, 4 and 2 doubles with AVX-512),
  // columns around the blocks of four, depths around a packet and the bound on copying.
  for (const fg::Index rows : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33})
    for (const fg::Index cols : {1, 2, 3, 4, 5, 9})
      for (const fg::Index depth : {1, 2, 3, 8, 9, 16, 17}) {
        if (rows * cols * depth > 2 * detail::small_product_work<float>) continue;
        check_products<double>(rows, depth, cols);
        check_products<float>(rows, depth, cols);
      }
}

TEST_CASE("the small-product loops take the shapes within their bounds and leave the others") {
  std::vector<float> a(4096, 1.0f), b(4096, 1.0f), d(4096);
  const auto takes = [&](fg::Index m, fg::Index n, fg::Index k, bool a_row_major) {
    return detail::multiply_small_block(d.data(), m, n, k, a.data(), a_row_major, b.data(), false, false);
  };
  CHECK(takes(16, 4, 8, true));     // a small model's layer: a copied, depth 8
  CHECK(takes(4, 1, 16, true));     // a row-major matrix times a vector: dot products
  CHECK(takes(16, 4, 1, false));    // an outer product
  CHECK(takes(16, 8, 8, false));    // 1024 multiply-adds in float
  CHECK_FALSE(takes(16, 8, 9, false));   // beyond them
  CHECK(takes(16, 16, 8, true));    // twice that when a is copied
  CHECK_FALSE(takes(8, 8, 17, true));    // but not deeper than 16
  CHECK_FALSE(takes(8, 1, 32, false));   // nor a matrix-vector product deeper than 16
  // Sizes whose product m n k wraps around to 0 in 64 bits (2^40 2^12 2^12 = 2^64): refused
  // before anything is read or written, not taken as an empty amount of work.
  CHECK_FALSE(takes(fg::Index(1) << 40, fg::Index(1) << 12, fg::Index(1) << 12, false));
  // The last product taken, 16 x 16 over a depth of 8 of ones, wrote 8 into each of its
  // 256 elements; the refused ones wrote nothing.
  for (fg::Index i = 0; i < 256; ++i) CHECK(d[i] == 8.0f);
}

TEST_CASE("a product whose terms are all -0 is +0 at every size, as a sum from zero is") {
  for (const fg::Index n : {1, 2, 4, 7, 16, 64})
    for (const bool a_rows : {false, true}) {
      CAPTURE(n);
      CAPTURE(a_rows);
      std::vector<float> a(n * n, -1.0f), b(n * n, 0.0f), d(n * n, 5.0f);
      detail::multiply(detail::MatrixRef<float>{d.data(), n, n, false},
                       detail::MatrixRef<const float>{a.data(), n, n, a_rows},
                       detail::MatrixRef<const float>{b.data(), n, n, false}, false);
      for (float x : d) CHECK((x == 0.0f && !std::signbit(x)));
    }
}

namespace {
// A 4 x 3 x 5 product (fusegrad's small-product loops, every storage order of a) of
// extreme operands, against the exact values: subnormal terms stay subnormal (no flush to
// zero), the largest value overflows to inf, inf meets 0 as NaN, and a NaN reaches only
// its row.
template <class S>
void check_small_extremes() {
  using limits = std::numeric_limits<S>;
  const fg::Index m = 4, k = 3, n = 5;
  const S tiny = limits::denorm_min() * S(4), big = limits::max(), inf = limits::infinity();
  for (const bool a_rows : {false, true}) {
    CAPTURE(a_rows);
    std::vector<S> a(m * k, S(0)), b(k * n, S(1)), d(m * n, limits::quiet_NaN());
    at(a, k, m, a_rows, 0, 0) = tiny;            // row 0: tiny * 1 = tiny, subnormal
    at(a, k, m, a_rows, 1, 0) = big;             // row 1: big * 2 overflows in column 1
    at(a, k, m, a_rows, 2, 1) = inf;             // row 2: inf, and inf * 0 in column 2
    at(a, k, m, a_rows, 3, 2) = limits::quiet_NaN();  // row 3: NaN everywhere
    at(b, n, k, false, 0, 1) = S(2);
    at(b, n, k, false, 1, 2) = S(0);
    REQUIRE(detail::multiply_small_block(d.data(), m, n, k, a.data(), a_rows, b.data(), false, false));
    for (fg::Index j = 0; j < n; ++j) {
      CAPTURE(j);
      const S r0 = d[j * m + 0], r1 = d[j * m + 1], r2 = d[j * m + 2], r3 = d[j * m + 3];
      CHECK(r0 == (j == 1 ? tiny * S(2) : tiny));
      CHECK(std::fpclassify(r0) == FP_SUBNORMAL);
      if (j == 1)
        CHECK(r1 == inf);
      else
        CHECK(r1 == big);
      if (j == 2)
        CHECK(std::isnan(r2));
      else
        CHECK(r2 == inf);
      CHECK(std::isnan(r3));
    }
  }
}
}  // namespace

TEST_CASE("small products keep subnormals, overflow to infinity and pass inf and NaN on, in float and double") {
  check_small_extremes<float>();
  check_small_extremes<double>();
}

TEST_CASE("a product over an empty sum assigns zeros and adds nothing") {
  for (const bool add : {false, true}) {
    std::vector<double> d(30 * 20, add ? 2.5 : std::numeric_limits<double>::quiet_NaN());
    detail::multiply(detail::MatrixRef<double>{d.data(), 30, 20, false}, detail::MatrixRef<const double>{nullptr, 30, 0, true},
                     detail::MatrixRef<const double>{nullptr, 0, 20, true}, add);
    for (double x : d) CHECK(x == (add ? 2.5 : 0.0));
    std::vector<float> v(30, add ? 2.5f : std::numeric_limits<float>::quiet_NaN());
    detail::multiply_vector(v.data(), detail::MatrixRef<const float>{nullptr, 30, 0, true}, static_cast<const float*>(nullptr),
                            add);
    for (float x : v) CHECK(x == (add ? 2.5f : 0.0f));
  }
}

TEST_CASE("matrix-vector products match plain loops for both storage orders") {
  for (const bool row_major : {false, true})
    for (const bool add : {false, true}) {
      CAPTURE(row_major);
      CAPTURE(add);
      const fg::Index rows = 37, cols = 19;
      std::vector<double> a = filled<double>(rows * cols, 4), v = filled<double>(cols, 5);
      std::vector<double> d = add ? filled<double>(rows, 6) : std::vector<double>(rows, std::nan(""));
      const std::vector<double> before = d;
      detail::multiply_vector(d.data(), detail::MatrixRef<const double>{a.data(), rows, cols, row_major}, v.data(), add);
      for (fg::Index i = 0; i < rows; ++i) {
        long double expected = add ? before[i] : 0.0L;
        for (fg::Index k = 0; k < cols; ++k) expected += (long double)at(a, cols, rows, row_major, i, k) * v[k];
        CHECK(d[i] == doctest::Approx(double(expected)).epsilon(1e-12));
      }
    }
}

TEST_CASE("infinities and NaN in an operand reach exactly the products that read them") {
  const double inf = std::numeric_limits<double>::infinity();
  // 24: a library kernel's product; 7: fusegrad's small-product loops.
  for (const fg::Index n : {24, 7}) {
    CAPTURE(n);
    std::vector<double> a = filled<double>(n * n, 7), b = filled<double>(n * n, 8), d(n * n);
    a[1 * n + 5] = std::nan("");  // row 1 of a (row-major)
    b[2 * n + 4] = inf;           // column 4 of b (row-major), row 2
    a[6 * n + 2] = 0.0;           // row 6 meets that infinity with 0: NaN
    detail::multiply(detail::MatrixRef<double>{d.data(), n, n, true},
                     detail::MatrixRef<const double>{a.data(), n, n, true},
                     detail::MatrixRef<const double>{b.data(), n, n, true}, false);
    for (fg::Index i = 0; i < n; ++i)
      for (fg::Index j = 0; j < n; ++j) {
        CAPTURE(i);
        CAPTURE(j);
        const double x = d[i * n + j];
        if (i == 1 || (i == 6 && j == 4))
          CHECK(std::isnan(x));
        else if (j == 4)
          CHECK(std::isinf(x));
        else
          CHECK(std::isfinite(x));
      }
  }
}

TEST_CASE("the build reports which kernels its products run on") {
#if defined(FUSEGRAD_HAS_BLAS) && FUSEGRAD_HAS_BLAS
  CHECK(detail::blas_scalar<double>);
  CHECK(detail::blas_scalar<float>);
  MESSAGE("matrix products on OpenBLAS");
#else
  CHECK_FALSE(detail::blas_scalar<double>);
  MESSAGE("matrix products on Eigen's kernels");
#endif
  CHECK_FALSE(detail::blas_scalar<fg::Dual<double>>);
}
