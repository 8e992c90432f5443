// SPDX-License-Identifier: MPL-2.0
#pragma once
// 2-D max and average pooling over (N, C, H, W), as PyTorch's max_pool2d and avg_pool2d
// compute them (ceil_mode off; avg_pool2d counts the padding in its divisor):
//   window (y, x) covers rows y*sh - ph .. y*sh - ph + kh - 1, columns likewise;
//   OH = (H + 2 ph - kh) / sh + 1
//   max:  out = the window's largest element (positions outside the input are not
//         candidates); its gradient goes to that element, the first in row-major order
//         among equal ones, as PyTorch's does; a NaN is taken as the largest
//   avg:  out = sum of the window's elements inside the input / (kh kw); each of them
//         receives g / (kh kw)
// A pooling bounds a fused region: its operand is evaluated once (a leaf's value in
// place), and a max pooling keeps the position of every window's maximum for backward.
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "contract.hpp"

namespace fusegrad {

/// A pooling's window, stride (the window's size when not given) or zero padding.
struct pool_window {
  Index height;  ///< along H
  Index width;   ///< along W
  /// The same size along both dimensions.
  pool_window(Index k) : height(k), width(k) {}  // NOLINT: implicit from a number by design
  /// {height, width}.
  pool_window(Index h, Index w) : height(h), width(w) {}
};

}  // namespace fusegrad

namespace fusegrad::expr {

template <class Child, bool Max>
struct Pool2d : expression_base {
  using Scalar = typename Child::Scalar;
  static constexpr int rank = 4;
  detail::EvaluatedOperand<Child> input;
  pool_window kernel, stride, padding;
  Shape<4> shape;
  std::shared_ptr<EigenTensor<Scalar, 4>> cache = pool::make_cache<Scalar, 4>();
  std::shared_ptr<EigenTensor<Index, 4>> chosen;  // max: the flat input index of each output

  Pool2d(Child c, pool_window k, pool_window s, pool_window p)
      : input(std::move(c)), kernel(k), stride(s), padding(p) {
    const char* operation = Max ? "max_pool2d" : "avg_pool2d";
    const Shape<4>& in = input.node.dims();
    auto fail = [&](const std::string& reason) {
      throw shape_error("fusegrad: " + std::string(operation) + ": input of shape " + format_shape(in) + ": " + reason);
    };
    if (k.height < 1 || k.width < 1) fail("the window is empty");
    if (s.height < 1 || s.width < 1) fail("the stride is not positive");
    if (p.height < 0 || p.width < 0) fail("the padding is negative");
    if (2 * p.height > k.height || 2 * p.width > k.width)
      fail("the padding is more than half the window (every window must hold an input element)");
    const Index padded_h = in[2] + 2 * p.height, padded_w = in[3] + 2 * p.width;
    if (padded_h < k.height || padded_w < k.width) fail("the window is larger than the padded input");
    shape = {in[0], in[1], (padded_h - k.height) / s.height + 1, (padded_w - k.width) / s.width + 1};
    checked_element_count(shape, operation);
    if constexpr (Max) chosen = pool::make_cache<Index, 4>();
  }

  const Shape<4>& dims() const { return shape; }
  // Rows [first, last) of the input under output row y.
  std::pair<Index, Index> rows_of(Index y) const {
    const Index top = y * stride.height - padding.height;
    return {std::max<Index>(top, 0), std::min(top + kernel.height, input.node.dims()[2])};
  }
  std::pair<Index, Index> columns_of(Index x) const {
    const Index left = x * stride.width - padding.width;
    return {std::max<Index>(left, 0), std::min(left + kernel.width, input.node.dims()[3])};
  }

