// SPDX-License-Identifier: MPL-2.0
#pragma once
// 1-D and 2-D convolutions (cross-correlations, as PyTorch's conv1d / conv2d compute
// them): input (N, C, H, W) and kernel (K, C, kh, kw) give (N, K, OH, OW) with
//   out[n, k, y, x] = sum over c, i, j of in[n, c, y*sh - top + i, x*sw - left + j] * ker[k, c, i, j],
// input positions outside the input reading zeros. A convolution bounds a fused region:
// its operands are evaluated once (a leaf's value is used in place) and the work runs on
// one Eigen matrix product, forward and for each gradient:
//   cols (C*kh*kw, N*OH*OW)   im2col: row (c, i, j) holds, for every output position, the
//                             input value the kernel's tap (c, i, j) reads there
//   out  = Kmat . cols        Kmat: the kernel's storage viewed as a (K, C*kh*kw) matrix,
//                             then its columns (n, y, x) moved to (N, K, OH, OW)
//   dKernel = G . cols^T      G: the upstream gradient as a (K, N*OH*OW) matrix, written
//                             in place into the kernel's gradient buffer
//   dInput  = col2im(Kmat^T . G)   each column entry added back to the input position
//                             it was read from (zero-padding positions dropped)
// A 1-D convolution is the 2-D one with H = kh = 1.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "contract.hpp"

namespace fusegrad {

/// How a convolution treats the input's borders. valid: no padding, the kernel stays inside
/// the input (OH = (H - kh) / sh + 1). same: OH = ceil(H / sh), with total zero padding
/// max((OH - 1) * sh + kh - H, 0) split as TensorFlow does (the smaller half before).
enum class padding { valid, same };

/// A 2-D convolution's stride: one number for both dimensions, or {sh, sw}.
struct conv_stride {
  Index height = 1;  ///< stride along H
  Index width = 1;   ///< stride along W
  /// The same stride s along both dimensions.
  conv_stride(Index s = 1) : height(s), width(s) {}  // NOLINT: implicit from a number by design
  /// Stride h along H, w along W.
  conv_stride(Index h, Index w) : height(h), width(w) {}
};

}  // namespace fusegrad

namespace fusegrad::expr {

namespace convolution {

// Sizes along one spatial dimension: output size and zero padding before the input.
struct Axis {
  Index in = 0, kernel = 0, stride = 1, before = 0, out = 0;

  // The output positions [first, last) whose tap `tap` reads inside the input:
  // 0 <= o * stride - before + tap < in.
  std::pair<Index, Index> inside(Index tap) const {
    const Index offset = tap - before;
    const Index first = offset >= 0 ? 0 : std::min(out, (-offset - 1) / stride + 1);  // ceil(-offset / stride)
    const Index last = in - 1 - offset < 0 ? 0 : std::min(out, (in - 1 - offset) / stride + 1);
    return {first, std::max(first, last)};
  }
};

// Sets an axis' output size and padding; false when the kernel does not fit.
inline bool plan(Axis& a, padding p) {
  if (p == padding::valid) {
    if (a.kernel > a.in) return false;
    a.before = 0;
    a.out = (a.in - a.kernel) / a.stride + 1;
  } else {
    a.out = a.in == 0 ? 0 : (a.in - 1) / a.stride + 1;  // ceil(in / stride), for any stride without overflow
    const Index total = std::max<Index>((a.out - 1) * a.stride + a.kernel - a.in, 0);
    a.before = total / 2;
  }
  return true;
}

}  // namespace convolution

// D = 1 or 2 spatial dimensions; operands of rank D + 2.
template <class Input, class Kernel, int D>
struct Convolution : expression_base {
  using Scalar = typename Input::Scalar;
  static constexpr int rank = D + 2;
  static_assert(std::is_same_v<typename Input::Scalar, typename Kernel::Scalar>,
                "fusegrad: a convolution's input and kernel must have the same scalar type");
  static_assert(Input::rank == rank && Kernel::rank == rank, "fusegrad: convolution operands of the wrong rank");

