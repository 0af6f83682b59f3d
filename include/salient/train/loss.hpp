// salient/train/loss.hpp — losses on logits with fused, numerically stable gradients.
//
// Every loss returns the mean loss over the batch and, when `grad` is non-null, writes (not
// adds) d(loss)/d(logits) into it, already divided by the same normaliser as the loss.
#pragma once

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace salient {

/// Numerically stable log(1 + exp(x)).
template <class S>
S softplus(S x) {
  return x > S(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
/// Stable logistic function.
template <class S>
S sigmoid(S x) {
  if (x >= S(0)) return S(1) / (S(1) + std::exp(-x));
  const S e = std::exp(x);
  return e / (S(1) + e);
}
/// Row-wise softmax of logits (B, K), stable for any finite logits.
template <class S>
RowMatrix<S> softmax(const RowMatrix<S>& logits) {
  RowMatrix<S> p = (logits.colwise() - logits.rowwise().maxCoeff()).array().exp().matrix();
  p.array().colwise() /= p.rowwise().sum().array();
  return p;
}

namespace detail {
template <class S>
void check_logits(const RowMatrix<S>& logits, const char* loss) {
  if (!logits.allFinite()) {
    for (Index i = 0; i < logits.rows(); ++i)
      for (Index j = 0; j < logits.cols(); ++j)
        if (!std::isfinite(logits(i, j)))
          fail<NumericError>(loss, ": logit (", i, ", ", j, ") is ", logits(i, j));
  }
}
}  // namespace detail

/// Softmax cross-entropy for one class per sample.
///   loss_b = -Σ_k q_bk log p_bk,  q = (1-ε)·onehot + ε/K  (label smoothing ε)
///   loss   = Σ_b w_{y_b} loss_b / Σ_b w_{y_b}  (class weights w, default 1; PyTorch's rule)
///   dloss/dlogits_b = w_{y_b} (p_b - q_b) / Σ w
struct SoftmaxCrossEntropy {
  std::vector<double> class_weights;  // empty = all 1
  double label_smoothing = 0.0;

  template <class S>
  S operator()(const RowMatrix<S>& logits, const std::vector<Index>& classes, std::type_identity_t<RowMatrix<S>>* grad = nullptr) const {
    const Index B = logits.rows(), K = logits.cols();
    require_shape(Index(classes.size()) == B, "SoftmaxCrossEntropy: ", classes.size(),
                  " targets for ", B, " rows of logits");
    require_arg(class_weights.empty() || Index(class_weights.size()) == K,
                "SoftmaxCrossEntropy: ", class_weights.size(), " class weights for ", K, " classes");
    require_arg(label_smoothing >= 0.0 && label_smoothing < 1.0,
                "SoftmaxCrossEntropy: label_smoothing must be in [0, 1), got ", label_smoothing);
    detail::check_logits(logits, "SoftmaxCrossEntropy");
    if (grad) ensure_shape(*grad, B, K);
    const double eps = label_smoothing;
    double total = 0.0, wsum = 0.0;
    for (Index b = 0; b < B; ++b) {
      const Index y = classes[std::size_t(b)];
      require_arg(y >= 0 && y < K, "SoftmaxCrossEntropy: target ", y, " of row ", b,
                  " is outside [0, ", K, ")");
      wsum += class_weights.empty() ? 1.0 : class_weights[std::size_t(y)];
    }
    require_arg(wsum > 0.0, "SoftmaxCrossEntropy: the class weights of this batch sum to 0");
    for (Index b = 0; b < B; ++b) {
      const Index y = classes[std::size_t(b)];
      const double w = class_weights.empty() ? 1.0 : class_weights[std::size_t(y)];
      const double m = double(logits.row(b).maxCoeff());
      double z = 0.0;
      for (Index k = 0; k < K; ++k) z += std::exp(double(logits(b, k)) - m);
      const double lse = m + std::log(z);
      double lb = 0.0;
      for (Index k = 0; k < K; ++k) {
        const double q = (k == y ? 1.0 - eps : 0.0) + eps / double(K);
        const double logp = double(logits(b, k)) - lse;
        lb -= q * logp;
        if (grad) (*grad)(b, k) = S(w * (std::exp(logp) - q) / wsum);
      }
      total += w * lb;
    }
    return S(total / wsum);
  }
};

/// Sigmoid binary cross-entropy on logits, for multi-label targets t ∈ {0,1} (or soft) (B, K):
///   loss_bk = pw_k · t · softplus(-z) + (1 - t) · softplus(z)     (pos_weight pw, default 1)
///   loss    = mean over all B·K entries;   dloss/dz = (pw·t·(σ(z)-1) + (1-t)·σ(z)) / (B·K)
struct SigmoidBinaryCrossEntropy {
  std::vector<double> pos_weight;  // per label; empty = all 1

  template <class S>
  S operator()(const RowMatrix<S>& logits, const RowMatrix<S>& targets, std::type_identity_t<RowMatrix<S>>* grad = nullptr) const {
    const Index B = logits.rows(), K = logits.cols();
    require_shape(targets.rows() == B && targets.cols() == K, "SigmoidBinaryCrossEntropy: targets are ",
                  targets.rows(), "x", targets.cols(), ", logits are ", B, "x", K);
    require_arg(pos_weight.empty() || Index(pos_weight.size()) == K, "SigmoidBinaryCrossEntropy: ",
                pos_weight.size(), " pos_weight values for ", K, " labels");
    detail::check_logits(logits, "SigmoidBinaryCrossEntropy");
    if (grad) ensure_shape(*grad, B, K);
    const double n = double(B * K);
    double total = 0.0;
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < K; ++k) {
        const double z = double(logits(b, k)), t = double(targets(b, k));
        const double pw = pos_weight.empty() ? 1.0 : pos_weight[std::size_t(k)];
        total += pw * t * softplus(-z) + (1.0 - t) * softplus(z);
        if (grad) {
          const double s = sigmoid(z);
          (*grad)(b, k) = S((pw * t * (s - 1.0) + (1.0 - t) * s) / n);
        }
      }
    return S(total / n);
  }
};

/// Mean squared error: loss = mean (y - t)², dloss/dy = 2 (y - t) / (B·K).
struct MeanSquaredError {
  template <class S>
  S operator()(const RowMatrix<S>& y, const RowMatrix<S>& targets, std::type_identity_t<RowMatrix<S>>* grad = nullptr) const {
    require_shape(targets.rows() == y.rows() && targets.cols() == y.cols(), "MeanSquaredError: targets are ",
                  targets.rows(), "x", targets.cols(), ", outputs are ", y.rows(), "x", y.cols());
    const double n = double(y.size());
    if (grad) *grad = (S(2) / S(n)) * (y - targets);
    return S((y - targets).squaredNorm() / n);
  }
};

}  // namespace salient
