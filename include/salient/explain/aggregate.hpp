// salient/explain/aggregate.hpp — from cell attributions (T, B, F) to per-step / per-channel
// scores, top windows, and normalisation for plotting.
//
// Step scores are a B × T matrix of doubles (row b = sample b, columns ≥ length are 0).
//   per_step(a, AbsSum)       s(b, t) = Σ_f |A(t, b, f)|          (the usual "which steps")
//   per_step(a, Sum)          s(b, t) = Σ_f A(t, b, f)            (signed)
//   per_step(a, PositiveSum)  s(b, t) = max(0, Σ_f A(t, b, f))    (evidence for the target only)
//   per_step(a, SquaredSum)   s(b, t) = Σ_f A(t, b, f)²
//   smooth_steps(s, lengths, w)  centred moving average over w valid steps — an event that
//                                spans several steps scores as a whole rather than at one step
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "target.hpp"

namespace salient::explain {

enum class StepReduce { AbsSum, Sum, PositiveSum, SquaredSum };

inline double reduce_cells(const double* v, Index n, StepReduce r) {
  double s = 0;
  switch (r) {
    case StepReduce::AbsSum: for (Index i = 0; i < n; ++i) s += std::abs(v[i]); return s;
    case StepReduce::Sum: for (Index i = 0; i < n; ++i) s += v[i]; return s;
    case StepReduce::PositiveSum: for (Index i = 0; i < n; ++i) s += v[i]; return std::max(0.0, s);
    case StepReduce::SquaredSum: for (Index i = 0; i < n; ++i) s += v[i] * v[i]; return s;
  }
  return s;
}

/// Per-step scores (B × T) of cell attributions (T, B, F).
template <class S>
RowMatrix<double> per_step(const Tensor3<S>& values, const Lengths& lengths, StepReduce r = StepReduce::AbsSum) {
  const Index T = values.dimension(0), B = values.dimension(1), F = values.dimension(2);
  require_shape(Index(lengths.size()) == B, "per_step: ", lengths.size(), " lengths for ", B, " samples");
  RowMatrix<double> s = RowMatrix<double>::Zero(B, T);
  std::vector<double> cell(static_cast<std::size_t>(F));
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < std::min(T, lengths[std::size_t(b)]); ++t) {
      for (Index f = 0; f < F; ++f) cell[std::size_t(f)] = double(values(t, b, f));
      s(b, t) = reduce_cells(cell.data(), F, r);
    }
  return s;
}
template <class S>
RowMatrix<double> per_step(const Attribution<S>& a, StepReduce r = StepReduce::AbsSum) {
  return per_step(a.values, a.lengths, r);
}

/// Per-channel scores (B × F): the reduction over each sample's valid steps.
template <class S>
RowMatrix<double> per_channel(const Attribution<S>& a, StepReduce r = StepReduce::AbsSum) {
  const Index B = a.batch(), F = a.features();
  RowMatrix<double> s = RowMatrix<double>::Zero(B, F);
  for (Index b = 0; b < B; ++b)
    for (Index f = 0; f < F; ++f) {
      std::vector<double> v;
      for (Index t = 0; t < a.lengths[std::size_t(b)]; ++t) v.push_back(double(a.values(t, b, f)));
      s(b, f) = reduce_cells(v.data(), Index(v.size()), r);
    }
  return s;
}

/// Centred moving average of step scores over `window` steps, within each sample's valid steps.
inline RowMatrix<double> smooth_steps(const RowMatrix<double>& s, const Lengths& lengths, Index window) {
  require_arg(window >= 1, "smooth_steps: window must be >= 1");
  RowMatrix<double> out = RowMatrix<double>::Zero(s.rows(), s.cols());
  const Index lo = (window - 1) / 2, hi = window - 1 - lo;
  for (Index b = 0; b < s.rows(); ++b) {
    const Index L = std::min(s.cols(), lengths[std::size_t(b)]);
    for (Index t = 0; t < L; ++t) {
      const Index a = std::max<Index>(0, t - lo), e = std::min<Index>(L - 1, t + hi);
      double sum = 0;
      for (Index u = a; u <= e; ++u) sum += s(b, u);
      out(b, t) = sum / double(e - a + 1);
    }
  }
  return out;
}

struct ScoredWindow {
  Index start = 0, length = 0;
  double score = 0;  ///< sum of the step scores inside
};

/// The k highest-scoring non-overlapping windows of `window` steps in row b (greedy by score).
inline std::vector<ScoredWindow> top_windows(const RowMatrix<double>& s, Index b, Index length, Index window, Index k) {
  require_arg(window >= 1 && k >= 0, "top_windows: window must be >= 1 and k >= 0");
  const Index L = std::min(length, s.cols()), w = std::min(window, L);
  std::vector<ScoredWindow> all;
  for (Index a = 0; a + w <= L; ++a) {
    double sum = 0;
    for (Index t = a; t < a + w; ++t) sum += s(b, t);
    all.push_back({a, w, sum});
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.score > y.score; });
  std::vector<ScoredWindow> out;
  for (const auto& c : all) {
    if (Index(out.size()) >= k) break;
    bool overlap = false;
    for (const auto& o : out) overlap |= c.start < o.start + o.length && o.start < c.start + c.length;
    if (!overlap) out.push_back(c);
  }
  return out;
}

enum class Normalization {
  MaxAbs,  ///< divide by the largest |value| of the sample (range [−1, 1])
  Sum,     ///< divide by Σ |value| of the sample
  MinMax,  ///< map the sample's [min, max] to [0, 1]
};

/// Normalise each row (sample) of step scores over its valid steps; constant rows become 0.
inline RowMatrix<double> normalize(RowMatrix<double> s, const Lengths& lengths, Normalization n = Normalization::MaxAbs) {
  for (Index b = 0; b < s.rows(); ++b) {
    const Index L = std::min(s.cols(), lengths[std::size_t(b)]);
    auto row = s.row(b).head(L);
    if (n == Normalization::MinMax) {
      const double lo = row.minCoeff(), hi = row.maxCoeff();
      if (hi > lo) row = (row.array() - lo) / (hi - lo);
      else row.setZero();
    } else {
      const double d = n == Normalization::MaxAbs ? row.cwiseAbs().maxCoeff() : row.cwiseAbs().sum();
      if (d > 0) row /= d;
    }
  }
  return s;
}

/// Normalise cell attributions per sample by the largest |value| (range [−1, 1]), e.g. for heat maps.
template <class S>
Attribution<S> normalize_cells(Attribution<S> a) {
  for (Index b = 0; b < a.batch(); ++b) {
    double m = 0;
    for (Index t = 0; t < a.lengths[std::size_t(b)]; ++t)
      for (Index f = 0; f < a.features(); ++f) m = std::max(m, std::abs(double(a.values(t, b, f))));
    if (m > 0)
      for (Index t = 0; t < a.lengths[std::size_t(b)]; ++t)
        for (Index f = 0; f < a.features(); ++f) a.values(t, b, f) = S(double(a.values(t, b, f)) / m);
  }
  return a;
}

}  // namespace salient::explain