  detail::EvaluatedOperand<Input> input;
  detail::EvaluatedOperand<Kernel> kernel;
  Shape<rank> shape;
  Index batch = 0, channels = 0, filters = 0;
  convolution::Axis rows, columns;  // H and W (H = 1 for a 1-D convolution)
  std::shared_ptr<EigenTensor<Scalar, rank>> cache = pool::make_cache<Scalar, rank>();
  // The im2col matrix (taps, N*P), kept from forward for the kernel's gradient; its
  // storage, like every temporary here, comes from and returns to the per-thread pool
  // (a fresh allocation of this size costs a page fault per 4 KB, every step).
  std::shared_ptr<EigenTensor<Scalar, 2>> cols = pool::make_cache<Scalar, 2>();
  // The products below are matrix products of row-major buffers (expr/matrix_product.hpp).
  detail::MatrixRef<const Scalar> cols_matrix() const {
    return {cols->data(), cols->dimension(0), cols->dimension(1), true};
  }

  Convolution(Input in, Kernel ker, conv_stride stride, padding p, const char* operation)
      : input(std::move(in)), kernel(std::move(ker)) {
    const auto& a = input.node.dims();
    const auto& b = kernel.node.dims();
    auto fail = [&](const std::string& reason) {
      throw shape_error("fusegrad: " + std::string(operation) + ": input of shape " + format_shape(a) +
                        " and kernel of shape " + format_shape(b) + ": " + reason);
    };
    if (stride.height <= 0 || stride.width <= 0)
      fail(D == 2 ? "stride (" + std::to_string(stride.height) + ", " + std::to_string(stride.width) +
                        ") is not positive"
                  : "stride " + std::to_string(stride.width) + " is not positive");
    if (a[1] != b[1])
      fail("the kernel has " + std::to_string(b[1]) + " input channels, the input " + std::to_string(a[1]));
    for (int i = 2; i < rank; ++i)
      if (b[i] < 1) fail("the kernel has an empty spatial dimension");
    batch = a[0], channels = a[1], filters = b[0];
    if constexpr (D == 2) rows = {a[2], b[2], stride.height};
    else rows = {1, 1, 1};
    columns = {a[rank - 1], b[rank - 1], stride.width};
    if (!convolution::plan(rows, p) || !convolution::plan(columns, p))
      fail("the kernel is larger than the input (valid padding)");
    shape[0] = batch, shape[1] = filters;
    if constexpr (D == 2) shape[2] = rows.out;
    shape[rank - 1] = columns.out;
    checked_element_count(shape, operation);
  }

  Index taps() const { return channels * rows.kernel * columns.kernel; }  // C*kh*kw
  Index positions() const { return rows.out * columns.out; }             // OH*OW
  detail::MatrixRef<const Scalar> kernel_matrix(const Scalar* data) const { return {data, filters, taps(), true}; }

