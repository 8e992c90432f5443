// The random-program interpreter on dual numbers, for forward mode (see random_program.hpp).
#include "random_program_interpreter.hpp"

namespace fusegrad::testing::random_programs {

std::pair<std::vector<double>, std::vector<double>> jvp_double(const program& p,
                                                                const std::vector<std::vector<double>>& directions) {
  return jvp_with<double>(p, directions);
}

}  // namespace fusegrad::testing::random_programs
