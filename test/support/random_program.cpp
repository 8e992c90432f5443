// Random programs: the generator (shapes and parameters that fit the catalogue's
// primitives) and the three checks (see random_program.hpp). The C++ printing of failing
// programs is in random_program_print.cpp.
#include "random_program.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fusegrad::testing::random_programs {

const Dims& program::dims_of(int value) const {
  if (value < int(inputs.size())) return inputs[std::size_t(value)];
  return nodes[std::size_t(value) - inputs.size()].dims;
}

namespace {

using Engine = std::mt19937_64;

long uniform_int(Engine& e, long lo, long hi) { return std::uniform_int_distribution<long>(lo, hi)(e); }
double uniform(Engine& e, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(e); }
bool chance(Engine& e, double p) { return uniform(e, 0, 1) < p; }

long element_count(const Dims& d) {
  long n = 1;
  for (long x : d) n *= x;
  return n;
}

class generator {
 public:
  generator(std::uint64_t seed, bool single, const options& o) : engine_(seed), options_(o) {
    p_.seed = seed;
    p_.single = single;
  }

  program run() {
    const int statements = int(uniform_int(engine_, 1, options_.max_statements));
    for (int s = 0; s < statements; ++s) {
      for (int attempt = 0; attempt < 40; ++attempt)
        if (try_statement()) break;
    }
    if (p_.statements.empty()) {
      // One primitive that always fits: tanh of a new matrix.
      const int value = new_input(random_dims(2), operand_kind::any);
      node n;
      n.primitive = find_primitive(op::tanh, 2, -1, 2);
      n.args = {value, -1};
      n.dims = p_.inputs[std::size_t(value)];
      p_.nodes.push_back(n);
      p_.statements.push_back({-1, 0, 1});
    }
    p_.output = int(p_.inputs.size() + p_.nodes.size()) - 1;
    return std::move(p_);
  }

 private:
  long random_size() {
    if (options_.allow_empty && chance(engine_, 0.06)) return 0;
    static constexpr long sizes[] = {1, 1, 2, 2, 3, 3, 4, 5};
    return sizes[uniform_int(engine_, 0, 7)];
  }
  Dims random_dims(int rank) {
    Dims d(static_cast<std::size_t>(rank), 1L);
    for (long& x : d) x = random_size();
    // Now and then a long matrix (row-blocked products, several SIMD packets).
    if (rank == 2 && chance(engine_, 0.05)) d[0] = chance(engine_, 0.5) ? 33 : 17;
    if (rank == 1 && chance(engine_, 0.05)) d[0] = chance(engine_, 0.5) ? 19 : 9;
    return d;
  }

  int new_input(const Dims& d, operand_kind kind) {
    p_.inputs.push_back(d);
    std::vector<double> values(std::size_t(element_count(d)));
    for (double& v : values) {
      if (kind == operand_kind::positive_input)
        v = uniform(engine_, 0.3, 2.0);
      else  // away from 0 and from the kinks at the grid's midpoints (test/support/gradient_check.hpp)
        v = (chance(engine_, 0.5) ? -1 : 1) * (0.2 + 0.1 * double(uniform_int(engine_, 0, 16)) +
                                                0.04 * (uniform(engine_, 0, 1) - 0.5));
      if (p_.single) v = double(float(v));
    }
    p_.values.push_back(std::move(values));
    kinds_.push_back(kind);
    // Inputs are numbered before nodes: renumber the nodes' references.
    const int id = int(p_.inputs.size()) - 1;
    for (node& n : p_.nodes)
      for (int& a : n.args)
        if (a >= id) ++a;
    return id;
  }
  // Whether a value is a Tensor in both evaluations: an input or the result of a
  // statement (a form's earlier steps are `auto` expressions in the fused one).
  bool materialized(int value) const {
    if (value < int(p_.inputs.size())) return true;
    const int k = value - int(p_.inputs.size());
    for (const statement& st : p_.statements)
      if (k >= st.first && k < st.first + st.count) return k == st.first + st.count - 1;
    return false;  // a step of the statement being built
  }
  bool used(int value) const {
    for (const node& n : p_.nodes)
      if (n.args[0] == value || n.args[1] == value) return true;
    return false;
  }
  int value_count() const { return int(p_.inputs.size() + p_.nodes.size()); }
  int node_id(int k) const { return int(p_.inputs.size()) + k; }

