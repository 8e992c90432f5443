// This file must NOT compile: it builds a Tensor from a std::string, which no constructor
// takes; fusegrad answers with one static_assert sentence ("fusegrad: a Tensor is built
// from ...") instead of listing every constructor as a candidate. The ctest test
// compile_fail_tensor_from_unsupported_type runs the compiler on it and passes only if that
// message appears; with -DFUSEGRAD_COMPILE_FAIL_CONTROL it builds the tensor from an
// Eigen::MatrixXd and must compile.
#include <fusegrad/fusegrad.hpp>

#include <string>

namespace fg = fusegrad;

int main() {
#ifdef FUSEGRAD_COMPILE_FAIL_CONTROL
  Eigen::MatrixXd source = Eigen::MatrixXd::Ones(2, 3);
#else
  std::string source = "1 2 3";
#endif
  fg::Tensor<double, 2> t(source);
  return t.size() == 6 ? 0 : 1;
}
