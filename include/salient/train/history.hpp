// salient/train/history.hpp — what fit() returns: one record per epoch, plus how it ended.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "metrics.hpp"

namespace salient {

/// One epoch of training. `epoch` is 0-based (messages and progress lines print it 1-based).
struct EpochRecord {
  static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  Index epoch = 0;
  double lr = nan;       ///< learning rate used during the epoch
  double seconds = 0;    ///< wall time, validation included
  Index batches = 0;     ///< batches run (fewer if a callback stopped mid-epoch)
  Index skipped_batches = 0;  ///< batches skipped for a non-finite loss/gradient
  double loss = nan;     ///< mean training loss over the epoch's batches (weighted by size)
  ClassificationMetrics train;  ///< metrics of the training predictions made during the epoch
  bool has_validation = false;
  double val_loss = nan;
  ClassificationMetrics val;

  /// A value by Keras-style name: "loss", "val_loss", "lr", "seconds", a metric name
  /// ("accuracy", "macro_f1", ... see ClassificationMetrics::get) for the training figures, or
  /// "val_" + metric name for the validation ones. ArgumentError for an unknown name or a
  /// "val_" name without validation data.
  double get(std::string_view name) const {
    if (name == "loss") return loss;
    if (name == "lr") return lr;
    if (name == "seconds") return seconds;
    if (name.starts_with("val_")) {
      require_arg(has_validation, "'", name, "' needs validation data (set FitOptions::validation or validation_fraction)");
      if (name == "val_loss") return val_loss;
      return val.get(name.substr(4));
    }
    return train.get(name);
  }
};

struct History {
  std::vector<EpochRecord> epochs;
  std::string monitor;             ///< early-stopping metric ("" without early stopping)
  Index best_epoch = -1;           ///< 0-based epoch with the best monitored value
  double best_value = EpochRecord::nan;
  bool stopped_early = false;      ///< early stopping or a callback ended training
  bool restored_best = false;      ///< the best epoch's weights were put back
  std::string stop_reason;         ///< why training ended before the last epoch ("" otherwise)
  Index skipped_batches = 0;       ///< total over all epochs

  Index size() const { return Index(epochs.size()); }
  bool empty() const { return epochs.empty(); }
  const EpochRecord& back() const { return epochs.back(); }
  /// The named value of every epoch (see EpochRecord::get).
  std::vector<double> values(std::string_view name) const {
    std::vector<double> out;
    out.reserve(epochs.size());
    for (const auto& e : epochs) out.push_back(e.get(name));
    return out;
  }
};

}  // namespace salient