  // A shape for an operand of rank `rank` that fits primitive `sig`'s slot next to the
  // other operand's dims (when known).
  Dims propose(const signature& sig, int slot, const Dims* other) {
    const int rank = slot == 0 ? sig.a : sig.b;
    Dims d = random_dims(rank);
    if (!other) return d;
    const Dims& o = *other;
    const int ro = int(o.size());
    switch (sig.code) {
      case op::matmul:
        if (sig.a == 3) {
          d = o;
          if (slot == 0) d[1] = random_size(), d[2] = o[1];
          else d[1] = o[2], d[2] = random_size();
        } else if (slot == 0) {
          d.back() = o.front();
        } else {
          d.front() = o.back();
        }
        return d;
      case op::dot:
      case op::stack:
      case op::cross_entropy_probabilities:
        return o;
      case op::outer:
        return d;
      case op::concat: {
        d = o;
        d[std::size_t(uniform_int(engine_, 0, long(d.size()) - 1))] = random_size();
        return d;
      }
      case op::tensordot: {
        if (sig.variant == 2) {
          d = o;
          if (chance(engine_, 0.5)) std::swap(d[0], d[1]);
          return d;
        }
        d[std::size_t(uniform_int(engine_, 0, rank - 1))] = o[std::size_t(uniform_int(engine_, 0, ro - 1))];
        return d;
      }
      default:
        break;
    }
    // Elementwise: broadcast-compatible, trailing dimensions aligned, some set to 1.
    for (int i = 0; i < rank; ++i) {
      const int j = ro - rank + i;
      if (j < 0) continue;
      d[std::size_t(i)] = chance(engine_, 0.25) ? 1 : o[std::size_t(j)];
    }
    return d;
  }

  static bool broadcast(const Dims& a, const Dims& b, Dims& out) {
    const std::size_t r = std::max(a.size(), b.size());
    out.assign(r, 1);
    for (std::size_t i = 0; i < r; ++i) {
      const long x = i + a.size() >= r ? a[i + a.size() - r] : 1;
      const long y = i + b.size() >= r ? b[i + b.size() - r] : 1;
      if (x != y && x != 1 && y != 1) return false;
      out[i] = x == 1 ? y : x;
    }
    return true;
  }

