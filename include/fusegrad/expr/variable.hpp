// SPDX-License-Identifier: MPL-2.0
#pragma once
// What a tensor handle points to: a value, its gradient, and the graph node that
// produced it. Expression leaves hold these by shared pointer, so an expression never
// refers to storage that can disappear under it.
#include <cstdint>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <utility>
#include <type_traits>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/pool.hpp"

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

// visit(variable, version) for a graph node's inputs: a reference to the caller's
// callable and one function pointer, where a std::function was constructed and called
// through its type-erased handler for every node of every reverse pass.
class InputVisitor {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, InputVisitor>)
  InputVisitor(const F& f)  // NOLINT: converts from any callable, as std::function does
      : object_(&f), call_([](const void* object, VariableBase& variable, std::uint64_t version) {
          (*static_cast<const F*>(object))(variable, version);
        }) {}
  void operator()(VariableBase& variable, std::uint64_t version) const { call_(object_, variable, version); }

 private:
  const void* object_;  // the caller's callable, which outlives the visit
  void (*call_)(const void*, VariableBase&, std::uint64_t);
};

// A recorded statement: given its output's gradient, it accumulates into its inputs'.
// The reverse pass (tape/) orders nodes by `sequence`, which increases with creation,
// so every node runs after all the nodes that consume its output.
struct GraphNode {
  std::uint64_t sequence = 0;
  std::uint64_t visited = 0;  // the last reverse pass that reached this node
  bool released = false;
  std::size_t block_bytes = 0;  // the size of the pooled block it lives in (make_graph_node)
  explicit GraphNode(VariableBase* output);
  virtual ~GraphNode() = default;
  virtual void run_backward() = 0;
  // visit(variable, version): every variable the backward reads, with the version of its
  // value when the statement was evaluated.
  virtual void visit_inputs(const InputVisitor& visit) const = 0;
  virtual void release() = 0;  // drops what the backward needed
  // The variable this node produced, and its version when it was produced.
  VariableBase& output_variable() const { return *produced_; }
  std::uint64_t output_version() const { return produced_version_; }

 private:
  VariableBase* produced_;  // owns this node, so it outlives it
  std::uint64_t produced_version_;
};

[[noreturn]] inline void throw_freed_graph() {
  throw graph_error(
      "fusegrad: backward through a graph that an earlier backward already freed; "
      "call the first backward with fg::retain_graph to run backward twice");
}

namespace detail {
// Destroying a long chain of graph nodes through nested destructors would recurse once
// per node and overflow the stack on deep graphs; nodes released while another release
// is running are queued and destroyed by the outermost call instead.
inline void destroy_node(GraphNode* node) noexcept {
  const std::size_t bytes = node->block_bytes;
  node->~GraphNode();
  pool::detail::deallocate_block(node, bytes);
}
// Queued, or destroyed at once (one level deeper) when the queue cannot grow: this runs
// in destructors, where std::bad_alloc would terminate the program.
inline void queue_or_destroy(std::vector<GraphNode*>& queue, GraphNode* node) noexcept {
  try {
    queue.push_back(node);
  } catch (...) {
    destroy_node(node);
  }
}
inline void destroy_iteratively(GraphNode* node) {
  thread_local std::vector<GraphNode*>* pending = nullptr;
  if (!node) return;
  if (pending) {
    queue_or_destroy(*pending, node);
    return;
  }
  // The queue keeps its capacity for the next destruction on this thread.
  using Queue = std::vector<GraphNode*>;
  Queue* spare = pool::thread_object<Queue>();
  Queue queue = spare ? std::move(*spare) : Queue();
  pending = &queue;
  queue_or_destroy(queue, node);
  while (!queue.empty()) {
    GraphNode* last = queue.back();
    queue.pop_back();
    destroy_node(last);
  }
  pending = nullptr;
  if ((spare = pool::thread_object<Queue>())) *spare = std::move(queue);
}
}  // namespace detail

// The owner of a graph node: the variable the node produced, its only owner, so no
// reference count (a shared pointer cost two atomic counts per statement and, compiled
// per statement type, its control block's five functions).
class NodePtr {
 public:
  NodePtr() = default;
  explicit NodePtr(GraphNode* node) : node_(node) {}
  NodePtr(const NodePtr&) = delete;
  NodePtr& operator=(const NodePtr&) = delete;
  NodePtr(NodePtr&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  NodePtr& operator=(NodePtr&& other) noexcept {
    if (this != &other) {
      GraphNode* old = std::exchange(node_, std::exchange(other.node_, nullptr));
      detail::destroy_iteratively(old);
    }
    return *this;
  }
  ~NodePtr() { detail::destroy_iteratively(node_); }
  GraphNode* get() const { return node_; }
  GraphNode* operator->() const { return node_; }
  explicit operator bool() const { return node_ != nullptr; }
  bool operator==(std::nullptr_t) const { return node_ == nullptr; }

 private:
  GraphNode* node_ = nullptr;
};

// A node of type T in a block from the per-thread pool (pool.hpp).
template <class T, class... Args>
NodePtr make_graph_node(Args&&... args) {
  static_assert(std::derived_from<T, GraphNode>);
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "fusegrad: an over-aligned graph node");
  void* block = pool::detail::allocate_block(sizeof(T));
  T* node;
  try {
    node = new (block) T(std::forward<Args>(args)...);
  } catch (...) {
    pool::detail::deallocate_block(block, sizeof(T));
    throw;
  }
  node->block_bytes = sizeof(T);
  return NodePtr(node);
}

