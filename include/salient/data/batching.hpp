// salient/data/batching.hpp — turn a Dataset into padded, time-major training batches.
//
// This is the only place where series get padded: values (T, B, C) with T = the batch's longest
// series, zeros after each series' end, and the true lengths alongside (see core/tensor.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/tensor.hpp"
#include "dataset.hpp"

namespace salient::data {

/// One training batch.
template <Scalar S = float>
struct Batch {
  SeqBatch<S> x;               ///< values (T, B, C), zero-padded, plus lengths
  std::vector<Index> classes;  ///< multi-class: class of each sample (empty otherwise)
  RowMatrix<S> targets;        ///< multi-label: B × K multi-hot (0 × 0 otherwise)
  std::vector<Index> indices;  ///< the data-set row of each sample

  Index size() const { return Index(indices.size()); }
};

/// Build the batch made of `indices` (data-set rows, in that order; must not be empty).
template <Scalar S>
Batch<S> make_batch(const Dataset<S>& d, std::span<const Index> indices) {
  require_arg(!indices.empty(), "make_batch: no indices given");
  Index T = 0;
  const Index C = d.channels();
  for (Index i : indices) {
    require_arg(i >= 0 && i < d.size(), "make_batch: index ", i, " outside [0, ", d.size(), ")");
    // The copy below reads C values per step: a series with fewer channels would be read past
    // its end, an empty one would give a length outside [1, T] (Dataset::validate checks both
    // for the whole set; these checks cover the rows used, for data sets built by hand).
    const auto& s = d.series[std::size_t(i)];
    require_shape(s.rows() >= 1, "make_batch: series ", i, " of '", d.name, "' is empty");
    require_shape(s.cols() == C, "make_batch: series ", i, " of '", d.name, "' has ", s.cols(),
                  " channels, series 0 has ", C);
    T = std::max(T, d.length(i));
  }
  const Index B = Index(indices.size());
  Batch<S> out;
  out.x = SeqBatch<S>(T, B, C);  // zero-filled, so padding is 0
  out.indices.assign(indices.begin(), indices.end());
  if (d.multi_label) out.targets.resize(B, d.num_classes());
  for (Index b = 0; b < B; ++b) {
    const Index i = indices[std::size_t(b)];
    const auto& s = d.series[std::size_t(i)];
    out.x.lengths[std::size_t(b)] = s.rows();
    for (Index t = 0; t < s.rows(); ++t)
      std::copy_n(s.data() + t * C, C, out.x.values.data() + (t * B + b) * C);
    if (d.multi_label)
      out.targets.row(b) = d.targets.row(i);
    else if (!d.labels.empty())
      out.classes.push_back(d.labels[std::size_t(i)]);
  }
  return out;
}
template <Scalar S>
Batch<S> make_batch(const Dataset<S>& d, const std::vector<Index>& indices) {
  return make_batch(d, std::span<const Index>(indices.data(), indices.size()));
}

struct BatchOptions {
  /// New random order every epoch (needs an Rng). Without it, rows go in data-set order.
  bool shuffle = true;
  /// Group series of similar length into the same batch (less padding, faster recurrent
  /// layers); the order of the batches is still shuffled when `shuffle` is set.
  bool bucket_by_length = false;
  /// Drop the last, smaller batch (with shuffling, different samples are dropped each epoch).
  bool drop_last = false;
};

/// The groups of data-set rows making up one epoch. Deterministic given the Rng state.
/// `rng` may be null only if options.shuffle is false.
inline std::vector<std::vector<Index>> epoch_plan(const std::vector<Index>& lengths, Index batch_size,
                                                  Rng* rng, const BatchOptions& opt) {
  require_arg(batch_size >= 1, "batches: batch_size must be >= 1, got ", batch_size);
  require_arg(!opt.shuffle || rng != nullptr, "batches: shuffle requested but no Rng given");
  const Index n = Index(lengths.size());
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  if (opt.shuffle) salient::shuffle(order.begin(), order.end(), *rng);
  if (opt.drop_last) order.resize(std::size_t(n - n % batch_size));
  if (opt.bucket_by_length)  // stable: ties keep the (shuffled) order
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) {
      return lengths[std::size_t(a)] < lengths[std::size_t(b)];
    });
  std::vector<std::vector<Index>> plan;
  for (std::size_t s = 0; s < order.size(); s += std::size_t(batch_size)) {
    const std::size_t e = std::min(order.size(), s + std::size_t(batch_size));
    plan.emplace_back(order.begin() + std::ptrdiff_t(s), order.begin() + std::ptrdiff_t(e));
  }
  if (opt.bucket_by_length && opt.shuffle) salient::shuffle(plan.begin(), plan.end(), *rng);
  return plan;
}

/// Iterates over the batches of a data set, epoch after epoch.
///
///   Rng rng(7);
///   auto it = batches(train, 32, &rng);
///   for (int epoch = 0; epoch < 10; ++epoch) {
///     it.start_epoch();                    // draws a new order from rng
///     while (auto* b = it.next()) fit(b->x, b->classes);
///   }
/// The Rng (owned by the caller) advances by one epoch's worth of draws per start_epoch(), so a
/// run is reproducible from its seed. The Dataset must outlive the iterator.
template <Scalar S = float>
class BatchIterator {
 public:
  BatchIterator(const Dataset<S>& d, Index batch_size, Rng* rng, BatchOptions opt = {})
      : d_(&d), batch_size_(batch_size), rng_(rng), opt_(opt) {
    require_arg(batch_size >= 1, "batches: batch_size must be >= 1, got ", batch_size);
    require_arg(!opt.shuffle || rng != nullptr, "batches: shuffle requested but no Rng given");
    require_arg(!d.empty(), "batches: data set '", d.name, "' is empty");
    lengths_.reserve(std::size_t(d.size()));
    for (Index i = 0; i < d.size(); ++i) lengths_.push_back(d.length(i));
  }

  /// Plan a new epoch (a new order if shuffling) and rewind.
  void start_epoch() {
    plan_ = epoch_plan(lengths_, batch_size_, rng_, opt_);
    pos_ = 0;
    started_ = true;
  }
  /// The next batch of the current epoch, or nullptr at its end. Starts an epoch if none is.
  const Batch<S>* next() {
    if (!started_) start_epoch();
    if (pos_ >= plan_.size()) return nullptr;
    current_ = make_batch(*d_, plan_[pos_++]);
    return &current_;
  }
  /// Number of batches per epoch.
  Index batches_per_epoch() const {
    const Index n = d_->size();
    return opt_.drop_last ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
  }
  /// The row groups of the current epoch (after start_epoch()).
  const std::vector<std::vector<Index>>& plan() const { return plan_; }

 private:
  const Dataset<S>* d_;
  Index batch_size_;
  Rng* rng_;
  BatchOptions opt_;
  std::vector<Index> lengths_;
  std::vector<std::vector<Index>> plan_;
  std::size_t pos_ = 0;
  bool started_ = false;
  Batch<S> current_;
};

/// Convenience constructor: `batches(train, 32, &rng, {.bucket_by_length = true})`.
template <Scalar S>
BatchIterator<S> batches(const Dataset<S>& d, Index batch_size, Rng* rng, BatchOptions opt = {}) {
  return BatchIterator<S>(d, batch_size, rng, opt);
}

}  // namespace salient::data
