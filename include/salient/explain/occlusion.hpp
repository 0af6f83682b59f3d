// salient/explain/occlusion.hpp — occlusion (feature ablation) over time windows and channels.
//
// For every window of `window` steps (starts 0, stride, 2·stride, …, plus a last start so the
// final steps are covered) and every group of `channel_window` channels (0 = all channels at
// once), the cells are replaced by the baseline and the drop of the target is recorded:
//   Δ = y_k(x) − mean over baseline draws of y_k(x with the cells replaced)
// Each cell's attribution is the mean Δ of the windows covering it (as Captum). With a
// distribution baseline (e.g. normal training series) the replacement is a plausible value
// instead of a fixed one, so no defect hides by coinciding with the replacement. Forward passes
// only, packed into batches; cost = B · (1 + windows · groups · draws) sample-forwards.
#pragma once

#include <vector>

#include "baseline.hpp"
#include "target.hpp"

namespace salient::explain {

template <class S>
struct OcclusionOptions {
  Index window = 3;
  Index stride = 1;
  Index channel_window = 0;  ///< channels per group; 0 = all channels together
  Baseline<S> baseline = Baseline<S>::zeros();
  EngineOptions engine{};
};

/// Window starts covering [0, L): 0, stride, … and L − window at the end.
inline std::vector<Index> window_starts(Index L, Index window, Index stride) {
  std::vector<Index> s;
  if (window >= L) return {0};
  for (Index a = 0; a + window <= L; a += stride) s.push_back(a);
  if (s.back() + window < L) s.push_back(L - window);
  return s;
}

template <SequenceClassifier Model, class S = typename Model::scalar_type>
Attribution<S> occlusion(const Model& model, const SeqBatch<S>& x, const Target& target,
                         const OcclusionOptions<S>& opt = {}) {
  require_arg(opt.window >= 1 && opt.stride >= 1 && opt.channel_window >= 0,
              "occlusion: window and stride must be >= 1, channel_window >= 0");
  auto eng = make_engine(model, x, opt.engine);
  Attribution<S> a = empty_attribution(x);
  a.classes = eng.resolve(x, target);
  const Index B = x.batch(), F = x.features(), D = opt.baseline.draws();
  const Index cw = opt.channel_window == 0 ? F : std::min(opt.channel_window, F);
  const Index G = (F + cw - 1) / cw;
  const auto picks = opt.baseline.picks(B);
  struct Job {
    Index b, start, group, draw;  // start < 0: the unperturbed sample
  };
  std::vector<Job> jobs;
  std::vector<std::vector<Index>> starts(static_cast<std::size_t>(B));
  for (Index b = 0; b < B; ++b) {
    starts[std::size_t(b)] = window_starts(x.length(b), opt.window, opt.stride);
    jobs.push_back({b, -1, 0, 0});
    for (Index s : starts[std::size_t(b)])
      for (Index g = 0; g < G; ++g)
        for (Index d = 0; d < D; ++d) jobs.push_back({b, s, g, d});
  }
  std::vector<double> fx(static_cast<std::size_t>(B)), delta(jobs.size(), 0.0);
  // One reference per (b, draw), filled lazily into a small cache.
  std::vector<RowMatrix<S>> ref(static_cast<std::size_t>(B * D));
  auto reference = [&](Index b, Index d) -> const RowMatrix<S>& {
    auto& r = ref[std::size_t(b * D + d)];
    if (r.size() == 0) {
      r.resize(x.length(b), F);
      opt.baseline.fill(x, b, d, picks, [&](Index t, Index f) -> S& { return r(t, f); });
    }
    return r;
  };
  eng.run(
      Index(jobs.size()), [&](Index j) { return x.length(jobs[std::size_t(j)].b); },
      [&](Index j, StepView<S> v) {
        const Job& jb = jobs[std::size_t(j)];
        Engine<Model>::copy_sample(x, jb.b, v);
        if (jb.start < 0) return;
        const auto& r = reference(jb.b, jb.draw);
        const Index e = std::min(v.length, jb.start + opt.window);
        for (Index t = jb.start; t < e; ++t)
          for (Index f = jb.group * cw; f < std::min(F, (jb.group + 1) * cw); ++f) v(t, f) = r(t, f);
      },
      [&](Index j) { return a.classes[std::size_t(jobs[std::size_t(j)].b)]; }, target.output(), false,
      [&](Index j, double val, const StepView<const S>*) {
        const Job& jb = jobs[std::size_t(j)];
        if (jb.start < 0) fx[std::size_t(jb.b)] = val;
        else delta[std::size_t(j)] = val;
      });
  // Accumulate Δ over covering windows.
  std::vector<double> sum(std::size_t(a.values.size()), 0.0), cnt(std::size_t(a.values.size()), 0.0);
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const Job& jb = jobs[j];
    if (jb.start < 0) continue;
    const Index L = x.length(jb.b);
    const double dl = (fx[std::size_t(jb.b)] - delta[j]) / double(D);
    const Index e = std::min(L, jb.start + opt.window);
    for (Index t = jb.start; t < e; ++t)
      for (Index f = jb.group * cw; f < std::min(F, (jb.group + 1) * cw); ++f) {
        const std::size_t o = std::size_t((t * B + jb.b) * F + f);
        sum[o] += dl;
        if (jb.draw == 0) cnt[o] += 1;
      }
  }
  for (Index i = 0; i < a.values.size(); ++i)
    a.values.data()[i] = cnt[std::size_t(i)] > 0 ? S(sum[std::size_t(i)] / cnt[std::size_t(i)]) : S(0);
  zero_padding(a.values, a.lengths);
  a.cost = eng.cost();
  return a;
}

}  // namespace salient::explain
