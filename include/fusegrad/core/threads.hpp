// SPDX-License-Identifier: MPL-2.0
#pragma once
// Threads inside an operation. Off by default: numerical code often runs its own
// threads (a solver's parallel evaluations, one model per thread) and a library that
// takes every core by itself would oversubscribe them; fg::set_num_threads(n) turns it
// on for the whole program.
//
// Eigen's own ThreadPool (NonBlockingThreadPool) runs the work: an Eigen evaluation
// (core/config.hpp, evaluate_into) and a fused pass (expr/lanes.hpp) over a large
// region are split into one chunk of elements per thread. Nothing here
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

/// The pool, replaced as a whole by set_num_threads.
struct pool_state {
#if defined(EIGEN_USE_THREADS)
  std::unique_ptr<Eigen::ThreadPool> pool;
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


// run_chunks without its function's type: the pool's work (scheduling, waiting,
// passing an exception on) is compiled once, not once per caller.
inline void run_chunks_erased(int chunks, void (*call)(const void*, int), const void* f) {
#if defined(EIGEN_USE_THREADS)
  if (chunks > 1) {
    struct shared_state {
      void (*call)(const void*, int);
      const void* f;
      Eigen::Barrier done;
      std::mutex lock;
      std::exception_ptr error;
      shared_state(void (*c)(const void*, int), const void* function, int pending)
          : call(c), f(function), done(unsigned(pending)) {}
      void run(int c) {
        try {
          call(f, c);
        } catch (...) {
          std::lock_guard<std::mutex> hold(lock);
          if (!error) error = std::current_exception();
        }
      }
    } shared(call, f, chunks - 1);
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
  for (int c = 0; c < chunks; ++c) call(f, c);
}

// Runs f(0), ..., f(chunks - 1), f(0) on the calling thread and the others on the pool,
// and returns when all are done; the first exception thrown by any of them is rethrown
// here, after all have finished.
template <class F>
void run_chunks(int chunks, const F& f) {
  if (chunks == 1) return f(0);
  run_chunks_erased(chunks, [](const void* function, int c) { (*static_cast<const F*>(function))(c); }, &f);
}

}  // namespace threads

/// The number of threads fusegrad's operations use (1 unless set_num_threads said more).
inline int num_threads() { return threads::state().count; }

/// Runs fusegrad's operations on n threads from now on: the caller and a pool of n - 1
/// (Eigen::ThreadPool) on large elementwise passes and Eigen evaluations (an
/// elementwise expression, a partial reduction, a layout change) of 32768 elements or more. n = 1 (the default) keeps everything on the calling thread. Call it when
/// no fusegrad work is running on any thread. Throws std::invalid_argument for n < 1, or
/// for n > 1 in a build without EIGEN_USE_THREADS.
inline void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("fusegrad: set_num_threads(" + std::to_string(n) + "): give at least 1");
  threads::pool_state& s = threads::state();
  if (n == s.count) return;
#if defined(EIGEN_USE_THREADS)
  s.pool.reset();
  if (n > 1) s.pool = std::make_unique<Eigen::ThreadPool>(n - 1);
  s.count = n;
#else
  if (n > 1)
    throw std::invalid_argument(
        "fusegrad: set_num_threads needs EIGEN_USE_THREADS defined before Eigen is included (the CMake target "
        "fusegrad::fusegrad defines it; or compile with -DEIGEN_USE_THREADS -pthread)");
#endif
}

}  // namespace fusegrad
