#pragma once
// Random programs over fusegrad, checked three ways (issue 13): reverse-mode gradients
// against central differences, forward mode (fg::jvp) against reverse mode (fg::vjp),
// and fused evaluation (unevaluated `auto` expressions) against statement-by-statement
// evaluation (every operation assigned to a Tensor, recorded on the tape).
//
// Ranks are compile-time in fusegrad, and every distinct expression type costs about a
// second of compilation, so the interpreter instantiates a fixed catalogue:
//  - `primitives`: one operation at fixed operand ranks (tanh of a matrix, a matrix
//    times a vector with broadcasting, a sum over one dimension of a rank-3 tensor...);
//  - `forms`: short compositions of primitives (tanh(a) * b, then a sum) that the fused
//    evaluation builds as one expression, and the statement-by-statement evaluation
//    runs one primitive at a time.
// Programs are random sequences of statements (a primitive or a form) over random
// shapes; the catalogue fixes only the kinds of operations and their ranks.
//
// The interpreter's templates live in random_program_interpreter.hpp and are compiled
// once per scalar type (random_program_{double,float,dual}.cpp); this header is what
// the generator, the checker and their callers see.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fusegrad::testing::random_programs {

using Dims = std::vector<long>;

enum class op : std::uint8_t {
  // elementwise, one operand (log, sqrt and pow on guarded domains; the _input forms
  // take an input of positive values directly)
  exp, log, log_input, sin, cos, tanh, sigmoid, softplus, log_sigmoid, relu, sqrt, sqrt_input, abs, square, pow_number, negate, clamp,
  user_map,
  // elementwise, two operands with broadcasting
  add, subtract, multiply, divide, divide_by_input, maximum, minimum, where, pow, user_zip,
  // reductions (the variant says over what, see `reduction`)
  sum, mean, max, min, prod, logsumexp,
  // layout
  reshape, permute, slice, pad, concat, stack, reverse, broadcast_to,
  // contractions
  matmul, dot, outer, tensordot,
  // neural-network functions
  softmax, log_softmax, mse, cross_entropy_labels, cross_entropy_probabilities,
};

// Reductions: over everything, everything kept as size 1, one dimension (kept or not),
// two dimensions.
enum reduction : std::int8_t { all = 0, all_kept = 1, one = 2, one_kept = 3, two = 4 };

// One operation at fixed ranks. `b` is -1 for one operand. `variant`: the reduction
// kind; tensordot's count of contracted pairs; reverse: 0 all dimensions, 1 one.
struct signature {
  op code;
  std::int8_t a, b, out, variant = 0;
};

// What an operand must be: anything, or an input of values away from zero (a divisor)
// or of positive values (log, sqrt).
enum class operand_kind : std::uint8_t { any, nonzero_input, positive_input };

