// SPDX-License-Identifier: MPL-2.0
#pragma once
// What an optimizer updates: a leaf tensor of any rank, seen as a flat array of values
// and gradients. A list of them is written `{W1, b1, W2, b2}`.
#include <memory>
#include <string>
#include <vector>

#include "../tape/tensor.hpp"

namespace fusegrad::optim {

/// A leaf tensor an optimizer updates, of any rank, seen as flat values and gradient.
template <class S>
class Parameter {
 public:
  /// From a leaf with requires_grad(true) (graph_error otherwise).
  template <int R>
  Parameter(const Tensor<S, R>& tensor) : held_(std::make_shared<Held<R>>(tensor)) {
    if (!tensor.is_leaf() || !tensor.requires_grad())
      throw graph_error("fusegrad: optimizer: a parameter must be a leaf with requires_grad(true); got one of shape " +
                        format_shape(tensor.dimensions()) + (tensor.is_leaf() ? " without it" : " that a statement produced"));
  }

  /// Its number of elements.
  Index size() const { return held_->size(); }
  /// Its shape, as text for messages.
  std::string shape() const { return held_->shape(); }
  /// The values to update in place. (Counts as a change of the tensor: a graph recorded
  /// before the step cannot be differentiated after it.)
  S* values() { return held_->values(); }
  /// The values, read only.
  const S* read_values() const { return held_->read_values(); }
  /// The accumulated gradient, or nullptr when no backward reached the parameter since
  /// its last zero_grad (the parameter is then left alone, as PyTorch leaves a None grad).
  const S* gradient() const { return held_->gradient(); }
  /// The gradient, writable: zeros (then counted as a gradient) when no backward reached
  /// the parameter since its last zero_grad.
  S* mutable_gradient() { return held_->mutable_gradient(); }
  /// The tensor's zero_grad().
  void zero_grad() { held_->zero_grad(); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual Index size() const = 0;
    virtual std::string shape() const = 0;
    virtual S* values() = 0;
    virtual const S* read_values() const = 0;
    virtual const S* gradient() const = 0;
    virtual S* mutable_gradient() = 0;
    virtual void zero_grad() = 0;
  };
  template <int R>
  struct Held final : Base {
    Tensor<S, R> tensor;
    explicit Held(const Tensor<S, R>& t) : tensor(t) {}
    Index size() const override { return tensor.size(); }
    std::string shape() const override { return format_shape(tensor.dimensions()); }
    S* values() override { return tensor.mutable_value().data(); }
    const S* read_values() const override { return tensor.data(); }
    const S* gradient() const override { return tensor.has_grad() ? tensor.grad().data() : nullptr; }
    S* mutable_gradient() override { return tensor.mutable_grad().data(); }
    void zero_grad() override { tensor.zero_grad(); }
  };
  std::shared_ptr<Base> held_;
};

template <class S>
using ParameterList = std::vector<Parameter<S>>;

}  // namespace fusegrad::optim
