// SPDX-License-Identifier: MPL-2.0
#pragma once
// The exceptions fusegrad throws. A shape_error always names the operation and the
// shapes involved, so that the message alone locates the mistake.
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config.hpp"

namespace fusegrad {

struct shape_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A file that cannot be read or written, or whose contents do not match what it is loaded
// into (optimizer state, saved parameters).
struct file_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Misuse of the tape: backward through a freed graph, a gradient that does not exist.
struct graph_error : std::logic_error {
  using std::logic_error::logic_error;
};

template <class Dims>
std::string format_shape(const Dims& dims) {
  std::ostringstream out;
  out << '(';
  for (std::size_t i = 0; i < dims.size(); ++i) out << (i ? ", " : "") << dims[i];
  if (dims.size() == 1) out << ',';
  out << ')';
  return out.str();
}

template <class A, class B>
[[noreturn]] void throw_shape_mismatch(std::string_view operation, const A& a, const B& b) {
  throw shape_error("fusegrad: " + std::string(operation) + ": shapes " + format_shape(a) + " and " +
                    format_shape(b) + " are not compatible");
}

template <class Dims>
[[noreturn]] void throw_resized_while_referenced(const Dims& recorded, const Dims& now) {
  throw shape_error("fusegrad: a tensor of shape " + format_shape(recorded) +
                    " was resized in place (mutable_value()) to " + format_shape(now) +
                    " after an expression naming it was built; build the expression again");
}

[[noreturn]] inline void throw_moved_from() {
  throw graph_error("fusegrad: use of a moved-from Tensor; assign a value or an expression to it first");
}

}  // namespace fusegrad
