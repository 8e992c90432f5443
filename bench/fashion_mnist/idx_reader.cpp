// The IDX reader of idx_reader.hpp, on zlib's gzip file functions.
#include "idx_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace fashion_mnist {

namespace {

// A gzip (or plain) file read with exact-length reads that throw on a short file.
class GzipFile {
 public:
  explicit GzipFile(const std::string& path) : path_(path) {
    if (!std::filesystem::is_regular_file(path)) throw data_error(path + ": no such file");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw data_error(path + ": cannot open (" + std::strerror(errno) + ")");
    gzbuffer(file_, 1 << 17);
  }
  ~GzipFile() {
    if (file_) gzclose(file_);
  }
  GzipFile(const GzipFile&) = delete;
  GzipFile& operator=(const GzipFile&) = delete;

  const std::string& path() const { return path_; }

  // Exactly `size` bytes of `what`, or data_error saying how many were there.
  void read(unsigned char* out, std::size_t size, const std::string& what) {
    std::size_t done = 0;
    while (done < size) {
      const auto chunk = unsigned(std::min<std::size_t>(size - done, std::size_t(1) << 30));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0 || (got == 0 && zlib_error()))
        fail("cannot decompress the " + what + " after " + std::to_string(done) + " of its " + std::to_string(size) +
             " bytes (" + zlib_message() + "; truncated or corrupt?)");
      if (got == 0)
        fail("ends after " + std::to_string(done) + " of the " + std::to_string(size) + " bytes of the " + what +
             " (truncated?)");
      done += std::size_t(got);
    }
  }

  // Throws unless the file has nothing after what was read.
  void expect_end() {
    unsigned char extra[256];
    long count = 0;
    for (int got; (got = gzread(file_, extra, sizeof extra)) > 0;) count += got;
    if (count > 0) fail("has " + std::to_string(count) + " bytes after the data its header announces");
    if (zlib_error()) fail("is corrupt at its end (" + zlib_message() + ")");
  }

  [[noreturn]] void fail(const std::string& why) const { throw data_error(path_ + ": " + why); }

 private:
  bool zlib_error() {
    int code = Z_OK;
    gzerror(file_, &code);
    return code != Z_OK;
  }
  std::string zlib_message() {
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    return code == Z_ERRNO ? std::string(std::strerror(errno)) : std::string(message ? message : "unknown error");
  }

  std::string path_;
  gzFile file_ = nullptr;
};

// The header's sizes, after checking its magic number: 0, 0, 0x08 (unsigned bytes),
// then the number of dimensions, which must be `dimensions`.
std::vector<long> read_header(GzipFile& file, int dimensions, const char* kind) {
  unsigned char magic[4];
  file.read(magic, 4, "IDX header");
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%02x%02x%02x%02x", magic[0], magic[1], magic[2], magic[3]);
  const std::string expected = dimensions == 3 ? "0x00000803" : "0x00000801";
  if (magic[0] != 0 || magic[1] != 0)
    file.fail("is not an IDX file (magic number " + std::string(hex) + ", an IDX " + kind + " file starts with " +
              expected + ")");
  if (magic[2] != 0x08)
    file.fail("holds elements of IDX type " + std::to_string(magic[2]) + ", not unsigned bytes (8) (magic number " +
              hex + ", expected " + expected + ")");
  if (magic[3] != dimensions)
    file.fail("has " + std::to_string(magic[3]) + " dimensions; an IDX " + kind + " file has " +
              std::to_string(dimensions) + " (magic number " + hex + ", expected " + expected + ")");
  std::vector<long> sizes;
  for (int d = 0; d < dimensions; ++d) {
    unsigned char b[4];
    file.read(b, 4, "IDX header");
    sizes.push_back(long(std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | b[3]));
  }
  return sizes;
}

}  // namespace

Images read_images(const std::string& path) {
  GzipFile file(path);
  const std::vector<long> sizes = read_header(file, 3, "image");
  Images images;
  images.count = sizes[0], images.rows = sizes[1], images.columns = sizes[2];
  if (images.rows < 1 || images.columns < 1 || images.rows > 4096 || images.columns > 4096)
    file.fail("announces images of " + std::to_string(images.rows) + " x " + std::to_string(images.columns) +
              " pixels (expected 1 to 4096 each; a corrupt header?)");
  const std::size_t bytes = std::size_t(images.count) * std::size_t(images.pixels_per_image());
  if (bytes > (std::size_t(1) << 32))
    file.fail("announces " + std::to_string(images.count) + " images, more than 4 GB (a corrupt header?)");
  std::vector<unsigned char> raw(bytes);
  file.read(raw.data(), bytes, "pixels of " + std::to_string(images.count) + " images");
  file.expect_end();
  images.pixels.resize(bytes);
  std::transform(raw.begin(), raw.end(), images.pixels.begin(), [](unsigned char v) { return float(v) / 255.0f; });
  return images;
}

std::vector<int> read_labels(const std::string& path) {
  GzipFile file(path);
  const long count = read_header(file, 1, "label")[0];
  std::vector<unsigned char> raw(std::size_t(count), 0);
  file.read(raw.data(), raw.size(), std::to_string(count) + " labels");
  file.expect_end();
  std::vector<int> labels(raw.begin(), raw.end());
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] > 9)
      file.fail("label " + std::to_string(i) + " is " + std::to_string(labels[i]) + ", not a class 0..9");
  return labels;
}

bool installed(const std::string& directory) {
  for (const char* name : {train_images_file, train_labels_file, test_images_file, test_labels_file})
    if (!std::filesystem::is_regular_file(std::filesystem::path(directory) / name)) return false;
  return true;
}

DataSet load(const std::string& directory) {
  const std::filesystem::path dir(directory);
  auto split = [&](const char* images_name, const char* labels_name) {
    Split s;
    s.images = read_images((dir / images_name).string());
    s.labels = read_labels((dir / labels_name).string());
    if (long(s.labels.size()) != s.images.count)
      throw data_error((dir / images_name).string() + " holds " + std::to_string(s.images.count) + " images but " +
                       (dir / labels_name).string() + " " + std::to_string(s.labels.size()) + " labels");
    return s;
  };
  DataSet data{split(train_images_file, train_labels_file), split(test_images_file, test_labels_file)};
  if (data.train.images.rows != data.test.images.rows || data.train.images.columns != data.test.images.columns)
    throw data_error(directory + ": the training images are " + std::to_string(data.train.images.rows) + " x " +
                     std::to_string(data.train.images.columns) + " pixels, the test images " +
                     std::to_string(data.test.images.rows) + " x " + std::to_string(data.test.images.columns));
  return data;
}

}  // namespace fashion_mnist