// clang-format off
inline constexpr signature primitives[] = {
  // elementwise unary
  {op::exp, 1, -1, 1}, {op::exp, 2, -1, 2},
  {op::log, 2, -1, 2}, {op::log_input, 1, -1, 1},
  {op::sin, 3, -1, 3}, {op::cos, 0, -1, 0}, {op::cos, 2, -1, 2},
  {op::tanh, 2, -1, 2}, {op::tanh, 3, -1, 3},
  {op::sigmoid, 1, -1, 1}, {op::softplus, 2, -1, 2}, {op::log_sigmoid, 1, -1, 1}, {op::relu, 2, -1, 2}, {op::relu, 3, -1, 3},
  {op::sqrt, 1, -1, 1}, {op::sqrt_input, 2, -1, 2},
  {op::abs, 2, -1, 2}, {op::square, 1, -1, 1}, {op::square, 2, -1, 2},
  {op::pow_number, 2, -1, 2}, {op::negate, 1, -1, 1}, {op::clamp, 2, -1, 2}, {op::user_map, 2, -1, 2},
  // elementwise binary (broadcasting, also between ranks)
  {op::add, 2, 2, 2}, {op::add, 2, 1, 2}, {op::add, 0, 3, 3},
  {op::subtract, 2, 1, 2}, {op::subtract, 1, 1, 1}, {op::subtract, 1, 0, 1},
  {op::multiply, 2, 2, 2}, {op::multiply, 3, 1, 3}, {op::multiply, 1, 1, 1},
  {op::divide, 2, 2, 2}, {op::divide_by_input, 1, 2, 2},
  {op::maximum, 2, 2, 2}, {op::minimum, 1, 2, 2}, {op::where, 2, 2, 2}, {op::pow, 1, 1, 1},
  {op::user_zip, 2, 1, 2},
  // reductions
  {op::sum, 2, -1, 0, all}, {op::sum, 1, -1, 0, all}, {op::sum, 3, -1, 2, one}, {op::sum, 2, -1, 2, one_kept},
  {op::sum, 2, -1, 1, one},
  {op::mean, 2, -1, 0, all}, {op::mean, 3, -1, 1, two}, {op::max, 2, -1, 1, one}, {op::max, 2, -1, 2, all_kept},
  {op::min, 3, -1, 3, one_kept}, {op::prod, 2, -1, 1, one}, {op::logsumexp, 2, -1, 0, all},
  {op::logsumexp, 2, -1, 2, one_kept}, {op::logsumexp, 1, -1, 0, all},
  // layout
  {op::reshape, 2, -1, 1}, {op::reshape, 1, -1, 2}, {op::reshape, 3, -1, 2}, {op::reshape, 2, -1, 3},
  {op::reshape, 0, -1, 1}, {op::permute, 2, -1, 2}, {op::permute, 3, -1, 3}, {op::slice, 2, -1, 2},
  {op::slice, 1, -1, 1}, {op::pad, 2, -1, 2}, {op::pad, 3, -1, 3}, {op::concat, 2, 2, 2}, {op::concat, 1, 1, 1},
  {op::stack, 1, 1, 2}, {op::stack, 2, 2, 3}, {op::reverse, 2, -1, 2, 1}, {op::reverse, 3, -1, 3, 0},
  {op::broadcast_to, 1, -1, 2}, {op::broadcast_to, 2, -1, 3}, {op::broadcast_to, 0, -1, 1},
  // contractions
  {op::matmul, 2, 2, 2}, {op::matmul, 2, 1, 1}, {op::matmul, 1, 2, 1}, {op::matmul, 3, 3, 3},
  {op::dot, 1, 1, 0}, {op::outer, 1, 1, 2}, {op::tensordot, 3, 2, 3, 1}, {op::tensordot, 2, 2, 0, 2},
  // neural-network functions
  {op::softmax, 2, -1, 2}, {op::log_softmax, 2, -1, 2}, {op::log_softmax, 1, -1, 1}, {op::mse, 2, 2, 0},
  {op::cross_entropy_labels, 2, -1, 0}, {op::cross_entropy_probabilities, 2, 2, 0},
};
// clang-format on
inline constexpr int primitive_count = int(sizeof(primitives) / sizeof(primitives[0]));

constexpr int find_primitive(op code, int a, int b, int out, int variant = 0) {
  for (int i = 0; i < primitive_count; ++i)
    if (primitives[i].code == code && primitives[i].a == a && primitives[i].b == b && primitives[i].out == out &&
        primitives[i].variant == variant)
      return i;
  throw "no such primitive";  // a compile error when evaluated in a constant expression
}

// A form's step: a primitive applied to the form's operands (0, 1, 2) or to earlier
// steps (step j is written 10 + j).
struct step {
  int primitive;
  std::int8_t first, second = -1;
};
inline constexpr int max_steps = 4;
struct form {
  std::array<step, max_steps> steps;
  int step_count;
};

constexpr form make_form(std::initializer_list<step> steps) {
  form f{};
  for (const step& s : steps) f.steps[f.step_count++] = s;
  return f;
}

namespace catalogue {
constexpr int P(op code, int a, int b, int out, int variant = 0) { return find_primitive(code, a, b, out, variant); }
}  // namespace catalogue

