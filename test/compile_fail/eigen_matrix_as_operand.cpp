// This file must NOT compile: an Eigen matrix passed to fg::exp and added to a tensor.
// fusegrad names the two ways to use it (fg::constant, or a Tensor copy) in one
// sentence, instead of "no matching function" and the candidates. With
// -DFUSEGRAD_COMPILE_FAIL_CONTROL the matrix is wrapped with fg::constant and it
// compiles. (ctest: compile_fail_eigen_matrix_as_operand.)
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
  Eigen::MatrixXd m = Eigen::MatrixXd::Ones(2, 3);
  fg::Tensor<double, 2> x = fg::Tensor<double, 2>::ones(2, 3);
#ifdef FUSEGRAD_COMPILE_FAIL_CONTROL
  fg::Tensor<double, 2> t = fg::exp(fg::constant(m)) + x;
#else
  fg::Tensor<double, 2> t = fg::exp(m) + x;
#endif
  return t.size() == 6 ? 0 : 1;
}
