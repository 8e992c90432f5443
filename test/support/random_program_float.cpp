// The random-program interpreter for float (see random_program.hpp).
#include "random_program_interpreter.hpp"

namespace fusegrad::testing::random_programs {

reverse_result reverse_float(const program& p, bool fused, const std::vector<double>& weights) {
  return reverse_with<float>(p, fused, weights);
}

}  // namespace fusegrad::testing::random_programs
