// salient/explain/tsr.hpp — two-stage temporal saliency rescaling (after Ismail et al., 2020).
//
// Stage 1 (time): for each valid step t, replace step t (all channels) by the baseline and
//   measure how much the attribution map moves:  R_t = Σ_{t',f} |A(x) − A(x with t masked)|.
// Stage 2 (channel), for the steps with R_t above the mean of R over the sample: replace the
//   single cell (t, f) and measure R_{t,f} the same way. The result is
//   TSR(t, f) = R_t · R_{t,f}  for those steps, 0 elsewhere.
// With `channel_stage = false` stage 2 is replaced by the cheap split
//   TSR(t, f) = R_t · |A(t, f)| / Σ_f |A(t, f)|.
// `method(model, x, target)` is any attribution method (default: signed saliency). All masked
// copies go to the method as one large batch. Cost: (1 + Σ_b L_b + F · #selected steps) method
// evaluations per batch, so TSR is for small batches or cheap methods.
#pragma once

#include <vector>

#include "baseline.hpp"
#include "smoothgrad.hpp"

namespace salient::explain {

template <class S>
struct TsrOptions {
  Baseline<S> baseline = Baseline<S>::zeros();
  bool channel_stage = true;
};

template <SequenceClassifier Model, class S = typename Model::scalar_type, class Method = SaliencyMethod>
Attribution<S> temporal_saliency_rescaling(const Model& model, const SeqBatch<S>& x, const Target& target,
                                           const TsrOptions<S>& opt = {}, Method method = {}) {
  auto eng = make_engine(model, x);
  const auto classes = eng.resolve(x, target);
  const Index T = x.steps(), B = x.batch(), F = x.features();
  const Target fixed = Target::per_sample(classes, target.output());
  Attribution<S> base = method(model, x, fixed);
  const auto picks = opt.baseline.picks(B);
  const SeqBatch<S> ref = opt.baseline.materialize(x, 0, picks);

  // Distance between the attribution of masked copy j (of sample b) and the base map.
  auto distance = [&](const Attribution<S>& m, Index j, Index b) {
    double s = 0;
    for (Index t = 0; t < x.length(b); ++t)
      for (Index f = 0; f < F; ++f) s += std::abs(double(m.values(t, j, f)) - double(base.values(t, b, f)));
    return s;
  };
  // Build masked copies: list of (b, t, f) with f = -1 for the whole step.
  struct Mask {
    Index b, t, f;
  };
  auto evaluate = [&](const std::vector<Mask>& masks) {
    SeqBatch<S> xm(T, Index(masks.size()), F);
    std::vector<Index> cls;
    for (std::size_t j = 0; j < masks.size(); ++j) {
      const auto& m = masks[j];
      xm.lengths[j] = x.length(m.b);
      cls.push_back(classes[std::size_t(m.b)]);
      for (Index t = 0; t < x.length(m.b); ++t)
        for (Index f = 0; f < F; ++f) {
          const bool hit = t == m.t && (m.f < 0 || m.f == f);
          xm.values(t, Index(j), f) = hit ? ref.values(t, m.b, f) : x.values(t, m.b, f);
        }
    }
    Attribution<S> am = method(model, xm, Target::per_sample(cls, target.output()));
    std::vector<double> d(masks.size());
    for (std::size_t j = 0; j < masks.size(); ++j) d[j] = distance(am, Index(j), masks[j].b);
    base.cost += am.cost;
    return d;
  };
  std::vector<Mask> steps;
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < x.length(b); ++t) steps.push_back({b, t, -1});
  const auto Rt = evaluate(steps);
  std::vector<double> mean(static_cast<std::size_t>(B), 0.0);
  for (std::size_t j = 0; j < steps.size(); ++j) mean[std::size_t(steps[j].b)] += Rt[j] / double(x.length(steps[j].b));
  std::vector<Mask> cells;
  std::vector<std::size_t> cell_step;
  for (std::size_t j = 0; j < steps.size(); ++j)
    if (Rt[j] > mean[std::size_t(steps[j].b)] && opt.channel_stage)
      for (Index f = 0; f < F; ++f) cells.push_back({steps[j].b, steps[j].t, f}), cell_step.push_back(j);
  std::vector<double> Rtf;
  if (!cells.empty()) Rtf = evaluate(cells);

  Attribution<S> a = empty_attribution(x);
  a.classes = classes;
  a.cost = base.cost;
  a.cost += eng.cost();
  if (opt.channel_stage) {
    for (std::size_t c = 0; c < cells.size(); ++c)
      a.values(cells[c].t, cells[c].b, cells[c].f) = S(Rt[cell_step[c]] * Rtf[c]);
  } else {
    for (std::size_t j = 0; j < steps.size(); ++j) {
      const auto& m = steps[j];
      if (!(Rt[j] > mean[std::size_t(m.b)])) continue;
      double tot = 0;
      for (Index f = 0; f < F; ++f) tot += std::abs(double(base.values(m.t, m.b, f)));
      for (Index f = 0; f < F; ++f)
        a.values(m.t, m.b, f) = tot > 0 ? S(Rt[j] * std::abs(double(base.values(m.t, m.b, f))) / tot) : S(0);
    }
  }
  return a;
}

}  // namespace salient::explain