// clang-format off
inline constexpr form forms[] = {
  // a full sum of an elementwise region with a stretched operand (gradients computed ahead)
  make_form({{catalogue::P(op::tanh, 2, -1, 2), 0}, {catalogue::P(op::multiply, 2, 2, 2), 10, 1},
             {catalogue::P(op::sum, 2, -1, 0, all), 11}}),
  // a subexpression used twice, then a reduction over one dimension
  make_form({{catalogue::P(op::multiply, 2, 2, 2), 0, 1}, {catalogue::P(op::tanh, 2, -1, 2), 10},
             {catalogue::P(op::multiply, 2, 2, 2), 10, 11}, {catalogue::P(op::sum, 2, -1, 2, one_kept), 12}}),
  // a bias over a batch after a matrix product, relu, full sum (row-blocked products)
  make_form({{catalogue::P(op::matmul, 2, 2, 2), 0, 1}, {catalogue::P(op::add, 2, 1, 2), 10, 2},
             {catalogue::P(op::relu, 2, -1, 2), 11}, {catalogue::P(op::sum, 2, -1, 0, all), 12}}),
  // least squares
  make_form({{catalogue::P(op::matmul, 2, 1, 1), 0, 1}, {catalogue::P(op::subtract, 1, 1, 1), 10, 2},
             {catalogue::P(op::square, 1, -1, 1), 11}, {catalogue::P(op::sum, 1, -1, 0, all), 12}}),
  // a normal log-density's shape: (x - mu) / sigma, squared, summed
  make_form({{catalogue::P(op::subtract, 1, 0, 1), 0, 1}, {catalogue::P(op::multiply, 1, 1, 1), 10, 10},
             {catalogue::P(op::negate, 1, -1, 1), 11}, {catalogue::P(op::logsumexp, 1, -1, 0, all), 12}}),
  // layout inside elementwise regions
  make_form({{catalogue::P(op::permute, 2, -1, 2), 0}, {catalogue::P(op::multiply, 2, 2, 2), 10, 1},
             {catalogue::P(op::logsumexp, 2, -1, 2, one_kept), 11}}),
  make_form({{catalogue::P(op::multiply, 2, 2, 2), 0, 1}, {catalogue::P(op::reshape, 2, -1, 1), 10},
             {catalogue::P(op::exp, 1, -1, 1), 11}, {catalogue::P(op::sum, 1, -1, 0, all), 12}}),
  make_form({{catalogue::P(op::slice, 2, -1, 2), 0}, {catalogue::P(op::square, 2, -1, 2), 10},
             {catalogue::P(op::mean, 2, -1, 0, all), 11}}),
  make_form({{catalogue::P(op::pad, 2, -1, 2), 0}, {catalogue::P(op::add, 2, 2, 2), 10, 1},
             {catalogue::P(op::cos, 2, -1, 2), 11}}),
  make_form({{catalogue::P(op::broadcast_to, 1, -1, 2), 0}, {catalogue::P(op::multiply, 2, 2, 2), 10, 1},
             {catalogue::P(op::prod, 2, -1, 1, one), 11}}),
  make_form({{catalogue::P(op::reverse, 2, -1, 2, 1), 0}, {catalogue::P(op::maximum, 2, 2, 2), 10, 1},
             {catalogue::P(op::sum, 2, -1, 1, one), 11}}),
  // softmax and log_softmax of expressions
  make_form({{catalogue::P(op::multiply, 2, 2, 2), 0, 1}, {catalogue::P(op::softmax, 2, -1, 2), 10}}),
  make_form({{catalogue::P(op::log_softmax, 2, -1, 2), 0}, {catalogue::P(op::multiply, 2, 2, 2), 10, 1},
             {catalogue::P(op::sum, 2, -1, 0, all), 11}}),
  // user functions fused
  make_form({{catalogue::P(op::user_map, 2, -1, 2), 0}, {catalogue::P(op::user_zip, 2, 1, 2), 10, 1},
             {catalogue::P(op::mean, 2, -1, 0, all), 11}}),
  // where, clamp, division, pow inside a region
  make_form({{catalogue::P(op::where, 2, 2, 2), 0, 1}, {catalogue::P(op::clamp, 2, -1, 2), 10},
             {catalogue::P(op::divide, 2, 2, 2), 11, 0}}),
  make_form({{catalogue::P(op::pow_number, 2, -1, 2), 0}, {catalogue::P(op::minimum, 1, 2, 2), 1, 10},
             {catalogue::P(op::sigmoid, 1, -1, 1), 2}, {catalogue::P(op::user_zip, 2, 1, 2), 11, 12}}),
  // rank 3 with a vector stretched over it, then a reduction over one dimension
  make_form({{catalogue::P(op::multiply, 3, 1, 3), 0, 1}, {catalogue::P(op::tanh, 3, -1, 3), 10},
             {catalogue::P(op::sum, 3, -1, 2, one), 11}}),
  // a number stretched over a rank-3 region, then a minimum over one dimension kept
  make_form({{catalogue::P(op::add, 0, 3, 3), 0, 1}, {catalogue::P(op::sin, 3, -1, 3), 10},
             {catalogue::P(op::min, 3, -1, 3, one_kept), 11}}),
  // mse of an expression; a reduction inside an expression
  make_form({{catalogue::P(op::tanh, 2, -1, 2), 0}, {catalogue::P(op::mse, 2, 2, 0), 10, 1}}),
  make_form({{catalogue::P(op::sum, 3, -1, 2, one), 0}, {catalogue::P(op::exp, 2, -1, 2), 10},
             {catalogue::P(op::add, 2, 1, 2), 11, 1}, {catalogue::P(op::mean, 2, -1, 0, all), 12}}),
  // a contraction of expressions
  make_form({{catalogue::P(op::tanh, 2, -1, 2), 0}, {catalogue::P(op::log, 2, -1, 2), 1},
             {catalogue::P(op::matmul, 2, 2, 2), 10, 11}}),
  make_form({{catalogue::P(op::square, 1, -1, 1), 0}, {catalogue::P(op::outer, 1, 1, 2), 10, 1},
             {catalogue::P(op::abs, 2, -1, 2), 11}, {catalogue::P(op::max, 2, -1, 1, one), 12}}),
};
// clang-format on
inline constexpr int form_count = int(sizeof(forms) / sizeof(forms[0]));

