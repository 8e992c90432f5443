// SPDX-License-Identifier: MPL-2.0
#pragma once
// Which expressions form an elementwise region that the fused passes take
// (expr/lanes.hpp, expr/forward_lanes.hpp): maps and zips over leaves, constants and
// stored values, of a floating-point or dual scalar type; and how a pass reads the
// region's operands (RegionLayout). The maps and zips ask it too: a region's backward is
// the fused pass, always, and no per-node path is compiled for it.
#include <algorithm>
#include <array>

#include "../core/dual.hpp"
#include "node.hpp"

namespace fusegrad::expr {

template <class Rule, class Child>
struct Map;
template <class Rule, class Left, class Right>
struct Zip;

// A node whose value is held in a tensor (a leaf, an evaluated reduction, contraction or
// rank-0 subexpression): the region reads it, and hands it its gradient afterwards.
template <class N>
concept stored_tensor = requires(const N& node) {
  { node.forward() } -> std::same_as<const EigenTensor<typename N::Scalar, N::rank>&>;
};

template <class N>
inline constexpr bool lane_fusable = stored_tensor<N>;
template <class S>
inline constexpr bool lane_fusable<Constant<S>> = true;
template <class Rule, class Child>
inline constexpr bool lane_fusable<Map<Rule, Child>> = lane_fusable<Child>;
template <class Rule, class Left, class Right>
inline constexpr bool lane_fusable<Zip<Rule, Left, Right>> = lane_fusable<Left> && lane_fusable<Right>;

template <class N>
inline constexpr bool is_elementwise = false;
template <class Rule, class Child>
inline constexpr bool is_elementwise<Map<Rule, Child>> = true;
template <class Rule, class Left, class Right>
inline constexpr bool is_elementwise<Zip<Rule, Left, Right>> = true;

// The largest rank of a region the fused passes take (RegionLayout holds its dimensions).
inline constexpr int max_region_rank = 16;

// A region starts at a map or zip (a stored value alone has nothing to fuse: a sum of a
// matrix product keeps the product's own backward for a uniform gradient).
// Dual numbers (forward over reverse: hvp, hessian) run through it too, a packet of
// values and one of tangents at a time (packet/dual_lane.hpp).
template <class N>
inline constexpr bool lane_region = (std::is_floating_point_v<typename N::Scalar> || is_dual<typename N::Scalar>) &&
                                    N::rank > 0 && N::rank <= max_region_rank && is_elementwise<N> && lane_fusable<N>;

// How a fused pass reads a region's operands of rank >= 1. Each either
//   covers the region (its full size),
//   covers only its last dimensions, stretched along the leading ones (a bias over a
//     batch: b of shape (h) in x W^T + b of shape (B, h)): with such row operands the
//     region is swept a row of row_length elements at a time, each row reading the same
//     row of the operand and adding into the same row of its gradient; or
//   is stretched any other way (a per-channel bias of shape (C, 1, 1) over (B, C, H, W),
//     rows of another length, rows too short to sweep one by one): then it is read from
//     a copy stretched over the whole region, and its gradient gathered over the region
//     and summed back to its shape after the pass (Expansion).
// So every elementwise region takes the fused passes, whatever its broadcasting; the
// shapes of the maps and zips inside it do not matter, since broadcasting commutes with
// elementwise functions.
struct RegionLayout {
  bool ready = false;     // false only for an empty region (nothing to compute)
  Index size = 0;         // the region's element count
  Index row_length = 0;   // 0: no operand is read by rows
  bool expands = false;   // some operand is read through a stretched copy
  int rank = 0;
  std::array<Index, max_region_rank> dims{};
};

// The row length over which `dims` (rank r) is stretched in a region: the product of the
// region's last k dimensions when dims ends in those k and is 1 before them; 0 when dims
// is not stretched that way.
inline Index stretched_row_length(const Index* dims, int r, const RegionLayout& region) {
  int matching = 0;
  while (matching < r && matching < region.rank && dims[r - 1 - matching] == region.dims[region.rank - 1 - matching] &&
         dims[r - 1 - matching] != 1)
    ++matching;
  for (int k = matching; k < r; ++k)
    if (dims[r - 1 - k] != 1) return 0;
  Index length = 1;
  for (int k = 0; k < matching; ++k) length *= region.dims[region.rank - 1 - k];
  return length;
}

enum class operand_reading { full, by_row, expanded };

// How the pass reads an operand of shape dims in the region.
template <std::size_t R>
operand_reading reading_of(const Shape<R>& dims, const RegionLayout& layout) {
  if (R == 0 || element_count(dims) == layout.size) return operand_reading::full;
  if (layout.row_length > 0 && stretched_row_length(dims.data(), int(R), layout) == layout.row_length)
    return operand_reading::by_row;
  return operand_reading::expanded;
}

template <class N>
void fit_layout(const N& node, RegionLayout& layout) {
  if constexpr (N::rank > 0) {
    if (element_count(node.dims()) == layout.size) return;
    const Index length = stretched_row_length(node.dims().data(), N::rank, layout);
    if (length == 0 || (layout.row_length != 0 && layout.row_length != length))
      layout.expands = true;
    else
      layout.row_length = length;
  }
}
template <class Rule, class Child>
void fit_layout(const Map<Rule, Child>& node, RegionLayout& layout) {
  fit_layout(node.child, layout);
}
template <class Rule, class Left, class Right>
void fit_layout(const Zip<Rule, Left, Right>& node, RegionLayout& layout) {
  fit_layout(node.left, layout);
  fit_layout(node.right, layout);
}

// The layout of the region rooted at `node`. Rows shorter than 16 elements are swept a
// row at a time only when there are at most 16 of them (a batch of 4 with one output):
// each row costs a pass's setup; more of them are read through stretched copies.
template <class N>
RegionLayout region_layout(const N& node) {
  static_assert(N::rank <= max_region_rank);
  RegionLayout layout;
  layout.size = element_count(node.dims());
  layout.ready = layout.size > 0;
  layout.rank = N::rank;
  for (int i = 0; i < N::rank; ++i) layout.dims[i] = node.dims()[i];
  if (!layout.ready) return layout;
  fit_layout(node, layout);
  if (layout.row_length > 0 && layout.row_length < 16 && layout.size / layout.row_length > 16)
    layout.row_length = 0, layout.expands = true;
  return layout;
}

// An operand's values stretched over the region, and the region-size buffer its
// gradient is gathered in (when it receives one); sum_into adds that back into a
// gradient of the operand's shape. Compiled once per scalar type: it walks the region in
// runs along its last dimension, with the operand's offset kept by strides (0 along the
// dimensions it is stretched over).
template <class S>
struct Expansion {
  int rank = 0;
  Index size = 0;
  std::array<Index, max_region_rank> region{}, strides{};
  EigenTensor<S, 1> values, adjoint;

