#pragma once
// fusegrad: reverse-mode automatic differentiation of tensor programs on Eigen.
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/shape.hpp"
#include "expr/contract.hpp"
#include "expr/convolution.hpp"
#include "expr/functions.hpp"
#include "expr/interop.hpp"
#include "expr/layout.hpp"
#include "functional/reverse.hpp"
#include "nn/losses.hpp"
#include "tape/graph.hpp"
#include "tape/tensor.hpp"
