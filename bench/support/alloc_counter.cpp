// Heap-allocation counter for the benchmark executable: replaces the global operator
// new/delete (all forms) and, on glibc, interposes malloc/calloc/realloc and the aligned
// allocators, forwarding to glibc's own (__libc_*) functions. Both are needed: fusegrad's
// graph nodes come from operator new, but Eigen's tensor and matrix buffers come from
// std::malloc (Eigen's aligned_malloc). operator new allocates through __libc_malloc
// directly, so no allocation is counted twice. Frees are not counted.
//
// bench::allocation_count() is the number of allocations so far, in every thread.
#include "bench_support.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__GLIBC__)
#define FUSEGRAD_BENCH_LIBC_ALLOC 1
extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}
#else
#define FUSEGRAD_BENCH_LIBC_ALLOC 0
#endif

namespace {

std::atomic<long> g_allocations{0};

inline void count() { g_allocations.fetch_add(1, std::memory_order_relaxed); }

inline void* raw_malloc(std::size_t n) {
#if FUSEGRAD_BENCH_LIBC_ALLOC
  return __libc_malloc(n);
#else
  return std::malloc(n);
#endif
}

inline void* raw_aligned(std::size_t alignment, std::size_t n) {
#if FUSEGRAD_BENCH_LIBC_ALLOC
  return __libc_memalign(alignment, n);
#else
  return std::aligned_alloc(alignment, (n + alignment - 1) / alignment * alignment);
#endif
}

inline void raw_free(void* p) {
#if FUSEGRAD_BENCH_LIBC_ALLOC
  __libc_free(p);
#else
  std::free(p);
#endif
}

void* counted_new(std::size_t n) {
  count();
  void* p = raw_malloc(n == 0 ? 1 : n);
  if (!p) throw std::bad_alloc();
  return p;
}

void* counted_new(std::size_t n, std::align_val_t a) {
  count();
  void* p = raw_aligned(static_cast<std::size_t>(a), n == 0 ? 1 : n);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

namespace bench {
long allocation_count() { return g_allocations.load(std::memory_order_relaxed); }
bool counts_malloc() { return FUSEGRAD_BENCH_LIBC_ALLOC != 0; }
}  // namespace bench

// ---------------------------------------------------------------------------
// operator new / delete
// ---------------------------------------------------------------------------
void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  count();
  return raw_malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  count();
  return raw_malloc(n == 0 ? 1 : n);
}
void* operator new(std::size_t n, std::align_val_t a) { return counted_new(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_new(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  count();
  return raw_aligned(static_cast<std::size_t>(a), n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  count();
  return raw_aligned(static_cast<std::size_t>(a), n == 0 ? 1 : n);
}

void operator delete(void* p) noexcept { raw_free(p); }
void operator delete[](void* p) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t) noexcept { raw_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }

// ---------------------------------------------------------------------------
// The C allocator (glibc): every other library's malloc reaches these definitions, as
// the executable's symbols come first in the dynamic linker's search order.
// ---------------------------------------------------------------------------
#if FUSEGRAD_BENCH_LIBC_ALLOC
extern "C" {

void* malloc(std::size_t n) {
  count();
  return __libc_malloc(n);
}

void free(void* p) { __libc_free(p); }

void* calloc(std::size_t count_, std::size_t size) {
  count();
  return __libc_calloc(count_, size);
}

void* realloc(void* p, std::size_t n) {
  count();
  return __libc_realloc(p, n);
}

void* memalign(std::size_t alignment, std::size_t n) {
  count();
  return __libc_memalign(alignment, n);
}

void* aligned_alloc(std::size_t alignment, std::size_t n) {
  count();
  return __libc_memalign(alignment, n);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  count();
  void* p = __libc_memalign(alignment, n);
  if (!p && n != 0) return ENOMEM;
  *out = p;
  return 0;
}

}  // extern "C"
#endif
