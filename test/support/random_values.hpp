#pragma once
// Tensors of uniform random values in [0.3, 1.5] (positive, away from 0: safe for log,
// sqrt and division), the same for the same seed.
#include <fusegrad/fusegrad.hpp>

#include <random>

namespace fusegrad::testing {

template <int R>
fusegrad::EigenTensor<double, R> random_values(const fusegrad::Shape<std::size_t(R)>& dims, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<double> u(0.3, 1.5);
  fusegrad::EigenTensor<double, R> t(dims);
  for (fusegrad::Index i = 0; i < t.size(); ++i) t.data()[i] = u(engine);
  return t;
}

}  // namespace fusegrad::testing
