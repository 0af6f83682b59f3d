// salient/data/dataset.hpp — an in-memory labelled collection of multivariate time series.
//
// A Dataset keeps every series unpadded (T_i × C, one row per time step). Padding only happens
// when a batch is built (data/batching.hpp), so scalers and other preprocessing never see pad
// values and cannot be fooled by them.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace salient::data {

/// What a reader does with missing values (`?` in .ts files, NaN/empty cells elsewhere).
enum class MissingPolicy {
  keep_nan,            ///< Keep them as NaN (default). Impute before training: layers do not skip NaN.
  impute_series_mean,  ///< Replace by the mean of the observed values of that channel in that series.
  error,               ///< Refuse the file (IoError naming the line).
};

/// N multivariate series with either one class each (multi-class) or a set of labels
/// (multi-label, stored as an N × K multi-hot matrix), plus optional ground-truth masks.
///
/// The members are public so that readers and generators can fill them directly; call
/// validate() after building one by hand.
template <Scalar S = float>
struct Dataset {
  using scalar_type = S;

  /// Free-text name (the .ts @problemName, the generator's name, ...).
  std::string name;
  /// One T_i × C matrix per series, row t = time step t. Every series has the same C.
  std::vector<RowMatrix<S>> series;
  /// Which of `labels` / `targets` holds the labels.
  bool multi_label = false;
  /// Multi-class: one class index per series in [0, K). Empty for an unlabelled data set.
  std::vector<Index> labels;
  /// Multi-label: N × K multi-hot matrix with entries 0 or 1.
  RowMatrix<S> targets;
  /// K class (or label) names in index order. Empty only for an unlabelled data set.
  std::vector<std::string> class_names;
  /// Optional ground-truth relevance masks: empty, or one entry per series holding one T_i × C
  /// mask (multi-class) or K masks, one per label (multi-label). Non-zero = relevant.
  std::vector<std::vector<RowMatrix<S>>> masks;

  Index size() const { return Index(series.size()); }
  bool empty() const { return series.empty(); }
  /// Number of channels (0 for an empty data set).
  Index channels() const { return series.empty() ? 0 : series.front().cols(); }
  Index num_classes() const { return Index(class_names.size()); }
  bool labelled() const { return !class_names.empty(); }
  bool has_masks() const { return !masks.empty(); }
  Index length(Index i) const { return series[std::size_t(i)].rows(); }

  Index min_length() const {
    Index m = 0;
    for (const auto& s : series) m = (m == 0) ? s.rows() : std::min(m, s.rows());
    return m;
  }
  Index max_length() const {
    Index m = 0;
    for (const auto& s : series) m = std::max(m, s.rows());
    return m;
  }
  /// True if every series has the same length.
  bool equal_length() const { return min_length() == max_length(); }

  /// Samples per class (multi-class) or positives per label (multi-label); size K.
  std::vector<Index> class_counts() const {
    std::vector<Index> counts(class_names.size(), 0);
    if (multi_label) {
      for (Index i = 0; i < targets.rows(); ++i)
        for (Index k = 0; k < targets.cols() && k < Index(counts.size()); ++k)
          if (targets(i, k) != S(0)) ++counts[std::size_t(k)];
    } else {
      for (Index y : labels)
        if (y >= 0 && y < Index(counts.size())) ++counts[std::size_t(y)];
    }
    return counts;
  }

  /// True if label k applies to series i (works for both label kinds).
  bool has_label(Index i, Index k) const {
    return multi_label ? targets(i, k) != S(0) : labels[std::size_t(i)] == k;
  }

  /// The mask of series i (multi-class) or of series i and label k (multi-label).
  const RowMatrix<S>& mask(Index i, Index k = 0) const {
    require_arg(has_masks(), "Dataset '", name, "': no ground-truth masks");
    return masks[std::size_t(i)][std::size_t(multi_label ? k : 0)];
  }

  /// A new data set with the given rows, in the given order (duplicates allowed).
  Dataset subset(std::span<const Index> indices) const {
    Dataset out;
    out.name = name;
    out.multi_label = multi_label;
    out.class_names = class_names;
    out.series.reserve(indices.size());
    if (multi_label) out.targets.resize(Index(indices.size()), targets.cols());
    Index r = 0;
    for (Index i : indices) {
      require_arg(i >= 0 && i < size(), "Dataset::subset: index ", i, " outside [0, ", size(), ")");
      out.series.push_back(series[std::size_t(i)]);
      if (multi_label)
        out.targets.row(r) = targets.row(i);
      else if (!labels.empty())
        out.labels.push_back(labels[std::size_t(i)]);
      if (has_masks()) out.masks.push_back(masks[std::size_t(i)]);
      ++r;
    }
    return out;
  }
  Dataset subset(const std::vector<Index>& indices) const {
    return subset(std::span<const Index>(indices.data(), indices.size()));
  }