  // Fills n's parameters and dims for operands of dims a (and b); false when they do
  // not fit.
  bool infer(node& n, const Dims& a, const Dims* b) {
    const signature sig = primitives[n.primitive];
    const long ra = long(a.size());
    n.ints.clear();
    switch (sig.code) {
      case op::pow_number: {
        static constexpr double exponents[] = {2, 3, 0.5, -1, 1.5, -0.5};
        n.number = exponents[uniform_int(engine_, 0, 5)];
        n.dims = a;
        return true;
      }
      case op::clamp: n.number = uniform(engine_, -0.6, 0.1); n.dims = a; return true;
      case op::where: n.number = uniform(engine_, -0.5, 0.5); return broadcast(a, *b, n.dims);
      case op::sum: case op::mean: case op::max: case op::min: case op::prod: case op::logsumexp: {
        // max and min of no elements are a shape_error (tested in edge/empty_tensor_test).
        if ((sig.code == op::max || sig.code == op::min) && element_count(a) == 0) return false;
        if (sig.variant == all) { n.dims = {}; return true; }
        if (sig.variant == all_kept) { n.dims.assign(a.size(), 1); return true; }
        const long first = uniform_int(engine_, 0, ra - 1);
        n.ints.push_back(first);
        if (sig.variant == two) {
          long second = uniform_int(engine_, 0, ra - 2);
          if (second >= first) ++second;
          n.ints.push_back(second);
        }
        n.dims.clear();
        for (long i = 0; i < ra; ++i) {
          const bool reduced = std::find(n.ints.begin(), n.ints.end(), i) != n.ints.end();
          if (!reduced) n.dims.push_back(a[std::size_t(i)]);
          else if (sig.variant == one_kept) n.dims.push_back(1);
        }
        if ((sig.code == op::max || sig.code == op::min) && element_count(a) == 0) return false;
        return true;
      }
      case op::reshape: {
        const long count = element_count(a);
        n.dims.assign(std::size_t(sig.out), 1);
        if (sig.out == 0) return count == 1;
        long rest = count;
        for (int i = 0; i + 1 < sig.out; ++i) {
          std::vector<long> divisors;
          for (long d = 1; d <= std::max(rest, 1L); ++d)
            if (rest == 0 ? d <= 3 : rest % d == 0) divisors.push_back(d);
          const long d = divisors[std::size_t(uniform_int(engine_, 0, long(divisors.size()) - 1))];
          n.dims[std::size_t(i)] = d;
          rest = rest == 0 ? 0 : rest / d;
        }
        n.dims.back() = rest;
        n.ints = n.dims;
        if (count > 0 && chance(engine_, 0.3)) n.ints[std::size_t(uniform_int(engine_, 0, sig.out - 1))] = -1;
        return true;
      }
      case op::permute: {
        std::vector<long> perm(a.size());
        std::iota(perm.begin(), perm.end(), 0L);
        std::shuffle(perm.begin(), perm.end(), engine_);
        n.ints = perm;
        n.dims.clear();
        for (long i : perm) n.dims.push_back(a[std::size_t(i)]);
        return true;
      }
      case op::slice: {
        std::vector<long> offsets, extents;
        for (long d : a) {
          const long offset = d == 0 ? 0 : uniform_int(engine_, 0, d - 1);
          const long low = options_.allow_empty ? 0 : std::min(1L, d - offset);
          offsets.push_back(offset);
          extents.push_back(uniform_int(engine_, low, d - offset));
        }
        n.ints = offsets;
        n.ints.insert(n.ints.end(), extents.begin(), extents.end());
        n.dims = extents;
        return true;
      }
      case op::pad: {
        n.dims = a;
        for (std::size_t i = 0; i < a.size(); ++i) {
          const long before = uniform_int(engine_, 0, 2), after = uniform_int(engine_, 0, 2);
          n.ints.push_back(before);
          n.ints.push_back(after);
          n.dims[i] += before + after;
        }
        return true;
      }
      case op::concat: {
        if (a.size() != b->size()) return false;
        std::vector<long> candidates;
        for (std::size_t dim = 0; dim < a.size(); ++dim) {
          bool fits = true;
          for (std::size_t i = 0; i < a.size(); ++i)
            if (i != dim && a[i] != (*b)[i]) fits = false;
          if (fits) candidates.push_back(long(dim));
        }
        if (candidates.empty()) return false;
        const long dim = candidates[std::size_t(uniform_int(engine_, 0, long(candidates.size()) - 1))];
        const bool reuse = chance(engine_, 0.3);
        n.ints = {dim, reuse ? 1L : 0L};
        n.dims = a;
        n.dims[std::size_t(dim)] += (*b)[std::size_t(dim)] + (reuse ? a[std::size_t(dim)] : 0);
        return true;
      }
      case op::stack: {
        if (a != *b) return false;
        const long dim = uniform_int(engine_, 0, ra);
        const bool reuse = chance(engine_, 0.3);
        n.ints = {dim, reuse ? 1L : 0L};
        n.dims = a;
        n.dims.insert(n.dims.begin() + dim, reuse ? 3 : 2);
        return true;
      }
      case op::reverse:
        if (sig.variant == 1) n.ints = {uniform_int(engine_, 0, ra - 1)};
        n.dims = a;
        return true;
      case op::broadcast_to: {
        n.dims.assign(std::size_t(sig.out), 1);
        for (int i = 0; i < sig.out; ++i) {
          const int j = i - (sig.out - int(ra));
          if (j < 0 || a[std::size_t(j)] == 1) n.dims[std::size_t(i)] = uniform_int(engine_, 1, 3);
          else n.dims[std::size_t(i)] = a[std::size_t(j)];
        }
        n.ints = n.dims;
        return true;
      }
      case op::matmul: {
        const Dims& c = *b;
        if (sig.a == 3) {
          if (a[0] != c[0] || a[2] != c[1]) return false;
          n.dims = {a[0], a[1], c[2]};
        } else if (sig.a == 2 && sig.b == 2) {
          if (a[1] != c[0]) return false;
          n.dims = {a[0], c[1]};
        } else if (sig.a == 2) {
          if (a[1] != c[0]) return false;
          n.dims = {a[0]};
        } else {
          if (a[0] != c[0]) return false;
          n.dims = {c[1]};
        }
        return true;
      }
      case op::dot: n.dims = {}; return a == *b;
      case op::outer: n.dims = {a[0], (*b)[0]}; return true;
      case op::tensordot: {
        const Dims& c = *b;
        if (sig.variant == 2) {
          const bool straight = a == c, crossed = a[0] == c[1] && a[1] == c[0];
          if (!straight && !crossed) return false;
          const bool use_straight = straight && (!crossed || chance(engine_, 0.5));
          n.ints = use_straight ? std::vector<long>{0, 0, 1, 1} : std::vector<long>{0, 1, 1, 0};
          n.dims = {};
          return true;
        }
        std::vector<std::pair<long, long>> matches;
        for (long i = 0; i < ra; ++i)
          for (long j = 0; j < long(c.size()); ++j)
            if (a[std::size_t(i)] == c[std::size_t(j)]) matches.push_back({i, j});
        if (matches.empty()) return false;
        const auto [i, j] = matches[std::size_t(uniform_int(engine_, 0, long(matches.size()) - 1))];
        n.ints = {i, j};
        n.dims.clear();
        for (long k = 0; k < ra; ++k)
          if (k != i) n.dims.push_back(a[std::size_t(k)]);
        for (long k = 0; k < long(c.size()); ++k)
          if (k != j) n.dims.push_back(c[std::size_t(k)]);
        return true;
      }
      case op::softmax:
      case op::log_softmax:
        n.ints = {uniform_int(engine_, 0, ra - 1)};
        n.dims = a;
        return true;
      case op::mse: {
        Dims out;
        n.dims = {};
        return broadcast(a, *b, out);
      }
      case op::cross_entropy_labels:
        if (a[1] == 0) return false;
        n.ints = {chance(engine_, 0.3) ? 1L : 0L};
        for (long r = 0; r < a[0]; ++r) n.ints.push_back(uniform_int(engine_, 0, a[1] - 1));
        n.dims = {};
        return true;
      case op::cross_entropy_probabilities:
        n.ints = {chance(engine_, 0.3) ? 1L : 0L};
        n.dims = {};
        return a == *b;
      default:
        if (sig.b < 0) {
          n.dims = a;
          return true;
        }
        return broadcast(a, *b, n.dims);
    }
  }

