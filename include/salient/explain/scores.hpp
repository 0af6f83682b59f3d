// salient/explain/scores.hpp — how good is an explanation? Scores against a ground-truth mask,
// faithfulness curves, and the model-randomisation sanity check.
//
// Against ground truth (one sample: step scores s_t over its valid steps, truth y_t ∈ {0, 1};
// a T × C mask becomes a step mask with step_mask(): a step is true if any channel is):
//   roc_auc             P(s_pos > s_neg) + ½ P(s_pos = s_neg)  (Mann–Whitney; ties count half)
//   average_precision   Σ_n (R_n − R_{n−1}) P_n over the distinct score thresholds (tied steps
//                       enter together), as scikit-learn
//   pointing_game       is the top-scoring step inside the region? With ties at the top, the
//                       share of the tied steps that are inside (expected value of a random pick)
//   relevance_mass      Σ_{t in region} |s_t| / Σ_t |s_t|  (0 when all scores are 0)
// Faithfulness (needs the model):
//   deletion_curve      remove (replace by the baseline, all channels) the top q·L steps by
//                       score, q = 0, 1/n, …, 1, and record the target output (use a probability
//                       output); area by the trapezoid rule over q — lower = more faithful.
//                       `insertion` starts from the baseline and inserts steps instead (higher =
//                       better). random_order_scores() gives the random-order reference.
//   model_randomization Spearman correlation between the step scores of the trained model and of
//                       a re-initialised copy (near 0 is what a method that depends on the model
//                       should show; near 1 means it mostly reflects the input).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "../core/random.hpp"
#include "aggregate.hpp"
#include "baseline.hpp"
#include "target.hpp"

namespace salient::explain {

/// A T × C ground-truth mask to a per-step mask (any channel set).
template <class Derived>
std::vector<char> step_mask(const Eigen::MatrixBase<Derived>& mask) {
  std::vector<char> m(std::size_t(mask.rows()), 0);
  for (Index t = 0; t < mask.rows(); ++t)
    for (Index c = 0; c < mask.cols(); ++c)
      if (mask(t, c) != 0) m[std::size_t(t)] = 1;
  return m;
}

namespace detail {
inline void check_pair(std::span<const double> s, std::span<const char> y, const char* who) {
  require_shape(s.size() == y.size(), who, ": ", s.size(), " scores but ", y.size(), " labels");
}
/// Average ranks (1-based) with ties sharing the mean rank.
inline std::vector<double> average_ranks(std::span<const double> s) {
  const std::size_t n = s.size();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t(0));
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return s[a] < s[b]; });
  std::vector<double> r(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && s[idx[j + 1]] == s[idx[i]]) ++j;
    const double mean = (double(i) + double(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[idx[k]] = mean;
    i = j + 1;
  }
  return r;
}
}  // namespace detail

/// ROC AUC with ties counted half; NaN if the labels are all 0 or all 1.
inline double roc_auc(std::span<const double> s, std::span<const char> y) {
  detail::check_pair(s, y, "roc_auc");
  const auto r = detail::average_ranks(s);
  double pos = 0, rank_sum = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (y[i]) pos += 1, rank_sum += r[i];
  const double neg = double(s.size()) - pos;
  if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

/// Average precision (tied scores enter together); NaN without positives.
inline double average_precision(std::span<const double> s, std::span<const char> y) {
  detail::check_pair(s, y, "average_precision");
  const std::size_t n = s.size();
  double P = 0;
  for (char v : y) P += v ? 1 : 0;
  if (P == 0) return std::numeric_limits<double>::quiet_NaN();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t(0));
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return s[a] > s[b]; });
  double tp = 0, fp = 0, prev_recall = 0, ap = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && s[idx[j]] == s[idx[i]]) {
      if (y[idx[j]]) tp += 1;
      else fp += 1;
      ++j;
    }
    const double recall = tp / P, precision = tp / (tp + fp);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
    i = j;
  }
  return ap;
}

