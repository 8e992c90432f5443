// SPDX-License-Identifier: MPL-2.0
#pragma once
// Threads inside an operation. Off by default: numerical code often runs its own
// threads (a solver's parallel evaluations, one model per thread) and a library that
// takes every core by itself would oversubscribe them; fg::set_num_threads(n) turns it
// on for the whole program.
//
// Eigen's own ThreadPool (NonBlockingThreadPool) runs the work: Eigen's tensor
// executor, reductions and contractions take it as a ThreadPoolDevice, with Eigen's cost
// model deciding how many threads a given expression deserves, and fusegrad's fused
// passes split their regions into one chunk per thread (expr/lanes.hpp). Nothing here
// depends on timing: chunk boundaries depend only on the element count and the thread
// count, and partial sums are combined in chunk order, so results with a given thread
// count are the same from run to run.
//
// It needs EIGEN_USE_THREADS defined before Eigen's Tensor module is included (the
// CMake target fusegrad::fusegrad and fusegrad.pc define it; -pthread links the pool).
// Without it, set_num_threads(n) for n > 1 is an error and everything runs on the
// calling thread.
#include "eigen.hpp"

#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace fusegrad {

namespace threads {

/// The pool and its device, replaced as a whole by set_num_threads.
struct pool_state {
#if defined(EIGEN_USE_THREADS)
  std::unique_ptr<Eigen::ThreadPool> pool;
  std::unique_ptr<Eigen::ThreadPoolDevice> device;
#endif
  int count = 1;  ///< the thread count set_num_threads was given (1: no pool)
};

/// The process's one pool_state.
inline pool_state& state() {
  static pool_state s;
  return s;
}

// Below these sizes the work stays on the calling thread: waking a thread costs a few
// microseconds, about what a fused pass does over 10^4 elements.
inline constexpr Eigen::Index min_elements_per_chunk = Eigen::Index(1) << 14;

// How many chunks a pass over n elements is split into: one per thread, as long as each
// gets at least min_elements_per_chunk elements.
inline int chunks_for(Eigen::Index n) {
  const int count = state().count;
  if (count <= 1 || n < 2 * min_elements_per_chunk) return 1;
  const Eigen::Index most = n / min_elements_per_chunk;
  return most < count ? int(most) : count;
}

#if defined(EIGEN_USE_THREADS)
// The device for an Eigen evaluation of n elements: the pool's when there is one and n
// is large enough to share (Eigen's cost model then decides how many threads it takes),
// else null (the calling thread, Eigen::DefaultDevice).
inline const Eigen::ThreadPoolDevice* device_for(Eigen::Index n) {
  const pool_state& s = state();
  return s.count > 1 && n >= min_elements_per_chunk ? s.device.get() : nullptr;
}
#endif

// Runs f(0), ..., f(chunks - 1), f(0) on the calling thread and the others on the pool,
// and returns when all are done; the first exception thrown by any of them is rethrown
// here, after all have finished.
template <class F>
void run_chunks(int chunks, const F& f) {
#if defined(EIGEN_USE_THREADS)
  if (chunks > 1) {
    struct shared_state {
      const F* f;
      Eigen::Barrier done;
      std::mutex lock;
      std::exception_ptr error;
      explicit shared_state(const F* function, int pending) : f(function), done(unsigned(pending)) {}
      void run(int c) {
        try {
          (*f)(c);
        } catch (...) {
          std::lock_guard<std::mutex> hold(lock);
          if (!error) error = std::current_exception();
        }
      }
    } shared(&f, chunks - 1);
    for (int c = 1; c < chunks; ++c)
      state().pool->Schedule([s = &shared, c] {
        s->run(c);
        s->done.Notify();
      });
    shared.run(0);
    shared.done.Wait();
    if (shared.error) std::rethrow_exception(shared.error);
    return;
  }
#endif
  for (int c = 0; c < chunks; ++c) f(c);
}

}  // namespace threads

/// The number of threads fusegrad's operations use (1 unless set_num_threads said more).
inline int num_threads() { return threads::state().count; }

/// Runs fusegrad's operations on n threads from now on: the caller and a pool of n - 1
/// (Eigen::ThreadPool) on large elementwise passes, reductions, contractions and
/// convolutions. n = 1 (the default) keeps everything on the calling thread. Call it when
/// no fusegrad work is running on any thread. Throws std::invalid_argument for n < 1, or
/// for n > 1 in a build without EIGEN_USE_THREADS.
inline void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("fusegrad: set_num_threads(" + std::to_string(n) + "): give at least 1");
  threads::pool_state& s = threads::state();
  if (n == s.count) return;
#if defined(EIGEN_USE_THREADS)
  s.device.reset();
  s.pool.reset();
  if (n > 1) {
    s.pool = std::make_unique<Eigen::ThreadPool>(n - 1);
    s.device = std::make_unique<Eigen::ThreadPoolDevice>(s.pool.get(), n);
  }
  s.count = n;
#else
  if (n > 1)
    throw std::invalid_argument(
        "fusegrad: set_num_threads needs EIGEN_USE_THREADS defined before Eigen is included (the CMake target "
        "fusegrad::fusegrad defines it; or compile with -DEIGEN_USE_THREADS -pthread)");
#endif
}

}  // namespace fusegrad
