// Fashion-MNIST training, fusegrad against libtorch (issue 16): does fusegrad train real
// models to the accuracy libtorch reaches, and how long does an epoch take, one thread
// each? Two models (training.hpp: an MLP 784-256-128-10 and a small CNN), each written
// once per library, start from the same initial weights and train with Adam on the same
// shuffled mini-batches, in float.
//
//   fashion_mnist [--epochs N] [--model mlp|cnn|both] [--short] [--data DIR]
//                 [--out DIR] [--batch B] [--lr LR] [--seed S] [--library fusegrad|libtorch|both]
//                 [--steps N] [--cnn-channels C1,C2]
//
// Before anything is timed, the loss and every gradient of one batch are compared
// between the libraries (same weights). Then, per model and epoch, each library trains
// one epoch (which one goes first alternates, so that load from other processes falls
// on both alike) and is evaluated on the 10000 test images; a line per epoch and
// library is printed. At the end, fashion_mnist_results.md (time per epoch and
// accuracy side by side) and fashion_mnist_epochs.csv (per epoch: training loss, test
// accuracy, seconds, load average) are written to --out (default: the working
// directory); fashion_mnist/plot.gp draws the CSV. Without the data set installed, the
// program says so, prints "skipped" and exits with 0. Built without libtorch, it trains
// fusegrad alone.
//
// --library, --steps and --cnn-channels are for profiling and for choosing the CNN's
// size (16,32 trains 4 times faster in fusegrad but reached only 0.906 in 11 epochs).
//
// Timed: the training steps only (forward, backward, Adam), from batches already
// gathered into one contiguous buffer per epoch, so both libraries read their batches
// the same way; evaluation is timed apart.
#include "idx_reader.hpp"
#include "training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace fm = fashion_mnist;

namespace {

struct Options {
  int epochs = 0;  // 0: the model's default (default_epochs)
  std::vector<fm::Architecture> models{fm::Architecture::mlp, fm::Architecture::cnn};
  bool short_run = false;
  bool libraries[2] = {true, true};  // fusegrad, libtorch (--library)
  long steps = 0;                     // --steps: at most this many steps per epoch (0: all)
  fm::CnnWidths cnn;                  // --cnn-channels C1,C2
  long batch = 64;
  double learning_rate = 1e-3;
  unsigned seed = 20260116;
  std::string data = fm::default_directory;
  std::string out = ".";
};

// Epochs when --epochs is not given: enough to reach the accuracy targets.
int default_epochs(fm::Architecture a) { return a == fm::Architecture::mlp ? 15 : 12; }
// The targets for test accuracy.
double target_accuracy(fm::Architecture a) { return a == fm::Architecture::mlp ? 0.883 : 0.916; }
// --short: this many training steps per model, one epoch.
constexpr long short_steps = 300;

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "fashion_mnist: %s\n"
               "usage: fashion_mnist [--epochs N] [--model mlp|cnn|both] [--short] [--data DIR] [--out DIR]\n"
               "                     [--batch B] [--lr LR] [--seed S] [--library fusegrad|libtorch|both]\n"
               "                     [--steps N] [--cnn-channels C1,C2]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string& v, double lowest) {
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(x >= lowest)) usage(arg + " " + v + ": not a number >= " + std::to_string(lowest));
      return x;
    };
    if (arg == "--epochs") {
      o.epochs = int(number(value(), 1));
    } else if (arg == "--model") {
      const std::string m = value();
      if (m == "mlp") o.models = {fm::Architecture::mlp};
      else if (m == "cnn") o.models = {fm::Architecture::cnn};
      else if (m != "both") usage("--model " + m + ": expected mlp, cnn or both");
    } else if (arg == "--library") {
      const std::string l = value();
      if (l == "fusegrad") o.libraries[1] = false;
      else if (l == "libtorch") o.libraries[0] = false;
      else if (l != "both") usage("--library " + l + ": expected fusegrad, libtorch or both");
    } else if (arg == "--cnn-channels") {
      const std::string v = value();
      const auto comma = v.find(',');
      if (comma == std::string::npos) usage("--cnn-channels " + v + ": expected C1,C2");
      o.cnn.first = long(number(v.substr(0, comma), 1));
      o.cnn.second = long(number(v.substr(comma + 1), 1));
    } else if (arg == "--steps") {
      o.steps = long(number(value(), 1));
    } else if (arg == "--short") {
      o.short_run = true;
    } else if (arg == "--data") {
      o.data = value();
    } else if (arg == "--out") {
      o.out = value();
    } else if (arg == "--batch") {
      o.batch = long(number(value(), 1));
    } else if (arg == "--lr") {
      o.learning_rate = number(value(), 0);
    } else if (arg == "--seed") {
      o.seed = unsigned(number(value(), 0));
    } else if (arg == "--help" || arg == "-h") {
      usage("Fashion-MNIST training, fusegrad against libtorch");
    } else {
      usage("unknown option " + arg);
    }
  }
  return o;
}

