#pragma once
// A per-thread store of released tensor buffers, so that a loop building the same graph
// every iteration (a training step) reuses last iteration's memory instead of asking the
// allocator again. Large buffers come from mmap and return to the system when freed, so
// without reuse every step would also pay a page fault per 4 KB of every temporary.
#include <cstddef>
#include <memory>
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


// Small objects (shared_ptr control blocks with the variables, statements and caches
// they hold) come from per-thread free lists of 64-byte size classes, so that building
// the same graph again allocates nothing. A block may be freed on another thread: it
// then joins that thread's list, which is still memory from operator new.
namespace small {
inline constexpr std::size_t granule = 64, classes = 64, per_class = 256;

struct free_lists {
  std::vector<void*> lists[classes];
  ~free_lists() {
    for (auto& list : lists)
      for (void* p : list) ::operator delete(p);
  }
};
inline free_lists& lists() {
  thread_local free_lists l;
  return l;
}

inline void* allocate(std::size_t bytes) {
  const std::size_t c = (bytes + granule - 1) / granule;
  if (c == 0 || c > classes) return ::operator new(bytes);
  auto& list = lists().lists[c - 1];
  if (list.empty()) return ::operator new(c * granule);
  void* p = list.back();
  list.pop_back();
  return p;
}
inline void deallocate(void* p, std::size_t bytes) {
  const std::size_t c = (bytes + granule - 1) / granule;
  if (c == 0 || c > classes) return ::operator delete(p);
  auto& list = lists().lists[c - 1];
  if (list.size() >= per_class) return ::operator delete(p);
  if (list.capacity() == 0) list.reserve(per_class);
  list.push_back(p);
}
}  // namespace small

template <class T>
struct allocator {
  using value_type = T;
  allocator() = default;
  template <class U>
  allocator(const allocator<U>&) {}
  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= alignof(std::max_align_t) || alignof(T) <= small::granule);
    return static_cast<T*>(small::allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) { small::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const allocator<U>&) const { return true; }
};

// std::make_shared through the per-thread free lists.
template <class T, class... Args>
std::shared_ptr<T> make_shared(Args&&... args) {
  return std::allocate_shared<T>(allocator<T>{}, std::forward<Args>(args)...);
}

// A tensor whose storage returns to the pool when it is destroyed.
template <class S, int R>
struct Recycled {
  EigenTensor<S, R> tensor;
  Recycled() = default;
  explicit Recycled(const Shape<R>& dims) : tensor(take<S, R>(dims)) {}
  explicit Recycled(EigenTensor<S, R>&& t) : tensor(std::move(t)) {}
  Recycled(const Recycled&) = delete;
  Recycled& operator=(const Recycled&) = delete;
  ~Recycled() { give(std::move(tensor)); }
};

// A shared tensor of the given dimensions (contents unspecified) whose storage, and
// whose control block, are reused once the last holder lets go.
template <class S, int R>
std::shared_ptr<EigenTensor<S, R>> make_shared_tensor(const Shape<R>& dims) {
  auto holder = make_shared<Recycled<S, R>>(dims);
  return std::shared_ptr<EigenTensor<S, R>>(holder, &holder->tensor);
}

}  // namespace fusegrad::pool
