// SPDX-License-Identifier: MPL-2.0
#pragma once
// Per-thread stores of released memory, so that a loop building the same graph every
// iteration (a training step) reuses the last iteration's memory instead of asking the
// allocator again:
//   - tensor buffers (take / give / fit), matched by element count. Large buffers come
//     from mmap and go back to the system when freed, so without reuse every step would
//     also pay a page fault per 4 KB of every temporary;
//   - whole objects (acquire / release / recycled): shared tensors, variables, caches,
//     kept constructed, so that even their rank-0 Eigen tensors (which allocate one
//     element whenever they are constructed) are not rebuilt;
//   - small blocks (allocator, make_shared): shared_ptr control blocks and statements,
//     from free lists of 64-byte size classes.
// Memory freed on another thread joins that thread's stores. Once a thread's stores are
// destroyed (at thread exit), whatever it releases afterwards (a static Tensor destroyed
// at program exit) goes straight back to the system.
#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

#include "config.hpp"

namespace fusegrad::pool {

// At most this many buffers or objects wait per type; beyond it they are freed.
inline constexpr std::size_t capacity = 32;

namespace detail {
inline bool& closed() {
  thread_local bool c = false;
  return c;
}
template <class T>
struct spare_list {
  std::vector<T> items;
  spare_list() { items.reserve(capacity); }
  ~spare_list() {
    closed() = true;
    if constexpr (std::is_pointer_v<T>)
      for (T p : items) delete p;
  }
};
template <class T>
struct closing {
  T value;
  ~closing() { closed() = true; }
};
template <class T>
std::vector<T>* spares() {
  if (closed()) return nullptr;
  thread_local spare_list<T> list;
  return &list.items;
}
}  // namespace detail

// A per-thread object of type T (kept lists, scratch vectors), or null once this thread's
// stores are destroyed.
template <class T, class Tag = void>
T* thread_object() {
  if (detail::closed()) return nullptr;
  thread_local detail::closing<T> box;
  return &box.value;
}

// A tensor of the given dimensions, its contents unspecified.
template <class S, int R>
EigenTensor<S, R> take(const std::type_identity_t<Shape<R>>& dims) {
  if constexpr (R > 0) {
    Index count = 1;
    for (Index d : dims) count *= d;
    if (auto* buffers = detail::spares<EigenTensor<S, R>>()) {
      for (std::size_t k = buffers->size(); k-- > 0;) {
        if ((*buffers)[k].size() == count) {
          EigenTensor<S, R> t = std::move((*buffers)[k]);
          if (k + 1 != buffers->size()) (*buffers)[k] = std::move(buffers->back());
          buffers->pop_back();
          t.resize(dims);  // same element count: no reallocation
          return t;
        }
      }
    }
    return EigenTensor<S, R>(dims);
  } else {
    return EigenTensor<S, R>();  // one element, which Eigen allocates whatever we do
  }
}

// Keeps t's storage for a later take().
template <class S, int R>
void give(EigenTensor<S, R>&& t) {
  if constexpr (R > 0) {
    if (t.size() == 0) return;
    auto* buffers = detail::spares<EigenTensor<S, R>>();
    if (!buffers) return;
    if (buffers->size() == capacity) buffers->erase(buffers->begin());
    buffers->push_back(std::move(t));
  }
}

// `t` resized to `dims`, its storage taken from the pool when its size changes.
template <class S, int R>
void fit(EigenTensor<S, R>& t, const std::type_identity_t<Shape<R>>& dims) {
  Index count = 1;
  for (Index d : dims) count *= d;
  if (t.size() == count) {
    t.resize(dims);
  } else {
    give(std::move(t));
    t = take<S, R>(dims);
  }
}

// A single value with its storage inline: rank-0 scratch that allocates nothing.
template <class S>
using Single = Eigen::TensorFixedSize<S, Eigen::Sizes<>, Eigen::RowMajor, Index>;

// A temporary tensor whose storage returns to the pool when it goes out of scope.
template <class S, int R>
struct Recycled {
  EigenTensor<S, R> tensor;
  explicit Recycled(const std::type_identity_t<Shape<R>>& dims) : tensor(take<S, R>(dims)) {}
  explicit Recycled(EigenTensor<S, R>&& t) : tensor(std::move(t)) {}
  Recycled(const Recycled&) = delete;
  Recycled& operator=(const Recycled&) = delete;
  ~Recycled() { give(std::move(tensor)); }
};

// Rank-0 scratch as a plain value, other ranks from the pool.
template <class S, int R>
struct Scratch : Recycled<S, R> {
  using Recycled<S, R>::Recycled;
};
template <class S>
struct Scratch<S, 0> {
  Single<S> tensor;
  explicit Scratch(const Shape<0>&) {}
};

namespace small {
inline constexpr std::size_t granule = 64, classes = 64, per_class = 256;
}  // namespace small

namespace detail {
struct block_lists {
  std::vector<void*> lists[small::classes];
  block_lists() {
    for (auto& l : lists) l.reserve(small::per_class);
  }
  ~block_lists() {
    closed() = true;
    for (auto& l : lists)
      for (void* p : l) ::operator delete(p);
  }
};
inline block_lists* blocks() {
  if (closed()) return nullptr;
  thread_local block_lists lists;
  return &lists;
}
inline void* allocate_block(std::size_t bytes) {
  const std::size_t c = (bytes + small::granule - 1) / small::granule;
  if (c == 0 || c > small::classes) return ::operator new(bytes);
  if (block_lists* b = blocks()) {
    auto& list = b->lists[c - 1];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      return p;
    }
  }
  return ::operator new(c * small::granule);
}
inline void deallocate_block(void* p, std::size_t bytes) {
  const std::size_t c = (bytes + small::granule - 1) / small::granule;
  block_lists* b = (c == 0 || c > small::classes) ? nullptr : blocks();
  if (!b || b->lists[c - 1].size() >= small::per_class) return ::operator delete(p);
  b->lists[c - 1].push_back(p);
}
}  // namespace detail

