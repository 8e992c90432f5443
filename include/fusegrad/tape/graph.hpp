// SPDX-License-Identifier: MPL-2.0
#pragma once
// The tape: statements recorded as graph nodes, and the reverse pass that runs them in
// reverse topological order without recursion.
#include <algorithm>
#include <atomic>
#include <optional>
#include <unordered_set>
#include <vector>

#include "../expr/node.hpp"

namespace fusegrad {

namespace detail {
inline std::atomic<std::uint64_t>& sequence_counter() {
  static std::atomic<std::uint64_t> counter{0};
  return counter;
}
inline std::uint64_t next_sequence() { return ++sequence_counter(); }

// Statements numbered at most this are run but not released by the reverse passes of
// this thread: set by fg::checkpoint's second run, whose backward may reach statements of
// the enclosing graph through tensors f captured, and another checkpoint capturing the
// same tensor may reach them again.
inline std::uint64_t& release_floor() {
  thread_local std::uint64_t floor = 0;
  return floor;
}
}  // namespace detail

/// Within its scope, assignments record nothing and their results need no gradient.
class no_grad {
 public:
  no_grad() : previous_(detail::grad_mode_flag()) { detail::grad_mode_flag() = false; }
  ~no_grad() { detail::grad_mode_flag() = previous_; }
  no_grad(const no_grad&) = delete;
  no_grad& operator=(const no_grad&) = delete;

 private:
  bool previous_;
};

// backward(fg::retain_graph) keeps the graph for another backward.
struct retain_graph_t {};
/// Passed to Tensor::backward, keeps the graph for another backward.
inline constexpr retain_graph_t retain_graph{};

namespace tape {

// One assignment `out = expression`, kept until its backward has run.
template <class S, int R, class Expression>
struct Statement final : GraphNode {
  std::optional<Expression> expression;
  Variable<S, R>* output;  // owns this node, so it outlives every use below

  template <class E>
  Statement(E&& e, Variable<S, R>* out) : GraphNode(out), expression(std::forward<E>(e)), output(out) {
    sequence = detail::next_sequence();
  }

