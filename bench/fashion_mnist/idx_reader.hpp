#pragma once
// Fashion-MNIST as it is distributed: four gzip-compressed IDX files (train and test
// images and labels). The training bench (fashion_mnist.cpp) and the fusegrad training
// test (test/optim/fashion_mnist_test.cpp) both read the data set through this reader.
//
// IDX: a big-endian header, then the data. The header is two zero bytes, a type byte
// (0x08: unsigned bytes, the only type these files use), the number of dimensions, and
// one 32-bit size per dimension: images are (count, 28, 28), labels (count). The
// reader checks all of it, that the data is all there (a truncated download fails
// here, not as garbage pixels) and that nothing follows it, and throws
// fashion_mnist::data_error naming the file and what is wrong. An uncompressed IDX file
// is read as well (zlib passes it through).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fashion_mnist {

/// A file that is missing, unreadable or not what it should be.
class data_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The ten classes, in label order.
inline constexpr const char* class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// Images (count, rows, columns), row-major, pixels scaled from 0..255 to [0, 1] as
/// float (the scalar type both libraries train in: libtorch's default).
struct Images {
  long count = 0, rows = 0, columns = 0;
  std::vector<float> pixels;
  long pixels_per_image() const { return rows * columns; }
};

/// One part of the data set: images and their labels (0..9), in file order.
struct Split {
  Images images;
  std::vector<int> labels;
  long count() const { return images.count; }
};

/// The training (60000) and test (10000) parts.
struct DataSet {
  Split train, test;
};

/// Reads an IDX image file (magic 0x00000803, three dimensions).
Images read_images(const std::string& path);
/// Reads an IDX label file (magic 0x00000801, one dimension); every label must be 0..9.
std::vector<int> read_labels(const std::string& path);

/// The standard file names inside the data set's directory.
inline constexpr const char* train_images_file = "train-images-idx3-ubyte.gz";
inline constexpr const char* train_labels_file = "train-labels-idx1-ubyte.gz";
inline constexpr const char* test_images_file = "t10k-images-idx3-ubyte.gz";
inline constexpr const char* test_labels_file = "t10k-labels-idx1-ubyte.gz";

/// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* default_directory = "/usr/share/datasets/fashion-mnist";

/// Whether all four files are present in `directory` (not whether they are valid).
bool installed(const std::string& directory);

/// Reads all four files; also checks that images and labels are equally many and that
/// both parts have images of one size.
DataSet load(const std::string& directory);

}  // namespace fashion_mnist