// An allocator drawing on the per-thread free lists.
template <class T>
struct allocator {
  using value_type = T;
  allocator() = default;
  template <class U>
  allocator(const allocator<U>&) {}
  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= small::granule, "fusegrad: over-aligned type in the small-object pool");
    return static_cast<T*>(detail::allocate_block(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) { detail::deallocate_block(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const allocator<U>&) const { return true; }
};

// std::make_shared through the per-thread free lists.
template <class T, class... Args>
std::shared_ptr<T> make_shared(Args&&... args) {
  return std::allocate_shared<T>(allocator<T>{}, std::forward<Args>(args)...);
}

// A constructed T kept from an earlier release, or a new one. `prefer` picks among the
// kept ones (say, a tensor of the right size) when it can.
template <class T, class Prefer>
T* acquire(Prefer&& prefer) {
  auto* kept = detail::spares<T*>();
  if (!kept || kept->empty()) return new T();
  std::size_t pick = kept->size() - 1;
  for (std::size_t k = kept->size(); k-- > 0;)
    if (prefer(*(*kept)[k])) {
      pick = k;
      break;
    }
  T* p = (*kept)[pick];
  (*kept)[pick] = kept->back();
  kept->pop_back();
  return p;
}
template <class T>
void release(T* p) {
  auto* kept = detail::spares<T*>();
  if (!kept || kept->size() == capacity) {
    delete p;
    return;
  }
  kept->push_back(p);
}

// Shares an acquired object; when the last holder lets go, `clear` readies it for
// reuse and it is released.
template <class T, class Clear>
std::shared_ptr<T> recycled(T* p, Clear clear) {
  return std::shared_ptr<T>(
      p,
      [clear](T* q) {
        clear(*q);
        release(q);
      },
      allocator<T>{});
}

template <class S, int R>
struct Holder {
  EigenTensor<S, R> tensor;
};

// A kept holder (one whose tensor has `count` elements when there is one), shared so
// that it is kept again once the last holder lets go.
template <class S, int R>
std::shared_ptr<EigenTensor<S, R>> share_holder(Index count) {
  Holder<S, R>* h = acquire<Holder<S, R>>([count](const Holder<S, R>& k) { return k.tensor.size() == count; });
  return std::shared_ptr<EigenTensor<S, R>>(
      &h->tensor, [h](EigenTensor<S, R>*) { release(h); }, allocator<EigenTensor<S, R>>{});
}

// A shared tensor of the given dimensions (contents unspecified), reused with its
// storage once the last holder lets go.
template <class S, int R>
std::shared_ptr<EigenTensor<S, R>> make_shared_tensor(const std::type_identity_t<Shape<R>>& dims) {
  Index count = 1;
  for (Index d : dims) count *= d;
  auto t = share_holder<S, R>(count);
  fit(*t, dims);
  return t;
}

// An empty shared tensor for a cache (sized later through fit()).
template <class S, int R>
std::shared_ptr<EigenTensor<S, R>> make_cache() {
  return share_holder<S, R>(R == 0 ? 1 : 0);
}

// An existing tensor, shared; its storage goes to the pool when the last holder lets go.
template <class S, int R>
std::shared_ptr<EigenTensor<S, R>> share(EigenTensor<S, R>&& t) {
  auto shared = share_holder<S, R>(R == 0 ? 1 : 0);
  give(std::move(*shared));
  *shared = std::move(t);
  return shared;
}

}  // namespace fusegrad::pool
