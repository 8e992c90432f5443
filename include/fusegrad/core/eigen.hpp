// SPDX-License-Identifier: MPL-2.0
#pragma once
// Eigen's Tensor module, as every fusegrad header includes it.
// With EIGEN_USE_THREADS, Eigen 3.4's thread-pool device captures `this` implicitly in a
// lambda, which C++20 deprecates: one warning in every translation unit, not the user's.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated"
#endif
#include <unsupported/Eigen/CXX11/Tensor>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