// The system's load average over the last minute (other processes compete for the two
// cores of the development machine; printed with every epoch).
double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = NAN;
  in >> load;
  return load;
}

std::string describe(fm::Architecture a, const fm::CnnWidths& cnn) {
  if (a == fm::Architecture::mlp) return "MLP 784-256-128-10";
  return "CNN conv " + std::to_string(cnn.first) + ", conv " + std::to_string(cnn.second) + ", linear";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---------------------------------------------------------------------------
// Verification: one batch, same weights, both libraries
// ---------------------------------------------------------------------------

// max |a - b| / max |b|: relative to the tensor's scale (an elementwise relative error
// means nothing where a component is near zero).
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double difference = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    difference = std::max(difference, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return scale > 0 ? difference / scale : difference;
}

// Prints the comparison; false if anything differs by more than `tolerance`.
bool verify(fm::Architecture a, const fm::Weights& initial, const fm::Split& train, long batch, double tolerance) {
  auto fusegrad = fm::make_fusegrad_model(a, initial, 1e-3);
  auto torch = fm::make_torch_model(a, initial, 1e-3);
  if (!torch) {
    std::printf("verification (%s): skipped, no libtorch to compare with\n", fm::name(a));
    return true;
  }
  fm::Weights fusegrad_gradients, torch_gradients;
  const long count = std::min(batch, train.count());
  const float fusegrad_loss =
      fusegrad->loss_and_gradients(train.images.pixels.data(), train.labels.data(), count, fusegrad_gradients);
  const float torch_loss =
      torch->loss_and_gradients(train.images.pixels.data(), train.labels.data(), count, torch_gradients);
  const double loss_difference = std::abs(double(fusegrad_loss) - torch_loss) / std::abs(double(torch_loss));
  double worst = loss_difference;
  std::string details;
  for (std::size_t k = 0; k < initial.size(); ++k) {
    const double d = relative_difference(fusegrad_gradients.at(k).values, torch_gradients.at(k).values);
    worst = std::max(worst, d);
    char line[160];
    std::snprintf(line, sizeof line, "%s%s %.1e", k ? ", " : "", initial[k].name.c_str(), d);
    details += line;
  }
  const bool ok = worst <= tolerance;
  std::printf("verification (%s, first %ld training images, same weights): loss fusegrad %.7f libtorch %.7f "
              "(relative difference %.1e); gradients, max|difference| / max|libtorch|: %s -> %s (tolerance %.0e)\n",
              fm::name(a), count, fusegrad_loss, torch_loss, loss_difference, details.c_str(),
              ok ? "agree" : "DISAGREE", tolerance);
  return ok;
}

// ---------------------------------------------------------------------------
// Training and evaluation
// ---------------------------------------------------------------------------

struct EpochRecord {
  std::string model, library;
  int epoch = 0;
  long steps = 0;
  double train_loss = 0, test_accuracy = 0, train_seconds = 0, eval_seconds = 0, load = 0;
};

// The training set in one epoch's order, gathered into contiguous batches.
struct EpochData {
  std::vector<float> images;
  std::vector<int> labels;
};

EpochData shuffled(const fm::Split& train, unsigned seed) {
  std::vector<long> order(std::size_t(train.count()));
  std::iota(order.begin(), order.end(), 0L);
  std::mt19937 generator(seed);
  std::shuffle(order.begin(), order.end(), generator);
  EpochData e;
  e.images.resize(train.images.pixels.size());
  e.labels.resize(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    std::copy_n(train.images.pixels.data() + order[i] * fm::image_pixels, fm::image_pixels,
                e.images.data() + long(i) * fm::image_pixels);
    e.labels[i] = train.labels[std::size_t(order[i])];
  }
  return e;
}

// Trains one epoch (or `step_limit` steps); returns the mean batch loss and the seconds.
std::pair<double, double> train_epoch(fm::Model& model, const EpochData& data, long batch, long step_limit,
                                      long& steps) {
  const long count = long(data.labels.size());
  double loss_sum = 0;
  steps = 0;
  const auto start = std::chrono::steady_clock::now();
  for (long first = 0; first < count && steps < step_limit; first += batch, ++steps) {
    const long n = std::min(batch, count - first);
    loss_sum += model.train_step(data.images.data() + first * fm::image_pixels, data.labels.data() + first, n);
  }
  const double seconds = seconds_since(start);
  return {loss_sum / double(steps), seconds};
}

// Test accuracy, in chunks of 250 images; returns the accuracy and the seconds.
std::pair<double, double> evaluate(fm::Model& model, const fm::Split& test) {
  constexpr long chunk = 250;
  std::vector<int> predicted(std::size_t(test.count()));
  const auto start = std::chrono::steady_clock::now();
  for (long first = 0; first < test.count(); first += chunk)
    model.predict(test.images.pixels.data() + first * fm::image_pixels, std::min(chunk, test.count() - first),
                  predicted.data() + first);
  const double seconds = seconds_since(start);
  long correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == test.labels[i];
  return {double(correct) / double(test.count()), seconds};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

void write_csv(const std::string& path, std::vector<EpochRecord> records) {
  // Grouped by model and library, so that each series is a contiguous block (the chart
  // script filters rows by those two columns).
  std::stable_sort(records.begin(), records.end(), [](const EpochRecord& a, const EpochRecord& b) {
    return std::tie(a.model, a.library, a.epoch) < std::tie(b.model, b.library, b.epoch);
  });
  std::ofstream out(path);
  out << "model,library,epoch,steps,train_loss,test_accuracy,train_seconds,eval_seconds,load_average\n";
  char line[256];
  for (const EpochRecord& r : records) {
    std::snprintf(line, sizeof line, "%s,%s,%d,%ld,%.6f,%.4f,%.3f,%.3f,%.2f\n", r.model.c_str(), r.library.c_str(),
                  r.epoch, r.steps, r.train_loss, r.test_accuracy, r.train_seconds, r.eval_seconds, r.load);
    out << line;
  }
  if (!out) std::fprintf(stderr, "fashion_mnist: cannot write %s\n", path.c_str());
}

struct Summary {
  std::string model;
  int epochs = 0;
  long steps = 0;
  double target = 0;
  double seconds[2] = {NAN, NAN}, accuracy[2] = {NAN, NAN}, best[2] = {NAN, NAN};
};

std::string format_or_na(const char* format, double v) {
  if (std::isnan(v)) return "n/a";
  char s[64];
  std::snprintf(s, sizeof s, format, v);
  return s;
}

std::string markdown_table(const std::vector<Summary>& summaries) {
  std::string t =
      "| model | epochs | fusegrad s/epoch | libtorch s/epoch | fusegrad/libtorch | fusegrad test accuracy | "
      "libtorch test accuracy | target |\n|---|---|---|---|---|---|---|---|\n";
  for (const Summary& s : summaries) {
    t += "| " + s.model + " | " + std::to_string(s.epochs) + " | " + format_or_na("%.2f", s.seconds[0]) + " | " +
         format_or_na("%.2f", s.seconds[1]) + " | " + format_or_na("%.2f", s.seconds[0] / s.seconds[1]) + " | " +
         format_or_na("%.4f", s.accuracy[0]) + " (best " + format_or_na("%.4f", s.best[0]) + ") | " +
         format_or_na("%.4f", s.accuracy[1]) + " (best " + format_or_na("%.4f", s.best[1]) + ") | " +
         format_or_na("%.3f", s.target) + " |\n";
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (!fm::installed(options.data)) {
    std::printf("fashion_mnist: skipped: Fashion-MNIST is not installed in %s (install the dataset-fashion-mnist "
                "package, or pass --data DIR holding %s, %s, %s and %s)\n",
                options.data.c_str(), fm::train_images_file, fm::train_labels_file, fm::test_images_file,
                fm::test_labels_file);
    return 0;
  }
  fm::DataSet data;
  try {
    const auto start = std::chrono::steady_clock::now();
    data = fm::load(options.data);
    std::printf("Fashion-MNIST from %s: %ld training and %ld test images of %ld x %ld, read in %.2f s\n",
                options.data.c_str(), data.train.count(), data.test.count(), data.train.images.rows,
                data.train.images.columns, seconds_since(start));
  } catch (const fm::data_error& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
  if (data.train.images.rows != fm::image_side || data.train.images.columns != fm::image_side) {
    std::fprintf(stderr, "fashion_mnist: the models take 28 x 28 images\n");
    return 1;
  }

  const std::string torch_description = fm::torch_setup();
  const bool with_torch = fm::torch_available();
  std::printf("fusegrad: float, one thread (no Eigen thread pool); %s\n", torch_description.c_str());
  std::printf("Adam, learning rate %g, batch %ld, shuffled each epoch from seed %u%s\n", options.learning_rate,
              options.batch, options.seed, options.short_run ? "; --short: one epoch of 300 steps per model" : "");

  // Verification first: a wrong gradient would make the timings meaningless.
  bool verified = true;
  for (fm::Architecture a : options.models)
    verified = verify(a, fm::initial_weights(a, options.seed, options.cnn), data.train, options.batch, 1e-4) && verified;
  if (!verified) {
    std::fprintf(stderr, "fashion_mnist: the libraries disagree on a gradient; nothing timed\n");
    return 1;
  }

  const char* libraries[2] = {"fusegrad", "libtorch"};
  std::vector<EpochRecord> records;
  std::vector<Summary> summaries;
  for (fm::Architecture a : options.models) {
    const fm::Weights initial = fm::initial_weights(a, options.seed, options.cnn);
    std::unique_ptr<fm::Model> models[2] = {fm::make_fusegrad_model(a, initial, options.learning_rate),
                                            fm::make_torch_model(a, initial, options.learning_rate)};
    const int epochs = options.short_run ? (options.epochs ? options.epochs : 1)
                                         : (options.epochs ? options.epochs : default_epochs(a));
    const long step_limit = options.steps ? options.steps : options.short_run ? short_steps : (1L << 40);
    Summary summary{describe(a, options.cnn), epochs, 0, target_accuracy(a)};
    std::vector<double> seconds[2];
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const EpochData batches = shuffled(data.train, options.seed + unsigned(epoch));
      for (int turn = 0; turn < 2; ++turn) {
        const int k = (epoch % 2 == 1) ? turn : 1 - turn;  // alternate which library goes first
        if (!models[k] || !options.libraries[k]) continue;
        EpochRecord r{fm::name(a), libraries[k], epoch};
        std::tie(r.train_loss, r.train_seconds) = train_epoch(*models[k], batches, options.batch, step_limit, r.steps);
        std::tie(r.test_accuracy, r.eval_seconds) = evaluate(*models[k], data.test);
        r.load = load_average();
        std::printf("epoch %2d  %-8s  %s  train loss %.4f  test accuracy %.4f  %.2f s/epoch (%ld steps, %.1f ms/step; "
                    "test %.2f s; load %.1f)\n",
                    epoch, r.library.c_str(), r.model.c_str(), r.train_loss, r.test_accuracy, r.train_seconds, r.steps,
                    1e3 * r.train_seconds / double(r.steps), r.eval_seconds, r.load);
        seconds[k].push_back(r.train_seconds);
        summary.steps = r.steps;
        summary.accuracy[k] = r.test_accuracy;
        summary.best[k] = std::isnan(summary.best[k]) ? r.test_accuracy : std::max(summary.best[k], r.test_accuracy);
        records.push_back(r);
      }
    }
    for (int k = 0; k < 2; ++k)
      if (!seconds[k].empty()) summary.seconds[k] = median(seconds[k]);
    summaries.push_back(summary);
  }

  const std::string table = markdown_table(summaries);
  std::printf("\nTime per epoch (median over epochs, training steps only) and test accuracy after the last epoch:\n\n%s",
              table.c_str());
  for (const Summary& s : summaries)
    for (int k = 0; k < (with_torch ? 2 : 1); ++k)
      if (!options.short_run && s.accuracy[k] < s.target)
        std::printf("%s %s: final test accuracy %.4f is below the target %.3f\n", s.model.c_str(), libraries[k],
                    s.accuracy[k], s.target);
  const std::string md_path = options.out + "/fashion_mnist_results.md";
  const std::string csv_path = options.out + "/fashion_mnist_epochs.csv";
  std::ofstream md(md_path);
  md << "Fashion-MNIST, float, one thread, Adam lr " << options.learning_rate << ", batch " << options.batch
     << (options.short_run ? ", --short run" : "") << ".\n" << torch_description << "\n\n" << table;
  write_csv(csv_path, records);
  std::printf("\nWritten: %s, %s\n", md_path.c_str(), csv_path.c_str());
  return 0;
}
