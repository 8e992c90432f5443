#pragma once
// The plain interface between the benchmark and a peer library (libtorch, ADOL-C), so
// that the fusegrad / Eigen translation units never include a peer's headers (compile
// time, macro clashes) and a peer can be left out of the build (its _none stand-in
// returns no peers).
//
// Every factory of a peer copies its inputs once into the peer's own storage; the
// differentiated inputs ("parameters") are numbered in the factory's argument order.
#include <cstddef>
#include <string>

namespace bench {

// The scalar type a peer computes in. Its factory still takes double buffers (a float
// workload passes its inputs widened, exactly), so that one set of factory signatures
// serves both; a peer that has no f32 form (ADOL-C) returns nullptr for it.
enum class Precision { f64, f32 };

class Peer {
 public:
  virtual ~Peer() = default;
  // One timed call: the value and all gradients; returns the value plus one element of
  // each gradient (the caller sinks it so that nothing is optimised away).
  virtual double call() = 0;
  // After call(): the value, and gradient i copied row-major into out (as many doubles
  // as parameter i has; an f32 peer's gradient widened).
  virtual double value() const = 0;
  virtual void gradient(std::size_t i, double* out) const = 0;
  // A short note printed with the detailed results (e.g. an ADOL-C tape's size).
  virtual std::string info() const { return {}; }
};

}  // namespace bench
