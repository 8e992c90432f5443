// Data-parallel training over MPI (fusegrad/distributed/mpi.hpp): steps per second of
// an MLP 784-256-10 (tanh, softmax cross-entropy) on a global batch of 256 examples,
// split over the ranks, one thread each; the ranks average their gradients (one packed
// all-reduce of the 203,530 parameters) and take an Adam step.
//
//   mpiexec -n 1 data_parallel_bench;  mpiexec -n 2 data_parallel_bench
//   (or: cmake --build build/release --target run_data_parallel_bench)
//
// Rank 0 prints one line: ranks, steps per second, milliseconds per step, and the share
// of a step spent in the all-reduce. The data are synthetic (fixed pseudo-random pixels
// and labels): the bench measures time, not learning.
#include <fusegrad/distributed/mpi.hpp>
#include <fusegrad/fusegrad.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

namespace fg = fusegrad;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  constexpr fg::Index global_batch = 256, inputs = 784, hidden = 256, classes = 10;
  constexpr int warmup = 5, steps = 40;

  auto w1 = fg::Tensor<float, 2>::random(fg::Shape<2>{inputs, hidden});
  auto w2 = fg::Tensor<float, 2>::random(fg::Shape<2>{hidden, classes});
  auto b1 = fg::Tensor<float, 1>::constant({hidden}, 0.0f);
  auto b2 = fg::Tensor<float, 1>::constant({classes}, 0.0f);
  for (auto* w : {&w1, &w2}) w->mutable_value() = w->value() * 0.05f;
  for (auto* t : {&w1, &w2}) t->requires_grad(true);
  for (auto* t : {&b1, &b2}) t->requires_grad(true);

  fg::distributed::data_parallel<float> group({w1, b1, w2, b2});
  group.broadcast_parameters();
  const fg::distributed::shard mine = group.shard_of(global_batch);
  auto x = fg::Tensor<float, 2>::random(fg::Shape<2>{mine.size(), inputs});
  std::vector<int> labels(std::size_t(mine.size()));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = int((i * 7 + std::size_t(mine.begin)) % classes);

  fg::optim::Adam<float> adam({w1, b1, w2, b2}, {.lr = 1e-3});
  double reduce_seconds = 0;
  std::chrono::steady_clock::time_point start;
  for (int step = 0; step < warmup + steps; ++step) {
    if (step == warmup) {
      MPI_Barrier(MPI_COMM_WORLD);
      start = std::chrono::steady_clock::now();
      reduce_seconds = 0;
    }
    adam.zero_grad();
    fg::Tensor<float, 2> h = fg::tanh(fg::matmul(x, w1) + b1);
    fg::Tensor<float, 0> loss = fg::cross_entropy(fg::matmul(h, w2) + b2, labels);
    loss.backward();
    const auto reduce_start = std::chrono::steady_clock::now();
    group.average_gradients(float(mine.size()));
    reduce_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_start).count();
    adam.step();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (group.rank() == 0)
    std::printf("ranks %d | global batch %ld | %.1f steps/s | %.2f ms/step | all-reduce %.0f%% of a step\n",
                group.size(), long(global_batch), steps / seconds, 1e3 * seconds / steps,
                100 * reduce_seconds / seconds);
  MPI_Finalize();
  return 0;
}
