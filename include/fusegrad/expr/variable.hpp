#pragma once
// What a tensor handle points to: a value, its gradient, and the graph node that
// produced it. Expression leaves hold these by shared pointer, so an expression never
// refers to storage that can disappear under it.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"

namespace fusegrad {

struct VariableBase;

namespace detail {
inline bool& grad_mode_flag() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

// Whether statements are recorded on this thread (fg::no_grad turns it off).
inline bool grad_enabled() { return detail::grad_mode_flag(); }

// A recorded statement: given its output's gradient, it accumulates into its inputs'.
// The reverse pass (tape/) orders nodes by `sequence`, which increases with creation,
// so every node runs after all the nodes that consume its output.
struct GraphNode {
  std::uint64_t sequence = 0;
  bool released = false;
  virtual ~GraphNode() = default;
  virtual void run_backward() = 0;
  virtual void visit_inputs(const std::function<void(VariableBase&)>& visit) const = 0;
  virtual void release() = 0;  // drops what the backward needed
};

namespace detail {
// Destroying a long chain of graph nodes through nested destructors would recurse once
// per node and overflow the stack on deep graphs; nodes released while another release
// is running are queued and destroyed by the outermost call instead.
inline void destroy_iteratively(std::shared_ptr<GraphNode> node) {
  thread_local std::vector<std::shared_ptr<GraphNode>>* pending = nullptr;
  if (!node) return;
  if (pending) {
    pending->push_back(std::move(node));
    return;
  }
  std::vector<std::shared_ptr<GraphNode>> queue;
  pending = &queue;
  queue.push_back(std::move(node));
  while (!queue.empty()) {
    std::shared_ptr<GraphNode> last = std::move(queue.back());
    queue.pop_back();
    last.reset();
  }
  pending = nullptr;
}
}  // namespace detail

struct VariableBase {
  std::shared_ptr<GraphNode> producer;  // null for a leaf
  bool requires_grad = false;
  bool retains_grad = false;
  bool has_grad = false;  // whether `grad` holds an accumulated value

  // Whether gradients flow into this variable at all.
  bool tracks() const { return requires_grad || producer != nullptr; }
  bool is_leaf() const { return producer == nullptr; }
  virtual ~VariableBase() { detail::destroy_iteratively(std::move(producer)); }
  virtual void release_grad() = 0;
};

template <class S, int R>
struct Variable final : VariableBase {
  std::shared_ptr<EigenTensor<S, R>> value;
  // For a leaf, the accumulated gradient. For an intermediate, the gradient of the
  // reverse pass under way; what retain_grad() keeps is summed into `retained`.
  EigenTensor<S, R> grad;
  EigenTensor<S, R> retained;
  bool has_retained = false;

  explicit Variable(std::shared_ptr<EigenTensor<S, R>> v) : value(std::move(v)) {}

  Shape<R> dimensions() const {
    Shape<R> d;
    for (int i = 0; i < R; ++i) d[i] = value->dimension(i);
    return d;
  }

  // grad += contribution (the first contribution is assigned, sparing a zero fill).
  template <class Contribution>
  void accumulate(const Contribution& contribution) {
    if (has_grad) {
      grad += contribution;
    } else {
      grad = contribution;
      has_grad = true;
    }
  }

  // Lets `write(buffer, add)` produce the contribution in place (a matrix product
  // writing straight into the gradient): add is false for the first contribution.
  template <class Write>
  void accumulate_in_place(Write&& write) {
    if (has_grad) {
      write(grad, true);
    } else {
      grad.resize(dimensions());
      write(grad, false);
      has_grad = true;
    }
  }

  void release_grad() override {
    if (is_leaf() || !has_grad) return;
    if (retains_grad) {
      if (has_retained)
        retained += grad;
      else
        retained = grad, has_retained = true;
    }
    grad = EigenTensor<S, R>();
    has_grad = false;
  }
};

}  // namespace fusegrad
