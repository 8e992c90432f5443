// A loop that builds the same graph every iteration (a training step) allocates nothing
// once warm, and its peak heap does not grow. This executable counts every malloc-family
// call (operator new and Eigen's buffers both come through malloc on glibc), and the
// heap bytes in use, by interposing glibc's allocator.
//
// Sanitizer builds keep their own allocator, so these cases are skipped there.
#include <doctest/doctest.h>

#include <fusegrad/fusegrad.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
#define FUSEGRAD_COUNT_ALLOCATIONS 0
#else
#define FUSEGRAD_COUNT_ALLOCATIONS 1
#include <malloc.h>

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}
#endif

namespace {

struct heap_counters {
  long allocations = 0;
  long long live_bytes = 0, peak_bytes = 0;
};
heap_counters counters;

[[maybe_unused]] void* counted(void* p) {
  if (p) {
#if FUSEGRAD_COUNT_ALLOCATIONS
    ++counters.allocations;
    counters.live_bytes += static_cast<long long>(malloc_usable_size(p));
    if (counters.live_bytes > counters.peak_bytes) counters.peak_bytes = counters.live_bytes;
#endif
  }
  return p;
}
[[maybe_unused]] void uncounted([[maybe_unused]] void* p) {
#if FUSEGRAD_COUNT_ALLOCATIONS
  if (p) counters.live_bytes -= static_cast<long long>(malloc_usable_size(p));
#endif
}

}  // namespace

// Set on a thread, malloc there returns null: operator new then throws std::bad_alloc.
thread_local bool refuse_allocations = false;

#if FUSEGRAD_COUNT_ALLOCATIONS
extern "C" {
void* malloc(std::size_t n) {
  if (refuse_allocations && n) return nullptr;
  return counted(__libc_malloc(n));
}
void free(void* p) {
  uncounted(p);
  __libc_free(p);
}
void* calloc(std::size_t k, std::size_t n) { return counted(__libc_calloc(k, n)); }
void* realloc(void* p, std::size_t n) {
  uncounted(p);
  return counted(__libc_realloc(p, n));
}
void* memalign(std::size_t alignment, std::size_t n) { return counted(__libc_memalign(alignment, n)); }
void* aligned_alloc(std::size_t alignment, std::size_t n) { return counted(__libc_memalign(alignment, n)); }
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  void* p = __libc_memalign(alignment, n);
  if (!p) return 12;  // ENOMEM
  *out = counted(p);
  return 0;
}
}
#endif

namespace fg = fusegrad;

namespace {

constexpr bool counting = FUSEGRAD_COUNT_ALLOCATIONS != 0;

// A small classifier: tanh hidden layer with a bias stretched over the batch, softmax
// cross-entropy, and a plain gradient-descent update of its parameters.
struct Classifier {
  static constexpr int batch = 8, inputs = 20, hidden = 16, classes = 3;
  fg::Tensor<double, 2> x = fg::Tensor<double, 2>::random(batch, inputs);
  fg::Tensor<double, 2> W1 = fg::Tensor<double, 2>::random(hidden, inputs), W2 = fg::Tensor<double, 2>::random(classes, hidden);
  fg::Tensor<double, 1> b1 = fg::Tensor<double, 1>::random(hidden), b2 = fg::Tensor<double, 1>::random(classes);
  std::vector<int> labels;
  double loss = 0;

  Classifier() {
    for (int i = 0; i < batch; ++i) labels.push_back(i % classes);
    W1.requires_grad(true), W2.requires_grad(true), b1.requires_grad(true), b2.requires_grad(true);
  }
  void step() {
    W1.zero_grad(), W2.zero_grad(), b1.zero_grad(), b2.zero_grad();
    fg::Tensor<double, 2> h = fg::tanh(fg::matmul(x, fg::transpose(W1)) + b1);
    fg::Tensor<double, 0> l = fg::cross_entropy(fg::matmul(h, fg::transpose(W2)) + b2, labels);
    l.backward();
    loss = l.item();
    W1.mutable_value() -= 0.1 * W1.grad();
    W2.mutable_value() -= 0.1 * W2.grad();
    b1.mutable_value() -= 0.1 * b1.grad();
    b2.mutable_value() -= 0.1 * b2.grad();
  }
};

}  // namespace

TEST_CASE("a training step that rebuilds its graph allocates nothing once warm" * doctest::skip(!counting)) {
  Classifier model;
  for (int i = 0; i < 3; ++i) model.step();
  const double before = model.loss;
  const long start = counters.allocations;
  for (int i = 0; i < 20; ++i) model.step();
  const long allocated = counters.allocations - start;
  CHECK(allocated == 0);
  CHECK(model.loss < before);  // and it trained
}

