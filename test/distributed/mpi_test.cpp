// Data-parallel training over MPI (include/fusegrad/distributed/mpi.hpp), run by ctest as
// `mpiexec -n 2`: the ranks' averaged gradients and their parameters after 20 steps
// equal one process's full-batch run, which every rank also computes alone.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <fusegrad/distributed/mpi.hpp>
#include <fusegrad/fusegrad.hpp>

#include <cmath>
#include <vector>

namespace fg = fusegrad;
namespace dist = fusegrad::distributed;

namespace {

constexpr fg::Index examples = 61, inputs = 8, hidden = 16;  // 61: shards of 31 and 30

struct data_set {
  fg::Tensor<double, 2> x{fg::Shape<2>{examples, inputs}};
  fg::Tensor<double, 2> y{fg::Shape<2>{examples, 1}};
  data_set() {
    for (fg::Index i = 0; i < examples; ++i) {
      double target = 0;
      for (fg::Index j = 0; j < inputs; ++j) {
        x.mutable_value()(i, j) = std::sin(0.37 * double(i * inputs + j));
        target += std::cos(double(j) * x.value()(i, j));
      }
      y.mutable_value()(i, 0) = std::tanh(target / 4);
    }
  }
  // Rows [begin, end).
  std::pair<fg::Tensor<double, 2>, fg::Tensor<double, 2>> rows(fg::Index begin, fg::Index end) const {
    fg::no_grad constant;
    return {fg::slice(x, {begin, 0}, {end - begin, inputs}), fg::slice(y, {begin, 0}, {end - begin, 1})};
  }
};

struct model {
  fg::Tensor<double, 2> w1{fg::Shape<2>{inputs, hidden}}, w2{fg::Shape<2>{hidden, 1}};
  fg::Tensor<double, 1> b1{fg::Shape<1>{hidden}};
  // Weights that differ by `salt` (each rank draws its own, and broadcast makes them equal).
  explicit model(int salt) {
    for (fg::Index i = 0; i < w1.size(); ++i) w1.mutable_value().data()[i] = 0.3 * std::sin(double(i + 13 * salt));
    for (fg::Index i = 0; i < w2.size(); ++i) w2.mutable_value().data()[i] = 0.3 * std::cos(double(i + 7 * salt));
    for (fg::Index i = 0; i < b1.size(); ++i) b1.mutable_value().data()[i] = 0.01 * double(i - salt);
    for (auto* t : {&w1, &w2}) t->requires_grad(true);
    b1.requires_grad(true);
  }
  fg::optim::ParameterList<double> parameters() const { return {w1, b1, w2}; }
  fg::Tensor<double, 0> loss(const fg::Tensor<double, 2>& x, const fg::Tensor<double, 2>& y) const {
    fg::Tensor<double, 2> h = fg::tanh(fg::matmul(x, w1) + b1);
    return fg::mse(fg::matmul(h, w2), y);
  }
  std::vector<double> values() const {
    std::vector<double> out;
    for (const auto* t : {&w1, &w2}) out.insert(out.end(), t->data(), t->data() + t->size());
    out.insert(out.end(), b1.data(), b1.data() + b1.size());
    return out;
  }
  std::vector<double> gradients() const {
    std::vector<double> out;
    for (const auto* t : {&w1, &w2}) out.insert(out.end(), t->grad().data(), t->grad().data() + t->size());
    out.insert(out.end(), b1.grad().data(), b1.grad().data() + b1.size());
    return out;
  }
};

double worst_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1e-300));
  return worst;
}

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

}  // namespace

TEST_CASE("shards cover the data set in rank order with sizes differing by at most one") {
  fg::Index next = 0;
  for (int r = 0; r < 3; ++r) {
    const dist::shard s = dist::shard_of(10, r, 3);
    CHECK(s.begin == next);
    CHECK((s.size() == 3 || s.size() == 4));
    next = s.end;
  }
  CHECK(next == 10);
  CHECK(dist::shard_of(1, 1, 2).size() == 0);
}

TEST_CASE("20 data-parallel steps on every rank equal one process's full-batch run to 1e-12") {
  const data_set data;
  // The reference: rank 0's initial weights, the whole data set, one process.
  model alone(0);
  fg::optim::SGD<double> alone_sgd(alone.parameters(), {.lr = 0.2, .momentum = 0.9});
  std::vector<double> alone_first_gradient;
  {
    const auto [x, y] = data.rows(0, examples);
    for (int step = 0; step < 20; ++step) {
      alone_sgd.zero_grad();
      alone.loss(x, y).backward();
      if (step == 0) alone_first_gradient = alone.gradients();
      alone_sgd.step();
    }
  }
  // The same run over the ranks, each starting from weights of its own.
  model replica(world_rank());
  dist::data_parallel<double> group(replica.parameters(), MPI_COMM_WORLD, 50);  // buckets of 50: several
  REQUIRE(group.size() >= 1);
  group.broadcast_parameters();
  CHECK(worst_relative_difference(replica.values(), model(0).values()) == 0.0);
  fg::optim::SGD<double> sgd(replica.parameters(), {.lr = 0.2, .momentum = 0.9});
  const dist::shard mine = group.shard_of(examples);
  const auto [x, y] = data.rows(mine.begin, mine.end);
  for (int step = 0; step < 20; ++step) {
    sgd.zero_grad();
    replica.loss(x, y).backward();
    group.average_gradients(double(mine.size()));
    if (step == 0) {
      INFO("rank ", group.rank(), " of ", group.size());
      CHECK(worst_relative_difference(replica.gradients(), alone_first_gradient) <= 1e-12);
    }
    sgd.step();
  }
  INFO("rank ", group.rank(), " of ", group.size());
  CHECK(worst_relative_difference(replica.values(), alone.values()) <= 1e-12);
}

TEST_CASE("ranks that pass different parameter lists get a graph_error on every rank") {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (ranks < 2) return;
  fg::Tensor<double, 1> p(fg::Shape<1>{world_rank() == 0 ? 3 : 4});
  p.requires_grad(true);
  CHECK_THROWS_AS(dist::data_parallel<double>({p}), fg::graph_error);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  doctest::Context context(argc, argv);
  const int failed = context.run();
  MPI_Finalize();
  return failed;
}
