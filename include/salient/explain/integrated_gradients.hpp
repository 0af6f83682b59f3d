// salient/explain/integrated_gradients.hpp — integrated gradients with a choice of quadrature.
//
//   IG(t, f) = (x − x')(t, f) · ∫₀¹ ∂y_k/∂x(t, f) at x' + α(x − x') dα
//
// Completeness: Σ IG = y_k(x) − y_k(x') exactly in the limit; the returned `delta` holds the
// error Σ IG − (y_k(x) − y_k(x')) per sample, measured with two extra forwards. With a
// distribution baseline the integral is averaged over the draws (expected-gradients style) and
// the reference value is the mean of y_k over the drawn references.
//
// Quadrature over α with n = `steps`:
//   Trapezoid      α = 0, 1/n, …, 1 (n + 1 gradients), end points weighted 1/(2n)
//   Midpoint       α = (i + ½)/n (n gradients), as Captum's riemann_middle
//   GaussLegendre  the n Gauss–Legendre nodes on [0, 1]: exact for polynomials of degree 2n − 1,
//                  so far fewer steps reach the same completeness on smooth models
// All interpolation points of all samples are packed into batches of EngineOptions::max_batch.
#pragma once

#include <cmath>
#include <numbers>
#include <vector>

#include "baseline.hpp"
#include "target.hpp"

namespace salient::explain {

enum class Quadrature { Trapezoid, Midpoint, GaussLegendre };

/// Nodes and weights of an n-point rule on [0, 1].
inline void quadrature_rule(Quadrature q, Index n, std::vector<double>& alpha, std::vector<double>& weight) {
  require_arg(n >= 1, "integrated_gradients: steps must be >= 1, got ", n);
  alpha.clear();
  weight.clear();
  if (q == Quadrature::Trapezoid) {
    for (Index i = 0; i <= n; ++i) {
      alpha.push_back(double(i) / double(n));
      weight.push_back((i == 0 || i == n) ? 0.5 / double(n) : 1.0 / double(n));
    }
  } else if (q == Quadrature::Midpoint) {
    for (Index i = 0; i < n; ++i) {
      alpha.push_back((double(i) + 0.5) / double(n));
      weight.push_back(1.0 / double(n));
    }
  } else {
    // Newton's method on the Legendre polynomial P_n, from the usual cosine initial guesses.
    for (Index i = 0; i < n; ++i) {
      double z = std::cos(std::numbers::pi * (double(i) + 0.75) / (double(n) + 0.5));
      double dp = 1;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = z;
        for (Index k = 2; k <= n; ++k) {
          const double p2 = ((2.0 * double(k) - 1.0) * z * p1 - (double(k) - 1.0) * p0) / double(k);
          p0 = p1;
          p1 = p2;
        }
        dp = double(n) * (z * p1 - p0) / (z * z - 1.0);
        const double dz = p1 / dp;
        z -= dz;
        if (std::abs(dz) < 1e-15) break;
      }
      {  // recompute the derivative at the converged node
        double p0 = 1, p1 = z;
        for (Index k = 2; k <= n; ++k) {
          const double p2 = ((2.0 * double(k) - 1.0) * z * p1 - (double(k) - 1.0) * p0) / double(k);
          p0 = p1;
          p1 = p2;
        }
        dp = double(n) * (z * p1 - p0) / (z * z - 1.0);
      }
      alpha.push_back((1.0 - z) / 2.0);  // ascending in α
      weight.push_back(1.0 / ((1.0 - z * z) * dp * dp));  // = (2 / ((1−z²) P'²)) / 2
    }
  }
}

template <class S>
struct IntegratedGradientsOptions {
  Index steps = 64;
  Quadrature quadrature = Quadrature::GaussLegendre;
  Baseline<S> baseline = Baseline<S>::zeros();
  bool completeness = true;  ///< measure `delta` (B + B·draws extra forwards)
  EngineOptions engine{};
};

