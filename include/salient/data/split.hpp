// salient/data/split.hpp — seeded, stratified train/validation/test splits and k-fold.
//
// Both label kinds use iterative stratification (Sechidis, Tsoumakas & Vlahavas, 2011): the
// label with the fewest unassigned series is handled first, and each of its series goes to the
// subset that still "wants" that label most (ties: the subset wanting the most series overall,
// then a seeded random choice). For multi-class data this puts n_c · fraction (± 1) series of
// every class c in each subset; for multi-label data every label is spread about proportionally.
// Series without any label are then dealt to the subsets that are furthest below their size.
// A subset whose fraction is 0 receives nothing. Results are deterministic for a seed, and each
// index list is sorted ascending.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "dataset.hpp"

namespace salient::data {

/// Row indices of a train / validation / test split.
struct Split {
  std::vector<Index> train, val, test;
};
/// Row indices of one cross-validation fold.
struct Fold {
  std::vector<Index> train, val;
};

namespace detail {

/// Labels of every row (one per row for multi-class, any number for multi-label).
template <class S>
std::vector<std::vector<Index>> row_labels(const Dataset<S>& d) {
  std::vector<std::vector<Index>> out(static_cast<std::size_t>(d.size()));
  if (!d.labelled()) return out;
  for (Index i = 0; i < d.size(); ++i)
    for (Index k = 0; k < d.num_classes(); ++k)
      if (d.has_label(i, k)) out[std::size_t(i)].push_back(k);
  return out;
}

/// Subset (0 .. fractions.size()-1) of every row, by iterative stratification.
inline std::vector<int> stratify(const std::vector<std::vector<Index>>& labels, Index K,
                                 const std::vector<double>& fractions, Rng& rng) {
  const std::size_t N = labels.size(), M = fractions.size();
  std::vector<double> want_total(M);
  std::vector<std::vector<double>> want(M, std::vector<double>(std::size_t(K), 0.0));
  std::vector<std::vector<Index>> rows_of(static_cast<std::size_t>(K));
  std::vector<Index> left(std::size_t(K), 0);

  // Visit rows in a seeded random order so ties do not favour low indices.
  std::vector<Index> order(N);
  for (std::size_t i = 0; i < N; ++i) order[i] = Index(i);
  salient::shuffle(order.begin(), order.end(), rng);
  for (Index r : order)
    for (Index k : labels[std::size_t(r)]) {
      rows_of[std::size_t(k)].push_back(r);
      ++left[std::size_t(k)];
    }
  for (std::size_t s = 0; s < M; ++s) {
    want_total[s] = fractions[s] * double(N);
    for (Index k = 0; k < K; ++k) want[s][std::size_t(k)] = fractions[s] * double(left[std::size_t(k)]);
  }

  std::vector<int> subset(N, -1);
  std::vector<std::size_t> ties;
  const auto assign = [&](Index r, bool by_label, std::size_t label) {
    ties.clear();
    for (std::size_t s = 0; s < M; ++s) {
      if (fractions[s] <= 0) continue;
      if (ties.empty()) {
        ties.push_back(s);
        continue;
      }
      const std::size_t b = ties.front();
      const double a1 = by_label ? want[s][label] : 0, b1 = by_label ? want[b][label] : 0;
      if (a1 > b1 || (a1 == b1 && want_total[s] > want_total[b])) {
        ties.assign(1, s);
      } else if (a1 == b1 && want_total[s] == want_total[b]) {
        ties.push_back(s);
      }
    }
    const std::size_t s = ties.size() == 1 ? ties[0] : ties[std::size_t(rng.below(ties.size()))];
    subset[std::size_t(r)] = int(s);
    want_total[s] -= 1;
    for (Index k : labels[std::size_t(r)]) {
      want[s][std::size_t(k)] -= 1;
      --left[std::size_t(k)];
    }
  };

  for (;;) {
    Index best = -1;  // label with the fewest unassigned rows
    for (Index k = 0; k < K; ++k)
      if (left[std::size_t(k)] > 0 && (best < 0 || left[std::size_t(k)] < left[std::size_t(best)])) best = k;
    if (best < 0) break;
    for (Index r : rows_of[std::size_t(best)])
      if (subset[std::size_t(r)] < 0) assign(r, true, std::size_t(best));
  }
  for (Index r : order)
    if (subset[std::size_t(r)] < 0) assign(r, false, 0);
  return subset;
}

}  // namespace detail

/// Stratified split into train / validation / test; train gets 1 - val - test of the data.
template <Scalar S>
Split train_val_test_split(const Dataset<S>& d, double val_fraction, double test_fraction,
                           std::uint64_t seed) {
  require_arg(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
              "train_val_test_split: need val, test >= 0 and val + test < 1, got val ",
              val_fraction, ", test ", test_fraction);
  require_arg(!d.empty(), "train_val_test_split: data set '", d.name, "' is empty");
  Rng rng(seed);
  const auto sub = detail::stratify(detail::row_labels(d), d.num_classes(),
                                    {1 - val_fraction - test_fraction, val_fraction, test_fraction}, rng);
  Split out;
  for (std::size_t i = 0; i < sub.size(); ++i)
    (sub[i] == 0 ? out.train : sub[i] == 1 ? out.val : out.test).push_back(Index(i));
  return out;
}

/// Stratified k-fold: fold f validates on its rows and trains on all others. Every row is in
/// exactly one validation set; fold sizes differ by at most about one per class.
template <Scalar S>
std::vector<Fold> stratified_kfold(const Dataset<S>& d, Index k, std::uint64_t seed) {
  require_arg(k >= 2 && k <= d.size(), "stratified_kfold: need 2 <= k <= ", d.size(),
              " (the number of series), got k = ", k);
  Rng rng(seed);
  const auto sub = detail::stratify(detail::row_labels(d), d.num_classes(),
                                    std::vector<double>(std::size_t(k), 1.0 / double(k)), rng);
  std::vector<Fold> folds(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < sub.size(); ++i)
    for (std::size_t f = 0; f < folds.size(); ++f)
      (int(f) == sub[i] ? folds[f].val : folds[f].train).push_back(Index(i));
  return folds;
}

}  // namespace salient::data
