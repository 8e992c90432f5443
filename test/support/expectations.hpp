#pragma once
// Small helpers the tests share: tensors' elements as vectors (printed in failure
// messages), and checks on the messages of shape errors.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include <initializer_list>
#include <string>
#include <vector>

namespace doctest {
template <>
struct StringMaker<std::vector<double>> {
  static String convert(const std::vector<double>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
    return (out + "}").c_str();
  }
};
}  // namespace doctest

namespace fusegrad::testing {

// A tensor's elements in storage order (row-major for fusegrad's tensors).
template <class T>
std::vector<double> elements(const T& t) {
  return std::vector<double>(t.data(), t.data() + t.size());
}

// The message of the shape_error that `f` throws; fails the test if it throws none.
template <class F>
std::string shape_error_of(F&& f) {
  try {
    f();
  } catch (const shape_error& e) {
    return e.what();
  }
  FAIL_CHECK("no fusegrad::shape_error was thrown");
  return "";
}

// Checks that `message` contains every part.
inline void check_mentions(const std::string& message, std::initializer_list<const char*> parts) {
  for (const char* part : parts) {
    INFO("message: ", message);
    INFO("expected to contain: ", part);
    CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace fusegrad::testing
