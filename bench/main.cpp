// fusegrad benchmark: value + full gradient per call, one thread, of fusegrad against,
// in the same process, in double and then in float (a second table),
//   hand     a careful hand-written gradient in Eigen (the fastest of the hand-written
//            forms of the workload that compute the program as written)
//   libtorch its C++ API, one intra-op and one inter-op thread (torch_peers.cpp)
//   ADOL-C   a tape recorded once and replayed per call (adolc_peers.cpp); double only
// The workloads are in elementwise.cpp and contraction.cpp, each a template on the
// scalar type; the float rows are the same workloads on the same generator's inputs
// (drawn after the double ones), with the hand-written forms in float and libtorch in
// torch::kFloat32.
//
// Verification of the float rows: see bench_support.hpp (the float reference against its
// double twin on the same inputs, then everything against the float reference).
//
//   fusegrad_bench [--only SUBSTRING]... [--errors] [csv_path]
//
// Before anything is timed, each workload's reference hand-written gradient is checked
// by central differences, and then every other implementation's value and gradients
// against it (bench_support.hpp); a mismatch stops the program with a message naming
// the workload and the implementation, and it exits non-zero. Then each workload's
// implementations are timed (medians per call, samples alternating between them), and
// their heap allocations per call are counted after warm-up (alloc_counter.cpp).
//
// Output: a table per scalar type on stdout, the same rows as CSV in csv_path (default
// bench_results.csv in the working directory) and as Markdown tables next to it (.md
// instead of .csv; the double table first, then the float one). CSV columns:
//   workload,n,fusegrad_us,hand_us,torch_us,adolc_us,fusegrad_over_hand,
//   fusegrad_over_torch,fusegrad_over_adolc,fusegrad_allocs_per_call,
//   torch_allocs_per_call,adolc_allocs_per_call,fusegrad_2_threads_us,
//   fusegrad_2_threads_speedup,scalar
// (an implementation that was not built or not timed leaves its fields empty; scalar is
// double or float, last so that readers of the earlier columns are unaffected).
#include "adolc_peers.hpp"
#include "support/bench_support.hpp"
#include "torch_peers.hpp"

#include <fusegrad/core/threads.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> g_only;

using bench::Case;

struct FormResult {
  std::string name;
  bool counts;
  double us, allocs;
};

struct Row {
  std::string workload;
  long n;
  std::string scalar;
  std::optional<double> fusegrad_us, torch_us, adolc_us;
  std::optional<double> fusegrad_2_threads_us;  // the large workloads only
  double hand_us = INFINITY;
  std::string hand_form;
  std::optional<double> fusegrad_allocs, torch_allocs, adolc_allocs;
  std::vector<FormResult> forms;
  std::string adolc_note;
};

Row time_case(const Case& c) {
  std::vector<std::function<double()>> fs;
  for (const bench::HandForm& h : c.hand) fs.push_back(h.call);
  fs.push_back(c.fusegrad);
  const auto call = [](const std::shared_ptr<bench::Peer>& p) { return std::function<double()>([p] { return p->call(); }); };
  if (c.torch) fs.push_back(call(c.torch));
  if (c.adolc) fs.push_back(call(c.adolc));
  const std::vector<double> t = bench::measure(fs);
  Row r{c.workload, c.n, c.scalar};
  std::size_t k = 0;
  for (const bench::HandForm& h : c.hand) {
    const double us = t[k++] * 1e6;
    r.forms.push_back({h.name, h.counts, us, bench::allocations_per_call(h.call)});
    if (h.counts && us < r.hand_us) r.hand_us = us, r.hand_form = h.name;
  }
  r.fusegrad_us = t[k++] * 1e6;
  r.fusegrad_allocs = bench::allocations_per_call(c.fusegrad);
  if (c.torch) r.torch_us = t[k++] * 1e6, r.torch_allocs = bench::allocations_per_call(call(c.torch));
  if (c.adolc) r.adolc_us = t[k++] * 1e6, r.adolc_allocs = bench::allocations_per_call(call(c.adolc));
  r.adolc_note = c.adolc ? c.adolc->info() : c.adolc_note;
  // fusegrad again on two threads (fg::set_num_threads), where the work is large enough
  // to share: 10^5 elements and up, the least-squares matrix (10^6) and the MLP.
  if (c.n >= 100000 || c.workload.find("MLP 784") != std::string::npos ||
      c.workload.find("X w - y") != std::string::npos) {
    fusegrad::set_num_threads(2);
    r.fusegrad_2_threads_us = bench::measure({c.fusegrad})[0] * 1e6;
    fusegrad::set_num_threads(1);
  }
  return r;
}