/// Share of the top-scoring (tied) steps that lie inside the region.
inline double pointing_game(std::span<const double> s, std::span<const char> y) {
  detail::check_pair(s, y, "pointing_game");
  if (s.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double top = *std::max_element(s.begin(), s.end());
  double n = 0, in = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == top) n += 1, in += y[i] ? 1 : 0;
  return in / n;
}

/// Share of Σ|s| inside the region (0 if all scores are 0).
inline double relevance_mass(std::span<const double> s, std::span<const char> y) {
  detail::check_pair(s, y, "relevance_mass");
  double in = 0, all = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    all += std::abs(s[i]);
    if (y[i]) in += std::abs(s[i]);
  }
  return all > 0 ? in / all : 0.0;
}

/// The four ground-truth scores of one sample.
struct LocalizationScores {
  double auroc = 0, auprc = 0, pointing = 0, mass = 0;
};
inline LocalizationScores localization(std::span<const double> s, std::span<const char> y) {
  return {roc_auc(s, y), average_precision(s, y), pointing_game(s, y), relevance_mass(s, y)};
}
/// Row b of step scores (its first `length` steps) against a step mask.
inline LocalizationScores localization(const RowMatrix<double>& steps, Index b, Index length,
                                       const std::vector<char>& truth) {
  require_shape(Index(truth.size()) == length, "localization: mask has ", truth.size(),
                " steps, the sample ", length);
  std::vector<double> s(static_cast<std::size_t>(length));
  for (Index t = 0; t < length; ++t) s[std::size_t(t)] = steps(b, t);
  return localization(std::span<const double>(s), std::span<const char>(truth));
}

// ---- faithfulness curves -------------------------------------------------------------------

template <class S>
struct CurveOptions {
  Index points = 20;  ///< fractions 0, 1/points, …, 1
  bool insertion = false;
  Baseline<S> baseline = Baseline<S>::zeros();
  EngineOptions engine{};
};

struct Curve {
  std::vector<double> fraction;  ///< the x axis (points + 1 values)
  RowMatrix<double> value;       ///< B × (points + 1) target outputs
  std::vector<double> area;      ///< per sample, trapezoid over the fraction axis
  Cost cost;
  double mean_area() const {
    return area.empty() ? 0.0 : std::accumulate(area.begin(), area.end(), 0.0) / double(area.size());
  }
};

