// SPDX-License-Identifier: MPL-2.0
#pragma once
// std::cout << t for a fusegrad::Tensor: a header line with the type, the shape and
// whether it requires a gradient, then the values as NumPy prints them (nested brackets,
// one row per line, columns right-aligned). A tensor of more than 1000 elements shows the
// first and last 3 entries of each longer dimension, with "..." between.
#include <algorithm>
#include <functional>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace fusegrad {

namespace detail {

inline constexpr Index print_threshold = 1000;  // more elements than this are abbreviated
inline constexpr Index print_edge = 3;          // entries kept at each end of a dimension

// The layout of the printed values, apart from the element type: `cell(k)` formats the
// element at row-major position k.
class NestedPrinter {
 public:
  NestedPrinter(std::vector<Index> dims, std::function<std::string(Index)> cell)
      : dims_(std::move(dims)), strides_(dims_.size(), 1), cell_(std::move(cell)) {
    Index size = 1;
    for (Index d : dims_) size *= d;
    abbreviate_ = size > print_threshold;
    for (std::size_t d = dims_.size(); d-- > 1;) strides_[d - 1] = strides_[d] * dims_[d];
  }

  void write(std::ostream& out) const {
    if (dims_.empty()) {
      out << cell_(0);
      return;
    }
    if (std::find(dims_.begin(), dims_.end(), Index(0)) != dims_.end()) {
      out << "[]";  // as NumPy prints any empty array
      return;
    }
    std::size_t width = 0;
    visit(0, 0, [&](Index k) { width = std::max(width, cell_(k).size()); });
    write_block(out, 0, 0, width);
  }

 private:
  // Positions shown along dimension d, with -1 where "..." stands for the rest.
  std::vector<Index> shown(std::size_t d) const {
    std::vector<Index> positions;
    const Index n = dims_[d];
    if (abbreviate_ && n > 2 * print_edge) {
      for (Index i = 0; i < print_edge; ++i) positions.push_back(i);
      positions.push_back(-1);
      for (Index i = n - print_edge; i < n; ++i) positions.push_back(i);
    } else {
      for (Index i = 0; i < n; ++i) positions.push_back(i);
    }
    return positions;
  }

  void visit(std::size_t d, Index offset, const std::function<void(Index)>& f) const {
    for (Index i : shown(d)) {
      if (i < 0) continue;
      if (d + 1 == dims_.size())
        f(offset + i);
      else
        visit(d + 1, offset + i * strides_[d], f);
    }
  }

  void write_block(std::ostream& out, std::size_t d, Index offset, std::size_t width) const {
    const std::size_t rank = dims_.size();
    const bool innermost = d + 1 == rank;
    // Rows end their line; blocks of rows are also separated by blank lines, one per
    // level above the rows, and the next one is indented under its opening bracket.
    const std::string separator =
        innermost ? ", " : "," + std::string(rank - 1 - d, '\n') + std::string(d + 1, ' ');
    out << '[';
    bool first = true;
    for (Index i : shown(d)) {
      if (!first) out << separator;
      first = false;
      if (i < 0)
        out << "...";
      else if (innermost)
        out << std::setw(static_cast<int>(width)) << cell_(offset + i);
      else
        write_block(out, d + 1, offset + i * strides_[d], width);
    }
    out << ']';
  }

  std::vector<Index> dims_;
  std::vector<Index> strides_;
  std::function<std::string(Index)> cell_;
  bool abbreviate_ = false;
};

template <class S>
std::string scalar_name() {
  if constexpr (is_dual<S>)
    return "Dual<" + scalar_name<typename real_of<S>::type>() + ">";
  else if constexpr (std::is_same_v<S, float>)
    return "float";
  else if constexpr (std::is_same_v<S, double>)
    return "double";
  else
    return "long double";
}

}  // namespace detail

/// Prints, for example,
///   Tensor<double, 2> shape (2, 3) requires_grad=false
///   [[1, 2, 3],
///    [4, 5, 6]]
/// Numbers take the stream's precision (6 significant digits unless set); a dual tensor
/// prints each element as value+tangent*e.
template <class S, int R>
std::ostream& operator<<(std::ostream& out, const Tensor<S, R>& t) {
  const Shape<R> dims = t.dimensions();
  out << "Tensor<" << detail::scalar_name<S>() << ", " << R << "> shape " << format_shape(dims)
      << " requires_grad=" << (t.requires_grad() ? "true" : "false") << '\n';
  const S* data = t.data();
  const auto precision = out.precision();
  detail::NestedPrinter(std::vector<Index>(dims.begin(), dims.end()), [data, precision](Index k) {
    std::ostringstream cell;
    cell.precision(precision);
    cell << data[k];
    return cell.str();
  }).write(out);
  return out;
}

}  // namespace fusegrad
