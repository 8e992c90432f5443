// SPDX-License-Identifier: MPL-2.0
#pragma once
// How a reduction walks its operand, described at run time so that the loops that
// reduce are compiled once per rule and scalar type rather than once per expression,
// rank and list of dimensions (Eigen's tensor reduction is instantiated per expression:
// it was the largest cost in the build of a program with reductions).
//
// The operand is row-major and contiguous. Dimensions of size 1 are dropped and
// neighbours that are both reduced or both kept are merged into one run, so the operand
// is a sequence of runs alternating between reduced and kept. The last run is contiguous
// in memory: the loops are written for it, and an odometer walks the others.
#include <algorithm>
#include <array>
#include <type_traits>

#include "config.hpp"

namespace fusegrad::reducing {

inline constexpr int most_dimensions = 16;

struct Plan {
  int runs = 0;
  std::array<Index, most_dimensions> size{};
  std::array<Index, most_dimensions> result_stride{};  // 0 for a reduced run
  bool inner_reduced = false;                          // whether the contiguous run is reduced
  Index inner = 1;                                     // the contiguous run's length
  Index operand_count = 1, result_count = 1;
  Index reduced_count = 1;  // how many operand elements each result reduces
};

// `axes` are the reduced dimensions, sorted and distinct.
inline Plan plan(const Index* dims, int rank, const Index* axes, int reduced_dimensions) {
  Plan p;
  std::array<bool, most_dimensions> run_reduced{};
  for (int d = 0; d < rank; ++d) {
    p.operand_count *= dims[d];
    const bool reduced = std::binary_search(axes, axes + reduced_dimensions, Index(d));
    if (reduced)
      p.reduced_count *= dims[d];
    else
      p.result_count *= dims[d];
    if (dims[d] == 1) continue;
    if (p.runs > 0 && run_reduced[p.runs - 1] == reduced) {
      p.size[p.runs - 1] *= dims[d];
    } else {
      run_reduced[p.runs] = reduced;
      p.size[p.runs++] = dims[d];
    }
  }
  if (p.runs == 0) p.runs = 1, p.size[0] = 1;  // a single element, kept
  Index stride = 1;
  for (int r = p.runs - 1; r >= 0; --r) {
    p.result_stride[r] = run_reduced[r] ? 0 : stride;
    if (!run_reduced[r]) stride *= p.size[r];
  }
  p.inner_reduced = run_reduced[p.runs - 1];
  p.inner = p.size[p.runs - 1];
  return p;
}

// Calls run(x, r, n) for each contiguous run, in memory order: operand elements x .. x+n
// reduce into the result r (inner run reduced) or into results r .. r+n (inner run kept).
template <class Run>
void for_each_run(const Plan& p, Run&& run) {
  if (p.operand_count == 0) return;
  const int outer = p.runs - 1;
  std::array<Index, most_dimensions> index{};
  Index r = 0;
  for (Index x = 0; x < p.operand_count; x += p.inner) {
    run(x, r, p.inner);
    for (int j = outer - 1; j >= 0; --j) {
      r += p.result_stride[j];
      if (++index[j] < p.size[j]) break;
      r -= p.result_stride[j] * p.size[j];
      index[j] = 0;
    }
  }
}

// Calls visit(x, r) for every operand element x with the result r it reduces into.
template <class Visit>
void for_each_element(const Plan& p, Visit&& visit) {
  for_each_run(p, [&](Index x, Index r, Index n) {
    if (p.inner_reduced)
      for (Index j = 0; j < n; ++j) visit(x + j, r);
    else
      for (Index j = 0; j < n; ++j) visit(x + j, r + j);
  });
}

// A contiguous run as an Eigen array, whose reductions and arithmetic Eigen vectorizes
// (one type per scalar, whatever the expression that was reduced).
template <class S>
auto run_of(S* data, Index n) {
  using Array = Eigen::Array<std::remove_const_t<S>, Eigen::Dynamic, 1>;
  return Eigen::Map<std::conditional_t<std::is_const_v<S>, const Array, Array>>(data, n);
}

}  // namespace fusegrad::reducing
