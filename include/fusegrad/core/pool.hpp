#pragma once
// A per-thread store of released tensor buffers, so that a loop building the same graph
// every iteration (a training step) reuses last iteration's memory instead of asking the
// allocator again. Large buffers come from mmap and return to the system when freed, so
// without reuse every step would also pay a page fault per 4 KB of every temporary.
#include <vector>

#include "config.hpp"

namespace fusegrad::pool {

// At most this many buffers wait per scalar type and rank; beyond it the oldest is freed.
inline constexpr std::size_t capacity = 32;

template <class S, int R>
std::vector<EigenTensor<S, R>>& released() {
  thread_local std::vector<EigenTensor<S, R>> buffers = [] {
    std::vector<EigenTensor<S, R>> v;
    v.reserve(capacity);
    return v;
  }();
  return buffers;
}

// A tensor of the given dimensions, its contents unspecified.
template <class S, int R>
EigenTensor<S, R> take(const Shape<R>& dims) {
  Index count = 1;
  for (Index d : dims) count *= d;
  auto& buffers = released<S, R>();
  for (std::size_t k = buffers.size(); k-- > 0;) {
    if (buffers[k].size() == count) {
      EigenTensor<S, R> t = std::move(buffers[k]);
      if (k + 1 != buffers.size()) buffers[k] = std::move(buffers.back());
      buffers.pop_back();
      t.resize(dims);  // same element count: no reallocation
      return t;
    }
  }
  return EigenTensor<S, R>(dims);
}

// Keeps t's storage for a later take().
template <class S, int R>
void give(EigenTensor<S, R>&& t) {
  if (t.size() == 0) return;
  auto& buffers = released<S, R>();
  if (buffers.size() == capacity) buffers.erase(buffers.begin());
  buffers.push_back(std::move(t));
}

}  // namespace fusegrad::pool