std::optional<double> ratio(std::optional<double> a, std::optional<double> b) {
  if (a && b) return *a / *b;
  return std::nullopt;
}

// Microseconds with three or more significant digits.
std::string us(std::optional<double> v) {
  if (!v) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, *v >= 100 ? "%.0f" : *v >= 10 ? "%.1f" : "%.2f", *v);
  return buf;
}

std::string fixed(std::optional<double> v, const char* format, const char* missing = "n/a") {
  if (!v) return missing;
  char buf[64];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}

// A time ratio: two decimals from 1 to 100, two significant digits below 1.
std::string ratio_cell(std::optional<double> v) {
  if (!v) return "n/a";
  return fixed(v, *v >= 100 ? "%.0f" : *v >= 1 ? "%.2f" : "%.2g");
}

std::string allocs(std::optional<double> v) {
  if (!v) return "n/a";
  return fixed(v, std::floor(*v) == *v ? "%.0f" : "%.2f");
}

std::string csv_field(std::optional<double> v) { return fixed(v, "%.4f", ""); }

// n as 10^k when it is a power of ten above 10.
std::string pretty_n(long n) {
  int k = 0;
  long m = n;
  while (m >= 10 && m % 10 == 0) m /= 10, ++k;
  return m == 1 && k >= 2 ? "10^" + std::to_string(k) : std::to_string(n);
}

// The table of one scalar type's rows.
void print_table(const std::vector<Row>& rows, const std::string& scalar) {
  std::printf("%-34s | %7s | %9s | %9s | %9s | %9s | %7s | %8s | %8s | %6s | %5s\n", "workload", "n", "fusegrad", "hand",
              "libtorch", "ADOL-C", "fg/hand", "fg/torch", "fg/adolc", "allocs", "2 thr");
  std::printf("%s\n", std::string(34 + 7 + 4 * 9 + 7 + 2 * 8 + 6 + 5 + 10 * 3, '-').c_str());
  for (const Row& r : rows)
    if (r.scalar == scalar)
      std::printf("%-34s | %7s | %9s | %9s | %9s | %9s | %7s | %8s | %8s | %6s | %5s\n", r.workload.c_str(),
                  pretty_n(r.n).c_str(), us(r.fusegrad_us).c_str(), us(r.hand_us).c_str(), us(r.torch_us).c_str(),
                  us(r.adolc_us).c_str(), ratio_cell(ratio(r.fusegrad_us, r.hand_us)).c_str(),
                  ratio_cell(ratio(r.fusegrad_us, r.torch_us)).c_str(),
                  ratio_cell(ratio(r.fusegrad_us, r.adolc_us)).c_str(), allocs(r.fusegrad_allocs).c_str(),
                  fixed(ratio(r.fusegrad_us, r.fusegrad_2_threads_us), "%.2f", "-").c_str());
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) std::fprintf(stderr, "fusegrad_bench: cannot write %s\n", path.c_str());
  return bool(f);
}

}  // namespace

bool bench::selected(const std::string& workload) {
  if (g_only.empty()) return true;
  for (const std::string& s : g_only)
    if (workload.find(s) != std::string::npos) return true;
  return false;
}