  void run_backward() override {
    if (!output->has_grad) return;
    if (released) throw_freed_graph();  // never differentiated through what is gone
    const EigenTensor<S, R>& g = output->grad;
    if constexpr (requires { expression->backward_from_value(g, *output->value); })
      expression->backward_from_value(g, *output->value);  // reuses the stored result
    else
      expression->backward(g);
    output->release_grad();  // an intermediate's gradient is dropped (or kept) once used
  }
  void visit_inputs(const InputVisitor& visit) const override {
    if (expression) expression->for_each_leaf(visit);
  }
  void release() override {
    released = true;
    expression.reset();
  }
};

[[noreturn]] inline void throw_changed_in_place(const VariableBase& variable, const char* what) {
  throw graph_error(std::string("fusegrad: backward: ") + what + " of shape " + variable.shape_text() +
                    " that the graph read was modified in place (mutable_value() or requires_grad()) after the "
                    "statement reading it was evaluated; evaluate the statement again after changing it");
}

// The reverse pass from `root`, whose gradient has been seeded. Either it completes, or
// (an exception from a user's derivative) every gradient it touched is put back as it was
// before the pass, root's seed included, and the graph stays as it was, so that backward
// can run again.
inline void run_reverse_pass(VariableBase& root, bool keep_graph) {
  if (!root.producer) return;
  // Collect the nodes reachable from the root without recursion, refusing a graph
  // that an earlier backward released before anything is computed.
  // Each pass marks the nodes it reaches with its own number; the lists keep their
  // capacity from one pass to the next (a nested pass takes fresh ones).
  static std::atomic<std::uint64_t> passes{0};
  const std::uint64_t pass = ++passes;
  // The passes running on this thread, outermost first: fg::checkpoint runs a pass inside
  // a node of another. A nested pass stops at the nodes an enclosing pass reached: they
  // run after it, with what it added to their outputs' gradients (running and releasing
  // them here freed nodes the enclosing pass still held).
  struct Running {
    std::vector<std::uint64_t>* passes = pool::thread_object<std::vector<std::uint64_t>, Running>();
    explicit Running(std::uint64_t pass) {
      if (passes) passes->push_back(pass);
    }
    ~Running() {
      if (passes) passes->pop_back();
    }
    bool encloses(std::uint64_t visited) const {
      if (!passes || visited == 0) return false;
      for (std::size_t k = 0; k + 1 < passes->size(); ++k)
        if ((*passes)[k] == visited) return true;
      return false;
    }
  } running(pass);
  // Plain pointers: the root keeps every reachable node alive until the releases below,
  // which run from the earliest statement on, so a release that frees the nodes behind
  // its inputs only frees nodes already done with. (Shared pointers here cost two atomic
  // counts per node and pass.)
  using List = std::vector<GraphNode*>;
  struct Lists {
    List order, stack;
    std::vector<VariableBase*> saved;
  };
  Lists* spare = pool::thread_object<Lists>();
  Lists lists = spare ? std::move(*spare) : Lists();
  List &order = lists.order, &stack = lists.stack;
  std::vector<VariableBase*>& saved = lists.saved;
  order.clear();
  stack.clear();
  saved.clear();
  const auto give_back = [&] {
    order.clear();
    saved.clear();
    if ((spare = pool::thread_object<Lists>())) *spare = std::move(lists);
  };
  struct Walk {
    std::uint64_t pass;
    const Running& running;
    List& stack;
    std::vector<VariableBase*>& saved;
    void save(VariableBase& variable) const {
      // Saved already, by this pass or by one it runs inside (fg::checkpoint's second run):
      // the outermost pass's copy is the one to restore.
      if (variable.saved_in_pass != 0) return;
      variable.saved_in_pass = pass;
      variable.save_gradients();
      saved.push_back(&variable);
    }
  } walk{pass, running, stack, saved};
  // Every input of a node reached: checked, saved, and its producer queued.
  const auto visit_input = [&walk](VariableBase& input, std::uint64_t version_read) {
    if (input.version != version_read) throw_changed_in_place(input, input.is_leaf() ? "a leaf" : "a tensor");
    if (!input.tracks()) return;
    if (input.is_leaf()) walk.save(input);
    if (input.producer && input.producer->visited != walk.pass && !walk.running.encloses(input.producer->visited))
      walk.stack.push_back(input.producer.get());
  };
  const auto forget_saved = [&] {
    for (VariableBase* variable : saved) {
      if (variable->saved_copies)
        variable->forget_saved_gradients();
      else
        variable->saved_in_pass = 0;  // nothing was copied: no buffer to give back
    }
  };
  try {
    stack.push_back(root.producer.get());
    while (!stack.empty()) {
      GraphNode* node = stack.back();
      stack.pop_back();
      if (node->visited == pass) continue;
      node->visited = pass;
      VariableBase& output = node->output_variable();
      walk.save(output);  // first: the root's seed is withdrawn if the pass is refused
      if (node->released) throw_freed_graph();
      if (output.version != node->output_version()) throw_changed_in_place(output, "a tensor");
      node->visit_inputs(visit_input);
      order.push_back(node);
    }
  } catch (...) {
    for (VariableBase* variable : saved) variable->restore_gradients();
    give_back();
    throw;
  }
  // A node's sequence number exceeds those of the nodes producing its inputs, so
  // decreasing sequence is a reverse topological order.
  if (order.size() > 1)
    std::sort(order.begin(), order.end(), [](const GraphNode* a, const GraphNode* b) { return a->sequence > b->sequence; });
  try {
    for (GraphNode* node : order) node->run_backward();
  } catch (...) {
    for (VariableBase* variable : saved) variable->restore_gradients();
    give_back();
    throw;
  }
  forget_saved();
  if (!keep_graph) {
    const std::uint64_t floor = detail::release_floor();
    for (auto node = order.rbegin(); node != order.rend(); ++node)
      if ((*node)->sequence > floor) (*node)->release();
  }
  give_back();
}

}  // namespace tape
}  // namespace fusegrad
