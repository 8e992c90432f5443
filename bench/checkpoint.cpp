// Checkpointing (fg::checkpoint): memory and time of one training step of a chain of 64
// tanh layers of width 512 on a batch of 256, without checkpointing, checkpointing each
// layer, and checkpointing segments of 8 layers (sqrt(64)). One thread, double.
//
// Memory is the step's peak of live heap bytes above the live bytes before it, measured
// by counting malloc/free in this executable (operator new and Eigen's buffers both come
// from malloc). Parameters and their gradient buffers exist before the step and are not
// counted; each measured step runs on a fresh thread, whose buffer pools start empty, so
// buffers kept from an earlier step do not hide what the step needs.
//
//   checkpoint_bench [--layers N] [--width W] [--batch B] [--repeats K]
#include <fusegrad/fusegrad.hpp>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {
std::atomic<long long> live_bytes{0}, peak_bytes{0};
void note_allocated(void* p) {
  if (!p) return;
  const long long now = live_bytes.fetch_add((long long)malloc_usable_size(p)) + (long long)malloc_usable_size(p);
  long long peak = peak_bytes.load();
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {
  }
}
void note_freed(void* p) {
  if (p) live_bytes.fetch_sub((long long)malloc_usable_size(p));
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  void* p = __libc_malloc(n);
  note_allocated(p);
  return p;
}
void free(void* p) {
  note_freed(p);
  __libc_free(p);
}
void* calloc(std::size_t n, std::size_t size) {
  void* p = __libc_calloc(n, size);
  note_allocated(p);
  return p;
}
void* realloc(void* old, std::size_t n) {
  note_freed(old);
  void* p = __libc_realloc(old, n);
  note_allocated(p);
  return p;
}
void* memalign(std::size_t alignment, std::size_t n) {
  void* p = __libc_memalign(alignment, n);
  note_allocated(p);
  return p;
}
void* aligned_alloc(std::size_t alignment, std::size_t n) { return memalign(alignment, n); }
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  *out = memalign(alignment, n);
  return *out ? 0 : ENOMEM;
}
}
#define FUSEGRAD_BENCH_COUNTS_MEMORY 1
#else
#define FUSEGRAD_BENCH_COUNTS_MEMORY 0
#endif

namespace fg = fusegrad;
using Matrix = fg::Tensor<double, 2>;

namespace {

struct Options {
  int layers = 64, width = 512, batch = 256, repeats = 5;
};

// h <- tanh(h W) for each W given.
template <class... W>
Matrix run_layers(const Matrix& input, const W&... weights) {
  Matrix h = input;
  ((h = fg::tanh(fg::matmul(h, weights))), ...);
  return h;
}

// One training step: the loss sum(h_L^2) / n and its gradients; `segment` layers per
// checkpoint (0: none).
double step(const Matrix& x, std::vector<Matrix>& weights, int segment) {
  for (Matrix& w : weights) w.zero_grad();
  Matrix h = x;
  const int layers = int(weights.size());
  if (segment == 0) {
    for (const Matrix& w : weights) h = fg::tanh(fg::matmul(h, w));
  } else if (segment == 1) {
    for (const Matrix& w : weights) h = fg::checkpoint([](const Matrix& a, const Matrix& u) { return run_layers(a, u); }, h, w);
  } else if (segment == 8) {
    for (int k = 0; k + 8 <= layers; k += 8)
      h = fg::checkpoint(
          [](const Matrix& a, const Matrix& w0, const Matrix& w1, const Matrix& w2, const Matrix& w3,
             const Matrix& w4, const Matrix& w5, const Matrix& w6, const Matrix& w7) {
            return run_layers(a, w0, w1, w2, w3, w4, w5, w6, w7);
          },
          h, weights[k], weights[k + 1], weights[k + 2], weights[k + 3], weights[k + 4], weights[k + 5],
          weights[k + 6], weights[k + 7]);
  }
  fg::Tensor<double, 0> loss = fg::mean(fg::square(h));
  loss.backward();
  return loss.item();
}

struct Measured {
  double loss = 0, seconds = 0;
  long long extra_bytes = 0;
  std::vector<double> gradient_sample;
};

Measured measure(const Matrix& x, std::vector<Matrix>& weights, int segment, int repeats) {
  Measured m;
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    std::thread worker([&] {
      const long long before = live_bytes.load();
      peak_bytes.store(before);
      const auto start = std::chrono::steady_clock::now();
      m.loss = step(x, weights, segment);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (r == 0) m.extra_bytes = peak_bytes.load() - before;
    });
    worker.join();
  }
  std::sort(times.begin(), times.end());
  m.seconds = times[times.size() / 2];
  for (const Matrix& w : weights) m.gradient_sample.push_back(w.grad()(1, 2));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--layers") o.layers = value;
    else if (flag == "--width") o.width = value;
    else if (flag == "--batch") o.batch = value;
    else if (flag == "--repeats") o.repeats = value;
  }
  if (o.layers % 8 != 0) {
    std::fprintf(stderr, "--layers must be a multiple of 8\n");
    return 2;
  }
  fg::manual_seed(7);
  const Matrix x = Matrix::random(o.batch, o.width);
  std::vector<Matrix> weights;
  for (int k = 0; k < o.layers; ++k) {
    Matrix w = fg::eval(Matrix::random(o.width, o.width) * (1.5 / std::sqrt(double(o.width))));
    w.requires_grad(true);
    weights.push_back(w);
  }
  step(x, weights, 0);  // allocates the gradients, which every variant then reuses

  const Measured plain = measure(x, weights, 0, o.repeats);
  const Measured each = measure(x, weights, 1, o.repeats);
  const Measured eight = measure(x, weights, 8, o.repeats);
  // Gradients must agree before any figure means anything.
  double worst = 0;
  for (const Measured* m : {&each, &eight})
    for (std::size_t k = 0; k < plain.gradient_sample.size(); ++k)
      worst = std::max(worst, std::abs(m->gradient_sample[k] - plain.gradient_sample[k]) /
                                  std::max(1e-300, std::abs(plain.gradient_sample[k])));
  std::printf("chain of %d tanh layers, width %d, batch %d, double, one thread; median of %d steps\n", o.layers,
              o.width, o.batch, o.repeats);
  std::printf("largest relative difference of a gradient element from the plain step: %.2e\n", worst);
  if (worst > 1e-10 || plain.loss != eight.loss || plain.loss != each.loss) {
    std::printf("gradients differ: no figures\n");
    return 1;
  }
  std::printf("| checkpointing | step (ms) | time / plain | peak memory above parameters (MB) | memory / plain |\n");
  std::printf("|---|---|---|---|---|\n");
  auto row = [&](const char* name, const Measured& m) {
    std::printf("| %s | %.1f | %.2f | %.1f | %.3f |\n", name, m.seconds * 1e3, m.seconds / plain.seconds,
                double(m.extra_bytes) / (1 << 20), double(m.extra_bytes) / double(plain.extra_bytes));
  };
  row("none", plain);
  row("each layer", each);
  row("segments of 8 layers", eight);
  if (!FUSEGRAD_BENCH_COUNTS_MEMORY) std::printf("(memory not counted: not glibc)\n");
  return 0;
}
