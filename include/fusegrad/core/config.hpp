// SPDX-License-Identifier: MPL-2.0
#pragma once
// Everything fusegrad needs from Eigen, and the few type names every layer shares.
#if __cplusplus < 202002L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 202002L)
// One clear line instead of hundreds of errors about concepts (g++ 12 defaults to C++17).
#error "fusegrad needs C++20: compile with -std=c++20 (CMake's fusegrad::fusegrad target sets it)"
// #error does not stop GCC; a missing header does, before the errors that would follow.
#include <fusegrad_needs_cxx20_stop_here>
#endif
#include "eigen.hpp"

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include "threads.hpp"

namespace fusegrad {

/// Index and dimension type (Eigen's, signed).
using Index = Eigen::Index;

/// Dimensions of a rank-R tensor, outermost first (NumPy order).
template <std::size_t R>
using Shape = std::array<Index, R>;

/// The storage of every fusegrad tensor: row-major, so that flat order, reshape and
/// initializer lists follow NumPy.
template <class S, int R>
using EigenTensor = Eigen::Tensor<S, R, Eigen::RowMajor>;

namespace detail {
// Evaluates the elements [first, last) of an assignment, first a multiple of the packet
// size. Each caller has its own copy of the evaluator, as Eigen's threaded executor does.
template <bool Vectorizable, class Evaluator>
void evaluate_range(Evaluator evaluator, Index first, Index last) {
  Index i = first;
  if constexpr (Vectorizable) {
    constexpr Index width = Evaluator::PacketSize;
    for (; i + 4 * width <= last; i += 4 * width) {
      evaluator.evalPacket(i);
      evaluator.evalPacket(i + width);
      evaluator.evalPacket(i + 2 * width);
      evaluator.evalPacket(i + 3 * width);
    }
    for (; i + width <= last; i += width) evaluator.evalPacket(i);
  }
  for (; i < last; ++i) evaluator.evalScalar(i);
}
}  // namespace detail

// destination = expression, for a destination already of the expression's dimensions,
// evaluated element by element (in packets) rather than in tiles: Eigen's tiled path,
// which it picks for broadcasts, allocates scratch blocks on every evaluation.
//
// One evaluator type per expression, on Eigen's DefaultDevice, whether or not threads
// run it: a large destination is split into one range per thread (core/threads.hpp),
// each evaluated by its own copy of the evaluator. (Eigen's ThreadPoolDevice executor
// would instantiate every evaluator of the expression a second time, for a second
// device: it made a program of 20 elementwise statements take twice as long to compile.)
// What an evaluator computes ahead (a contraction or a full reduction inside the
// expression) is computed on the calling thread.
template <class Destination, class Expression>
void evaluate_into(Destination& destination, const Expression& expression) {
  // An empty destination reads nothing, and Eigen refuses (asserts on) some of the
  // expressions an empty region builds: a broadcast of an operand with a size-0 dimension.
  const Index n = destination.size();
  if (n == 0) return;
  using Assign = const Eigen::TensorAssignOp<Destination, const Expression>;
  using Evaluator = Eigen::TensorEvaluator<Assign, Eigen::DefaultDevice>;
  constexpr bool vectorizable = Eigen::internal::IsVectorizable<Eigen::DefaultDevice, Assign>::value;
  const Eigen::DefaultDevice device;
  const Assign assign(destination, expression);
  Evaluator evaluator(assign, device);
  if (evaluator.evalSubExprsIfNeeded(nullptr)) {
    const int chunks = threads::chunks_for(n);
    if (chunks == 1) {
      detail::evaluate_range<vectorizable>(evaluator, 0, n);
    } else {
      // Range bounds on multiples of 4 packets, the unrolled loop's step.
      constexpr Index step = 4 * Index(Evaluator::PacketSize);
      const Index steps = (n + step - 1) / step;
      const auto bound = [&](int c) { return c == chunks ? n : std::min(n, steps * c / chunks * step); };
      threads::run_chunks(chunks, [&](int c) { detail::evaluate_range<vectorizable>(evaluator, bound(c), bound(c + 1)); });
    }
  }
  evaluator.cleanup();
}

// Marks fusegrad's expression nodes; being a base class, it also makes argument-dependent
// lookup find fusegrad's operators for every node type.
struct expression_base {};

}  // namespace fusegrad
