// salient/layers/normalization.hpp — LayerNorm and BatchNorm1D, on vectors or sequences.
//
// LayerNorm<F>: per row (a sample, or one step of one sample) over its F features:
//   μ = mean_f x,  σ² = mean_f (x − μ)²,  x̂ = (x − μ) / √(σ² + eps),  y = γ ⊙ x̂ + β
//   params: γ (F), β (F) — as PyTorch's LayerNorm(F).weight/.bias. Padded steps: y = 0.
//
// BatchNorm1D<F>: per feature, statistics over the rows of the batch — for sequences over the
//   valid steps of all samples only (padded steps never enter a mean or a variance):
//   Training : μ, σ² (biased) from the batch; running_mean ← (1−m)·running_mean + m·μ,
//              running_var ← (1−m)·running_var + m·σ²·N/(N−1)   (unbiased, as PyTorch)
//   Inference: μ = running_mean, σ² = running_var
//   y = γ ⊙ (x − μ) / √(σ² + eps) + β.  params: γ (F), β (F). The running statistics are
//   non-trainable state held by the layer (not in the flat parameter buffer): save/load must
//   store them (running_mean(), running_var()).
//
// Backward follows the mode of the last forward (inference: the affine map with running stats).
#pragma once

#include <cmath>
#include <string>

#include "../core/layer.hpp"

namespace salient {

namespace detail {
/// Row r of a (T, B, F) flat matrix is valid if its step r / B is below the sample's length.
struct RowMask {
  const Lengths* lengths = nullptr;  // null: every row is valid (vectors)
  Index B = 1;
  bool operator()(Index r) const { return !lengths || r / B < (*lengths)[std::size_t(r % B)]; }
};
}  // namespace detail

template <int F, class S = float>
class LayerNorm {
  static_assert(F == Dynamic || F > 0, "LayerNorm: the feature size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Any;
  static constexpr Shape output_shape = Shape::Any;
  static constexpr int input_size = F;
  static constexpr int output_size = F;
  template <class T>
  using rebind = LayerNorm<F, T>;

  LayerNorm() requires(F != Dynamic) : LayerNorm(F) {}
  explicit LayerNorm(Index features, double eps = 1e-5) : f_(features), eps_(eps) {
    require_shape(features > 0, "LayerNorm: the feature size must be positive, got ", features);
    require_shape(F == Dynamic || features == F, "LayerNorm<", F, ">: features=", features,
                  " differs from the template size");
    require_arg(eps > 0, "LayerNorm: eps must be positive, got ", eps);
  }

  Index input_features() const { return f_; }
  Index output_features(Index) const { return f_; }
  Index num_params() const { return 2 * f_; }
  double eps() const { return eps_; }
  std::string name() const { return detail::concat("LayerNorm<", f_, ">"); }
  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  void init(Rng&) {
    gamma().setOnes();
    beta().setZero();
  }
  VectorMap<S> gamma() { return {p_, f_}; }
  ConstVectorMap<S> gamma() const { return {p_, f_}; }
  VectorMap<S> beta() { return {p_ + f_, f_}; }
  ConstVectorMap<S> beta() const { return {p_ + f_, f_}; }

  void forward(const RowMatrix<S>& x, RowMatrix<S>& y, Mode) {
    check_features(name(), "input", f_, x.cols());
    ensure_shape(y, x.rows(), f_);
    run_forward(x.data(), y.data(), x.rows(), {});
  }
  void backward(const RowMatrix<S>&, const RowMatrix<S>&, const RowMatrix<S>& dy, RowMatrix<S>* dx) {
    run_backward(dy.data(), dx ? dx->data() : nullptr, dy.rows(), {});
  }
  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode) {
    check_features(name(), "input", f_, x.features());
    ensure_shape(y.values, x.steps(), x.batch(), f_);
    y.lengths = x.lengths;
    run_forward(x.values.data(), y.values.data(), x.steps() * x.batch(), {&x.lengths, x.batch()});
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>&, const Tensor3<S>& dy, Tensor3<S>* dx) {
    run_backward(dy.data(), dx ? dx->data() : nullptr, x.steps() * x.batch(), {&x.lengths, x.batch()});
  }