  Expansion(const S* operand, const Index* dims, int r, const RegionLayout& layout, bool gradient)
      : rank(layout.rank), size(layout.size) {
    Index stride = 1;
    for (int k = rank - 1; k >= 0; --k) {
      region[k] = layout.dims[k];
      const int d = k - (rank - r);  // the operand's dimension, promoted with leading 1s
      const Index extent = d >= 0 ? dims[d] : 1;
      strides[k] = extent == 1 ? 0 : stride;
      stride *= extent;
    }
    values = pool::take<S, 1>(Shape<1>{size});
    S* out = values.data();
    runs([&](Index at, Index from, Index length, Index step) {
      for (Index k = 0; k < length; ++k) out[at + k] = operand[from + k * step];
    });
    if (gradient) adjoint = pool::take<S, 1>(Shape<1>{size});
  }
  Expansion(const Expansion&) = delete;
  Expansion& operator=(const Expansion&) = delete;
  ~Expansion() {
    pool::give(std::move(values));
    if (adjoint.size()) pool::give(std::move(adjoint));
  }

  // gradient (of the operand's shape, `count` elements) = or += the adjoint summed back.
  void sum_into(S* gradient, Index count, bool add) const {
    if (!add) std::fill_n(gradient, count, S(0));
    const S* in = adjoint.data();
    runs([&](Index at, Index to, Index length, Index step) {
      if (step == 0) {
        S total = gradient[to];
        for (Index k = 0; k < length; ++k) total = total + in[at + k];
        gradient[to] = total;
      } else {
        for (Index k = 0; k < length; ++k) gradient[to + k] = gradient[to + k] + in[at + k];
      }
    });
  }

 private:
  // f(region offset, operand offset, run length, operand step) for each run along the
  // last dimension, in row-major order.
  template <class F>
  void runs(const F& f) const {
    const int last = rank - 1;
    const Index length = region[last];
    std::array<Index, max_region_rank> index{};
    Index from = 0;
    for (Index at = 0; at < size; at += length) {
      f(at, from, length, strides[last]);
      for (int d = last - 1; d >= 0; --d) {
        from += strides[d];
        if (++index[d] < region[d]) break;
        from -= strides[d] * region[d];
        index[d] = 0;
      }
    }
  }
};

}  // namespace fusegrad::expr
