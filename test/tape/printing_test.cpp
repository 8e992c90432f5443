// std::cout << t: the exact text printed for tensors of each rank, large tensors
// abbreviated, and whether a gradient is required.
#include <fusegrad/fusegrad.hpp>

#include <doctest/doctest.h>

#include <sstream>
#include <string>

namespace fg = fusegrad;

namespace {
template <class T>
std::string printed(const T& t) {
  std::ostringstream out;
  out << t;
  return out.str();
}

// 0, 1, 2, ... in row-major order.
template <int R>
fg::Tensor<double, R> counting(const fg::Shape<R>& dims) {
  fg::Tensor<double, R> t(dims);
  for (fg::Index k = 0; k < t.size(); ++k) t.mutable_value().data()[k] = double(k);
  return t;
}
}  // namespace

TEST_CASE("a rank-0 tensor prints its type, an empty shape and its number") {
  fg::Tensor<double, 0> t = 2.5;
  CHECK(printed(t) == "Tensor<double, 0> shape () requires_grad=false\n2.5");
}

TEST_CASE("a vector prints in one pair of brackets and a float tensor says float") {
  fg::Tensor<float, 1> t{1.5f, -2, 3};
  CHECK(printed(t) == "Tensor<float, 1> shape (3,) requires_grad=false\n[1.5,  -2,   3]");
}

TEST_CASE("a matrix prints one row per line with its columns aligned") {
  fg::Tensor<double, 2> t{{1, 2, 3}, {4, 50, -6}};
  CHECK(printed(t) == "Tensor<double, 2> shape (2, 3) requires_grad=false\n"
                      "[[ 1,  2,  3],\n"
                      " [ 4, 50, -6]]");
}

TEST_CASE("a tensor that requires a gradient says so, leaf or not") {
  fg::Tensor<double, 1> x{1, 2};
  x.requires_grad(true);
  CHECK(printed(x) == "Tensor<double, 1> shape (2,) requires_grad=true\n[1, 2]");
  fg::Tensor<double, 1> y = x * 2.0;
  CHECK(printed(y) == "Tensor<double, 1> shape (2,) requires_grad=true\n[2, 4]");
}

TEST_CASE("a rank-3 tensor separates its matrices by a blank line") {
  auto t = counting<3>({2, 2, 2});
  CHECK(printed(t) == "Tensor<double, 3> shape (2, 2, 2) requires_grad=false\n"
                      "[[[0, 1],\n"
                      "  [2, 3]],\n"
                      "\n"
                      " [[4, 5],\n"
                      "  [6, 7]]]");
}

TEST_CASE("a tensor of 1000 elements prints them all") {
  auto t = counting<1>({1000});
  const std::string text = printed(t);
  CHECK(text.find("...") == std::string::npos);
  CHECK(text.find("999]") != std::string::npos);
}

TEST_CASE("a vector of more than 1000 elements shows the first and last 3") {
  auto t = counting<1>({1001});
  CHECK(printed(t) == "Tensor<double, 1> shape (1001,) requires_grad=false\n"
                      "[   0,    1,    2, ...,  998,  999, 1000]");
}

TEST_CASE("a large matrix shows the first and last 3 rows and columns") {
  auto t = counting<2>({100, 20});
  CHECK(printed(t) == "Tensor<double, 2> shape (100, 20) requires_grad=false\n"
                      "[[   0,    1,    2, ...,   17,   18,   19],\n"
                      " [  20,   21,   22, ...,   37,   38,   39],\n"
                      " [  40,   41,   42, ...,   57,   58,   59],\n"
                      " ...,\n"
                      " [1940, 1941, 1942, ..., 1957, 1958, 1959],\n"
                      " [1960, 1961, 1962, ..., 1977, 1978, 1979],\n"
                      " [1980, 1981, 1982, ..., 1997, 1998, 1999]]");
}

TEST_CASE("a large tensor keeps short dimensions whole") {
  auto t = counting<2>({2000, 2});
  const std::string text = printed(t);
  CHECK(text.find("[   0,    1],\n [   2,    3],\n [   4,    5],\n ...,\n [3994, 3995],") != std::string::npos);
}

TEST_CASE("an empty tensor prints empty brackets") {
  fg::Tensor<double, 2> t(0, 3);
  CHECK(printed(t) == "Tensor<double, 2> shape (0, 3) requires_grad=false\n[]");
  fg::Tensor<double, 2> rows_of_nothing(3, 0);
  CHECK(printed(rows_of_nothing) == "Tensor<double, 2> shape (3, 0) requires_grad=false\n[]");
}

TEST_CASE("numbers follow the stream's precision, and NaN and infinity print as words") {
  fg::Tensor<double, 1> t{1.0 / 3.0, std::numeric_limits<double>::quiet_NaN(),
                          -std::numeric_limits<double>::infinity()};
  CHECK(printed(t) == "Tensor<double, 1> shape (3,) requires_grad=false\n[0.333333,      nan,     -inf]");
  std::ostringstream out;
  out.precision(3);
  out << t;
  CHECK(out.str() == "Tensor<double, 1> shape (3,) requires_grad=false\n[0.333,   nan,  -inf]");
}

TEST_CASE("a dual tensor prints each value with its tangent") {
  fg::Tensor<fg::Dual<double>, 1> t(2);
  t.mutable_value()(0) = fg::Dual<double>(1, 2);
  CHECK(printed(t) == "Tensor<Dual<double>, 1> shape (2,) requires_grad=false\n[1+2e, 0+0e]");
}
