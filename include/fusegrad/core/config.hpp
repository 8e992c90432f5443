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

// destination = expression, for a destination already of the expression's dimensions,
// evaluated element by element (in packets) rather than in tiles: Eigen's tiled path,
// which it picks for broadcasts, allocates scratch blocks on every evaluation. Large
// evaluations run on fusegrad's threads when set_num_threads asked for them
// (core/threads.hpp).
template <class Destination, class Expression>
void evaluate_into(Destination& destination, const Expression& expression) {
  // An empty destination reads nothing, and Eigen refuses (asserts on) some of the
  // expressions an empty region builds: a broadcast of an operand with a size-0 dimension.
  if (destination.size() == 0) return;
  using Assign = const Eigen::TensorAssignOp<Destination, const Expression>;
  const Assign assign(destination, expression);
#if defined(EIGEN_USE_THREADS)
  // A rank-0 destination is a full reduction of an input of unknown size: Eigen's reducer
  // weighs that itself, and stays on the calling thread when it is small.
  const Index work = Destination::NumDimensions == 0 ? threads::min_elements_per_chunk : destination.size();
  if (const Eigen::ThreadPoolDevice* device = threads::device_for(work)) {
    constexpr bool threaded_vectorizable = Eigen::internal::IsVectorizable<Eigen::ThreadPoolDevice, Assign>::value;
    Eigen::internal::TensorExecutor<Assign, Eigen::ThreadPoolDevice, threaded_vectorizable,
                                    Eigen::internal::TiledEvaluation::Off>::run(assign, *device);
    return;
  }
#endif
  constexpr bool vectorizable = Eigen::internal::IsVectorizable<Eigen::DefaultDevice, Assign>::value;
  Eigen::internal::TensorExecutor<Assign, Eigen::DefaultDevice, vectorizable,
                                  Eigen::internal::TiledEvaluation::Off>::run(assign, Eigen::DefaultDevice());
}

// Marks fusegrad's expression nodes; being a base class, it also makes argument-dependent
// lookup find fusegrad's operators for every node type.
struct expression_base {};

}  // namespace fusegrad