struct VariableBase {
  NodePtr producer;  // null for a leaf
  // Counts in-place changes (mutable_value(), requires_grad switched): a recorded
  // statement whose inputs changed since its evaluation is refused at backward rather
  // than differentiated at the new values.
  std::uint64_t version = 0;
  std::uint64_t saved_in_pass = 0;  // the running reverse pass that saved its gradients, or 0
  bool saved_copies = false;        // whether that save copied a gradient (to give back after)
  bool requires_grad = false;
  bool retains_grad = false;
  bool has_grad = false;  // whether `grad` holds an accumulated value

  // Whether gradients flow into this variable at all.
  bool tracks() const { return requires_grad || producer != nullptr; }
  bool is_leaf() const { return producer == nullptr; }
  virtual ~VariableBase() = default;  // producer's destructor destroys the node iteratively
  virtual void release_grad() = 0;
  virtual std::string shape_text() const = 0;
  // A reverse pass that fails part-way (an exception from user code) puts every
  // gradient back as it was (tape/graph.hpp): save before it, restore or forget after.
  virtual void save_gradients() = 0;
  virtual void restore_gradients() = 0;
  virtual void forget_saved_gradients() = 0;
};

template <class S, int R>
struct Variable final : VariableBase {
  std::shared_ptr<EigenTensor<S, R>> value;
  // For a leaf, the accumulated gradient. For an intermediate, the gradient of the
  // reverse pass under way; what retain_grad() keeps is summed into `retained`.
  EigenTensor<S, R> grad;
  EigenTensor<S, R> retained;
  bool has_retained = false;
  // A leaf's gradient and the retained one before the reverse pass under way.
  EigenTensor<S, R> saved_grad, saved_retained;
  bool saved_has_grad = false, saved_has_retained = false;

  Variable() = default;
  explicit Variable(std::shared_ptr<EigenTensor<S, R>> v) : value(std::move(v)) {}

  // Readies a released variable for reuse: its gradient buffers stay allocated.
  void clear() {
    producer = NodePtr();
    value.reset();
    requires_grad = retains_grad = has_grad = has_retained = false;
  }

  Shape<R> dimensions() const {
    Shape<R> d;
    for (int i = 0; i < R; ++i) d[i] = value->dimension(i);
    return d;
  }

  // grad += contribution (the first contribution is assigned, sparing a zero fill).
  template <class Contribution>
  void accumulate(const Contribution& contribution) {
    if (has_grad) {
      evaluate_into(grad, grad + contribution);
    } else {
      pool::fit(grad, dimensions());
      evaluate_into(grad, contribution);
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
      pool::fit(grad, dimensions());
      write(grad, false);
      has_grad = true;
    }
  }

  std::string shape_text() const override { return format_shape(dimensions()); }

  void save_gradients() override {
    saved_has_grad = has_grad;
    saved_has_retained = has_retained;
    saved_copies = (has_grad && is_leaf()) || has_retained;
    if (has_grad && is_leaf()) {
      pool::fit(saved_grad, grad.dimensions());
      evaluate_into(saved_grad, grad);
    }
    if (has_retained) {
      pool::fit(saved_retained, retained.dimensions());
      evaluate_into(saved_retained, retained);
    }
  }
  void restore_gradients() override {
    if (is_leaf()) {
      has_grad = saved_has_grad;
      if (has_grad) evaluate_into(grad, saved_grad);
    } else if (has_grad) {
      pool::give(std::move(grad));  // an intermediate holds a gradient only during a pass
      has_grad = false;
    }
    has_retained = saved_has_retained;
    if (has_retained) evaluate_into(retained, saved_retained);
    forget_saved_gradients();
  }
  void forget_saved_gradients() override {
    saved_in_pass = 0;
    saved_copies = false;
    if (saved_grad.size()) pool::give(std::move(saved_grad));
    if (saved_retained.size()) pool::give(std::move(saved_retained));
  }

  void release_grad() override {
    if (is_leaf() || !has_grad) return;
    if (retains_grad) {
      if (has_retained)
        retained += grad;
      else
        retained = grad, has_retained = true;
    }
    pool::give(std::move(grad));
    has_grad = false;
  }
};

inline GraphNode::GraphNode(VariableBase* output) : produced_(output), produced_version_(output->version) {}

// A variable holding `value`: one released earlier (with its gradient buffers) when
// there is one, so that a step that rebuilds its graph allocates nothing for it.
template <class S, int R>
std::shared_ptr<Variable<S, R>> make_variable(std::shared_ptr<EigenTensor<S, R>> value) {
  Variable<S, R>* v = pool::acquire<Variable<S, R>>([](const Variable<S, R>&) { return true; });
  v->value = std::move(value);
  return pool::recycled(v, [](Variable<S, R>& released) { released.clear(); });
}

}  // namespace fusegrad
