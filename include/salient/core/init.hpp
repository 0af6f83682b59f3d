// salient/core/init.hpp — deterministic weight initialisers (all take salient::Rng).
#pragma once

#include <Eigen/QR>
#include <cmath>

#include "random.hpp"
#include "tensor.hpp"

namespace salient::init {

/// Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
template <class Derived>
void glorot_uniform(Eigen::MatrixBase<Derived>&& w, Index fan_in, Index fan_out, Rng& rng) {
  const double a = std::sqrt(6.0 / double(fan_in + fan_out));
  for (Index i = 0; i < w.rows(); ++i)
    for (Index j = 0; j < w.cols(); ++j) w(i, j) = typename Derived::Scalar(rng.uniform(-a, a));
}
template <class Derived>
void glorot_uniform(Eigen::MatrixBase<Derived>& w, Index fan_in, Index fan_out, Rng& rng) {
  glorot_uniform(std::move(w), fan_in, fan_out, rng);
}

/// He/Kaiming normal for ReLU layers: N(0, 2 / fan_in).
template <class Derived>
void he_normal(Eigen::MatrixBase<Derived>&& w, Index fan_in, Rng& rng) {
  const double s = std::sqrt(2.0 / double(fan_in));
  for (Index i = 0; i < w.rows(); ++i)
    for (Index j = 0; j < w.cols(); ++j) w(i, j) = typename Derived::Scalar(rng.normal(0.0, s));
}

/// Uniform U(lo, hi).
template <class Derived>
void uniform(Eigen::MatrixBase<Derived>&& w, double lo, double hi, Rng& rng) {
  for (Index i = 0; i < w.rows(); ++i)
    for (Index j = 0; j < w.cols(); ++j) w(i, j) = typename Derived::Scalar(rng.uniform(lo, hi));
}

/// (Semi-)orthogonal matrix (rows × cols) scaled by `gain`: QR of a Gaussian matrix with the
/// sign of R's diagonal folded in so the distribution is uniform (Saxe et al.).
template <class Derived>
void orthogonal(Eigen::MatrixBase<Derived>&& w, Rng& rng, double gain = 1.0) {
  const Index r = w.rows(), c = w.cols();
  const bool tall = r >= c;
  const Index m = tall ? r : c, n = tall ? c : r;
  Eigen::MatrixXd g(m, n);
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) g(i, j) = rng.normal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(m, n);
  const Eigen::MatrixXd R = qr.matrixQR().topLeftCorner(n, n);
  for (Index j = 0; j < n; ++j)
    if (R(j, j) < 0) q.col(j) *= -1.0;
  if (tall)
    w = (gain * q).cast<typename Derived::Scalar>();
  else
    w = (gain * q.transpose()).cast<typename Derived::Scalar>();
}

}  // namespace salient::init
