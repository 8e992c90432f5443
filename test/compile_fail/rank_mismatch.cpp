// This file must NOT compile: it assigns a rank-0 expression (fg::sum(x) reduces every
// dimension) to a rank-1 Tensor, which fusegrad refuses with a static_assert whose
// message begins "fusegrad: the expression's rank differs". The ctest test
// compile_fail_rank_mismatch (test/CMakeLists.txt) runs the compiler on it and passes
// only if that message appears. Compiled with -DFUSEGRAD_COMPILE_FAIL_CONTROL, the
// ranks agree and it must compile (test compile_fail_rank_mismatch_control), which shows
// that nothing but the rank stops it.
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
  fg::Tensor<double, 1> x{1, 2, 3};
#ifdef FUSEGRAD_COMPILE_FAIL_CONTROL
  fg::Tensor<double, 0> total = fg::sum(x);
#else
  fg::Tensor<double, 1> total = fg::sum(x);
#endif
  return total.size() == 1 ? 0 : 1;
}
