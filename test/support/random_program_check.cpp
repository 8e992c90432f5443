// The three checks of a random program, and its printing as a doctest TEST_CASE when a
// check fails (see random_program.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <sstream>

#include "random_program.hpp"

namespace fusegrad::testing::random_programs {

namespace {

std::string number(double v, bool single) {
  char buffer[64];
  if (single) {
    std::snprintf(buffer, sizeof buffer, "%.9g", v);
    std::string s = buffer;
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s + "f";
  }
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  std::string s = buffer;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string list(const std::vector<long>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

// Nested braces of the elements (row-major), or the dimensions' constructor when a
// dimension is 0 (braces cannot say that).
std::string literal(const Dims& dims, const std::vector<double>& values, bool single, const std::string& type) {
  if (dims.empty()) return type + "(" + number(values.at(0), single) + ")";
  for (long d : dims)
    if (d == 0) {
      std::string s = type + "(";
      for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
      return s + ")";
    }
  std::size_t at = 0;
  auto level = [&](auto&& self, std::size_t depth) -> std::string {
    std::string s = "{";
    for (long i = 0; i < dims[depth]; ++i) {
      if (i) s += ", ";
      s += depth + 1 == dims.size() ? number(values[at++], single) : self(self, depth + 1);
    }
    return s + "}";
  };
  return type + level(level, 0);
}

std::string scalar_type(bool single) { return single ? "float" : "double"; }

std::string expression(const program& p, const node& n, const std::string& a, const std::string& b) {
  const signature s = primitives[n.primitive];
  const std::string num = number(n.number, false);
  switch (s.code) {
    case op::exp: return "fg::exp(" + a + ")";
    case op::log: return "fg::log(fg::square(" + a + ") + 1.0)";
    case op::log_input: return "fg::log(" + a + ")";
    case op::sin: return "fg::sin(" + a + ")";
    case op::cos: return "fg::cos(" + a + ")";
    case op::tanh: return "fg::tanh(" + a + ")";
    case op::sigmoid: return "fg::sigmoid(" + a + ")";
    case op::softplus: return "fg::softplus(" + a + ")";
    case op::log_sigmoid: return "fg::log_sigmoid(" + a + ")";
    case op::relu: return "fg::relu(" + a + ")";
    case op::sqrt: return "fg::sqrt(fg::square(" + a + ") + 0.5)";
    case op::sqrt_input: return "fg::sqrt(" + a + ")";
    case op::abs: return "fg::abs(" + a + ")";
    case op::square: return "fg::square(" + a + ")";
    case op::pow_number: return "fg::pow(fg::square(" + a + ") + 0.5, " + num + ")";
    case op::negate: return "-" + a;
    case op::clamp: return "fg::clamp(" + a + ", " + num + ", " + num + " + 1.0)";
    case op::user_map: return "fg::map(" + a + ", user_function, user_derivative)";
    case op::add: return a + " + " + b;
    case op::subtract: return a + " - " + b;
    case op::multiply: return a + " * " + b;
    case op::divide: return a + " / (fg::square(" + b + ") + 0.5)";
    case op::divide_by_input: return a + " / " + b;
    case op::maximum: return "fg::maximum(" + a + ", " + b + ")";
    case op::minimum: return "fg::minimum(" + a + ", " + b + ")";
    case op::where: return "fg::where(" + a + " < " + num + ", " + a + ", " + b + ")";
    case op::pow: return "fg::pow(fg::square(" + a + ") + 0.5, " + b + ")";
    case op::user_zip: return "fg::zip(" + a + ", " + b + ", user_pair_function, user_pair_first, user_pair_second)";
    case op::sum: case op::mean: case op::max: case op::min: case op::prod: case op::logsumexp: {
      static const char* names[] = {"sum", "mean", "max", "min", "prod", "logsumexp"};
      std::string s2 = std::string("fg::") + names[int(s.code) - int(op::sum)] + "(" + a;
      if (s.variant == one || s.variant == one_kept) s2 += ", fg::dims(" + std::to_string(n.ints[0]) + ")";
      if (s.variant == two) s2 += ", fg::dims(" + std::to_string(n.ints[0]) + ", " + std::to_string(n.ints[1]) + ")";
      if (s.variant == all_kept || s.variant == one_kept) s2 += ", fg::keep_dims";
      return s2 + ")";
    }
    case op::reshape: return "fg::reshape(" + a + ", std::array<fg::Index, " + std::to_string(s.out) + ">" + list(n.ints) + ")";
    case op::permute: return "fg::permute(" + a + ", std::array<fg::Index, " + std::to_string(s.a) + ">" + list(n.ints) + ")";
    case op::slice: {
      std::vector<long> offsets(n.ints.begin(), n.ints.begin() + s.a), extents(n.ints.begin() + s.a, n.ints.end());
      const std::string t = "std::array<fg::Index, " + std::to_string(s.a) + ">";
      return "fg::slice(" + a + ", " + t + list(offsets) + ", " + t + list(extents) + ")";
    }
    case op::pad: {
      std::string s2 = "fg::pad(" + a + ", {";
      for (int i = 0; i < s.a; ++i)
        s2 += (i ? ", {" : "{") + std::to_string(n.ints[2 * i]) + ", " + std::to_string(n.ints[2 * i + 1]) + "}";
      return s2 + "})";
    }
    case op::concat: case op::stack:
      return std::string(s.code == op::concat ? "fg::concat" : "fg::stack") + "({" + a + ", " + b +
             (n.ints[1] ? ", " + a : "") + "}, " + std::to_string(n.ints[0]) + ")";
    case op::reverse:
      return s.variant == 0 ? "fg::reverse(" + a + ")" : "fg::reverse(" + a + ", fg::dims(" + std::to_string(n.ints[0]) + "))";
    case op::broadcast_to:
      return "fg::broadcast_to(" + a + ", std::array<fg::Index, " + std::to_string(s.out) + ">" + list(n.ints) + ")";
    case op::matmul: return "fg::matmul(" + a + ", " + b + ")";
    case op::dot: return "fg::dot(" + a + ", " + b + ")";
    case op::outer: return "fg::outer(" + a + ", " + b + ")";
    case op::tensordot: {
      std::string s2 = "fg::tensordot(" + a + ", " + b + ", {";
      for (int i = 0; i < s.variant; ++i)
        s2 += (i ? ", {" : "{") + std::to_string(n.ints[2 * i]) + ", " + std::to_string(n.ints[2 * i + 1]) + "}";
      return s2 + "})";
    }
    case op::softmax: return "fg::softmax(" + a + ", " + std::to_string(n.ints[0]) + ")";
    case op::log_softmax: return "fg::log_softmax(" + a + ", " + std::to_string(n.ints[0]) + ")";
    case op::mse: return "fg::mse(" + a + ", " + b + ")";
    case op::cross_entropy_labels: {
      std::vector<long> labels(n.ints.begin() + 1, n.ints.end());
      return "fg::cross_entropy(" + a + ", std::vector<int>" + list(labels) + ", fg::loss_reduction::" +
             (n.ints[0] ? "sum" : "mean") + ")";
    }
    case op::cross_entropy_probabilities:
      return "fg::cross_entropy(" + a + ", " + b + ", fg::loss_reduction::" + (n.ints[0] ? "sum" : "mean") + ")";
  }
  (void)p;
  return "?";
}

}  // namespace

std::string value_name(const program& p, int value) {
  if (value < int(p.inputs.size())) return "x" + std::to_string(value);
  return "v" + std::to_string(value);
}

// The statements; forms as `auto` expressions when fused. `S` names the scalar type.
std::string to_cpp(const program& p, bool fused) {
  std::ostringstream out;
  const std::size_t first_node = p.inputs.size();
  for (const statement& st : p.statements) {
    for (int k = st.first; k < st.first + st.count; ++k) {
      const node& n = p.nodes[std::size_t(k)];
      const int id = int(first_node) + k;
      const bool last = k == st.first + st.count - 1;
      const std::string a = value_name(p, n.args[0]), b = n.args[1] >= 0 ? value_name(p, n.args[1]) : "";
      const std::string type =
          fused && st.form >= 0 && !last ? "auto" : "fg::Tensor<S, " + std::to_string(n.dims.size()) + ">";
      out << "  " << type << " " << value_name(p, id) << " = " << expression(p, n, a, b) << ";\n";
    }
  }
  return out.str();
}

namespace {

const char* user_functions =
    "  // The user functions of the random programs (test/support/random_program_interpreter.hpp).\n"
    "  const auto user_function = [](auto v) { using std::sin; return sin(v) * v + v * v * decltype(v)(0.5); };\n"
    "  const auto user_derivative = [](auto v) { using std::cos; using std::sin; return cos(v) * v + sin(v) + v; };\n"
    "  const auto user_pair_function = [](auto a, auto b) { using std::sin; return a * b + sin(a); };\n"
    "  const auto user_pair_first = [](auto a, auto b) { using std::cos; return b + cos(a); };\n"
    "  const auto user_pair_second = [](auto a, auto) { return a; };\n";

bool uses_user_functions(const program& p) {
  for (const node& n : p.nodes) {
    const op c = primitives[n.primitive].code;
    if (c == op::user_map || c == op::user_zip) return true;
  }
  return false;
}

std::string inputs_cpp(const program& p) {
  std::ostringstream out;
  for (std::size_t k = 0; k < p.inputs.size(); ++k) {
    const std::string type = "fg::Tensor<S, " + std::to_string(p.inputs[k].size()) + ">";
    out << "  " << type << " x" << k << " = " << literal(p.inputs[k], p.values[k], p.single, type) << ";\n"
        << "  x" << k << ".requires_grad(true);\n";
  }
  return out.str();
}

struct mismatch {
  std::string what;  // e.g. "x1.grad()"
  long element;
  double expected, got;
};

std::string test_case(const program& p, const std::string& title, bool fused, const std::vector<double>& weights,
                      const std::vector<mismatch>& mismatches, double tolerance, const std::string& note) {
  std::ostringstream out;
  out << "TEST_CASE(\"" << title << "\") {\n"
      << "  // random program " << p.seed << " (" << scalar_type(p.single) << "): " << note << "\n";
  if (uses_user_functions(p)) out << user_functions;
  out << "  using S = " << scalar_type(p.single) << ";\n" << inputs_cpp(p) << to_cpp(p, fused);
  const Dims& od = p.dims_of(p.output);
  const std::string out_type = "fg::Tensor<S, " + std::to_string(od.size()) + ">";
  out << "  " << out_type << " weights = " << literal(od, weights, p.single, out_type) << ";\n"
      << "  " << value_name(p, p.output) << ".backward(weights);\n";
  for (const mismatch& m : mismatches) {
    out << "  CHECK(" << m.what << ".data()[" << m.element << "] == doctest::Approx(" << number(m.expected, false)
        << ").epsilon(" << tolerance << "));  // got " << number(m.got, false) << "\n";
  }
  out << "}\n";
  return out.str();
}

// The forward-mode check as a TEST_CASE: fg::jvp with input 0 as its argument and the
// other inputs closed over as dual tensors carrying their directions.
std::string forward_test_case(const program& p, const std::vector<double>& weights,
                              const std::vector<std::vector<double>>& directions, double expected, double got,
                              double tolerance, const std::string& note) {
  std::ostringstream out;
  out << "TEST_CASE(\"random program " << p.seed << ": forward mode\") {\n"
      << "  // random program " << p.seed << " (" << scalar_type(p.single) << " inputs, forward mode in double): "
      << note << "\n";
  if (uses_user_functions(p)) out << user_functions;
  out << "  using D = fg::Dual<double>;\n";
  for (std::size_t k = 0; k < p.inputs.size(); ++k) {
    const std::string type = "fg::Tensor<double, " + std::to_string(p.inputs[k].size()) + ">";
    out << "  const " << type << " x" << k << "_value = " << literal(p.inputs[k], p.values[k], false, type) << ";\n"
        << "  const " << type << " t" << k << " = " << literal(p.inputs[k], directions[k], false, type) << ";\n";
  }
  out << "  auto dual_of = [](const auto& value, const auto& tangent) {\n"
      << "    constexpr int R = std::remove_cvref_t<decltype(value)>::rank;\n"
      << "    fg::EigenTensor<D, R> d(value.dimensions());\n"
      << "    for (fg::Index i = 0; i < d.size(); ++i) d.data()[i] = D(value.data()[i], tangent.data()[i]);\n"
      << "    return fg::Tensor<D, R>(std::move(d));\n"
      << "  };\n";
  for (std::size_t k = 1; k < p.inputs.size(); ++k)
    out << "  const auto d" << k << " = dual_of(x" << k << "_value, t" << k << ");\n";
  out << "  auto f = [&](const auto& x0) {\n    using S = D;\n";
  for (std::size_t k = 1; k < p.inputs.size(); ++k) out << "    const auto& x" << k << " = d" << k << ";\n";
  std::istringstream statements(to_cpp(p, true));
  for (std::string line; std::getline(statements, line);) out << "  " << line << "\n";
  out << "    return fg::eval(fg::reshape(" << value_name(p, p.output) << ", {-1}));\n  };\n"
      << "  const auto [value, tangent] = fg::jvp(f, x0_value, t0.value());\n"
      ;
  out << "  const double weights_values[] = {";
  for (std::size_t i = 0; i < weights.size(); ++i) out << (i ? ", " : "") << number(weights[i], false);
  out << (weights.empty() ? "0" : "") << "};\n"
      << "  double along = 0;\n"
      << "  for (fg::Index i = 0; i < tangent.size(); ++i) along += weights_values[i] * tangent.data()[i];\n"
      << "  // expected: reverse mode (fg::vjp), <J^T weights, directions>\n"
      << "  CHECK(along == doctest::Approx(" << number(expected, false) << ").epsilon(" << tolerance << "));  // got "
      << number(got, false) << "\n}\n";
  return out.str();
}

bool close(double a, double b, double relative, double absolute) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= absolute + relative * std::max(std::abs(a), std::abs(b));
}

double largest_of(const std::vector<std::vector<double>>& v) {
  double m = 0;
  for (const auto& x : v)
    for (double y : x) m = std::max(m, std::abs(y));
  return m;
}

}  // namespace

outcome check(const program& p) {
  outcome result;
  std::mt19937_64 engine(p.seed ^ 0x9e3779b97f4a7c15ULL);
  std::uniform_real_distribution<double> weight(0.5, 1.5), direction(-1, 1);
  std::vector<double> weights(std::size_t(std::max<long>(0, [&] {
    long n = 1;
    for (long d : p.dims_of(p.output)) n *= d;
    return n;
  }())));
  for (double& w : weights) w = p.single ? double(float(weight(engine))) : weight(engine);
  std::vector<std::vector<double>> directions;
  for (const auto& v : p.values) {
    directions.emplace_back();
    for (std::size_t i = 0; i < v.size(); ++i) directions.back().push_back(direction(engine));
  }

  auto reverse = p.single ? &reverse_float : &reverse_double;
  const reverse_result tape = reverse(p, false, weights);
  if (!(tape.largest <= (p.single ? 1e3 : 1e4))) {
    result.skipped = true;
    return result;
  }
  const reverse_result fused = reverse(p, true, weights);
  // A float program run in double at the same inputs, through fg::vjp as `fused`: the
  // reference of (c) and the reverse mode of (b).
  std::optional<reverse_result> in_double;
  if (p.single) in_double = reverse_double(p, true, weights);

  auto fail = [&](const std::string& what, const std::string& source) {
    result.passed = false;
    result.failure = what;
    result.source = source;
  };

  // (c) fused against statement by statement: values and gradients. A float program's
  // two evaluations round differently; where an ill-conditioned step amplifies that (the
  // sine of a large sum), they differ beyond the tolerance while both are right. So a
  // float difference counts only when the fused result is further from the same program
  // in double precision (at the same inputs) than twice the statement-by-statement one.
  {
    const double relative = p.single ? 1e-4 : 1e-10;
    const std::optional<reverse_result>& reference = in_double;
    const auto rounding_explains = [&](double fused_result, double tape_result, double exact) {
      return std::abs(fused_result - exact) <= 2 * std::abs(tape_result - exact);
    };
    double scale = 1;
    for (double v : tape.value) scale = std::max(scale, std::abs(v));
    std::vector<mismatch> bad;
    for (std::size_t i = 0; i < tape.value.size(); ++i)
      if (!close(fused.value[i], tape.value[i], relative, relative * scale) &&
          !(reference && rounding_explains(fused.value[i], tape.value[i], reference->value[i])))
        bad.push_back({value_name(p, p.output) + ".value()", long(i), tape.value[i], fused.value[i]});
    const double gradient_scale = std::max(1.0, largest_of(tape.gradients));
    for (std::size_t k = 0; k < tape.gradients.size(); ++k)
      for (std::size_t i = 0; i < tape.gradients[k].size(); ++i)
        if (!close(fused.gradients[k][i], tape.gradients[k][i], relative * 10, relative * 10 * gradient_scale) &&
            !(reference &&
              rounding_explains(fused.gradients[k][i], tape.gradients[k][i], reference->gradients[k][i])))
          bad.push_back({"x" + std::to_string(k) + ".grad()", long(i), tape.gradients[k][i], fused.gradients[k][i]});
    if (!bad.empty()) {
      if (bad.size() > 6) bad.resize(6);
      fail("fused and statement-by-statement evaluations differ",
           test_case(p, "random program " + std::to_string(p.seed) + ": fused evaluation", true, weights, bad,
                     relative * 10, "expected: the statement-by-statement evaluation"));
      return result;
    }
  }

  // (a) reverse mode against central differences of <output, weights>, computed in
  // double (for a float program too, at its float inputs). Elements where the one-sided
  // differences disagree, at h or at 2h, sit on a kink (relu, abs, max, where) and are
  // not compared. The central differences at h and 2h give a Richardson estimate, and
  // their gap the error of the one at h (a third of the gap), which is allowed for: a
  // strongly curved output (the sine of a large logsumexp) puts central differences
  // themselves 1e-6 of the gradient off.
  {
    const double h_base = p.single ? 1e-3 : 1e-6;
    const double relative = p.single ? 3e-2 : 1e-6, absolute = p.single ? 3e-3 : 1e-7;
    const double kink = p.single ? 4e-3 : 1e-3;
    std::vector<std::vector<double>> values = p.values;
    auto weighted = [&]() {
      const std::vector<double> out = value_double(p, values);
      long double total = 0, magnitude = 0;
      for (std::size_t i = 0; i < out.size(); ++i) {
        total += (long double)out[i] * weights[i];
        magnitude += std::abs((long double)out[i] * weights[i]);
      }
      return std::pair<double, double>(double(total), double(magnitude));
    };
    const auto [center, magnitude] = weighted();
    const double scale = std::max(1.0, largest_of(tape.gradients));
    std::vector<mismatch> bad;
    for (std::size_t k = 0; k < values.size(); ++k) {
      for (std::size_t i = 0; i < values[k].size(); ++i) {
        const double original = values[k][i];
        const double h = h_base * std::max(1.0, std::abs(original));
        values[k][i] = original + h;
        const double plus = weighted().first;
        values[k][i] = original - h;
        const double minus = weighted().first;
        values[k][i] = original;
        // Whether the one-sided differences over `step` disagree: a kink within it.
        const auto kinked = [&](double above, double below, double step) {
          const double forward = (above - center) / step, backward = (center - below) / step;
          return !(std::abs(forward - backward) <= kink * (1 + std::abs((above - below) / (2 * step))));
        };
        const double at_h = (plus - minus) / (2 * h);
        if (kinked(plus, minus, h)) continue;
        values[k][i] = original + 2 * h;
        const double plus_2h = weighted().first;
        values[k][i] = original - 2 * h;
        const double minus_2h = weighted().first;
        values[k][i] = original;
        const double at_2h = (plus_2h - minus_2h) / (4 * h);
        // A kink between h and 2h away (a relu turning) would make the estimate at 2h, and
        // so the extrapolation, wrong.
        if (kinked(plus_2h, minus_2h, 2 * h)) continue;
        const double numeric = (4 * at_h - at_2h) / 3, truncation = std::abs(at_h - at_2h) / 3;
        const double roundoff = 1e-15 * magnitude / h;
        const double got = tape.gradients[k][i];
        if (!close(got, numeric, relative, absolute * scale + 10 * roundoff + truncation))
          bad.push_back({"x" + std::to_string(k) + ".grad()", long(i), numeric, got});
      }
    }
    if (!bad.empty()) {
      if (bad.size() > 6) bad.resize(6);
      fail("reverse mode differs from central differences",
           test_case(p, "random program " + std::to_string(p.seed) + ": gradient", false, weights, bad, relative,
                     "expected: central differences of <output, weights>"));
      return result;
    }
  }

  // (b) forward mode (fg::jvp, dual numbers, in double) against reverse mode (fg::vjp):
  // <weights, J v> both ways. A float program's reverse mode is run in double too, at the
  // same inputs: its float gradients are checked by (a) and (c), and against double
  // forward mode its float rounding, amplified by an ill-conditioned step (the sine of a
  // large sum), read as the two modes disagreeing.
  {
    const auto [value, tangent] = jvp_double(p, directions);
    const reverse_result& reverse_mode = p.single ? *in_double : fused;
    const std::vector<double>& plain_value = p.single ? in_double->value : tape.value;
    long double forward = 0, reverse_sum = 0, magnitude = 0;
    for (std::size_t i = 0; i < tangent.size(); ++i) {
      forward += (long double)weights[i] * tangent[i];
      magnitude += std::abs((long double)weights[i] * tangent[i]);
    }
    for (std::size_t k = 0; k < directions.size(); ++k)
      for (std::size_t i = 0; i < directions[k].size(); ++i) {
        reverse_sum += (long double)reverse_mode.gradients[k][i] * directions[k][i];
        magnitude += std::abs((long double)reverse_mode.gradients[k][i] * directions[k][i]);
      }
    const double relative = 1e-9;
    bool values_agree = true;
    for (std::size_t i = 0; i < value.size(); ++i)
      if (!close(value[i], plain_value[i], 1e-10, 1e-10)) values_agree = false;
    const double floor = 1e-12;
    if (!values_agree || !(std::abs(double(forward - reverse_sum)) <= relative * double(magnitude) + floor)) {
      std::ostringstream note;
      note << "forward mode <weights, J v> = " << number(double(forward), false)
           << ", reverse mode <J^T weights, v> = " << number(double(reverse_sum), false)
           << (values_agree ? "" : "; the dual values differ from the plain ones");
      fail("forward and reverse mode differ", forward_test_case(p, weights, directions, double(reverse_sum),
                                                                double(forward), relative, note.str()));
    }
  }
  return result;
}

}  // namespace fusegrad::testing::random_programs
