#include <fusegrad/fusegrad.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
namespace fg = fusegrad;
#if defined(CONSUMER_EXPECT_SLEEF) && !(defined(FUSEGRAD_HAS_SLEEF) && FUSEGRAD_HAS_SLEEF)
#error "consumer: fusegrad was installed with SLEEF, but FUSEGRAD_HAS_SLEEF=1 did not reach this build"
#endif
int main() {
#ifdef CONSUMER_EXPECTED_VERSION
  if (std::strcmp(FUSEGRAD_VERSION_STRING, CONSUMER_EXPECTED_VERSION) != 0) {
    std::printf("fusegrad/version.hpp says %s, the package %s\n", FUSEGRAD_VERSION_STRING, CONSUMER_EXPECTED_VERSION);
    return 1;
  }
#endif
  fg::Tensor<double, 1> x{1.0, 2.0, 3.0};
  x.requires_grad(true);
  fg::Tensor<double, 0> y = fg::sum(fg::square(x) + fg::sin(x));
  y.backward();
  for (int i = 0; i < 3; ++i)
    if (std::abs(x.grad()(i) - (2.0 * (i + 1) + std::cos(i + 1.0))) > 1e-12) { std::puts("wrong gradient"); return 1; }
  std::puts("consumer ok");
  return 0;
}