template <SequenceClassifier Model, class S = typename Model::scalar_type>
Attribution<S> integrated_gradients(const Model& model, const SeqBatch<S>& x, const Target& target,
                                    const IntegratedGradientsOptions<S>& opt = {}) {
  auto eng = make_engine(model, x, opt.engine);
  Attribution<S> a = empty_attribution(x);
  a.classes = eng.resolve(x, target);
  std::vector<double> alpha, weight;
  quadrature_rule(opt.quadrature, opt.steps, alpha, weight);
  const Index B = x.batch(), F = x.features(), D = opt.baseline.draws(), n = Index(alpha.size());
  const auto picks = opt.baseline.picks(B);
  std::vector<SeqBatch<S>> refs;
  for (Index d = 0; d < D; ++d) refs.push_back(opt.baseline.materialize(x, d, picks));
  std::vector<double> acc(std::size_t(a.values.size()), 0.0);
  // Virtual sample j = (b·D + d)·n + i: the points of one sample stay together (equal lengths).
  auto decode = [&](Index j, Index& b, Index& d, Index& i) {
    i = j % n;
    d = (j / n) % D;
    b = j / (n * D);
  };
  eng.run(
      B * D * n,
      [&](Index j) { return x.length(j / (n * D)); },
      [&](Index j, StepView<S> v) {
        Index b, d, i;
        decode(j, b, d, i);
        const auto xs = sample_view(x.values, b, x.length(b));
        const auto rs = sample_view(refs[std::size_t(d)].values, b, x.length(b));
        const S al = S(alpha[std::size_t(i)]);
        for (Index t = 0; t < v.length; ++t)
          for (Index f = 0; f < F; ++f) v(t, f) = rs(t, f) + al * (xs(t, f) - rs(t, f));
      },
      [&](Index j) { return a.classes[std::size_t(j / (n * D))]; }, target.output(), true,
      [&](Index j, double, const StepView<const S>* g) {
        Index b, d, i;
        decode(j, b, d, i);
        const auto xs = sample_view(x.values, b, x.length(b));
        const auto rs = sample_view(refs[std::size_t(d)].values, b, x.length(b));
        const double w = weight[std::size_t(i)] / double(D);
        for (Index t = 0; t < xs.length; ++t)
          for (Index f = 0; f < F; ++f)
            acc[std::size_t((t * B + b) * F + f)] += w * double((*g)(t, f)) * double(xs(t, f) - rs(t, f));
      });
  for (Index i = 0; i < a.values.size(); ++i) a.values.data()[i] = S(acc[std::size_t(i)]);
  zero_padding(a.values, a.lengths);
  if (opt.completeness) {
    std::vector<double> fx(static_cast<std::size_t>(B)), fr(static_cast<std::size_t>(B), 0.0);
    eng.run(
        B * (D + 1), [&](Index j) { return x.length(j / (D + 1)); },
        [&](Index j, StepView<S> v) {
          const Index b = j / (D + 1), r = j % (D + 1);
          const auto src = r == 0 ? sample_view(x.values, b, x.length(b))
                                  : sample_view(std::as_const(refs[std::size_t(r - 1)].values), b, x.length(b));
          for (Index t = 0; t < v.length; ++t)
            for (Index f = 0; f < F; ++f) v(t, f) = src(t, f);
        },
        [&](Index j) { return a.classes[std::size_t(j / (D + 1))]; }, target.output(), false,
        [&](Index j, double val, const StepView<const S>*) {
          const Index b = j / (D + 1), r = j % (D + 1);
          if (r == 0) fx[std::size_t(b)] = val;
          else fr[std::size_t(b)] += val / double(D);
        });
    a.delta.resize(static_cast<std::size_t>(B));
    for (Index b = 0; b < B; ++b) {
      double s = 0;
      for (Index t = 0; t < x.length(b); ++t)
        for (Index f = 0; f < F; ++f) s += acc[std::size_t((t * B + b) * F + f)];
      a.delta[std::size_t(b)] = s - (fx[std::size_t(b)] - fr[std::size_t(b)]);
    }
  }
  a.cost = eng.cost();
  return a;
}

}  // namespace salient::explain
