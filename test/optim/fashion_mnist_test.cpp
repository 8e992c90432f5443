// Training on real data (issue 16), when the Fashion-MNIST files are installed (Debian:
// dataset-fashion-mnist; FUSEGRAD_FASHION_MNIST_DIR names another directory): the
// fusegrad MLP of the training bench (bench/fashion_mnist/fusegrad_models.cpp, compiled
// into this test) trains 300 Adam steps, its loss falls and its test accuracy ends well
// above chance; the small CNN the README shows as a training loop (the code between the
// markers "example-begin" and "example-end" below) runs and its loss falls. Without the data, those
// cases pass with a MESSAGE saying they were skipped. The IDX reader's refusals of
// broken files are tested on files written here, with or without the data set.
#include <fusegrad/fusegrad.hpp>

#include "idx_reader.hpp"
#include "training.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

// example-begin
namespace fg = fusegrad;

// Trains a small CNN on images (count, 28, 28) in [0, 1] with labels 0..9 for `steps`
// Adam steps of `batch` images; returns each step's loss.
std::vector<float> train_cnn(const std::vector<float>& images, const std::vector<int>& labels, int steps,
                             int batch = 64) {
  fg::manual_seed(0);  // fg::Tensor::random is uniform in [-1, 1); scaled by 1/sqrt(fan-in)
  fg::Tensor<float, 4> K1 = fg::Tensor<float, 4>::random(16, 1, 3, 3) / 3.0f;     // conv 1 -> 16, 3x3
  fg::Tensor<float, 4> K2 = fg::Tensor<float, 4>::random(32, 16, 3, 3) / 12.0f;   // conv 16 -> 32, 3x3
  fg::Tensor<float, 2> W = fg::Tensor<float, 2>::random(10, 32 * 7 * 7) / 40.0f;  // linear 1568 -> 10
  fg::Tensor<float, 1> c1(16), c2(32), b(10);                                      // biases, zeros
  for (auto* p : {&c1, &c2, &b}) p->requires_grad(true);
  K1.requires_grad(true), K2.requires_grad(true), W.requires_grad(true);
  fg::optim::Adam<float> adam({K1, c1, K2, c2, W, b}, {.lr = 1e-3});

  std::vector<float> losses;
  std::vector<int> y(batch);
  const long count = long(labels.size());
  for (int step = 0; step < steps; ++step) {
    const long first = long(step) * batch % (count - batch + 1);  // consecutive batches
    fg::Tensor<float, 4> x(batch, 1, 28, 28);
    std::copy_n(images.data() + first * 28 * 28, batch * 28 * 28, x.mutable_value().data());
    std::copy_n(labels.data() + first, batch, y.data());
    // conv, bias per channel, ReLU, 2x2 max-pool; twice; then a linear layer
    fg::Tensor<float, 4> h =
        fg::max_pool2d(fg::relu(fg::conv2d(x, K1, fg::padding::same) + fg::reshape(c1, {16, 1, 1})), 2);
    h = fg::max_pool2d(fg::relu(fg::conv2d(h, K2, fg::padding::same) + fg::reshape(c2, {32, 1, 1})), 2);
    fg::Tensor<float, 2> logits = fg::matmul(fg::reshape(h, {batch, 32 * 7 * 7}), fg::transpose(W)) + b;
    fg::Tensor<float, 0> loss = fg::cross_entropy(logits, y);
    adam.zero_grad();
    loss.backward();  // gradients of all six parameters
    adam.step();
    losses.push_back(loss.item());
  }
  return losses;
}
// example-end

namespace fm = fashion_mnist;

