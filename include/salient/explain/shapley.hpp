// salient/explain/shapley.hpp — Shapley value sampling over groups of cells.
//
// The cells of a sample are split into groups: time windows of `window` steps (0, window, …)
// × channel groups of `channel_window` channels (0 = all channels in one group). A coalition
// keeps its groups' values from x and takes the baseline's elsewhere. For each of `permutations`
// random orders (seeded), the groups are added one by one starting from the pure baseline, and
// each group is credited with the change of the target it causes:
//   φ_g = mean over orders of  y_k(coalition before g ∪ {g}) − y_k(coalition before g)
// φ_g is spread evenly over the group's cells, so Σ attribution = y_k(x) − y_k(x') for every
// order (efficiency holds exactly, up to the averaging over baseline draws). `antithetic` also
// evaluates each order reversed (lower variance for the same seed). Each order costs G + 1
// forwards per sample and draw; all of them are packed into batches.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include "../core/random.hpp"
#include "baseline.hpp"
#include "target.hpp"

namespace salient::explain {

template <class S>
struct ShapleyOptions {
  Index window = 4;
  Index channel_window = 0;
  Index permutations = 16;
  bool antithetic = true;
  std::uint64_t seed = 0;
  Baseline<S> baseline = Baseline<S>::zeros();
  EngineOptions engine{};
};

template <SequenceClassifier Model, class S = typename Model::scalar_type>
Attribution<S> shapley_sampling(const Model& model, const SeqBatch<S>& x, const Target& target,
                                const ShapleyOptions<S>& opt = {}) {
  require_arg(opt.window >= 1 && opt.permutations >= 1 && opt.channel_window >= 0,
              "shapley_sampling: window and permutations must be >= 1");
  auto eng = make_engine(model, x, opt.engine);
  Attribution<S> a = empty_attribution(x);
  a.classes = eng.resolve(x, target);
  const Index B = x.batch(), F = x.features(), D = opt.baseline.draws();
  const Index cw = opt.channel_window == 0 ? F : std::min(opt.channel_window, F);
  const Index Gc = (F + cw - 1) / cw;
  const Index P = opt.permutations * (opt.antithetic ? 2 : 1);
  const auto picks = opt.baseline.picks(B);
  std::vector<SeqBatch<S>> refs;
  for (Index d = 0; d < D; ++d) refs.push_back(opt.baseline.materialize(x, d, picks));
  // Orders per sample: rank[b][p][g] = position of group g in order p.
  Rng rng(opt.seed);
  std::vector<Index> G(static_cast<std::size_t>(B)), first(std::size_t(B) + 1, 0);
  std::vector<std::vector<std::vector<Index>>> order(static_cast<std::size_t>(B)), rank(static_cast<std::size_t>(B));
  for (Index b = 0; b < B; ++b) {
    const Index g = ((x.length(b) + opt.window - 1) / opt.window) * Gc;
    G[std::size_t(b)] = g;
    for (Index p = 0; p < opt.permutations; ++p) {
      std::vector<Index> o(static_cast<std::size_t>(g));
      std::iota(o.begin(), o.end(), Index(0));
      salient::shuffle(o.begin(), o.end(), rng);
      order[std::size_t(b)].push_back(o);
      if (opt.antithetic) order[std::size_t(b)].emplace_back(o.rbegin(), o.rend());
    }
    for (const auto& o : order[std::size_t(b)]) {
      std::vector<Index> r(static_cast<std::size_t>(g));
      for (Index i = 0; i < g; ++i) r[std::size_t(o[std::size_t(i)])] = i;
      rank[std::size_t(b)].push_back(std::move(r));
    }
    first[std::size_t(b) + 1] = first[std::size_t(b)] + P * D * (g + 1);
  }
  const Index total = first[std::size_t(B)];
  auto decode = [&](Index j, Index& b, Index& p, Index& d, Index& i) {
    b = Index(std::upper_bound(first.begin(), first.end(), j) - first.begin()) - 1;
    Index r = j - first[std::size_t(b)];
    const Index g1 = G[std::size_t(b)] + 1;
    i = r % g1;
    r /= g1;
    d = r % D;
    p = r / D;
  };
  auto group_of = [&](Index t, Index f) { return (t / opt.window) * Gc + f / cw; };
  std::vector<double> value(static_cast<std::size_t>(total));
  eng.run(
      total,
      [&](Index j) {
        Index b, p, d, i;
        decode(j, b, p, d, i);
        return x.length(b);
      },
      [&](Index j, StepView<S> v) {
        Index b, p, d, i;
        decode(j, b, p, d, i);
        const auto xs = sample_view(x.values, b, x.length(b));
        const auto rs = sample_view(refs[std::size_t(d)].values, b, x.length(b));
        const auto& rk = rank[std::size_t(b)][std::size_t(p)];
        for (Index t = 0; t < v.length; ++t)
          for (Index f = 0; f < F; ++f) v(t, f) = rk[std::size_t(group_of(t, f))] < i ? xs(t, f) : rs(t, f);
      },
      [&](Index j) {
        Index b, p, d, i;
        decode(j, b, p, d, i);
        return a.classes[std::size_t(b)];
      },
      target.output(), false, [&](Index j, double val, const StepView<const S>*) { value[std::size_t(j)] = val; });
  for (Index b = 0; b < B; ++b) {
    const Index g = G[std::size_t(b)], L = x.length(b);
    std::vector<double> phi(static_cast<std::size_t>(g), 0.0);
    for (Index p = 0; p < P; ++p)
      for (Index d = 0; d < D; ++d) {
        const Index base = first[std::size_t(b)] + (p * D + d) * (g + 1);
        const auto& o = order[std::size_t(b)][std::size_t(p)];
        for (Index i = 0; i < g; ++i)
          phi[std::size_t(o[std::size_t(i)])] +=
              (value[std::size_t(base + i + 1)] - value[std::size_t(base + i)]) / double(P * D);
      }
    std::vector<double> cells(static_cast<std::size_t>(g), 0.0);
    for (Index t = 0; t < L; ++t)
      for (Index f = 0; f < F; ++f) cells[std::size_t(group_of(t, f))] += 1;
    for (Index t = 0; t < L; ++t)
      for (Index f = 0; f < F; ++f) {
        const Index gg = group_of(t, f);
        a.values(t, b, f) = S(phi[std::size_t(gg)] / cells[std::size_t(gg)]);
      }
  }
  a.cost = eng.cost();
  return a;
}

}  // namespace salient::explain
