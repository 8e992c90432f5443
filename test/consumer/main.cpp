#include <fusegrad/fusegrad.hpp>
#include <cmath>
#include <cstdio>
namespace fg = fusegrad;
int main() {
  fg::Tensor<double, 1> x{1.0, 2.0, 3.0};
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::sum(fg::square(x));
  y.backward();
  for (int i = 0; i < 3; ++i)
    if (std::abs(x.grad()(i) - 2.0 * (i + 1)) > 1e-12) { std::puts("wrong gradient"); return 1; }
  std::puts("consumer ok");
  return 0;
}