  // cols(r, n*P + y*OW + x) for r = (c, i, j): the input value that tap reads.
  void im2col(const EigenTensor<Scalar, rank>& in, EigenTensor<Scalar, 2>& out) const {
    const Index P = positions(), H = rows.in, W = columns.in, OW = columns.out;
    pool::fit(out, Shape<2>{taps(), batch * P});
    Scalar* const base = out.data();
    for (Index c = 0; c < channels; ++c)
      for (Index i = 0; i < rows.kernel; ++i) {
        const auto [y0, y1] = rows.inside(i);
        for (Index j = 0; j < columns.kernel; ++j) {
          const auto [x0, x1] = columns.inside(j);
          const Index r = (c * rows.kernel + i) * columns.kernel + j;
          for (Index n = 0; n < batch; ++n) {
            Scalar* const block = base + r * batch * P + n * P;
            const Scalar* const plane = in.data() + (n * channels + c) * H * W;
            std::fill(block, block + y0 * OW, Scalar(0));
            for (Index y = y0; y < y1; ++y) {
              Scalar* const line = block + y * OW;
              const Scalar* const source = plane + (y * rows.stride - rows.before + i) * W;
              std::fill(line, line + x0, Scalar(0));
              for (Index x = x0; x < x1; ++x) line[x] = source[x * columns.stride - columns.before + j];
              std::fill(line + x1, line + OW, Scalar(0));
            }
            std::fill(block + y1 * OW, block + P, Scalar(0));
          }
        }
      }
  }
  // The reverse of im2col: adds every entry of `d` to the input position it came from.
  void col2im(const Scalar* base, Scalar* gradient) const {
    const Index P = positions(), H = rows.in, W = columns.in, OW = columns.out;
    for (Index c = 0; c < channels; ++c)
      for (Index i = 0; i < rows.kernel; ++i) {
        const auto [y0, y1] = rows.inside(i);
        for (Index j = 0; j < columns.kernel; ++j) {
          const auto [x0, x1] = columns.inside(j);
          const Index r = (c * rows.kernel + i) * columns.kernel + j;
          for (Index n = 0; n < batch; ++n) {
            const Scalar* const block = base + r * batch * P + n * P;
            Scalar* const plane = gradient + (n * channels + c) * H * W;
            for (Index y = y0; y < y1; ++y) {
              const Scalar* const line = block + y * OW;
              Scalar* const target = plane + (y * rows.stride - rows.before + i) * W;
              for (Index x = x0; x < x1; ++x) target[x * columns.stride - columns.before + j] += line[x];
            }
          }
        }
      }
  }

  const Shape<rank>& dims() const { return shape; }
  void prepare() const {
    input.prepare();
    kernel.prepare();
    pool::fit(*cache, shape);
    const Index P = positions();
    if (cache->size() == 0) return;
    im2col(input.value(), *cols);
    const auto k = kernel_matrix(kernel.value().data());
    if (batch == 1) {
      // (1, K, OH, OW) is the (K, OH*OW) product itself.
      detail::multiply(detail::MatrixRef<Scalar>{cache->data(), filters, P, true}, k, cols_matrix(), false);
    } else {
      pool::Recycled<Scalar, 2> product(Shape<2>{filters, batch * P});  // (K, N*P): columns (n, y, x)
      detail::multiply(detail::MatrixRef<Scalar>{product.tensor.data(), filters, batch * P, true}, k, cols_matrix(),
                       false);
      for (Index n = 0; n < batch; ++n)
        for (Index f = 0; f < filters; ++f)
          std::memcpy(cache->data() + (n * filters + f) * P, product.tensor.data() + f * batch * P + n * P,
                      sizeof(Scalar) * P);
    }
    if (!kernel.node.needs_grad()) pool::give(std::move(*cols));  // only dKernel reads it
  }
  const EigenTensor<Scalar, rank>& forward() const { return *cache; }
  bool needs_grad() const { return input.node.needs_grad() || kernel.node.needs_grad(); }
  int gradient_paths() const { return input.node.gradient_paths() + kernel.node.gradient_paths(); }

