// SPDX-License-Identifier: MPL-2.0
#pragma once
// Data-parallel training over MPI: every process (rank) holds the whole model and a
// shard of the data, computes the gradient of its shard, and the ranks average their
// gradients before each optimizer step, so that all of them take the same step.
//
//   MPI_Init(&argc, &argv);
//   fg::distributed::data_parallel<double> group({W1, b1, W2, b2});
//   group.broadcast_parameters();                       // everyone starts from rank 0's
//   const auto mine = group.shard_of(examples);         // [begin, end) of the data set
//   for (...) {
//     optimizer.zero_grad();
//     loss(my batch).backward();
//     group.average_gradients(my_batch_size);           // weighted: the full batch's mean
//     optimizer.step();
//   }
//
// Gradients travel packed into one contiguous buffer per bucket of at most
// bucket_elements values (MPI_Allreduce in place), not one message per tensor. With two
// ranks the sums are exact to the last bit in either order; with more, MPI's reduction
// order decides the rounding, as it does for every MPI program.
//
// Not included by fusegrad.hpp: it needs <mpi.h> and an MPI library (Debian:
// libopenmpi-dev; CMake: find_package(MPI), target MPI::MPI_CXX).
#include <mpi.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "../optim/parameter.hpp"

namespace fusegrad::distributed {

/// The part [begin, end) of a data set that one rank handles.
struct shard {
  Index begin = 0;  ///< first example
  Index end = 0;    ///< one past the last
  /// end - begin.
  Index size() const { return end - begin; }
};

/// The shard of n examples for `rank` of `ranks`: contiguous, in rank order, sizes
/// differing by at most one.
inline shard shard_of(Index n, int rank, int ranks) {
  const Index base = n / ranks, extra = n % ranks;
  const Index begin = rank * base + std::min<Index>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

/// One model replicated over the ranks of an MPI communicator.
template <class S = double>
class data_parallel {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>,
                "fusegrad: data_parallel averages float or double parameters");

 public:
  /// The parameters, in the same order and shapes on every rank (checked: a graph_error on
  /// every rank otherwise). Collective: every rank of `communicator` must construct it.
  data_parallel(optim::ParameterList<S> parameters, MPI_Comm communicator = MPI_COMM_WORLD,
                Index bucket_elements = Index(1) << 20)
      : parameters_(std::move(parameters)), communicator_(communicator) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) throw graph_error("fusegrad: data_parallel before MPI_Init");
    if (bucket_elements < 1) throw shape_error("fusegrad: data_parallel: bucket_elements must be at least 1");
    MPI_Comm_rank(communicator_, &rank_);
    MPI_Comm_size(communicator_, &ranks_);
    // The same list everywhere: its length and a checksum of its sizes agree on all ranks.
    long long layout[2] = {static_cast<long long>(parameters_.size()), 0};
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      layout[1] = layout[1] * 1000003LL + static_cast<long long>(parameters_[k].size());
      total_ += parameters_[k].size();
    }
    long long lowest[2], highest[2];
    MPI_Allreduce(layout, lowest, 2, MPI_LONG_LONG, MPI_MIN, communicator_);
    MPI_Allreduce(layout, highest, 2, MPI_LONG_LONG, MPI_MAX, communicator_);
    if (lowest[0] != highest[0] || lowest[1] != highest[1])
      throw graph_error("fusegrad: data_parallel: the ranks hold different parameter lists (count or sizes differ); "
                        "every rank must pass the same model");
    // One bucket's values, plus the weight that travels with the gradients.
    buffer_.resize(std::size_t(std::min(total_, bucket_elements) + 1));
  }

  /// This process's rank.
  int rank() const { return rank_; }
  /// The number of ranks.
  int size() const { return ranks_; }
  /// This rank's shard of n examples (shard_of(n, rank(), size())).
  shard shard_of(Index n) const { return distributed::shard_of(n, rank_, ranks_); }

  /// Every rank's parameters become `root`'s (collective). A change of the values: graphs
  /// recorded before cannot be differentiated after it.
  void broadcast_parameters(int root = 0) {
    for_each_bucket([&](Index count) {
      if (rank_ == root) pack([](optim::Parameter<S>& p) { return p.read_values(); }, count);
      MPI_Bcast(buffer_.data(), int(count), type(), root, communicator_);
      unpack([](optim::Parameter<S>& p) { return p.values(); }, count);
    });
  }

  /// Replaces every rank's gradients by their weighted mean over the ranks,
  /// sum(weight_r g_r) / sum(weight_r) (collective). With weight = the number of examples
  /// in this rank's batch and g the gradient of this batch's mean loss, that is the
  /// gradient of the mean loss over all ranks' batches: a full-batch step. A parameter
  /// that no backward reached counts as a zero gradient. A total weight of 0 (no rank had
  /// examples) leaves zeros.
  void average_gradients(S weight = S(1)) {
    bool first_bucket = true;
    S total_weight = 0;
    for_each_bucket([&](Index count) {
      pack([](optim::Parameter<S>& p) { return static_cast<const S*>(p.mutable_gradient()); }, count);
      for (Index i = 0; i < count; ++i) buffer_[std::size_t(i)] *= weight;
      buffer_[std::size_t(count)] = weight;
      MPI_Allreduce(MPI_IN_PLACE, buffer_.data(), int(count + 1), type(), MPI_SUM, communicator_);
      if (first_bucket) total_weight = buffer_[std::size_t(count)], first_bucket = false;
      const S scale = total_weight != S(0) ? S(1) / total_weight : S(0);
      for (Index i = 0; i < count; ++i) buffer_[std::size_t(i)] *= scale;
      unpack([](optim::Parameter<S>& p) { return p.mutable_gradient(); }, count);
    });
  }

 private:
  static MPI_Datatype type() { return std::is_same_v<S, double> ? MPI_DOUBLE : MPI_FLOAT; }

  // Calls f(count) for consecutive buckets of the flattened parameters, after setting
  // cursor_ to the bucket's start; pack/unpack move between the bucket and the tensors.
  template <class F>
  void for_each_bucket(const F& f) {
    const Index capacity = Index(buffer_.size()) - 1;
    for (Index start = 0; start < total_; start += capacity) {
      cursor_ = start;
      f(std::min(capacity, total_ - start));
    }
  }
  // Visits the parameters' elements [cursor_, cursor_ + count) with their flat offsets.
  template <class Visit>
  void visit(Index count, const Visit& visit_range) {
    Index offset = 0;
    for (optim::Parameter<S>& p : parameters_) {
      const Index first = std::max(cursor_, offset), last = std::min(cursor_ + count, offset + p.size());
      if (first < last) visit_range(p, first - offset, last - first, first - cursor_);
      offset += p.size();
    }
  }
  template <class Source>
  void pack(const Source& source, Index count) {
    visit(count, [&](optim::Parameter<S>& p, Index from, Index n, Index to) {
      std::copy_n(source(p) + from, n, buffer_.data() + to);
    });
  }
  template <class Destination>
  void unpack(const Destination& destination, Index count) {
    visit(count, [&](optim::Parameter<S>& p, Index from, Index n, Index to) {
      std::copy_n(buffer_.data() + to, n, destination(p) + from);
    });
  }

  optim::ParameterList<S> parameters_;
  MPI_Comm communicator_;
  int rank_ = 0, ranks_ = 1;
  Index total_ = 0, cursor_ = 0;
  std::vector<S> buffer_;
};

}  // namespace fusegrad::distributed
