// SPDX-License-Identifier: MPL-2.0
#pragma once
// Eigen's Tensor module has no sin, cos or sign member: Eigen's own functors, as a user
// would write them (elementwise20_eigen.cpp, elementwise20_hand.cpp).
#include <unsupported/Eigen/CXX11/Tensor>

template <class E>
auto sin_(const E& e) {
  return e.unaryExpr(Eigen::internal::scalar_sin_op<double>());
}
template <class E>
auto cos_(const E& e) {
  return e.unaryExpr(Eigen::internal::scalar_cos_op<double>());
}
template <class E>
auto sign_(const E& e) {
  return e.unaryExpr(Eigen::internal::scalar_sign_op<double>());
}