// How many operands a form takes (its highest operand index + 1).
constexpr int form_operand_count(const form& f) {
  int n = 0;
  for (int i = 0; i < f.step_count; ++i) {
    if (f.steps[i].first < 10 && f.steps[i].first + 1 > n) n = f.steps[i].first + 1;
    if (f.steps[i].second >= 0 && f.steps[i].second < 10 && f.steps[i].second + 1 > n) n = f.steps[i].second + 1;
  }
  return n;
}

// One primitive application in a program, with its run-time parameters.
struct node {
  int primitive = 0;
  std::array<int, 2> args{-1, -1};  // value ids: inputs first, then nodes
  Dims dims;                         // the result's dimensions
  std::vector<long> ints;            // axes, permutations, offsets and extents, paddings, targets, labels
  double number = 0;                 // pow's exponent, clamp's lower bound, where's threshold
};

// A statement: nodes [first, first + count) of the program, a form when `form` >= 0
// (then the fused evaluation builds them as one expression).
struct statement {
  int form = -1;
  int first = 0, count = 1;
};

struct program {
  std::uint64_t seed = 0;
  bool single = false;                      // float rather than double
  std::vector<Dims> inputs;
  std::vector<std::vector<double>> values;  // each input's elements, row-major
  std::vector<node> nodes;                  // value id of node k: inputs.size() + k
  std::vector<statement> statements;
  int output = -1;                          // the value id of the output
  const Dims& dims_of(int value) const;
  int rank_of(int value) const { return int(dims_of(value).size()); }
};

struct options {
  bool allow_empty = false;  // size-0 dimensions
  int max_statements = 6;
};

// A random program; the same seed and options give the same program.
program generate(std::uint64_t seed, bool single, const options& o = {});

struct outcome {
  bool passed = true;
  bool skipped = false;  // values too large, or a domain left: not checked
  std::string failure;   // what disagreed
  std::string source;    // the program as a doctest TEST_CASE, when it failed
};

// Runs the three checks on a program.
outcome check(const program& p);

// The program as C++ statements; `fused` writes forms as `auto` expressions.
std::string to_cpp(const program& p, bool fused);

// ---- the interpreter, one set per scalar type (random_program_{double,float,dual}.cpp)
struct reverse_result {
  std::vector<double> value;                   // the output, row-major
  std::vector<std::vector<double>> gradients;  // of <output, weights>, one per input
  double largest = 0;                          // the largest magnitude computed (infinite for NaN)
};
// Reverse mode. `fused` evaluates forms as single expressions; otherwise every
// primitive is a statement. Fused runs go through fg::vjp (input 0 its argument, the
// others closed over).
reverse_result reverse_double(const program& p, bool fused, const std::vector<double>& weights);
reverse_result reverse_float(const program& p, bool fused, const std::vector<double>& weights);
// The output's value under no_grad at the given inputs (double, statement by statement).
std::vector<double> value_double(const program& p, const std::vector<std::vector<double>>& inputs);
// Forward mode through fg::jvp (fused): the output and its tangent along `directions`.
std::pair<std::vector<double>, std::vector<double>> jvp_double(const program& p,
                                                                const std::vector<std::vector<double>>& directions);

}  // namespace fusegrad::testing::random_programs