 private:
  void run_forward(const S* x, S* y, Index N, detail::RowMask valid) {
    ensure_shape(xhat_, N, f_);
    rstd_.setZero(N);
    for (Index r = 0; r < N; ++r) {
      auto xh = xhat_.row(r);
      Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>> yr(y + r * f_, f_);
      if (!valid(r)) {
        xh.setZero();
        yr.setZero();
        continue;
      }
      Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>> xr(x + r * f_, f_);
      const S mu = xr.mean();
      xh = xr.array() - mu;
      const S rstd = S(1) / std::sqrt(xh.squaredNorm() / S(f_) + S(eps_));
      rstd_[r] = rstd;
      xh *= rstd;
      yr = xh.cwiseProduct(gamma().transpose()) + beta().transpose();
    }
  }
  // g = dy ⊙ γ;  dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂));  dγ += Σ dy ⊙ x̂;  dβ += Σ dy
  void run_backward(const S* dy, S* dx, Index N, detail::RowMask valid) {
    Eigen::Matrix<S, 1, Eigen::Dynamic> g(f_);
    for (Index r = 0; r < N; ++r) {
      if (!valid(r)) continue;
      Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>> dyr(dy + r * f_, f_);
      const auto xh = xhat_.row(r);
      if (g_) {
        VectorMap<S>(g_, f_) += dyr.cwiseProduct(xh).transpose();
        VectorMap<S>(g_ + f_, f_) += dyr.transpose();
      }
      if (dx) {
        g = dyr.cwiseProduct(gamma().transpose());
        const S mg = g.mean(), mgx = g.dot(xh) / S(f_);
        Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>(dx + r * f_, f_) +=
            rstd_[r] * (g.array() - mg - xh.array() * mgx).matrix();
      }
    }
  }

  Index f_;
  double eps_;
  S* p_ = nullptr;
  S* g_ = nullptr;
  RowMatrix<S> xhat_;
  Vector<S> rstd_;
};

/// Run-time options of BatchNorm1D.
struct BatchNormOptions {
  double momentum = 0.1;
  double eps = 1e-5;
};

template <int F, class S = float>
class BatchNorm1D {
  static_assert(F == Dynamic || F > 0, "BatchNorm1D: the feature size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Any;
  static constexpr Shape output_shape = Shape::Any;
  static constexpr int input_size = F;
  static constexpr int output_size = F;
  template <class T>
  using rebind = BatchNorm1D<F, T>;

  BatchNorm1D() requires(F != Dynamic) : BatchNorm1D(F) {}
  explicit BatchNorm1D(BatchNormOptions opt) requires(F != Dynamic) : BatchNorm1D(F, opt) {}
  explicit BatchNorm1D(Index features, BatchNormOptions opt = {}) : f_(features), opt_(opt) {
    require_shape(features > 0, "BatchNorm1D: the feature size must be positive, got ", features);
    require_shape(F == Dynamic || features == F, "BatchNorm1D<", F, ">: features=", features,
                  " differs from the template size");
    require_arg(opt.momentum >= 0 && opt.momentum <= 1 && opt.eps > 0,
                "BatchNorm1D: need 0 <= momentum <= 1 and eps > 0, got ", opt.momentum, " and ", opt.eps);
    reset_running_stats();
  }

  Index input_features() const { return f_; }
  Index output_features(Index) const { return f_; }
  Index num_params() const { return 2 * f_; }
  const BatchNormOptions& options() const { return opt_; }
  std::string name() const { return detail::concat("BatchNorm1D<", f_, ">"); }
  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  /// γ = 1, β = 0 and fresh running statistics (mean 0, variance 1).
  void init(Rng&) {
    gamma().setOnes();
    beta().setZero();
    reset_running_stats();
  }
  VectorMap<S> gamma() { return {p_, f_}; }
  ConstVectorMap<S> gamma() const { return {p_, f_}; }
  VectorMap<S> beta() { return {p_ + f_, f_}; }
  ConstVectorMap<S> beta() const { return {p_ + f_, f_}; }

  /// Non-trainable state (save/load must include it). Writable for loading.
  Vector<S>& running_mean() { return running_mean_; }
  const Vector<S>& running_mean() const { return running_mean_; }
  Vector<S>& running_var() { return running_var_; }
  const Vector<S>& running_var() const { return running_var_; }
  void reset_running_stats() {
    running_mean_.setZero(f_);
    running_var_.setOnes(f_);
  }

  void forward(const RowMatrix<S>& x, RowMatrix<S>& y, Mode mode) {
    check_features(name(), "input", f_, x.cols());
    ensure_shape(y, x.rows(), f_);
    run_forward(x.data(), y.data(), x.rows(), {}, mode);
  }
  void backward(const RowMatrix<S>&, const RowMatrix<S>&, const RowMatrix<S>& dy, RowMatrix<S>* dx) {
    run_backward(dy.data(), dx ? dx->data() : nullptr, dy.rows(), {});
  }
  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode mode) {
    check_features(name(), "input", f_, x.features());
    ensure_shape(y.values, x.steps(), x.batch(), f_);
    y.lengths = x.lengths;
    run_forward(x.values.data(), y.values.data(), x.steps() * x.batch(), {&x.lengths, x.batch()}, mode);
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>&, const Tensor3<S>& dy, Tensor3<S>* dx) {
    run_backward(dy.data(), dx ? dx->data() : nullptr, x.steps() * x.batch(), {&x.lengths, x.batch()});
  }