  // Picks an existing value of this rank (recent ones preferred) or makes a new input.
  int pick(const signature& sig, int slot, const Dims* other, operand_kind kind) {
    const int rank = slot == 0 ? sig.a : sig.b;
    if (kind == operand_kind::any && chance(engine_, 0.75)) {
      std::vector<int> candidates;
      for (int v = value_count() - 1; v >= 0; --v)
        if (p_.rank_of(v) == rank && materialized(v) &&
            (v >= int(p_.inputs.size()) || kinds_[std::size_t(v)] == operand_kind::any))
          candidates.push_back(v);
      if (!candidates.empty()) {
        // Results no statement uses yet first (so that the output depends on most of the
        // program), else the most recent value half of the time: chains of operations.
        for (int v : candidates)
          if (v >= int(p_.inputs.size()) && !used(v) && chance(engine_, 0.8)) return v;
        const std::size_t i = chance(engine_, 0.5) ? 0 : std::size_t(uniform_int(engine_, 0, long(candidates.size()) - 1));
        return candidates[i];
      }
    }
    return new_input(propose(sig, slot, other), kind);
  }

  static operand_kind kind_of(const signature& sig, int slot) {
    if (sig.code == op::log_input || sig.code == op::sqrt_input) return operand_kind::positive_input;
    if (sig.code == op::divide_by_input && slot == 1) return operand_kind::nonzero_input;
    return operand_kind::any;
  }

