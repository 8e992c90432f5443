// This file must NOT compile: it adds a float tensor to a double tensor. fusegrad says so
// in one sentence, with what to do (give both one scalar type), instead of speaking of
// the dual numbers it would otherwise promote to. With -DFUSEGRAD_COMPILE_FAIL_CONTROL
// both are double and it compiles. (ctest: compile_fail_float_with_double.)
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
#ifdef FUSEGRAD_COMPILE_FAIL_CONTROL
  fg::Tensor<double, 1> a{1, 2, 3};
#else
  fg::Tensor<float, 1> a{1, 2, 3};
#endif
  fg::Tensor<double, 1> b{1, 2, 3};
  fg::Tensor<double, 1> c = a + b;
  return c.size() == 3 ? 0 : 1;
}
