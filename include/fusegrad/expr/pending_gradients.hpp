// SPDX-License-Identifier: MPL-2.0
#pragma once
// Gradients of a region computed by a full sum's pass (seed 1) and kept until backward
// hands them over (expr/lanes.hpp, expr/sweep.hpp).
#include <memory>
#include <utility>
#include <vector>

#include "../core/pool.hpp"
#include "variable.hpp"

namespace fusegrad::expr {

// Gradients of a region computed before its backward, seed 1, in the order the plan
// met its leaves and stored values; delivered in the same order (deliver(), expr/sweep.hpp).
//
// A leaf with no gradient yet lends its gradient's storage as its buffer (and takes a
// pooled one meanwhile): delivering swaps them back, so that the gradient is handed over
// without a copy and still lives where views of it point. An entry not delivered gives
// the storage back when the statement is freed.
template <class S>
struct PendingGradients {
  struct Entry {
    const void* variable = nullptr;  // identifies a leaf met twice
    std::shared_ptr<void> buffer;    // an EigenTensor<S, R>; the node that made it knows R
    S* data = nullptr;
    S total = 0;          // a single value's gradient
    bool merged = false;  // this occurrence of a leaf added into an earlier one's buffer
    void (*give_back)(Entry&) = nullptr;  // set while the buffer is a leaf's lent storage
    // The leaf that lent it, kept alive (and so never recycled for another tensor) until
    // the storage is back: statements are destroyed in any order.
    std::shared_ptr<void> lender;
  };
  std::vector<Entry, pool::allocator<Entry>> entries;
  std::size_t cursor = 0;

  PendingGradients() = default;
  PendingGradients(const PendingGradients&) = delete;
  PendingGradients& operator=(const PendingGradients&) = delete;
  ~PendingGradients() {
    for (Entry& e : entries)
      if (e.give_back) e.give_back(e);
  }

  template <int R>
  Entry& add_buffer(const Shape<R>& dims, const void* variable = nullptr) {
    // The buffer goes back to the pool when the last holder lets go.
    std::shared_ptr<EigenTensor<S, R>> tensor = pool::make_shared_tensor<S, R>(dims);
    Entry& e = entries.emplace_back();
    e.variable = variable;
    e.data = tensor->data();
    e.buffer = std::move(tensor);
    return e;
  }
  template <int R>
  EigenTensor<S, R>& buffer_of(Entry& e) {
    return *static_cast<EigenTensor<S, R>*>(e.buffer.get());
  }
};

// Returns a leaf's lent gradient storage (PendingGradients): the leaf's gradient moves back
// into it, with whatever was added meanwhile.
template <class S, int R>
void give_back_gradient_storage(typename PendingGradients<S>::Entry& e) {
  auto& variable = *static_cast<Variable<S, R>*>(const_cast<void*>(e.variable));
  auto& lent = *static_cast<EigenTensor<S, R>*>(e.buffer.get());
  e.give_back = nullptr;
  // A gradient resized since keeps what it holds: the lent storage only goes back where
  // it fits.
  if (variable.grad.dimensions() != lent.dimensions()) return e.lender.reset();
  std::swap(variable.grad, lent);
  if (variable.has_grad) evaluate_into(variable.grad, lent);
  e.give_back = nullptr;
  e.lender.reset();
}

}  // namespace fusegrad::expr
