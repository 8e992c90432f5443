// This file must NOT compile: matmul of two vectors, which matmul refuses (dot is their
// inner product), in one sentence and without a second error about the result's rank.
// With -DFUSEGRAD_COMPILE_FAIL_CONTROL it takes a matrix and a vector and compiles.
// (ctest: compile_fail_operation_on_wrong_rank.)
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
#ifdef FUSEGRAD_COMPILE_FAIL_CONTROL
  fg::Tensor<double, 2> a{{1, 2, 3}};
#else
  fg::Tensor<double, 1> a{1, 2, 3};
#endif
  fg::Tensor<double, 1> b{1, 2, 3};
  fg::Tensor<double, 1> c = fg::matmul(a, b);
  return c.size() == 1 ? 0 : 1;
}
