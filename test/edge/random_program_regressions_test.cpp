// Bugs found by the random programs (random_program_test.cpp, bench random_programs),
// each as the failing program printed by the generator, reduced by hand. Each test
// failed before its fix.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include <array>
#include <cmath>
#include <vector>

namespace fg = fusegrad;

// Found when the random programs' interpreter was first built on dual numbers (its
// cross_entropy primitives): cross_entropy multiplied its sum by a scale of the
// logits' scalar type, which for dual tensors is a Dual, not a number, so fg::jvp
// through cross_entropy (either form) did not compile.
TEST_CASE_TEMPLATE("cross_entropy runs in forward mode and agrees with reverse mode", S, float, double) {
  fg::Tensor<S, 2> logits{{S(0.5), S(-1.2), S(0.3)}, {S(1.1), S(0.2), S(-0.7)}};
  fg::Tensor<S, 2> target{{S(0.2), S(0.5), S(0.3)}, {S(0.6), S(0.1), S(0.3)}};
  const std::vector<int> labels{2, 0};
  const fg::EigenTensor<S, 2> direction = fg::Tensor<S, 2>{{S(0.3), S(-0.2), S(0.9)}, {S(-0.4), S(0.8), S(0.1)}}.value();
  auto with_target = [&](const auto& x) { return fg::cross_entropy(x, target, fg::loss_reduction::sum); };
  auto with_labels = [&](const auto& x) { return fg::cross_entropy(x, labels); };
  auto along = [&](const fg::EigenTensor<S, 2>& gradient) {
    double total = 0;
    for (fg::Index i = 0; i < gradient.size(); ++i) total += double(gradient.data()[i] * direction.data()[i]);
    return total;
  };
  const double tolerance = std::is_same_v<S, float> ? 1e-5 : 1e-12;
  {
    const auto [value, tangent] = fg::jvp(with_target, logits, direction);
    CHECK(double(value()) == doctest::Approx(double(fg::eval(with_target(logits)).item())).epsilon(tolerance));
    CHECK(double(tangent()) == doctest::Approx(along(fg::grad(with_target, logits))).epsilon(tolerance));
  }
  {
    const auto [value, tangent] = fg::jvp(with_labels, logits, direction);
    CHECK(double(value()) == doctest::Approx(double(fg::eval(with_labels(logits)).item())).epsilon(tolerance));
    CHECK(double(tangent()) == doctest::Approx(along(fg::grad(with_labels, logits))).epsilon(tolerance));
  }
}
