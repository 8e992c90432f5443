// Optimizers: the update rules PyTorch documents, step by step against the formulas
// written out here in plain arithmetic; state saved and resumed bitwise; corrupt and
// mismatched files refused without changing anything.
#include <fusegrad/fusegrad.hpp>

#include "../support/expectations.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace fg = fusegrad;
namespace optim = fusegrad::optim;
using fg::testing::elements;

namespace {

// A loss with a known gradient: sum(c * p^2) / 2 + sum(p) has gradient c * p + 1.
template <class S, int R>
void backward_quadratic(const fg::Tensor<S, R>& p, S c) {
  fg::Tensor<S, 0> loss = fg::sum(fg::square(p) * (c / S(2)) + p);
  loss.backward();
}

std::string temporary_path(const std::string& name) { return "fusegrad_optim_test_" + name + ".bin"; }

}  // namespace

TEST_CASE_TEMPLATE("SGD with momentum, dampening, Nesterov and weight decay follows PyTorch's rule", S, double, float) {
  for (bool nesterov : {false, true}) {
    fg::Tensor<S, 1> p{S(0.5), S(-1.0)};
    p.requires_grad(true);
    optim::SGDOptions o;
    o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 0.01, o.nesterov = nesterov, o.dampening = nesterov ? 0.0 : 0.2;
    optim::SGD<S> sgd({p}, o);
    std::vector<double> x{0.5, -1.0}, buffer(2);
    for (int t = 0; t < 4; ++t) {
      sgd.zero_grad();
      backward_quadratic(p, S(3));
      sgd.step();
      for (int i = 0; i < 2; ++i) {
        const double d = (3 * x[i] + 1) + 0.01 * x[i];
        buffer[i] = t == 0 ? d : 0.9 * buffer[i] + (1 - o.dampening) * d;
        x[i] -= 0.1 * (nesterov ? d + 0.9 * buffer[i] : buffer[i]);
      }
    }
    const double tolerance = std::is_same_v<S, float> ? 1e-6 : 1e-15;
    for (int i = 0; i < 2; ++i) CHECK(double(p(i)) == doctest::Approx(x[i]).epsilon(tolerance));
  }
}

