// SPDX-License-Identifier: MPL-2.0
#pragma once
// NumPy broadcasting rules on run-time dimensions of compile-time ranks.
#include <algorithm>
#include <limits>
#include <string>
#include <string_view>

#include "config.hpp"
#include "error.hpp"

namespace fusegrad {

template <std::size_t R>
Index element_count(const Shape<R>& dims) {
  Index n = 1;
  for (Index d : dims) n *= d;
  return n;
}

/// The element count of a shape about to be created, or a shape_error naming `operation`
/// when the product of its non-zero dimensions exceeds what an Index can count. As NumPy
/// does, a size-0 dimension does not excuse the others: Eigen multiplies the dimensions
/// in order, and (2^40, 2^40, 0) would overflow on the way to 0.
template <std::size_t R>
Index checked_element_count(const Shape<R>& dims, std::string_view operation) {
  Index product = 1;
  bool empty = false;
  for (Index d : dims) {
    if (d == 0) {
      empty = true;
    } else if (d > 0) {
      if (product > std::numeric_limits<Index>::max() / d)
        throw shape_error("fusegrad: " + std::string(operation) + ": shape " + format_shape(dims) +
                          " has more elements than an Index can count (element count overflow)");
      product *= d;
    }
  }
  return empty ? 0 : product;
}

// Prepends size-1 dimensions: the rank promotion of broadcasting.
template <int To, std::size_t From>
Shape<To> promote(const Shape<From>& dims) {
  static_assert(To >= int(From), "fusegrad: cannot promote a shape to a lower rank");
  Shape<To> out;
  out.fill(1);
  for (int i = 0; i < int(From); ++i) out[To - int(From) + i] = dims[i];
  return out;
}

// The broadcast of two shapes: trailing dimensions aligned, size 1 stretched.
template <std::size_t Ra, std::size_t Rb>
Shape<int(std::max(Ra, Rb))> broadcast_shapes(const Shape<Ra>& a, const Shape<Rb>& b, std::string_view operation) {
  constexpr int R = int(std::max(Ra, Rb));
  const Shape<R> pa = promote<R>(a), pb = promote<R>(b);
  Shape<R> out;
  for (int i = 0; i < R; ++i) {
    if (pa[i] == pb[i] || pb[i] == 1)
      out[i] = pa[i];
    else if (pa[i] == 1)
      out[i] = pb[i];
    else
      throw_shape_mismatch(operation, a, b);
  }
  checked_element_count(out, operation);
  return out;
}

// Factors by which each dimension of `from` (already promoted) is stretched to reach `to`.
template <std::size_t R>
Shape<R> broadcast_factors(const Shape<R>& from, const Shape<R>& to) {
  Shape<R> f;
  for (std::size_t i = 0; i < R; ++i) f[i] = from[i] == to[i] ? 1 : to[i];
  return f;
}

}  // namespace fusegrad
