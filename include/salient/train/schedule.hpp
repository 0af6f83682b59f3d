// salient/train/schedule.hpp — learning-rate schedules, applied once per epoch.
//
// With base = the optimizer's learning rate when training starts and e = the 0-based epoch:
//   constant          lr(e) = base
//   step decay        lr(e) = base · gamma^floor(e / step_size)
//   cosine            W = warmup_epochs, E = total_epochs (0: the fit's epoch count)
//                     e <  W:  lr(e) = base · (e + 1) / (W + 1)          (linear warm-up)
//                     e >= W:  lr(e) = min_lr + (base − min_lr) · (1 + cos(π · min(1, (e − W) / max(1, E − W − 1)))) / 2
//                     so the first epoch after warm-up runs at base and the last one at min_lr.
//   reduce-on-plateau lr starts at base; after each epoch the monitored value is compared with
//                     the best so far; an improvement is  v < best − min_delta (mode min) or
//                     v > best + min_delta (mode max). After `patience` epochs without one,
//                     lr ← max(lr · factor, min_lr) and the count restarts; the `cooldown`
//                     epochs after a reduction only update the best value (Keras counts the
//                     reducing epoch as the first cooldown epoch, so its cooldown c ≈ our c − 1).
// The schedule is a small value type with its mutable state in plain numbers (state() /
// set_state()), so it goes into a checkpoint and resumes exactly.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/config.hpp"

namespace salient {

/// Whether a smaller or a larger monitored value is better. Auto: min for names ending in
/// "loss" (and "hamming_loss"), max otherwise.
enum class MonitorMode { Auto, Min, Max };

inline bool monitor_minimises(MonitorMode mode, const std::string& name) {
  if (mode == MonitorMode::Min) return true;
  if (mode == MonitorMode::Max) return false;
  return name.size() >= 4 && name.compare(name.size() - 4, 4, "loss") == 0;
}

class LrSchedule {
 public:
  enum class Kind { Constant, Step, Cosine, Plateau };

  static LrSchedule constant() { return LrSchedule(); }
  static LrSchedule step(Index step_size, double gamma = 0.1) {
    require_arg(step_size >= 1, "LrSchedule::step: step_size must be >= 1, got ", step_size);
    require_arg(gamma > 0, "LrSchedule::step: gamma must be > 0, got ", gamma);
    LrSchedule s;
    s.kind_ = Kind::Step;
    s.step_size_ = step_size;
    s.gamma_ = gamma;
    return s;
  }
  /// total_epochs = 0: use the number of epochs of the fit.
  static LrSchedule cosine(Index total_epochs = 0, double min_lr = 0.0, Index warmup_epochs = 0) {
    require_arg(total_epochs >= 0 && warmup_epochs >= 0 && min_lr >= 0,
                "LrSchedule::cosine: need total_epochs >= 0, warmup_epochs >= 0, min_lr >= 0");
    LrSchedule s;
    s.kind_ = Kind::Cosine;
    s.total_ = total_epochs;
    s.min_lr_ = min_lr;
    s.warmup_ = warmup_epochs;
    return s;
  }
  /// Reduce on plateau of a History metric (e.g. "val_loss", "val_macro_f1", "loss").
  static LrSchedule plateau(std::string monitor = "val_loss", double factor = 0.1, Index patience = 10,
                            double min_lr = 0.0, MonitorMode mode = MonitorMode::Auto,
                            double min_delta = 1e-4, Index cooldown = 0) {
    require_arg(factor > 0 && factor < 1, "LrSchedule::plateau: factor must be in (0, 1), got ", factor);
    require_arg(patience >= 0 && cooldown >= 0 && min_lr >= 0 && min_delta >= 0,
                "LrSchedule::plateau: patience, cooldown, min_lr and min_delta must be >= 0");
    LrSchedule s;
    s.kind_ = Kind::Plateau;
    s.monitor_ = std::move(monitor);
    s.factor_ = factor;
    s.patience_ = patience;
    s.min_lr_ = min_lr;
    s.mode_ = mode;
    s.min_delta_ = min_delta;
    s.cooldown_ = cooldown;
    return s;
  }

  Kind kind() const { return kind_; }
  const std::string& monitor() const { return monitor_; }
  bool needs_monitor() const { return kind_ == Kind::Plateau; }

  /// Start of training: remember the base rate and the run length; resets plateau state.
  void begin(double base_lr, Index fit_epochs) {
    base_ = base_lr;
    fit_epochs_ = fit_epochs;
    current_ = base_lr;
    best_ = std::numeric_limits<double>::quiet_NaN();
    wait_ = 0;
    cooldown_left_ = 0;
  }

  /// The learning rate for epoch e (0-based).
  double lr(Index e) const {
    switch (kind_) {
      case Kind::Constant: return base_;
      case Kind::Step: return base_ * std::pow(gamma_, double(e / step_size_));
      case Kind::Cosine: {
        const Index E = total_ > 0 ? total_ : fit_epochs_;
        if (e < warmup_) return base_ * double(e + 1) / double(warmup_ + 1);
        const double span = double(std::max<Index>(1, E - warmup_ - 1));
        const double x = std::min(1.0, double(e - warmup_) / span);
        return min_lr_ + (base_ - min_lr_) * 0.5 * (1.0 + std::cos(std::numbers::pi * x));
      }
      case Kind::Plateau: return current_;
    }
    return base_;
  }

  /// End of an epoch with the monitored value (ignored unless reduce-on-plateau).
  /// Returns true if the rate was reduced.
  bool end_epoch(double value) {
    if (kind_ != Kind::Plateau) return false;
    require_arg(!std::isnan(value), "LrSchedule::plateau: monitored value '", monitor_, "' is NaN");
    const bool minimise = monitor_minimises(mode_, monitor_);
    const bool better = std::isnan(best_) || (minimise ? value < best_ - min_delta_ : value > best_ + min_delta_);
    if (better) best_ = value;
    if (cooldown_left_ > 0) {  // epochs right after a reduction are not counted
      --cooldown_left_;
      wait_ = 0;
      return false;
    }
    if (better) {
      wait_ = 0;
      return false;
    }
    if (++wait_ >= std::max<Index>(patience_, 1)) {
      const double next = std::max(current_ * factor_, min_lr_);
      const bool changed = next < current_;
      current_ = next;
      wait_ = 0;
      cooldown_left_ = cooldown_;
      return changed;
    }
    return false;
  }

  /// Mutable state for checkpoints: {base, fit_epochs, current, best, wait, cooldown_left}.
  std::vector<double> state() const {
    return {base_, double(fit_epochs_), current_, best_, double(wait_), double(cooldown_left_)};
  }
  void set_state(const std::vector<double>& s) {
    require_arg(s.size() == 6, "LrSchedule::set_state: expected 6 values, got ", s.size());
    base_ = s[0];
    fit_epochs_ = Index(s[1]);
    current_ = s[2];
    best_ = s[3];
    wait_ = Index(s[4]);
    cooldown_left_ = Index(s[5]);
  }

 private:
  Kind kind_ = Kind::Constant;
  Index step_size_ = 1, total_ = 0, warmup_ = 0, patience_ = 10, cooldown_ = 0;
  double gamma_ = 0.1, min_lr_ = 0.0, factor_ = 0.1, min_delta_ = 1e-4;
  std::string monitor_;
  MonitorMode mode_ = MonitorMode::Auto;
  // state
  double base_ = 0.0, current_ = 0.0, best_ = std::numeric_limits<double>::quiet_NaN();
  Index fit_epochs_ = 0, wait_ = 0, cooldown_left_ = 0;
};

}  // namespace salient