 private:
  using Row = Eigen::Matrix<S, 1, Eigen::Dynamic>;
  using RowMap = Eigen::Map<Row>;
  using ConstRowMap = Eigen::Map<const Row>;

  void run_forward(const S* x, S* y, Index N, detail::RowMask valid, Mode mode) {
    training_ = mode == Mode::Training;
    Row mean = Row::Zero(f_), var = Row::Zero(f_);
    if (training_) {
      Index n = 0;
      for (Index r = 0; r < N; ++r)
        if (valid(r)) {
          mean += ConstRowMap(x + r * f_, f_);
          ++n;
        }
      mean /= S(n);
      for (Index r = 0; r < N; ++r)
        if (valid(r)) var += (ConstRowMap(x + r * f_, f_) - mean).array().square().matrix();
      var /= S(n);
      count_ = n;
      const S m = S(opt_.momentum);
      running_mean_ = (S(1) - m) * running_mean_ + m * mean.transpose();
      const S unbias = n > 1 ? S(n) / S(n - 1) : S(1);
      running_var_ = (S(1) - m) * running_var_ + (m * unbias) * var.transpose();
    } else {
      mean = running_mean_.transpose();
      var = running_var_.transpose();
    }
    rstd_ = (var.array() + S(opt_.eps)).rsqrt().matrix();
    ensure_shape(xhat_, N, f_);
    for (Index r = 0; r < N; ++r) {
      RowMap yr(y + r * f_, f_);
      if (!valid(r)) {
        xhat_.row(r).setZero();
        yr.setZero();
        continue;
      }
      xhat_.row(r) = (ConstRowMap(x + r * f_, f_) - mean).cwiseProduct(rstd_);
      yr = xhat_.row(r).cwiseProduct(gamma().transpose()) + beta().transpose();
    }
  }
  // Training: dx = γ·rstd/N · (N·dy − Σ dy − x̂ ⊙ Σ(dy ⊙ x̂));  inference: dx = γ·rstd ⊙ dy.
  void run_backward(const S* dy, S* dx, Index N, detail::RowMask valid) {
    Row sum_dy = Row::Zero(f_), sum_dyx = Row::Zero(f_);
    for (Index r = 0; r < N; ++r)
      if (valid(r)) {
        ConstRowMap d(dy + r * f_, f_);
        sum_dy += d;
        sum_dyx += d.cwiseProduct(xhat_.row(r));
      }
    if (g_) {
      VectorMap<S>(g_, f_) += sum_dyx.transpose();
      VectorMap<S>(g_ + f_, f_) += sum_dy.transpose();
    }
    if (!dx) return;
    const Row k = gamma().transpose().cwiseProduct(rstd_);
    const S invn = training_ ? S(1) / S(count_) : S(0);
    for (Index r = 0; r < N; ++r)
      if (valid(r)) {
        ConstRowMap d(dy + r * f_, f_);
        RowMap out(dx + r * f_, f_);
        if (training_)
          out += k.cwiseProduct(d - invn * sum_dy - invn * xhat_.row(r).cwiseProduct(sum_dyx));
        else
          out += k.cwiseProduct(d);
      }
  }

  Index f_;
  BatchNormOptions opt_;
  S* p_ = nullptr;
  S* g_ = nullptr;
  Vector<S> running_mean_, running_var_;
  bool training_ = false;
  Index count_ = 0;
  Row rstd_;
  RowMatrix<S> xhat_;
};

}  // namespace salient
