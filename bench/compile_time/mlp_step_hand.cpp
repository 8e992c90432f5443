// SPDX-License-Identifier: MPL-2.0
// The step of mlp_step_fusegrad.cpp written by hand: Eigen tensors hold the data (as in
// a user's program on Eigen tensors), Eigen's dense matrices compute the forward pass,
// the gradient and the SGD update.
#include <Eigen/Dense>
#include <unsupported/Eigen/CXX11/Tensor>

#include <cmath>
#include <vector>

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;
using Map = Eigen::Map<Matrix>;
using ConstMap = Eigen::Map<const Matrix>;

struct Mlp {
  Eigen::Tensor<float, 2, Eigen::RowMajor> W1{256, 784}, W2{10, 256};
  Vector b1 = Vector::Zero(256), b2 = Vector::Zero(10);
  Matrix H, P, dH, gW1, gW2;
  Vector gb1, gb2;

  Mlp() {
    W1.setRandom();
    W2.setRandom();
  }

  float step(const Eigen::Tensor<float, 2, Eigen::RowMajor>& xt, const std::vector<int>& labels) {
    const ConstMap x(xt.data(), xt.dimension(0), xt.dimension(1));
    Map w1(W1.data(), 256, 784), w2(W2.data(), 10, 256);
    const Eigen::Index batch = x.rows();
    H.noalias() = x * w1.transpose();
    H.rowwise() += b1.transpose();
    H = H.array().tanh();
    P.noalias() = H * w2.transpose();
    P.rowwise() += b2.transpose();
    const Vector rowmax = P.rowwise().maxCoeff();
    float loss = 0;
    for (Eigen::Index i = 0; i < batch; ++i) loss -= P(i, labels[i]);
    P = (P.colwise() - rowmax).array().exp();
    const Vector rowsum = P.rowwise().sum();
    loss = (loss + (rowmax.array() + rowsum.array().log()).sum()) / float(batch);
    P.array().colwise() /= rowsum.array() * float(batch);
    for (Eigen::Index i = 0; i < batch; ++i) P(i, labels[i]) -= 1.0f / float(batch);
    gW2.noalias() = P.transpose() * H;
    gb2 = P.colwise().sum().transpose();
    dH.noalias() = P * w2;
    dH.array() *= 1.0f - H.array().square();
    gW1.noalias() = dH.transpose() * x;
    gb1 = dH.colwise().sum().transpose();
    const float lr = 0.1f;
    w1 -= lr * gW1;
    b1 -= lr * gb1;
    w2 -= lr * gW2;
    b2 -= lr * gb2;
    return loss;
  }
};

int main() {
  Mlp model;
  Eigen::Tensor<float, 2, Eigen::RowMajor> x(128, 784);
  x.setRandom();
  const std::vector<int> labels(128, 3);
  return model.step(x, labels) > 0 ? 0 : 1;
}