namespace {

std::string data_directory() {
  const char* d = std::getenv("FUSEGRAD_FASHION_MNIST_DIR");
  return d && *d ? d : fm::default_directory;
}

// The data set, read once for all test cases; nullptr when it is not installed.
const fm::DataSet* data_set() {
  static const bool present = fm::installed(data_directory());
  static const fm::DataSet data = present ? fm::load(data_directory()) : fm::DataSet{};
  return present ? &data : nullptr;
}

void skip_message() {
  MESSAGE("skipped: Fashion-MNIST is not installed in " << data_directory()
                                                        << " (install dataset-fashion-mnist, or set FUSEGRAD_FASHION_MNIST_DIR)");
}

float mean(const std::vector<float>& v, std::size_t first, std::size_t last) {
  return std::accumulate(v.begin() + long(first), v.begin() + long(last), 0.0f) / float(last - first);
}

// A gzip file holding `bytes`, in a directory of this test's own.
std::string gzip_file(const std::string& name, const std::vector<unsigned char>& bytes) {
  const auto dir = std::filesystem::temp_directory_path() / "fusegrad_fashion_mnist_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  gzclose(f);
  return path;
}

// An IDX header: magic 0, 0, type, dimension count, then the sizes big-endian.
std::vector<unsigned char> idx_header(unsigned char type, const std::vector<unsigned>& sizes) {
  std::vector<unsigned char> h{0, 0, type, (unsigned char)sizes.size()};
  for (unsigned s : sizes)
    for (int shift : {24, 16, 8, 0}) h.push_back((unsigned char)(s >> shift));
  return h;
}

template <class F>
std::string error_of(F&& read) {
  try {
    read();
  } catch (const fm::data_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("The IDX reader reads what its header announces, pixels scaled to [0, 1]") {
  std::vector<unsigned char> images = idx_header(0x08, {2, 2, 3});
  for (unsigned char v : {0, 255, 51, 102, 153, 204, 1, 2, 3, 4, 5, 6}) images.push_back(v);
  const fm::Images read = fm::read_images(gzip_file("images.gz", images));
  CHECK(read.count == 2);
  CHECK(read.rows == 2);
  CHECK(read.columns == 3);
  REQUIRE(read.pixels.size() == 12);
  CHECK(read.pixels[0] == 0.0f);
  CHECK(read.pixels[1] == 1.0f);
  CHECK(read.pixels[2] == doctest::Approx(0.2));
  std::vector<unsigned char> labels = idx_header(0x08, {3});
  for (unsigned char v : {9, 0, 4}) labels.push_back(v);
  CHECK(fm::read_labels(gzip_file("labels.gz", labels)) == std::vector<int>{9, 0, 4});
}

TEST_CASE("The IDX reader refuses wrong magic numbers, truncated files, trailing data and bad labels") {
  std::vector<unsigned char> good = idx_header(0x08, {2, 2, 2});
  good.resize(good.size() + 8, 7);

  std::vector<unsigned char> labels_as_images = idx_header(0x08, {8});
  labels_as_images.resize(labels_as_images.size() + 8, 1);
  CHECK(error_of([&] { fm::read_images(gzip_file("a.gz", labels_as_images)); })
            .find("has 1 dimensions; an IDX image file has 3 (magic number 0x00000801, expected 0x00000803)") !=
        std::string::npos);

  std::vector<unsigned char> not_idx = good;
  not_idx[0] = 0x1f;
  CHECK(error_of([&] { fm::read_images(gzip_file("b.gz", not_idx)); }).find("is not an IDX file") != std::string::npos);

  std::vector<unsigned char> floats = good;
  floats[2] = 0x0d;
  CHECK(error_of([&] { fm::read_images(gzip_file("c.gz", floats)); }).find("not unsigned bytes") != std::string::npos);

  std::vector<unsigned char> truncated(good.begin(), good.end() - 3);
  CHECK(error_of([&] { fm::read_images(gzip_file("d.gz", truncated)); })
            .find("ends after 5 of the 8 bytes of the pixels of 2 images (truncated?)") != std::string::npos);

  std::vector<unsigned char> short_header(good.begin(), good.begin() + 9);
  CHECK(error_of([&] { fm::read_images(gzip_file("e.gz", short_header)); }).find("of the IDX header") !=
        std::string::npos);

  std::vector<unsigned char> trailing = good;
  trailing.push_back(0);
  CHECK(error_of([&] { fm::read_images(gzip_file("f.gz", trailing)); })
            .find("has 1 bytes after the data its header announces") != std::string::npos);

  std::vector<unsigned char> bad_label = idx_header(0x08, {2});
  bad_label.push_back(3), bad_label.push_back(10);
  CHECK(error_of([&] { fm::read_labels(gzip_file("g.gz", bad_label)); }).find("label 1 is 10, not a class 0..9") !=
        std::string::npos);

  CHECK(error_of([&] { fm::read_labels("/nonexistent/labels.gz"); }).find("no such file") != std::string::npos);

  // A gzip stream cut in the middle: zlib reports it, as an error naming the file.
  std::vector<unsigned char> big = idx_header(0x08, {100, 28, 28});
  for (int i = 0; i < 100 * 28 * 28; ++i) big.push_back((unsigned char)(i * 7919 % 251));
  const std::string whole = gzip_file("h.gz", big);
  const auto size = std::filesystem::file_size(whole);
  std::filesystem::resize_file(whole, size / 2);
  const std::string cut = error_of([&] { fm::read_images(whole); });
  CHECK(cut.find(whole) == 0);
  CHECK(cut.find("truncated") != std::string::npos);
}

TEST_CASE("fusegrad's MLP learns Fashion-MNIST: 300 Adam steps, the loss falls, test accuracy > 0.7") {
  const fm::DataSet* data = data_set();
  if (!data) return skip_message();
  CHECK(data->train.count() == 60000);
  CHECK(data->test.count() == 10000);
  auto model = fm::make_fusegrad_model(fm::Architecture::mlp, fm::initial_weights(fm::Architecture::mlp, 1), 1e-3);
  constexpr long batch = 64, steps = 300;
  std::vector<float> losses;
  for (long step = 0; step < steps; ++step) {
    const long first = step * batch;  // the file's order is already mixed
    losses.push_back(model->train_step(data->train.images.pixels.data() + first * fm::image_pixels,
                                       data->train.labels.data() + first, batch));
  }
  std::vector<int> predicted(std::size_t(data->test.count()));
  for (long first = 0; first < data->test.count(); first += 1000)
    model->predict(data->test.images.pixels.data() + first * fm::image_pixels, 1000, predicted.data() + first);
  long correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == data->test.labels[i];
  const double accuracy = double(correct) / double(predicted.size());
  const float early = mean(losses, 0, 20), late = mean(losses, steps - 20, steps);
  MESSAGE("MLP: loss " << early << " over the first 20 steps, " << late << " over the last 20; test accuracy "
                       << accuracy);
  CHECK(early > 1.5f);  // about log(10) = 2.3 at the start
  CHECK(late < 0.7f);
  CHECK(accuracy > 0.7);
}

TEST_CASE("The README's CNN training loop runs and its loss falls") {
  const fm::DataSet* data = data_set();
  if (!data) return skip_message();
  const std::vector<float> losses = train_cnn(data->train.images.pixels, data->train.labels, 30, 32);
  const float early = mean(losses, 0, 5), late = mean(losses, 25, 30);
  MESSAGE("CNN example: loss " << early << " over the first 5 steps, " << late << " over the last 5");
  CHECK(early > 1.8f);
  CHECK(late < 0.8f * early);
}
