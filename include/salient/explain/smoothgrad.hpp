// salient/explain/smoothgrad.hpp — SmoothGrad: average an attribution method over noisy copies.
//
//   SG(x) = (1/n) Σ_s A(x + ε_s),   ε_s(t, f) ~ N(0, σ_b²),   σ_b = noise · (max − min of sample b)
//
// The range is taken over the sample's valid values (all channels, or per channel with
// `per_channel`). The wrapped method is any callable
//   Attribution<S> method(const Model&, const SeqBatch<S>&, const Target&)
// (default: signed saliency). All n noisy copies of all samples go to the method as one batch,
// so they are packed into large model passes. Gradient × input inside SmoothGrad multiplies by
// the noisy input. Seeded: the same seed gives the same noise.
#pragma once

#include <cstdint>

#include "../core/random.hpp"
#include "gradient.hpp"

namespace salient::explain {

struct SmoothGradOptions {
  Index samples = 32;
  double noise = 0.15;       ///< σ as a fraction of the input range
  bool per_channel = false;  ///< range per channel instead of over all channels
  bool squared = false;      ///< average A² instead of A (SmoothGrad-Squared)
  std::uint64_t seed = 0;
  EngineOptions engine{};
};

/// The default wrapped method: signed saliency.
struct SaliencyMethod {
  EngineOptions engine{};
  bool absolute = false;
  template <class Model, class S>
  Attribution<S> operator()(const Model& m, const SeqBatch<S>& x, const Target& t) const {
    return saliency(m, x, t, SaliencyOptions{absolute, engine});
  }
};
struct GradientXInputMethod {
  EngineOptions engine{};
  template <class Model, class S>
  Attribution<S> operator()(const Model& m, const SeqBatch<S>& x, const Target& t) const {
    return gradient_x_input(m, x, t, engine);
  }
};

template <SequenceClassifier Model, class S = typename Model::scalar_type, class Method = SaliencyMethod>
Attribution<S> smoothgrad(const Model& model, const SeqBatch<S>& x, const Target& target,
                          const SmoothGradOptions& opt = {}, Method method = {}) {
  require_arg(opt.samples >= 1, "smoothgrad: samples must be >= 1, got ", opt.samples);
  require_arg(opt.noise >= 0, "smoothgrad: noise must be >= 0, got ", opt.noise);
  auto eng = make_engine(model, x, opt.engine);
  std::vector<Index> classes = eng.resolve(x, target);
  const Index T = x.steps(), B = x.batch(), F = x.features(), n = opt.samples;
  // σ per sample (and channel).
  std::vector<double> sigma(static_cast<std::size_t>(B * F));
  for (Index b = 0; b < B; ++b) {
    const auto xs = sample_view(x.values, b, x.length(b));
    double glo = 1e300, ghi = -1e300;
    for (Index f = 0; f < F; ++f) {
      double lo = 1e300, hi = -1e300;
      for (Index t = 0; t < xs.length; ++t) lo = std::min(lo, double(xs(t, f))), hi = std::max(hi, double(xs(t, f)));
      sigma[std::size_t(b * F + f)] = opt.noise * (hi - lo);
      glo = std::min(glo, lo), ghi = std::max(ghi, hi);
    }
    if (!opt.per_channel)
      for (Index f = 0; f < F; ++f) sigma[std::size_t(b * F + f)] = opt.noise * (ghi - glo);
  }
  SeqBatch<S> noisy(T, B * n, F);
  std::vector<Index> cls(static_cast<std::size_t>(B * n));
  Rng rng(opt.seed);
  for (Index b = 0; b < B; ++b)
    for (Index s = 0; s < n; ++s) {
      const Index j = b * n + s;
      noisy.lengths[std::size_t(j)] = x.length(b);
      cls[std::size_t(j)] = classes[std::size_t(b)];
      const auto xs = sample_view(x.values, b, x.length(b));
      auto v = sample_view(noisy.values, j, x.length(b));
      for (Index t = 0; t < xs.length; ++t)
        for (Index f = 0; f < F; ++f) v(t, f) = xs(t, f) + S(rng.normal() * sigma[std::size_t(b * F + f)]);
    }
  Attribution<S> inner = method(model, noisy, Target::per_sample(cls, target.output()));
  Attribution<S> a = empty_attribution(x);
  a.classes = classes;
  for (Index b = 0; b < B; ++b) {
    auto dst = sample_view(a.values, b, x.length(b));
    for (Index s = 0; s < n; ++s) {
      const auto src = sample_view(std::as_const(inner.values), b * n + s, x.length(b));
      for (Index t = 0; t < dst.length; ++t)
        for (Index f = 0; f < F; ++f) {
          const S v = src(t, f);
          dst(t, f) += (opt.squared ? v * v : v) / S(n);
        }
    }
  }
  a.cost = eng.cost();
  a.cost += inner.cost;
  return a;
}

}  // namespace salient::explain