/// Deletion (or insertion) curve for the order given by step scores (B × T, higher = first).
/// The target's output mode applies (Target::index(k, Output::Sigmoid) for multi-label).
template <SequenceClassifier Model, class S = typename Model::scalar_type>
Curve deletion_curve(const Model& model, const SeqBatch<S>& x, const Target& target,
                     const RowMatrix<double>& step_scores, const CurveOptions<S>& opt = {}) {
  require_arg(opt.points >= 1, "deletion_curve: points must be >= 1");
  const Index B = x.batch(), F = x.features(), Q = opt.points + 1, D = opt.baseline.draws();
  require_shape(step_scores.rows() == B && step_scores.cols() >= x.steps(),
                "deletion_curve: step scores must be B × T");
  auto eng = make_engine(model, x, opt.engine);
  const auto classes = eng.resolve(x, target);
  const auto picks = opt.baseline.picks(B);
  std::vector<SeqBatch<S>> refs;
  for (Index d = 0; d < D; ++d) refs.push_back(opt.baseline.materialize(x, d, picks));
  // rank[b][t] = position of step t in the order.
  std::vector<std::vector<Index>> rank(static_cast<std::size_t>(B));
  for (Index b = 0; b < B; ++b) {
    const Index L = x.length(b);
    std::vector<Index> idx(static_cast<std::size_t>(L));
    std::iota(idx.begin(), idx.end(), Index(0));
    std::stable_sort(idx.begin(), idx.end(), [&](Index u, Index v) { return step_scores(b, u) > step_scores(b, v); });
    rank[std::size_t(b)].resize(static_cast<std::size_t>(L));
    for (Index i = 0; i < L; ++i) rank[std::size_t(b)][std::size_t(idx[std::size_t(i)])] = i;
  }
  Curve c;
  for (Index q = 0; q < Q; ++q) c.fraction.push_back(double(q) / double(opt.points));
  c.value = RowMatrix<double>::Zero(B, Q);
  eng.run(
      B * Q * D, [&](Index j) { return x.length(j / (Q * D)); },
      [&](Index j, StepView<S> v) {
        const Index b = j / (Q * D), q = (j / D) % Q, d = j % D, L = x.length(b);
        const Index k = Index(std::llround(c.fraction[std::size_t(q)] * double(L)));
        const auto xs = sample_view(x.values, b, L);
        const auto rs = sample_view(refs[std::size_t(d)].values, b, L);
        for (Index t = 0; t < L; ++t) {
          const bool top = rank[std::size_t(b)][std::size_t(t)] < k;
          const bool from_x = opt.insertion ? top : !top;
          for (Index f = 0; f < F; ++f) v(t, f) = from_x ? xs(t, f) : rs(t, f);
        }
      },
      [&](Index j) { return classes[std::size_t(j / (Q * D))]; }, target.output(), false,
      [&](Index j, double val, const StepView<const S>*) {
        c.value(j / (Q * D), (j / D) % Q) += val / double(D);
      });
  for (Index b = 0; b < B; ++b) {
    double area = 0;
    for (Index q = 1; q < Q; ++q)
      area += 0.5 * (c.value(b, q) + c.value(b, q - 1)) * (c.fraction[std::size_t(q)] - c.fraction[std::size_t(q - 1)]);
    c.area.push_back(area);
  }
  c.cost = eng.cost();
  return c;
}

/// Random step scores (a random deletion order per sample) — the reference curve.
inline RowMatrix<double> random_order_scores(const Lengths& lengths, Index T, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<double> s = RowMatrix<double>::Zero(Index(lengths.size()), T);
  for (Index b = 0; b < s.rows(); ++b)
    for (Index t = 0; t < lengths[std::size_t(b)]; ++t) s(b, t) = rng.uniform();
  return s;
}

// ---- model randomisation -------------------------------------------------------------------

/// Spearman rank correlation (ties averaged); 0 when either side is constant.
inline double spearman(std::span<const double> a, std::span<const double> b) {
  require_shape(a.size() == b.size(), "spearman: sizes differ (", a.size(), " vs ", b.size(), ")");
  const auto ra = detail::average_ranks(a), rb = detail::average_ranks(b);
  const double n = double(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

struct RandomizationCheck {
  std::vector<double> correlation;  ///< per sample
  double mean = 0;
};

/// Step-score rank correlation between the trained model and a copy re-initialised with `seed`.
/// `method(model, x, target)` returns an Attribution; the target classes are resolved on the
/// trained model so both explain the same class.
template <SequenceClassifier Model, class Method, class S = typename Model::scalar_type>
RandomizationCheck model_randomization(const Model& model, const SeqBatch<S>& x, const Target& target,
                                       Method&& method, std::uint64_t seed = 12345,
                                       StepReduce reduce = StepReduce::AbsSum) {
  auto eng = make_engine(model, x);
  const Target fixed = Target::per_sample(eng.resolve(x, target), target.output());
  Model rnd = model;
  rnd.init(seed);
  const auto s1 = per_step(method(model, x, fixed), reduce);
  const auto s2 = per_step(method(rnd, x, fixed), reduce);
  RandomizationCheck r;
  for (Index b = 0; b < x.batch(); ++b) {
    const Index L = x.length(b);
    std::vector<double> a(s1.row(b).data(), s1.row(b).data() + L), c(s2.row(b).data(), s2.row(b).data() + L);
    r.correlation.push_back(spearman(a, c));
  }
  r.mean = std::accumulate(r.correlation.begin(), r.correlation.end(), 0.0) / double(r.correlation.size());
  return r;
}

}  // namespace salient::explain