int main(int argc, char** argv) {
  std::string csv_path = "bench_results.csv";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf("usage: %s [--only SUBSTRING]... [--errors] [csv_path]\n"
                  "  --only  time only the workloads whose name contains SUBSTRING (repeatable)\n"
                  "  --errors  print every verified difference and its tolerance\n"
                  "  csv_path defaults to bench_results.csv; a Markdown table is written next to it\n",
                  argv[0]);
      return 0;
    }
    if (a == "--only" && i + 1 < argc)
      g_only.push_back(argv[++i]);
    else if (a == "--errors")
      bench::show_errors = true;
    else
      csv_path = a;
  }
#ifndef NDEBUG
  std::fprintf(stderr, "fusegrad_bench: warning: built without NDEBUG; build the Release configuration\n");
#endif
  {
    // Timings on a machine that other processes keep busy are noisy; say so.
    std::ifstream loadavg("/proc/loadavg");
    double load1 = 0;
    if (loadavg >> load1 && load1 >= 1.0)
      std::printf("note: 1-minute load average %.2f before the run; other processes may perturb the timings\n",
                  load1);
  }
  const std::string torch_info = torch_peers::setup();
  const std::string adolc_info = adolc_peers::setup();

  // The double cases first, so that they draw the same inputs as they did before float
  // rows existed.
  std::vector<Case> cases;
  for (const bench::Precision p : {bench::Precision::f64, bench::Precision::f32}) {
    bench::add_elementwise_cases(cases, p);
    bench::add_contraction_cases(cases, p);
    bench::add_mixed_cases(cases, p);
    bench::add_tiny_mlp_cases(cases, p);
  }

  // ADOL-C records its tapes at the first call; in increasing order of parameter count,
  // so that no tape pays for a larger one's location store (see adolc_peers.cpp).
  {
    std::vector<const Case*> by_size;
    for (const Case& c : cases)
      if (c.adolc) by_size.push_back(&c);
    std::stable_sort(by_size.begin(), by_size.end(),
                     [](const Case* a, const Case* b) { return a->parameters < b->parameters; });
    for (const Case* c : by_size) bench::sink = bench::sink + c->adolc->call();
  }

  // Every gradient is checked before anything is timed.
  for (const Case& c : cases) c.verify();

  std::vector<Row> rows;
  for (const Case& c : cases) {
    rows.push_back(time_case(c));
    std::fprintf(stderr, "  timed %s n=%ld %s\n", c.workload.c_str(), c.n, c.scalar.c_str());
  }

  std::printf("\nvalue + full gradient, double, one thread, median per call (us)\n");
  std::printf("hand     = hand-written Eigen, the fastest form marked * below\n");
  std::printf("libtorch = %s\n", torch_info.c_str());
  std::printf("ADOL-C   = %s\n", adolc_info.c_str());
  std::printf("allocs   = fusegrad's heap allocations per call after warm-up (operator new%s)\n",
              bench::counts_malloc() ? " and malloc" : "");
  std::printf("every gradient checked against the hand-written one (relative %.0e) before timing; the "
              "hand-written one by central differences\n\n",
              bench::kTolerance);
  std::printf("2 thr    = fusegrad's speedup on two threads (fg::set_num_threads(2)) over one, large workloads\n\n");
  print_table(rows, "double");
  if (std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.scalar == "float"; })) {
    std::printf("\nthe same in float: hand-written Eigen in float, libtorch in torch::kFloat32; ADOL-C tapes double "
                "only (n/a)\n");
    std::printf("every float gradient checked against the float hand-written one (relative %.0e) before timing; the "
                "float hand-written one against the double hand-written one on the same inputs, that one by central "
                "differences\n\n",
                bench::kFloatTolerance);
    print_table(rows, "float");
  }

  std::printf("\nper implementation: us per call, heap allocations per call\n");
  for (const Row& r : rows) {
    std::printf("%s n=%s%s\n", r.workload.c_str(), pretty_n(r.n).c_str(), r.scalar == "double" ? "" : " float");
    for (const FormResult& f : r.forms)
      std::printf("  %c hand: %-58s %10s us %8s allocs\n", f.name == r.hand_form ? '*' : (f.counts ? ' ' : '-'),
                  f.name.c_str(), us(f.us).c_str(), allocs(f.allocs).c_str());
    std::printf("    %-64s %10s us %8s allocs\n", "fusegrad", us(r.fusegrad_us).c_str(),
                allocs(r.fusegrad_allocs).c_str());
    std::printf("    %-64s %10s us %8s allocs\n", "libtorch", us(r.torch_us).c_str(), allocs(r.torch_allocs).c_str());
    std::printf("    %-64s %10s us %8s allocs\n", ("ADOL-C" + (r.adolc_note.empty() ? "" : " (" + r.adolc_note + ")")).c_str(),
                us(r.adolc_us).c_str(), allocs(r.adolc_allocs).c_str());
  }
  std::printf("(* : 'hand' in the table; - : a form that is not the program as written, never 'hand')\n");

  std::ostringstream csv;
  csv << "workload,n,fusegrad_us,hand_us,torch_us,adolc_us,fusegrad_over_hand,fusegrad_over_torch,"
         "fusegrad_over_adolc,fusegrad_allocs_per_call,torch_allocs_per_call,adolc_allocs_per_call,"
         "fusegrad_2_threads_us,fusegrad_2_threads_speedup,scalar\n";
  for (const Row& r : rows)  // workload names hold no commas or quotes
    csv << r.workload << ',' << r.n << ',' << csv_field(r.fusegrad_us) << ',' << csv_field(r.hand_us) << ','
        << csv_field(r.torch_us) << ',' << csv_field(r.adolc_us) << ',' << csv_field(ratio(r.fusegrad_us, r.hand_us))
        << ',' << csv_field(ratio(r.fusegrad_us, r.torch_us)) << ',' << csv_field(ratio(r.fusegrad_us, r.adolc_us))
        << ',' << csv_field(r.fusegrad_allocs) << ',' << csv_field(r.torch_allocs) << ','
        << csv_field(r.adolc_allocs) << ',' << csv_field(r.fusegrad_2_threads_us) << ','
        << csv_field(ratio(r.fusegrad_us, r.fusegrad_2_threads_us)) << ',' << r.scalar << '\n';

  std::ostringstream md;
  for (const char* scalar : {"double", "float"}) {
    if (std::none_of(rows.begin(), rows.end(), [&](const Row& r) { return r.scalar == scalar; })) continue;
    if (scalar == std::string("float")) md << "\nfloat:\n\n";
    md << "| workload | n | fusegrad (us) | hand (us) | libtorch (us) | ADOL-C (us) | fusegrad/hand | "
          "fusegrad/libtorch | fusegrad/ADOL-C | fusegrad allocs/call | fusegrad 2-thread speedup |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const Row& r : rows) {
      if (r.scalar != scalar) continue;
      std::string name = r.workload;
      for (std::size_t p = 0; (p = name.find('|', p)) != std::string::npos; p += 2) name.replace(p, 1, "\\|");
      md << "| `" << name << "` | " << pretty_n(r.n) << " | " << us(r.fusegrad_us) << " | " << us(r.hand_us)
         << " | " << us(r.torch_us) << " | " << us(r.adolc_us) << " | "
         << ratio_cell(ratio(r.fusegrad_us, r.hand_us)) << " | " << ratio_cell(ratio(r.fusegrad_us, r.torch_us))
         << " | " << ratio_cell(ratio(r.fusegrad_us, r.adolc_us)) << " | " << allocs(r.fusegrad_allocs) << " | "
         << fixed(ratio(r.fusegrad_us, r.fusegrad_2_threads_us), "%.2f", "-") << " |\n";
    }
  }

  std::string md_path = csv_path;
  if (md_path.size() > 4 && md_path.compare(md_path.size() - 4, 4, ".csv") == 0) md_path.resize(md_path.size() - 4);
  md_path += ".md";
  if (!write_file(csv_path, csv.str()) || !write_file(md_path, md.str())) return EXIT_FAILURE;
  std::printf("\nCSV written to %s, Markdown table to %s\n", csv_path.c_str(), md_path.c_str());
  return 0;
}