  template <class G>
  void backward(const G& g) const {
    if (!needs_grad()) return;
    const Index P = positions();
    if (cache->size() == 0) {
      // Nothing reached any output: the gradients are zero.
      if (input.node.needs_grad())
        input.backward_in_place([&](auto& d, bool add) { if (!add) d.setZero(); });
      if (kernel.node.needs_grad())
        kernel.backward_in_place([&](auto& d, bool add) { if (!add) d.setZero(); });
      return;
    }
    // The upstream gradient as a (K, N*P) matrix, columns (n, y, x).
    pool::Recycled<Scalar, 3> rearranged(Shape<3>{filters, batch, P});
    const Scalar* upstream;
    if constexpr (std::is_same_v<G, EigenTensor<Scalar, rank>>) {
      if (batch == 1) {
        upstream = g.data();
      } else {
        for (Index n = 0; n < batch; ++n)
          for (Index f = 0; f < filters; ++f)
            std::memcpy(rearranged.tensor.data() + (f * batch + n) * P, g.data() + (n * filters + f) * P,
                        sizeof(Scalar) * P);
        upstream = rearranged.tensor.data();
      }
    } else {
      const std::array<Index, 3> order{1, 0, 2};
      evaluate_into(rearranged.tensor, g.reshape(Shape<3>{batch, filters, P}).shuffle(order));
      upstream = rearranged.tensor.data();
    }
    const detail::MatrixRef<const Scalar> gm{upstream, filters, batch * P, true};

    if (kernel.node.needs_grad()) {
      kernel.backward_in_place([&](auto& gradient, bool add) {
        detail::multiply(detail::MatrixRef<Scalar>{gradient.data(), filters, taps(), true}, gm,
                         cols_matrix().transposed(), add);
      });
    }
    if (input.node.needs_grad()) {
      pool::Recycled<Scalar, 2> dcols(Shape<2>{taps(), batch * P});  // (C*kh*kw, N*P)
      detail::multiply(detail::MatrixRef<Scalar>{dcols.tensor.data(), taps(), batch * P, true},
                       kernel_matrix(kernel.value().data()).transposed(), gm, false);
      input.backward_in_place([&](auto& gradient, bool add) {
        if (!add) gradient.setZero();
        col2im(dcols.tensor.data(), gradient.data());
      });
    }
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    input.node.for_each_leaf(f);
    kernel.node.for_each_leaf(f);
  }
};

}  // namespace fusegrad::expr

namespace fusegrad {

/// conv2d(input, kernel, stride = 1, padding = valid): input (N, C, H, W), kernel
/// (K, C, kh, kw) -> (N, K, OH, OW); stride a number or {sh, sw}. No bias: add one by
/// broadcasting, e.g. conv2d(x, k) + fg::reshape(b, {K, 1, 1}).
template <Operand I, Operand K>
auto conv2d(const I& input, const K& kernel, conv_stride stride = 1, padding p = padding::valid) {
  static_assert(expr::node_of<I>::rank == 4, "fusegrad: conv2d takes an input of rank 4: (N, C, H, W)");
  static_assert(expr::node_of<K>::rank == 4, "fusegrad: conv2d takes a kernel of rank 4: (K, C, kh, kw)");
  static_assert(std::is_same_v<typename expr::node_of<I>::Scalar, typename expr::node_of<K>::Scalar>,
                "fusegrad: conv2d's input and kernel must have the same scalar type");
  return expr::Convolution<expr::node_of<I>, expr::node_of<K>, 2>(expr::as_node(input), expr::as_node(kernel), stride,
                                                                  p, "conv2d");
}
/// conv2d with stride 1 and the given padding.
template <Operand I, Operand K>
auto conv2d(const I& input, const K& kernel, padding p) {
  return conv2d(input, kernel, conv_stride(1), p);
}

/// conv1d(input, kernel, stride = 1, padding = valid): input (N, C, L), kernel (K, C, k)
/// -> (N, K, OL).
template <Operand I, Operand K>
auto conv1d(const I& input, const K& kernel, Index stride = 1, padding p = padding::valid) {
  static_assert(expr::node_of<I>::rank == 3, "fusegrad: conv1d takes an input of rank 3: (N, C, L)");
  static_assert(expr::node_of<K>::rank == 3, "fusegrad: conv1d takes a kernel of rank 3: (K, C, k)");
  static_assert(std::is_same_v<typename expr::node_of<I>::Scalar, typename expr::node_of<K>::Scalar>,
                "fusegrad: conv1d's input and kernel must have the same scalar type");
  return expr::Convolution<expr::node_of<I>, expr::node_of<K>, 1>(expr::as_node(input), expr::as_node(kernel),
                                                                  conv_stride(1, stride), p, "conv1d");
}
/// conv1d with stride 1 and the given padding.
template <Operand I, Operand K>
auto conv1d(const I& input, const K& kernel, padding p) {
  return conv1d(input, kernel, 1, p);
}

}  // namespace fusegrad