  bool try_statement() {
    const std::size_t inputs_before = p_.inputs.size(), nodes_before = p_.nodes.size();
    const bool use_form = chance(engine_, 0.4);
    const int which = int(uniform_int(engine_, 0, (use_form ? form_count : primitive_count) - 1));
    std::vector<step> steps;
    if (use_form) steps.assign(forms[which].steps.begin(), forms[which].steps.begin() + forms[which].step_count);
    else steps.push_back({which, 0, std::int8_t(primitives[which].b >= 0 ? 1 : -1)});
    std::array<int, 3> external{-1, -1, -1};
    bool ok = true;
    const int first = int(p_.nodes.size());
    for (std::size_t j = 0; j < steps.size() && ok; ++j) {
      const signature sig = primitives[steps[j].primitive];
      node n;
      n.primitive = steps[j].primitive;
      const std::array<std::int8_t, 2> refs{steps[j].first, steps[j].second};
      // Internal operands first: their dims guide the external ones.
      for (int slot = 1; slot >= 0; --slot) {
        if (refs[std::size_t(slot)] >= 10) n.args[std::size_t(slot)] = node_id(first + refs[std::size_t(slot)] - 10);
      }
      for (int slot = 0; slot < 2; ++slot) {
        const int ref = refs[std::size_t(slot)];
        if (ref < 0 || ref >= 10) continue;
        if (external[std::size_t(ref)] < 0) {
          const int other = n.args[std::size_t(1 - slot)];
          Dims other_dims;
          if (other >= 0) other_dims = p_.dims_of(other);
          const int inputs_now = int(p_.inputs.size());
          const int picked = pick(sig, slot, other >= 0 ? &other_dims : nullptr, kind_of(sig, slot));
          if (int(p_.inputs.size()) > inputs_now) {
            // A new input shifts the ids of every computed value held so far.
            for (int& e : external)
              if (e >= inputs_now) ++e;
            for (int& a : n.args)
              if (a >= inputs_now) ++a;
          }
          external[std::size_t(ref)] = picked;
        }
        n.args[std::size_t(slot)] = external[std::size_t(ref)];
        if (p_.rank_of(n.args[std::size_t(slot)]) != (slot == 0 ? sig.a : sig.b)) ok = false;
      }
      if (!ok) break;
      const Dims a = p_.dims_of(n.args[0]);
      Dims b;
      if (n.args[1] >= 0) b = p_.dims_of(n.args[1]);
      if (!infer(n, a, n.args[1] >= 0 ? &b : nullptr)) ok = false;
      else if (element_count(n.dims) > 400) ok = false;
      else p_.nodes.push_back(n);
    }
    if (!ok) {
      p_.nodes.resize(nodes_before);
      // Drop the inputs made for this attempt (they come last among the inputs, and no
      // node kept refers to them).
      const std::size_t made = p_.inputs.size() - inputs_before;
      p_.inputs.resize(inputs_before);
      p_.values.resize(inputs_before);
      kinds_.resize(inputs_before);
      for (node& n : p_.nodes)
        for (int& a : n.args)
          if (a >= int(inputs_before)) a -= int(made);
      return false;
    }
    p_.statements.push_back({use_form ? which : -1, first, int(steps.size())});
    return true;
  }

  Engine engine_;
  options options_;
  program p_;
  std::vector<operand_kind> kinds_;
};

}  // namespace

program generate(std::uint64_t seed, bool single, const options& o) { return generator(seed, single, o).run(); }

}  // namespace fusegrad::testing::random_programs
