// SPDX-License-Identifier: MPL-2.0
#pragma once
// What every optimizer shares: its parameters, zero_grad(), a learning rate that may
// change between steps, and the step count; and the saving and loading of parameter
// lists. Each optimizer's update is one pass over each parameter's values, gradient and
// state, with no temporaries (state buffers are allocated at the first step).
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "archive.hpp"
#include "parameter.hpp"

namespace fusegrad::optim {

/// The base of SGD, Adam and AdamW: parameters, learning rate, step count.
template <class S>
class Optimizer {
 public:
  /// Throws std::invalid_argument for no parameters or a negative learning rate.
  explicit Optimizer(ParameterList<S> parameters, double learning_rate) : parameters_(std::move(parameters)), lr_(learning_rate) {
    if (parameters_.empty()) throw std::invalid_argument("fusegrad: optimizer: no parameters given");
    if (!(learning_rate >= 0)) throw std::invalid_argument("fusegrad: optimizer: the learning rate must be >= 0");
  }
  virtual ~Optimizer() = default;

  /// Sets every parameter's gradient to none (its storage is kept for the next backward).
  void zero_grad() {
    for (Parameter<S>& p : parameters_) p.zero_grad();
  }
  /// The learning rate of the next step.
  double learning_rate() const { return lr_; }
  /// Changes the learning rate from the next step on (a schedule).
  void set_learning_rate(double lr) {
    if (!(lr >= 0)) throw std::invalid_argument("fusegrad: optimizer: the learning rate must be >= 0");
    lr_ = lr;
  }
  /// Steps taken (restored by load).
  std::uint64_t steps() const { return steps_; }
  /// The parameters, in the order given.
  const ParameterList<S>& parameters() const { return parameters_; }

 protected:
  ParameterList<S> parameters_;  ///< what step() updates
  double lr_;                    ///< the learning rate
  std::uint64_t steps_ = 0;      ///< steps taken
};

/// Saves the parameters' values (in order) to `path`.
template <class S>
void save_parameters(const std::string& path, const ParameterList<S>& parameters) {
  archive::Writer out(path, "parameters", sizeof(S));
  out.word(std::uint64_t(parameters.size()));
  for (const Parameter<S>& p : parameters) out.array(p.read_values(), std::uint64_t(p.size()));
  out.commit();
}

/// Loads values saved by save_parameters into parameters of the same sizes, in order; a
/// mismatch or a corrupt file throws file_error and changes nothing.
template <class S>
void load_parameters(const std::string& path, ParameterList<S>& parameters) {
  archive::Reader in(path, "parameters", sizeof(S));
  if (in.word<std::uint64_t>() != parameters.size())
    in.fail("it holds a different number of parameters than the " + std::to_string(parameters.size()) + " given");
  std::vector<std::vector<S>> values;
  for (std::size_t k = 0; k < parameters.size(); ++k)
    values.push_back(in.template array<S>(std::uint64_t(parameters[k].size()),
                                          "parameter " + std::to_string(k) + " of shape " + parameters[k].shape()));
  in.finish();
  for (std::size_t k = 0; k < parameters.size(); ++k)
    std::copy(values[k].begin(), values[k].end(), parameters[k].values());
}

}  // namespace fusegrad::optim