TEST_CASE_TEMPLATE("Adam and AdamW follow PyTorch's rules, bias correction included", S, double, float) {
  for (bool decoupled : {false, true}) {
    fg::Tensor<S, 2> p{{S(0.5), S(-1.0)}, {S(2.0), S(0.0)}};
    p.requires_grad(true);
    optim::AdamOptions o;
    o.lr = 0.05, o.weight_decay = 0.1;
    std::vector<double> x{0.5, -1.0, 2.0, 0.0}, m(4), v(4);
    auto run = [&](auto& optimizer) {
      for (int t = 1; t <= 5; ++t) {
        optimizer.zero_grad();
        backward_quadratic(p, S(2));
        optimizer.step();
        for (int i = 0; i < 4; ++i) {
          double d = 2 * x[i] + 1;
          if (decoupled)
            x[i] *= 1 - 0.05 * 0.1;
          else
            d += 0.1 * x[i];
          m[i] = 0.9 * m[i] + 0.1 * d;
          v[i] = 0.999 * v[i] + 0.001 * d * d;
          const double step = 0.05 / (1 - std::pow(0.9, t));
          x[i] -= step * m[i] / (std::sqrt(v[i]) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
        }
      }
    };
    if (decoupled) {
      optim::AdamW<S> adam({p}, o);
      run(adam);
      CHECK(adam.steps() == 5);
    } else {
      optim::Adam<S> adam({p}, o);
      run(adam);
    }
    const double tolerance = std::is_same_v<S, float> ? 1e-5 : 1e-13;
    for (int i = 0; i < 4; ++i) CHECK(double(p.data()[i]) == doctest::Approx(x[std::size_t(i)]).epsilon(tolerance));
  }
}

TEST_CASE("AdamW's default weight decay is PyTorch's 0.01") {
  CHECK(optim::AdamW<double>::defaults().weight_decay == 0.01);
}

TEST_CASE("a learning rate changed between steps is used from the next step on") {
  fg::Tensor<double, 1> p{1.0};
  p.requires_grad(true);
  optim::SGD sgd({p}, {.lr = 0.1});
  backward_quadratic(p, 0.0);  // gradient 1
  sgd.step();
  sgd.set_learning_rate(0.5);
  sgd.zero_grad();
  backward_quadratic(p, 0.0);
  sgd.step();
  CHECK(p(0) == doctest::Approx(1.0 - 0.1 - 0.5));
  CHECK_THROWS_AS(sgd.set_learning_rate(-1), std::invalid_argument);
}

TEST_CASE("a parameter that backward did not reach is left alone, and zero_grad clears every gradient") {
  fg::Tensor<double, 1> used{1.0}, unused{2.0};
  used.requires_grad(true);
  unused.requires_grad(true);
  optim::Adam adam({used, unused}, {.lr = 0.1});
  backward_quadratic(used, 1.0);
  adam.step();
  CHECK(unused(0) == 2.0);
  CHECK(used(0) != 1.0);
  adam.zero_grad();
  CHECK_FALSE(used.has_grad());
}

TEST_CASE("a parameter must be a leaf that requires a gradient") {
  fg::Tensor<double, 1> plain{1.0};
  CHECK_THROWS_AS(optim::SGD({plain}), fg::graph_error);
  fg::Tensor<double, 1> leaf{1.0};
  leaf.requires_grad(true);
  fg::Tensor<double, 1> computed = leaf * 2.0;
  CHECK_THROWS_AS(optim::SGD({computed}), fg::graph_error);
}

namespace {

// Least squares on a small batch: y = x w + b, trained with Adam.
struct Model {
  fg::Tensor<double, 2> x = fg::Tensor<double, 2>{{0.1, 0.2}, {0.3, -0.4}, {0.5, 0.9}};
  fg::Tensor<double, 1> y{1.0, -1.0, 0.5};
  fg::Tensor<double, 1> w{0.3, -0.2};
  fg::Tensor<double, 0> b = 0.1;
  Model() {
    w.requires_grad(true);
    b.requires_grad(true);
  }
  template <class O>
  void train(O& optimizer, int steps) {
    for (int s = 0; s < steps; ++s) {
      optimizer.zero_grad();
      fg::Tensor<double, 0> loss = fg::mse(fg::matmul(x, w) + b, y);
      loss.backward();
      optimizer.step();
    }
  }
};

}  // namespace

TEST_CASE("a run saved after 50 steps and resumed ends bitwise where an uninterrupted run ends") {
  Model straight;
  optim::Adam straight_adam({straight.w, straight.b}, {.lr = 0.01});
  straight.train(straight_adam, 100);

  const std::string state = temporary_path("adam_state"), weights = temporary_path("weights");
  {
    Model first;
    optim::Adam adam({first.w, first.b}, {.lr = 0.01});
    first.train(adam, 50);
    adam.save(state);
    optim::save_parameters<double>(weights, {first.w, first.b});
  }
  Model resumed;
  optim::ParameterList<double> parameters{resumed.w, resumed.b};
  optim::load_parameters(weights, parameters);
  optim::Adam adam(parameters, {.lr = 0.01});
  adam.load(state);
  CHECK(adam.steps() == 50);
  resumed.train(adam, 50);
  CHECK(elements(resumed.w.value()) == elements(straight.w.value()));
  CHECK(resumed.b.item() == straight.b.item());
  std::remove(state.c_str());
  std::remove(weights.c_str());
}

TEST_CASE("a corrupt, truncated or mismatched file is refused with a file_error and changes nothing") {
  Model model;
  optim::Adam adam({model.w, model.b}, {.lr = 0.01});
  model.train(adam, 3);
  const std::string path = temporary_path("corrupt");
  adam.save(path);
  const std::vector<double> before = elements(model.w.value());

  // Truncated.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size() - 5));
  }
  optim::Adam other({model.w, model.b}, {.lr = 0.01});
  CHECK_THROWS_AS(other.load(path), fg::file_error);
  CHECK(other.steps() == 0);
  // Another optimizer's file.
  optim::SGD sgd({model.w, model.b}, {.lr = 0.1});
  sgd.save(path);
  CHECK_THROWS_WITH_AS(other.load(path), doctest::Contains("holds sgd, not adam"), fg::file_error);
  // Parameters of other sizes.
  fg::Tensor<double, 1> wide{1.0, 2.0, 3.0};
  wide.requires_grad(true);
  optim::ParameterList<double> mismatched{wide, model.b};
  optim::save_parameters<double>(path, {model.w, model.b});
  CHECK_THROWS_WITH_AS(optim::load_parameters(path, mismatched), doctest::Contains("parameter 0 of shape (3,)"),
                       fg::file_error);
  CHECK(elements(wide.value()) == std::vector<double>{1.0, 2.0, 3.0});
  // Not a file of ours, and no file at all.
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "hello";
  }
  CHECK_THROWS_AS(other.load(path), fg::file_error);
  std::remove(path.c_str());
  CHECK_THROWS_AS(other.load(path), fg::file_error);
  CHECK(elements(model.w.value()) == before);
}