  void prepare() const {
    input.prepare();
    pool::fit(*cache, shape);
    if constexpr (Max) pool::fit(*chosen, shape);
    const EigenTensor<Scalar, 4>& in = input.value();
    const Index H = in.dimension(2), W = in.dimension(3), planes = shape[0] * shape[1];
    const Scalar area = Scalar(kernel.height * kernel.width);
    Scalar* out = cache->data();
    Index* at = Max ? chosen->data() : nullptr;
    for (Index plane = 0; plane < planes; ++plane) {
      const Scalar* values = in.data() + plane * H * W;
      for (Index y = 0; y < shape[2]; ++y) {
        const auto [r0, r1] = rows_of(y);
        for (Index x = 0; x < shape[3]; ++x, ++out) {
          const auto [c0, c1] = columns_of(x);
          if constexpr (Max) {
            // Without branches on the data (the winner is random: a mispredicted branch
            // per element cost 10 times the comparisons): v > top ? v : top is one max
            // instruction and the index a conditional move. A NaN never wins that way, so
            // a window holding one is searched again by the exact rule (a NaN wins).
            Index best = r0 * W + c0;
            Scalar top = values[best];
            bool nan = false;
            for (Index r = r0; r < r1; ++r)
              for (Index c = c0; c < c1; ++c) {
                const Scalar v = values[r * W + c];
                const bool greater = v > top;
                top = greater ? v : top;
                best = greater ? r * W + c : best;
                nan |= v != v;
              }
            if (nan) {
              best = r0 * W + c0;
              for (Index r = r0; r < r1; ++r)
                for (Index c = c0; c < c1; ++c) {
                  using std::isnan;
                  const Scalar& v = values[r * W + c];
                  if (v > values[best] || (isnan(v) && !isnan(values[best]))) best = r * W + c;
                }
              top = values[best];
            }
            *out = top;
            *at++ = plane * H * W + best;
          } else {
            Scalar total = Scalar(0);
            for (Index r = r0; r < r1; ++r)
              for (Index c = c0; c < c1; ++c) total = total + values[r * W + c];
            *out = total / area;
          }
        }
      }
    }
  }
  const EigenTensor<Scalar, 4>& forward() const { return *cache; }
  bool needs_grad() const { return input.node.needs_grad(); }
  int gradient_paths() const { return input.node.gradient_paths(); }

  template <class G>
  void backward(const G& g) const {
    if (!input.node.needs_grad() || element_count(shape) == 0) return;
    pool::Recycled<Scalar, 4> upstream(shape);
    evaluate_into(upstream.tensor, g);
    input.backward_in_place([&](EigenTensor<Scalar, 4>& gradient, bool add) {
      if (!add) gradient.setZero();
      const Scalar* gs = upstream.tensor.data();
      const Index count = element_count(shape);
      if constexpr (Max) {
        const Index* at = chosen->data();
        for (Index i = 0; i < count; ++i) gradient.data()[at[i]] += gs[i];
      } else {
        const Index H = input.node.dims()[2], W = input.node.dims()[3], planes = shape[0] * shape[1];
        const Scalar area = Scalar(kernel.height * kernel.width);
        for (Index plane = 0; plane < planes; ++plane) {
          Scalar* target = gradient.data() + plane * H * W;
          for (Index y = 0; y < shape[2]; ++y) {
            const auto [r0, r1] = rows_of(y);
            for (Index x = 0; x < shape[3]; ++x, ++gs) {
              const auto [c0, c1] = columns_of(x);
              const Scalar share = *gs / area;
              for (Index r = r0; r < r1; ++r)
                for (Index c = c0; c < c1; ++c) target[r * W + c] += share;
            }
          }
        }
      }
    });
  }
  template <class F>
  void for_each_leaf(F&& f) const {
    input.node.for_each_leaf(f);
  }
};

}  // namespace fusegrad::expr

namespace fusegrad {

/// max_pool2d(x, kernel, stride = kernel, padding = 0): x (N, C, H, W) -> (N, C, OH, OW),
/// each a window's largest element; kernel, stride and padding a number or {h, w}.
template <Operand X>
auto max_pool2d(const X& x, pool_window kernel, std::optional<pool_window> stride = std::nullopt,
                pool_window padding = 0) {
  static_assert(expr::node_of<X>::rank == 4, "fusegrad: max_pool2d takes an input of rank 4: (N, C, H, W)");
  return expr::Pool2d<expr::node_of<X>, true>(expr::as_node(x), kernel, stride.value_or(kernel), padding);
}

/// avg_pool2d(x, kernel, stride = kernel, padding = 0): each a window's mean, the zero
/// padding counted in the divisor (PyTorch's count_include_pad).
template <Operand X>
auto avg_pool2d(const X& x, pool_window kernel, std::optional<pool_window> stride = std::nullopt,
                pool_window padding = 0) {
  static_assert(expr::node_of<X>::rank == 4, "fusegrad: avg_pool2d takes an input of rank 4: (N, C, H, W)");
  return expr::Pool2d<expr::node_of<X>, false>(expr::as_node(x), kernel, stride.value_or(kernel), padding);
}

}  // namespace fusegrad
