// The random-program interpreter for double (see random_program.hpp).
#include "random_program_interpreter.hpp"

namespace fusegrad::testing::random_programs {

reverse_result reverse_double(const program& p, bool fused, const std::vector<double>& weights) {
  return reverse_with<double>(p, fused, weights);
}

std::vector<double> value_double(const program& p, const std::vector<std::vector<double>>& inputs) {
  return value_with<double>(p, inputs);
}

}  // namespace fusegrad::testing::random_programs