  /// The same data set with another scalar type.
  template <Scalar S2>
  Dataset<S2> cast() const {
    Dataset<S2> out;
    out.name = name;
    out.multi_label = multi_label;
    out.labels = labels;
    out.targets = targets.template cast<S2>();
    out.class_names = class_names;
    out.series.reserve(series.size());
    for (const auto& s : series) out.series.push_back(s.template cast<S2>());
    out.masks.resize(masks.size());
    for (std::size_t i = 0; i < masks.size(); ++i)
      for (const auto& m : masks[i]) out.masks[i].push_back(m.template cast<S2>());
    return out;
  }

  /// Check every invariant; throws ShapeError / ArgumentError naming the series at fault.
  void validate() const {
    const Index N = size(), C = channels(), K = num_classes();
    for (Index i = 0; i < N; ++i) {
      const auto& s = series[std::size_t(i)];
      require_shape(s.rows() >= 1, "Dataset '", name, "': series ", i, " is empty");
      require_shape(s.cols() == C && C >= 1, "Dataset '", name, "': series ", i, " has ", s.cols(),
                    " channels, series 0 has ", C);
    }
    {  // hash set: O(K) and no string copies; K can be ~1e6 for index labels read from .npy
       // (a sorted copy of 655k names took > 10 s under the fuzzer's ASan build)
      std::unordered_set<std::string_view> seen;
      seen.reserve(class_names.size());
      for (const auto& c : class_names)
        require_arg(seen.insert(c).second, "Dataset '", name, "': class name '", c, "' appears twice");
    }
    if (multi_label) {
      require_arg(K >= 1, "Dataset '", name, "': a multi-label data set needs class names");
      require_shape(targets.rows() == N && targets.cols() == K, "Dataset '", name,
                    "': targets are ", targets.rows(), " x ", targets.cols(), ", expected ", N,
                    " x ", K);
      for (Index i = 0; i < N; ++i)
        for (Index k = 0; k < K; ++k)
          require_arg(targets(i, k) == S(0) || targets(i, k) == S(1), "Dataset '", name,
                      "': target (", i, ", ", k, ") is ", targets(i, k), ", expected 0 or 1");
      require_arg(labels.empty(), "Dataset '", name,
                  "': multi-label data set must leave `labels` empty");
    } else if (K == 0) {
      require_arg(labels.empty(), "Dataset '", name, "': labels given but no class names");
    } else {
      require_shape(Index(labels.size()) == N, "Dataset '", name, "': ", labels.size(),
                    " labels for ", N, " series");
      for (Index i = 0; i < N; ++i) {
        const Index y = labels[std::size_t(i)];
        require_arg(y >= 0 && y < K, "Dataset '", name, "': series ", i, " has label ", y,
                    ", outside [0, ", K, ")");
      }
    }
    if (has_masks()) {
      require_shape(Index(masks.size()) == N, "Dataset '", name, "': ", masks.size(),
                    " mask sets for ", N, " series");
      const Index per = multi_label ? K : 1;
      for (Index i = 0; i < N; ++i) {
        const auto& ms = masks[std::size_t(i)];
        require_shape(Index(ms.size()) == per, "Dataset '", name, "': series ", i, " has ",
                      ms.size(), " masks, expected ", per);
        for (const auto& m : ms)
          require_shape(m.rows() == length(i) && m.cols() == C, "Dataset '", name,
                        "': mask of series ", i, " is ", m.rows(), " x ", m.cols(), ", expected ",
                        length(i), " x ", C);
      }
    }
  }
};

/// Replace NaN in each channel of `x` by the mean of that channel's finite values.
/// Returns false (and leaves the channel as is) if a channel has no finite value.
template <class S>
bool impute_channel_means(RowMatrix<S>& x) {
  bool ok = true;
  for (Index c = 0; c < x.cols(); ++c) {
    double sum = 0;
    Index n = 0;
    bool any_nan = false;
    for (Index t = 0; t < x.rows(); ++t) {
      if (std::isnan(x(t, c)))
        any_nan = true;
      else {
        sum += double(x(t, c));
        ++n;
      }
    }
    if (!any_nan) continue;
    if (n == 0) {
      ok = false;
      continue;
    }
    const S mean = S(sum / double(n));
    for (Index t = 0; t < x.rows(); ++t)
      if (std::isnan(x(t, c))) x(t, c) = mean;
  }
  return ok;
}

/// True if any value of any series is NaN.
template <class S>
bool has_missing(const Dataset<S>& d) {
  for (const auto& s : d.series)
    if (s.array().isNaN().any()) return true;
  return false;
}

}  // namespace salient::data