TEST_CASE("a full sum with gradients computed ahead allocates nothing once warm" * doctest::skip(!counting)) {
  auto y = fg::Tensor<double, 1>::random(1000);
  fg::Tensor<double, 0> mu(0.3), sigma(0.8);
  mu.requires_grad(true), sigma.requires_grad(true);
  auto x = fg::Tensor<double, 1>::random(777);
  x.requires_grad(true);
  auto run = [&] {
    mu.zero_grad(), sigma.zero_grad(), x.zero_grad();
    fg::Tensor<double, 0> density = fg::sum(-0.5 * fg::square((y - mu) / sigma) - fg::log(sigma));
    density.backward();
    fg::Tensor<double, 0> s = fg::sum(fg::exp(x) * fg::sin(x));
    s.backward();
    fg::Tensor<double, 0> l = fg::logsumexp(x);
    l.backward();
  };
  for (int i = 0; i < 3; ++i) run();
  const long start = counters.allocations;
  for (int i = 0; i < 10; ++i) run();
  CHECK(counters.allocations - start == 0);
}

TEST_CASE("peak heap of 1000 training steps does not grow after the second step" * doctest::skip(!counting)) {
  Classifier model;
  counters.peak_bytes = counters.live_bytes;
  model.step();
  model.step();
  const long long peak_after_two = counters.peak_bytes;
  for (int i = 2; i < 1000; ++i) model.step();
  CHECK(counters.peak_bytes <= peak_after_two);
  CHECK(counters.live_bytes <= peak_after_two);
}

TEST_CASE("tensors built on one thread and released on another, after it ended, are freed safely") {
  // Pools are per thread: what a thread releases joins its own pools, and what is
  // released after a thread's pools are gone goes straight back to the system. Under
  // AddressSanitizer this case checks that no pooled memory is used after it is freed.
  fg::Tensor<double, 1> input = fg::Tensor<double, 1>::zeros(1), doubled = fg::Tensor<double, 1>::zeros(1);
  fg::Tensor<double, 0> loss(0.0);
  std::thread worker([&] {
    auto x = fg::Tensor<double, 1>::random(1000);
    x.requires_grad(true);
    for (int i = 0; i < 3; ++i) {
      x.zero_grad();
      fg::Tensor<double, 0> l = fg::sum(fg::exp(x) * x);
      l.backward();
    }
    x.zero_grad();
    input = x;
    doubled = x * 2.0;  // statements whose graph outlives this thread
    loss = fg::sum(doubled);
  });
  worker.join();
  loss.backward();  // runs and frees, on this thread, a graph the worker built
  double total = 0;
  for (fg::Index i = 0; i < 1000; ++i) total += doubled.value()(i);
  CHECK(loss.item() == doctest::Approx(total));
  for (fg::Index i = 0; i < 1000; i += 111) CHECK(input.grad()(i) == 2.0);
}

namespace {
// y = 2 x, counting its live copies (fg::apply keeps one in the graph).
struct Tracked {
  static inline std::atomic<int> alive{0};
  Tracked() { ++alive; }
  Tracked(const Tracked&) { ++alive; }
  Tracked(Tracked&&) noexcept { ++alive; }
  ~Tracked() { --alive; }
  fg::EigenTensor<double, 1> forward(const fg::EigenTensor<double, 1>& x) {
    fg::EigenTensor<double, 1> y = x * 2.0;
    return y;
  }
  fg::EigenTensor<double, 1> backward(const fg::EigenTensor<double, 1>& g) {
    fg::EigenTensor<double, 1> gx = g * 2.0;
    return gx;
  }
};
}  // namespace

TEST_CASE("a graph destroyed when memory has run out is destroyed all the same" * doctest::skip(!counting)) {
  int alive_after = -1;
  std::thread([&] {
    // A fresh thread: its queue of graph nodes to destroy has never held one, so
    // destroying a graph asks for memory for it, which is refused here.
    fg::Tensor<double, 1> x = fg::Tensor<double, 1>::random(8);
    x.requires_grad(true);
    {
      fg::Tensor<double, 1> y = fg::apply(Tracked{}, x);
      for (int i = 0; i < 4; ++i) y = fg::tanh(y * 2.0);
      refuse_allocations = true;
    }  // y and its chain of five statements are destroyed here
    refuse_allocations = false;
    alive_after = Tracked::alive;
  }).join();
  CHECK(alive_after == 0);
}
