// SPDX-License-Identifier: MPL-2.0
#pragma once
// Derivatives that are the constants 1 or -1 are returned as these markers, so that
// the adjoint passes the upstream gradient on without multiplying it.
#include <type_traits>

namespace fusegrad::ops {

struct One {};
struct MinusOne {};

template <class D>
inline constexpr bool is_one = std::is_same_v<std::remove_cvref_t<D>, One>;
template <class D>
inline constexpr bool is_minus_one = std::is_same_v<std::remove_cvref_t<D>, MinusOne>;

// upstream * derivative, with the markers folded away. (A derivative of 1 returns the
// upstream gradient itself, by reference: never a copy of a tensor.)
template <class G, class D>
decltype(auto) chain(const G& upstream, const D& derivative) {
  if constexpr (is_one<D>)
    return (upstream);
  else if constexpr (is_minus_one<D>)
    return -upstream;
  else
    return upstream * derivative;
}

}  // namespace fusegrad::ops
