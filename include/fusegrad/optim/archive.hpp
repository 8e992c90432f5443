// SPDX-License-Identifier: MPL-2.0
#pragma once
// The binary files optimizers and parameter lists are saved to: a header naming what the
// file holds and its scalar type, then counts and arrays. Saving writes a temporary file
// and renames it over the target, so a failed save leaves the old file; loading reads and
// checks everything before anything is changed, so a corrupt or mismatched file changes
// nothing and throws fusegrad::file_error saying what is wrong.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace fusegrad::optim::archive {

inline constexpr char magic[8] = {'f', 'u', 's', 'e', 'g', 'r', 'a', 'd'};
inline constexpr std::uint32_t format_version = 1;

class Writer {
 public:
  Writer(const std::string& path, const std::string& kind, std::uint32_t scalar_bytes)
      : path_(path), temporary_(path + ".partial"), out_(temporary_, std::ios::binary | std::ios::trunc) {
    if (!out_) throw file_error("fusegrad: cannot write " + temporary_);
    out_.write(magic, sizeof magic);
    word(format_version);
    word(std::uint32_t(kind.size()));
    out_.write(kind.data(), std::streamsize(kind.size()));
    word(scalar_bytes);
  }
  template <class T>
  void word(T value) {
    out_.write(reinterpret_cast<const char*>(&value), sizeof value);
  }
  template <class S>
  void array(const S* data, std::uint64_t count) {
    word(count);
    out_.write(reinterpret_cast<const char*>(data), std::streamsize(count * sizeof(S)));
  }
  /// Makes the file appear under its name, whole.
  void commit() {
    out_.flush();
    out_.close();
    if (!out_ || std::rename(temporary_.c_str(), path_.c_str()) != 0) {
      std::remove(temporary_.c_str());
      throw file_error("fusegrad: cannot write " + path_);
    }
  }

 private:
  std::string path_, temporary_;
  std::ofstream out_;
};

class Reader {
 public:
  Reader(const std::string& path, const std::string& kind, std::uint32_t scalar_bytes) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error("fusegrad: cannot open " + path);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    char m[sizeof magic];
    take(m, sizeof m);
    if (std::memcmp(m, magic, sizeof m) != 0) fail("it is not a fusegrad file");
    if (word<std::uint32_t>() != format_version) fail("its format version is not " + std::to_string(format_version));
    const auto length = word<std::uint32_t>();
    if (length > 64) fail("its header is corrupt");
    std::string found(length, ' ');
    take(found.data(), length);
    if (found != kind) fail("it holds " + found + ", not " + kind);
    const auto bytes = word<std::uint32_t>();
    if (bytes != scalar_bytes)
      fail("its numbers have " + std::to_string(bytes) + " bytes, not " + std::to_string(scalar_bytes));
  }
  template <class T>
  T word() {
    T value;
    take(&value, sizeof value);
    return value;
  }
  /// An array that must hold `expected` elements (what the receiving parameter holds).
  template <class S>
  std::vector<S> array(std::uint64_t expected, const std::string& what) {
    const auto count = word<std::uint64_t>();
    if (count != expected)
      fail(what + " has " + std::to_string(count) + " elements, where " + std::to_string(expected) + " are expected");
    std::vector<S> values(count);
    take(values.data(), count * sizeof(S));
    return values;
  }
  void finish() const {
    if (at_ != bytes_.size()) fail("it has " + std::to_string(bytes_.size() - at_) + " bytes after its end");
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw file_error("fusegrad: cannot load " + path_ + ": " + why + " (nothing was changed)");
  }

 private:
  void take(void* out, std::uint64_t n) {
    if (n > bytes_.size() - at_) fail("it ends early (truncated or corrupt)");
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
  }
  std::string path_;
  std::vector<char> bytes_;
  std::size_t at_ = 0;
};

}  // namespace fusegrad::optim::archive
