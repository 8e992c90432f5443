// This file must NOT compile: a rank-2 Tensor given three dimensions. fusegrad answers
// with one sentence instead of listing every constructor as a candidate. With
// -DFUSEGRAD_COMPILE_FAIL_CONTROL it gives two and compiles.
// (ctest: compile_fail_wrong_dimension_count.)
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
#ifdef FUSEGRAD_COMPILE_FAIL_CONTROL
  fg::Tensor<double, 2> t(2, 3);
#else
  fg::Tensor<double, 2> t(2, 3, 4);
#endif
  return t.size() > 0 ? 0 : 1;
}
