// salient/train/optimizer.hpp — optimizers and clipping over the flat parameter buffer.
//
// Each optimizer updates `params` in place from `grads` (same layout); its state (momentum,
// moments) is one flat vector per kind, so checkpointing is a plain copy.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace salient {

/// Scale grads so that their global L2 norm is at most max_norm. Returns the norm before
/// clipping. Throws NumericError if the norm is not finite.
template <class S>
double clip_grad_norm(VectorMap<S> grads, double max_norm) {
  const double norm = std::sqrt(double(grads.template cast<double>().squaredNorm()));
  if (!std::isfinite(norm)) fail<NumericError>("clip_grad_norm: gradient norm is ", norm);
  if (max_norm > 0.0 && norm > max_norm) grads *= S(max_norm / (norm + 1e-12));
  return norm;
}

/// Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.
///   g ← g + λθ;  v ← μv + g;  θ ← θ − lr·(nesterov ? g + μv : v)
template <class S = float>
struct SGD {
  double lr = 0.01, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
  Vector<S> velocity;
  long long steps = 0;

  static constexpr const char* name = "SGD";
  void step(VectorMap<S> params, const Eigen::Ref<const Vector<S>>& grads) {
    require_arg(lr >= 0.0 && momentum >= 0.0, "SGD: lr and momentum must be >= 0");
    if (momentum > 0.0 && velocity.size() != params.size()) velocity.setZero(params.size());
    const S lr_ = S(lr), mu = S(momentum), wd = S(weight_decay);
    for (Index i = 0; i < params.size(); ++i) {
      S g = grads[i] + wd * params[i];
      if (momentum > 0.0) {
        velocity[i] = mu * velocity[i] + g;
        g = nesterov ? g + mu * velocity[i] : velocity[i];
      }
      params[i] -= lr_ * g;
    }
    ++steps;
  }
  std::vector<Vector<S>*> state() { return {&velocity}; }
};

/// Adam (Kingma & Ba) with bias correction; with decoupled_weight_decay = true it is AdamW
/// (Loshchilov & Hutter): θ ← θ − lr·λθ applied outside the adaptive step.
///   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  θ ← θ − lr · m̂ / (√v̂ + ε)
template <class S = float>
struct Adam {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;
  Vector<S> m, v;
  long long steps = 0;

  static constexpr const char* name = "Adam";
  void step(VectorMap<S> params, const Eigen::Ref<const Vector<S>>& grads) {
    require_arg(lr >= 0.0 && beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0 && eps > 0.0,
                "Adam: invalid hyper-parameters (lr=", lr, ", beta1=", beta1, ", beta2=", beta2, ", eps=", eps, ")");
    if (m.size() != params.size()) {
      m.setZero(params.size());
      v.setZero(params.size());
    }
    ++steps;
    const double bc1 = 1.0 - std::pow(beta1, double(steps)), bc2 = 1.0 - std::pow(beta2, double(steps));
    const S step_size = S(lr / bc1), inv_sqrt_bc2 = S(1.0 / std::sqrt(bc2));
    const S b1 = S(beta1), b2 = S(beta2), e = S(eps), wd = S(weight_decay), lr_ = S(lr);
    for (Index i = 0; i < params.size(); ++i) {
      S g = grads[i];
      if (!decoupled_weight_decay) g += wd * params[i];
      else params[i] -= lr_ * wd * params[i];
      m[i] = b1 * m[i] + (S(1) - b1) * g;
      v[i] = b2 * v[i] + (S(1) - b2) * g * g;
      params[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + e);
    }
  }
  std::vector<Vector<S>*> state() { return {&m, &v}; }
};

/// AdamW: Adam with decoupled weight decay (default λ = 0.01, as PyTorch).
template <class S = float>
struct AdamW : Adam<S> {
  AdamW() {
    this->decoupled_weight_decay = true;
    this->weight_decay = 0.01;
  }
  static constexpr const char* name = "AdamW";
};

}  // namespace salient
