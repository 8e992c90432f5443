#pragma once
// NumPy broadcasting rules on run-time dimensions of compile-time ranks.
#include <algorithm>
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
