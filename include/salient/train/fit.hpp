// salient/train/fit.hpp — the training loop (fit), evaluation and prediction.
//
//   Sequential<LSTM<3, 32, LastState>, Dense<32, 5>> model;
//   model.init(42);
//   FitOptions<float> opt;
//   opt.epochs = 30;
//   opt.validation_fraction = 0.2;
//   opt.early_stopping = EarlyStopping{.monitor = "val_macro_f1", .patience = 5};
//   History h = fit(model, train, opt);
//   std::cout << evaluate(model, test).report();
//
// The model maps a batch to B × K logits. Its input is the padded SeqBatch of the data set
// (sequence models) or, for vector models, each series flattened row-major (T·C values; all
// series must then have the same length). The loss is softmax cross-entropy for multi-class
// data and sigmoid binary cross-entropy for multi-label data (chosen from the data set's flag).
//
// Each batch is split into W contiguous shards, one per worker (see parallel.hpp); each worker
// computes the loss of its shard, scales its gradient by shard_weight / batch_weight (the
// batch weight is Σ class weights for cross-entropy, B·K for BCE), so that the reduced
// gradient equals the full-batch gradient exactly (up to rounding), then backpropagates into
// its replica's gradient buffer. Validation and prediction give each worker whole batches
// (batch i to worker i mod W), so their results do not depend on the thread count.
//
// Shuffling uses Rng(seed + 0x9E3779B97F4A7C15·(epoch+1)) for each epoch, so an epoch's order
// depends only on the seed and the epoch number — which is what lets a resumed run continue
// exactly. fit() does not initialise the model: call model.init(seed) first.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "../core/error.hpp"
#include "../core/layer.hpp"
#include "../data/batching.hpp"
#include "../data/dataset.hpp"
#include "../data/split.hpp"
#include "../io/checkpoint.hpp"
#include "history.hpp"
#include "loss.hpp"
#include "metrics.hpp"
#include "optimizer.hpp"
#include "parallel.hpp"
#include "progress.hpp"
#include "schedule.hpp"

namespace salient {

/// Which loss fit() minimises. Auto: softmax cross-entropy for multi-class data, sigmoid BCE for
/// multi-label data.
enum class LossKind { Auto, SoftmaxCrossEntropy, SigmoidBinaryCrossEntropy };

/// What fit() does when a batch has a non-finite loss or gradient.
enum class NonFinitePolicy {
  Throw,     ///< NumericError naming the epoch and batch (default)
  SkipBatch  ///< leave the weights unchanged, count it in EpochRecord/History::skipped_batches
};

struct EarlyStopping {
  std::string monitor = "val_loss";  ///< an EpochRecord::get name: "val_loss", "val_macro_f1", "loss", ...
  MonitorMode mode = MonitorMode::Auto;
  Index patience = 5;        ///< epochs without improvement before stopping
  double min_delta = 0.0;    ///< an improvement must beat the best by more than this
  bool restore_best_weights = true;  ///< at the end of training, put back the best epoch's weights
};

/// What on_batch_end sees. Batch and epoch numbers are 0-based.
struct BatchRecord {
  Index epoch = 0, batch = 0, batches = 0, size = 0;
  double loss = 0, running_loss = 0, lr = 0;
  bool skipped = false;
};

template <Scalar S = float>
using AnyOptimizer = std::variant<Adam<S>, AdamW<S>, SGD<S>>;

template <Scalar S = float>
struct FitOptions {
  Index epochs = 10;
  Index batch_size = 32;
  AnyOptimizer<S> optimizer = Adam<S>{};
  LossKind loss = LossKind::Auto;
  std::vector<double> class_weights;  ///< multi-class, size K (see balanced_class_weights)
  double label_smoothing = 0.0;       ///< multi-class
  std::vector<double> pos_weight;     ///< multi-label, size K (see balanced_pos_weight)

  const data::Dataset<S>* validation = nullptr;  ///< or:
  double validation_fraction = 0.0;  ///< stratified split of the training data (seeded by `seed`)

  std::uint64_t seed = 0;  ///< shuffling and the validation split
  bool shuffle = true;
  bool bucket_by_length = false;  ///< group similar lengths (less padding), batches still shuffled

  LrSchedule schedule = LrSchedule::constant();  ///< base rate = the optimizer's lr
  std::optional<EarlyStopping> early_stopping;
  double clip_grad_norm = 0.0;  ///< > 0: clip the global gradient L2 norm to this
  NonFinitePolicy on_non_finite = NonFinitePolicy::Throw;

  std::vector<double> thresholds;  ///< multi-label decision thresholds for metrics (default 0.5)
  bool tune_thresholds = false;    ///< multi-label: tune them on validation data after training

  /// Called after every epoch; return true to stop training.
  std::function<bool(const EpochRecord&)> on_epoch_end;
  /// Called after every batch; return true to stop (the epoch is then finished and reported).
  std::function<bool(const BatchRecord&)> on_batch_end;

  int threads = 0;           ///< data-parallel workers (0 = all cores); capped at batch_size
  Index eval_batch_size = 0;  ///< validation batch size (0 = max(batch_size, 256))
  int verbose = 1;           ///< 0 quiet, 1 progress
  ProgressStyle progress = ProgressStyle::Auto;
  std::ostream* out = nullptr;  ///< progress stream (nullptr = std::cout)
};

/// Class weights N / (K · n_k) (scikit-learn's "balanced"); 0 for an absent class.
template <class S>
std::vector<double> balanced_class_weights(const data::Dataset<S>& d) {
  const auto counts = d.class_counts();
  std::vector<double> w(counts.size(), 0.0);
  for (std::size_t k = 0; k < counts.size(); ++k)
    if (counts[k] > 0) w[k] = double(d.size()) / (double(counts.size()) * double(counts[k]));
  return w;
}
/// Per-label pos_weight = negatives / positives (1 for a label without positives).
template <class S>
std::vector<double> balanced_pos_weight(const data::Dataset<S>& d) {
  const auto counts = d.class_counts();
  std::vector<double> w(counts.size(), 1.0);
  for (std::size_t k = 0; k < counts.size(); ++k)
    if (counts[k] > 0) w[k] = double(d.size() - counts[k]) / double(counts[k]);
  return w;
}

namespace detail {

/// Model input, labels and loss gradient of one shard (one per worker, reused across batches).
template <class Model>
struct Workspace {
  using S = typename Model::scalar_type;
  typename Model::Input x;
  std::vector<Index> classes;
  RowMatrix<S> targets, dlogits;
  std::vector<Index> rows;
};

/// Fill ws.x (and the labels) with the data-set rows `idx`.
template <class Model, class S>
void make_input(const data::Dataset<S>& d, std::span<const Index> idx, Workspace<Model>& ws) {
  if constexpr (Model::input_shape == Shape::Sequence) {
    auto b = data::make_batch(d, idx);
    ws.x = std::move(b.x);
    ws.classes = std::move(b.classes);
    ws.targets = std::move(b.targets);
  } else {
    const Index B = Index(idx.size()), C = d.channels(), T = d.length(idx[0]);
    ensure_shape(ws.x, B, T * C);
    ws.classes.clear();
    if (d.multi_label) ws.targets.resize(B, d.num_classes());
    for (Index b = 0; b < B; ++b) {
      const Index i = idx[std::size_t(b)];
      const auto& s = d.series[std::size_t(i)];
      require_shape(s.rows() == T, "fit: vector models need series of equal length; series ", i, " has ",
                    s.rows(), " steps, series ", idx[0], " has ", T);
      ws.x.row(b) = Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>(s.data(), T * C);
      if (d.multi_label) ws.targets.row(b) = d.targets.row(i);
      else if (!d.labels.empty()) ws.classes.push_back(d.labels[std::size_t(i)]);
    }
  }
}

/// Check that a data set can be fed to the model; `what` names it in messages.
template <class Model, class S>
void check_dataset(const Model& model, const data::Dataset<S>& d, const char* what, bool need_labels) {
  require_arg(!d.empty(), what, " data set '", d.name, "' is empty");
  d.validate();
  if (need_labels) require_arg(d.labelled(), what, " data set '", d.name, "' has no labels");
  if (d.labelled())
    require_shape(d.num_classes() == model.output_features(), what, " data set '", d.name, "' has ",
                  d.num_classes(), " classes, the model outputs ", model.output_features());
  const Index f = model.input_features();
  if constexpr (Model::input_shape == Shape::Sequence) {
    require_shape(f < 0 || d.channels() == f, what, " data set '", d.name, "' has ", d.channels(),
                  " channels, the model expects ", f);
  } else {
    require_shape(d.equal_length(), what, " data set '", d.name,
                  "': a vector model needs series of equal length, lengths range from ", d.min_length(),
                  " to ", d.max_length());
    require_shape(f < 0 || d.max_length() * d.channels() == f, what, " data set '", d.name, "': ",
                  d.max_length(), " steps x ", d.channels(), " channels = ", d.max_length() * d.channels(),
                  " values per series, the model expects ", f);
  }
}

template <class S>
void to_probabilities(const RowMatrix<S>& logits, bool multi_label, Eigen::Ref<RowMatrix<S>> out) {
  if (multi_label) {
    for (Index i = 0; i < logits.rows(); ++i)
      for (Index k = 0; k < logits.cols(); ++k) out(i, k) = sigmoid(logits(i, k));
  } else {
    for (Index i = 0; i < logits.rows(); ++i) {
      const S m = logits.row(i).maxCoeff();
      S z = 0;
      for (Index k = 0; k < logits.cols(); ++k) z += (out(i, k) = std::exp(logits(i, k) - m));
      out.row(i) /= z;
    }
  }
}

/// Logits of every row of `d`, batch i on worker i mod W (thread-count independent results).
template <class Model, class S>
RowMatrix<S> predict_logits(DataParallel<Model>& dp, std::vector<Workspace<Model>>& ws,
                            const data::Dataset<S>& d, Index batch_size) {
  dp.sync();
  const Index N = d.size(), K = dp.primary().output_features(), nb = (N + batch_size - 1) / batch_size;
  RowMatrix<S> out(N, K);
  const int W = dp.workers();
  dp.pool().run([&](int w) {
    auto& s = ws[std::size_t(w)];
    for (Index b = w; b < nb; b += W) {
      const Index lo = b * batch_size, hi = std::min(N, lo + batch_size);
      s.rows.resize(std::size_t(hi - lo));
      std::iota(s.rows.begin(), s.rows.end(), lo);
      make_input<Model>(d, s.rows, s);
      out.middleRows(lo, hi - lo) = dp.replica(w).forward(s.x, Mode::Inference);
    }
  });
  return out;
}

/// Mean loss of logits without weights or smoothing (validation / evaluation loss).
template <class S>
double plain_loss(const RowMatrix<S>& logits, const data::Dataset<S>& d, bool multi_label) {
  if (multi_label) return double(SigmoidBinaryCrossEntropy{}(logits, d.targets));
  return double(SoftmaxCrossEntropy{}(logits, d.labels));
}

template <class S>
ClassificationMetrics metrics_of(const RowMatrix<S>& probs, const data::Dataset<S>& d, bool multi_label,
                                 const std::vector<double>& thresholds) {
  if (multi_label) return multilabel_metrics(probs, d.targets, d.class_names, thresholds);
  return multiclass_metrics(probs, d.labels, d.class_names);
}

/// Metrics of scores whose row r belongs to data-set row rows[r].
template <class S>
ClassificationMetrics metrics_of_rows(const RowMatrix<S>& probs, const data::Dataset<S>& d,
                                      const std::vector<Index>& rows, bool multi_label,
                                      const std::vector<double>& thresholds) {
  if (multi_label) {
    RowMatrix<S> truth(Index(rows.size()), d.num_classes());
    for (std::size_t r = 0; r < rows.size(); ++r) truth.row(Index(r)) = d.targets.row(rows[r]);
    return multilabel_metrics(probs, truth, d.class_names, thresholds);
  }
  std::vector<Index> y(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) y[r] = d.labels[std::size_t(rows[r])];
  return multiclass_metrics(probs, y, d.class_names);
}

inline std::uint64_t epoch_seed(std::uint64_t seed, Index epoch) {
  return seed + 0x9E3779B97F4A7C15ULL * std::uint64_t(epoch + 1);
}

}  // namespace detail

/// A resumable training run over one model. fit() is the one-call wrapper around it.
template <class Model>
class Trainer {
 public:
  using S = typename Model::scalar_type;
  static_assert(Model::output_shape == Shape::Vector,
                "salient::fit: the model must produce a B x K matrix of logits (end with vector layers)");

  Trainer(Model& model, FitOptions<S> options) : model_(&model), opt_(std::move(options)) {}

  FitOptions<S>& options() { return opt_; }
  const FitOptions<S>& options() const { return opt_; }
  Model& model() { return *model_; }
  AnyOptimizer<S>& optimizer() { return opt_.optimizer; }
  /// Epochs completed so far (fit() continues from here up to options().epochs).
  Index epoch() const { return epoch_; }
  /// Thresholds tuned on validation data (multi-label, tune_thresholds), else empty.
  const std::vector<double>& tuned_thresholds() const { return tuned_; }

  /// Train from epoch() to options().epochs. Returns the records of the epochs run.
  History fit(const data::Dataset<S>& train_in) {
    validate_options();
    const bool ml = multi_label(train_in);
    // Validation data: given, split off, or none.
    const data::Dataset<S>* train = &train_in;
    const data::Dataset<S>* val = opt_.validation;
    data::Dataset<S> split_train, split_val;
    if (opt_.validation_fraction > 0) {
      require_arg(opt_.validation == nullptr, "fit: give either validation data or validation_fraction, not both");
      require_arg(opt_.validation_fraction < 1, "fit: validation_fraction must be in [0, 1), got ",
                  opt_.validation_fraction);
      const auto sp = data::train_val_test_split(train_in, opt_.validation_fraction, 0.0, opt_.seed);
      require_arg(!sp.train.empty() && !sp.val.empty(), "fit: validation_fraction ", opt_.validation_fraction,
                  " of ", train_in.size(), " series leaves an empty training or validation set");
      split_train = train_in.subset(sp.train);
      split_val = train_in.subset(sp.val);
      train = &split_train;
      val = &split_val;
    }
    detail::check_dataset(*model_, *train, "training", true);
    if (val) {
      detail::check_dataset(*model_, *val, "validation", true);
      require_arg(val->multi_label == train->multi_label && val->class_names == train->class_names,
                  "fit: the validation data set has other classes (or label kind) than the training data");
    }
    check_monitors(ml, val != nullptr);
    setup_loss(*train, ml);
    if (!begun_) {
      base_lr_ = std::visit([](auto& o) { return o.lr; }, opt_.optimizer);
      schedule_ = opt_.schedule;
      schedule_.begin(base_lr_, opt_.epochs);
      begun_ = true;
    }
    const Index W = std::min<Index>(resolve_threads(opt_.threads), opt_.batch_size);
    if (!dp_ || dp_->workers() != W) {
      dp_ = std::make_unique<DataParallel<Model>>(*model_, int(W));
      ws_.assign(std::size_t(W), {});
      partial_.assign(std::size_t(W), 0.0);
    }
    const Index eval_bs = opt_.eval_batch_size > 0 ? opt_.eval_batch_size : std::max<Index>(opt_.batch_size, 256);

    std::vector<Index> lengths(std::size_t(train->size()));
    for (Index i = 0; i < train->size(); ++i) lengths[std::size_t(i)] = train->length(i);
    const Index K = train->num_classes();
    Progress progress(opt_.verbose, opt_.out, opt_.progress);
    History h;
    if (opt_.early_stopping) h.monitor = opt_.early_stopping->monitor;
    bool stop = false;
    RowMatrix<S> scores(train->size(), K);
    std::vector<Index> seen;
    seen.reserve(std::size_t(train->size()));

    for (Index e = epoch_; e < opt_.epochs && !stop; ++e) {
      const auto t0 = std::chrono::steady_clock::now();
      EpochRecord rec;
      rec.epoch = e;
      rec.lr = schedule_.lr(e);
      std::visit([&](auto& o) { o.lr = rec.lr; }, opt_.optimizer);
      Rng rng(detail::epoch_seed(opt_.seed, e));
      const auto plan = data::epoch_plan(lengths, opt_.batch_size, &rng,
                                         {.shuffle = opt_.shuffle, .bucket_by_length = opt_.bucket_by_length});
      const Index nb = Index(plan.size());
      progress.epoch_begin(e, opt_.epochs, nb);
      seen.clear();
      double loss_sum = 0;
      Index loss_n = 0, correct = 0;
      for (Index bi = 0; bi < nb; ++bi) {
        const auto& idx = plan[std::size_t(bi)];
        BatchRecord br{e, bi, nb, Index(idx.size()), 0, 0, rec.lr, false};
        try {
          br.loss = step(*train, idx, scores.middleRows(Index(seen.size()), Index(idx.size())), ml);
        } catch (const NumericError& err) {
          if (opt_.on_non_finite == NonFinitePolicy::Throw)
            fail<NumericError>("fit: epoch ", e + 1, "/", opt_.epochs, ", batch ", bi + 1, "/", nb, ": ", err.what());
          br.skipped = true;
          ++rec.skipped_batches;
        }
        if (!br.skipped) {
          const Index base = Index(seen.size());
          seen.insert(seen.end(), idx.begin(), idx.end());
          loss_sum += br.loss * double(idx.size());
          loss_n += Index(idx.size());
          correct += count_correct(*train, idx, scores, base, ml);
        }
        ++rec.batches;
        br.running_loss = loss_n ? loss_sum / double(loss_n) : EpochRecord::nan;
        NamedValues running{{"loss", br.running_loss}};
        running.emplace_back(ml ? "subset_accuracy" : "accuracy", loss_n ? double(correct) / double(loss_n) : 0.0);
        progress.batch_end(bi + 1, running);
        if (opt_.on_batch_end && opt_.on_batch_end(br)) {
          stop = true;
          h.stop_reason = detail::concat("on_batch_end callback at epoch ", e + 1, ", batch ", bi + 1);
          break;
        }
      }
      // Epoch figures.
      rec.loss = loss_n ? loss_sum / double(loss_n) : EpochRecord::nan;
      if (!seen.empty()) {
        rec.train = detail::metrics_of_rows<S>(scores.topRows(Index(seen.size())), *train, seen, ml, opt_.thresholds);
        rec.train.loss = rec.loss;
      }
      if (val) {
        const RowMatrix<S> logits = detail::predict_logits(*dp_, ws_, *val, eval_bs);
        RowMatrix<S> probs(logits.rows(), logits.cols());
        detail::to_probabilities<S>(logits, ml, probs);
        rec.has_validation = true;
        rec.val = detail::metrics_of(probs, *val, ml, opt_.thresholds);
        rec.val_loss = rec.val.loss = detail::plain_loss(logits, *val, ml);
      }
      rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      h.skipped_batches += rec.skipped_batches;
      if (schedule_.needs_monitor()) schedule_.end_epoch(rec.get(schedule_.monitor()));
      epoch_ = e + 1;
      if (opt_.early_stopping && update_early_stopping(rec, h)) stop = true;
      h.best_epoch = es_best_epoch_;
      h.best_value = es_best_;
      progress.epoch_end(rec.batches, epoch_values(rec, ml));
      h.epochs.push_back(rec);
      if (opt_.on_epoch_end && opt_.on_epoch_end(h.epochs.back())) {
        stop = true;
        if (h.stop_reason.empty()) h.stop_reason = detail::concat("on_epoch_end callback after epoch ", e + 1);
      }
    }
    h.stopped_early = stop && epoch_ < opt_.epochs;
    if (opt_.early_stopping && opt_.early_stopping->restore_best_weights && best_params_.size() == model_->num_params()) {
      model_->params() = best_params_;
      h.restored_best = true;
      progress.message(detail::concat("Restored the weights of epoch ", es_best_epoch_ + 1, " (",
                                      opt_.early_stopping->monitor, " = ", es_best_, ")"));
    }
    if (ml && opt_.tune_thresholds && val) {
      const RowMatrix<S> logits = detail::predict_logits(*dp_, ws_, *val, eval_bs);
      RowMatrix<S> probs(logits.rows(), logits.cols());
      detail::to_probabilities<S>(logits, true, probs);
      tuned_ = tune_thresholds(probs, val->targets);
    }
    return h;
  }

  // ---- checkpoints -----------------------------------------------------------------------

  /// Parameters, optimizer state and training progress (plus the given extras).
  io::Checkpoint<S> checkpoint(io::SaveOptions<S> extra = {}) const {
    extra.optimizer = std::visit([](auto o) { return io::optimizer_state(o); }, opt_.optimizer);
    io::TrainingProgress<S> p;
    p.epoch = std::uint64_t(epoch_);
    p.seed = opt_.seed;
    p.trainer_state = state_vector();
    p.best_params = best_params_;
    extra.progress = std::move(p);
    return io::make_checkpoint(*model_, std::move(extra));
  }
  void save(const std::string& path, io::SaveOptions<S> extra = {}) const {
    io::write_checkpoint(path, checkpoint(std::move(extra)));
  }
  /// Continue a run from a checkpoint: weights, optimizer state (must be the same optimizer
  /// kind), epoch, seed, schedule and early-stopping state. IoError naming `source` otherwise.
  void resume(const io::Checkpoint<S>& c, const std::string& source = "checkpoint") {
    io::apply_checkpoint(c, *model_, source);
    if (c.optimizer)
      std::visit([&](auto& o) { io::restore_optimizer(o, *c.optimizer, model_->num_params(), source); },
                 opt_.optimizer);
    if (c.progress) {
      epoch_ = Index(c.progress->epoch);
      opt_.seed = c.progress->seed;
      set_state_vector(c.progress->trainer_state, source);
      best_params_ = c.progress->best_params;
    }
  }
  void resume(const std::string& path) { resume(io::read_checkpoint<S>(path), path); }

 private:
  void validate_options() const {
    require_arg(opt_.epochs >= 0, "fit: epochs must be >= 0, got ", opt_.epochs);
    require_arg(opt_.batch_size >= 1, "fit: batch_size must be >= 1, got ", opt_.batch_size);
    require_arg(opt_.clip_grad_norm >= 0, "fit: clip_grad_norm must be >= 0, got ", opt_.clip_grad_norm);
    require_arg(opt_.validation_fraction >= 0, "fit: validation_fraction must be >= 0");
    if (opt_.early_stopping) require_arg(opt_.early_stopping->patience >= 0, "fit: early-stopping patience must be >= 0");
  }
  bool multi_label(const data::Dataset<S>& d) const {
    switch (opt_.loss) {
      case LossKind::Auto: return d.multi_label;
      case LossKind::SoftmaxCrossEntropy:
        require_arg(!d.multi_label, "fit: softmax cross-entropy needs multi-class data, '", d.name, "' is multi-label");
        return false;
      case LossKind::SigmoidBinaryCrossEntropy:
        require_arg(d.multi_label, "fit: sigmoid BCE needs multi-label data, '", d.name, "' is multi-class");
        return true;
    }
    return d.multi_label;
  }
  void check_monitors(bool ml, bool has_val) const {
    auto check = [&](const std::string& name, const char* who) {
      std::string_view n = name;
      if (n.starts_with("val_")) {
        require_arg(has_val, "fit: ", who, " monitors '", name, "', which needs validation data");
        n.remove_prefix(4);
      }
      if (n == "loss" || n == "lr") return;
      ClassificationMetrics probe;
      probe.multi_label = ml;
      (void)probe.get(n);  // throws ArgumentError for an unknown or inapplicable name
    };
    if (opt_.early_stopping) check(opt_.early_stopping->monitor, "early stopping");
    if (opt_.schedule.needs_monitor()) check(opt_.schedule.monitor(), "the reduce-on-plateau schedule");
  }
  void setup_loss(const data::Dataset<S>& d, bool ml) {
    const Index K = d.num_classes();
    if (ml) {
      require_arg(opt_.class_weights.empty(), "fit: class_weights apply to multi-class data; use pos_weight for multi-label");
      require_arg(opt_.pos_weight.empty() || Index(opt_.pos_weight.size()) == K, "fit: ", opt_.pos_weight.size(),
                  " pos_weight values for ", K, " labels");
      bce_.pos_weight = opt_.pos_weight;
      require_arg(opt_.thresholds.empty() || Index(opt_.thresholds.size()) == K, "fit: ", opt_.thresholds.size(),
                  " thresholds for ", K, " labels");
    } else {
      require_arg(opt_.pos_weight.empty(), "fit: pos_weight applies to multi-label data; use class_weights for multi-class");
      require_arg(opt_.class_weights.empty() || Index(opt_.class_weights.size()) == K, "fit: ",
                  opt_.class_weights.size(), " class weights for ", K, " classes");
      for (double w : opt_.class_weights) require_arg(w >= 0 && std::isfinite(w), "fit: class weights must be finite and >= 0");
      ce_.class_weights = opt_.class_weights;
      ce_.label_smoothing = opt_.label_smoothing;
    }
  }

  /// Weight of a set of rows in the loss normaliser.
  double weight_of(const data::Dataset<S>& d, std::span<const Index> idx, bool ml) const {
    if (ml) return double(idx.size()) * double(d.num_classes());
    if (ce_.class_weights.empty()) return double(idx.size());
    double s = 0;
    for (Index i : idx) s += ce_.class_weights[std::size_t(d.labels[std::size_t(i)])];
    return s;
  }

  /// One optimisation step on the rows `idx`; writes the training probabilities into `probs`.
  double step(const data::Dataset<S>& d, const std::vector<Index>& idx, Eigen::Ref<RowMatrix<S>> probs, bool ml) {
    auto& dp = *dp_;
    const int W = dp.workers();
    const Index B = Index(idx.size());
    const std::span<const Index> all(idx.data(), idx.size());
    const double total = weight_of(d, all, ml);
    require_arg(total > 0, "fit: the class weights of a batch sum to 0");
    dp.pool().run([&](int w) {
      dp.sync_worker(w);
      Model& m = dp.replica(w);
      m.zero_grad();
      partial_[std::size_t(w)] = 0.0;
      const auto [lo, hi] = split_range(B, W, w);
      if (hi <= lo) return;
      auto& s = ws_[std::size_t(w)];
      const auto rows = all.subspan(std::size_t(lo), std::size_t(hi - lo));
      detail::make_input<Model>(d, rows, s);
      const RowMatrix<S>& logits = m.forward(s.x, Mode::Training);
      detail::to_probabilities<S>(logits, ml, probs.middleRows(lo, hi - lo));
      const double part = weight_of(d, rows, ml);
      if (part == 0) return;  // every sample of the shard has class weight 0
      const double l = ml ? double(bce_(logits, s.targets, &s.dlogits)) : double(ce_(logits, s.classes, &s.dlogits));
      const double r = part / total;
      s.dlogits *= S(r);
      partial_[std::size_t(w)] = r * l;
      m.backward(s.dlogits);
    });
    dp.reduce_grads();
    double loss = 0;
    for (double p : partial_) loss += p;
    if (!std::isfinite(loss)) fail<NumericError>("non-finite loss (", loss, ")");
    auto g = model_->grads();
    if (!g.allFinite()) {
      Index i = 0;
      while (i < g.size() && std::isfinite(g[i])) ++i;
      fail<NumericError>("non-finite gradient (parameter ", i, " of ", g.size(), " is ", g[i], ")");
    }
    if (opt_.clip_grad_norm > 0) clip_grad_norm(g, opt_.clip_grad_norm);
    std::visit([&](auto& o) { o.step(model_->params(), model_->grads()); }, opt_.optimizer);
    return loss;
  }

  Index count_correct(const data::Dataset<S>& d, const std::vector<Index>& idx, const RowMatrix<S>& scores,
                      Index base, bool ml) const {
    Index c = 0;
    const Index K = scores.cols();
    for (std::size_t b = 0; b < idx.size(); ++b) {
      const Index r = base + Index(b), i = idx[b];
      if (ml) {
        bool ok = true;
        for (Index k = 0; k < K && ok; ++k) {
          const double t = opt_.thresholds.empty() ? 0.5 : opt_.thresholds[std::size_t(k)];
          ok = (double(scores(r, k)) >= t) == (d.targets(i, k) != S(0));
        }
        c += ok;
      } else {
        Index p;
        scores.row(r).maxCoeff(&p);
        c += p == d.labels[std::size_t(i)];
      }
    }
    return c;
  }

  NamedValues epoch_values(const EpochRecord& r, bool ml) const {
    NamedValues v{{"loss", r.loss}};
    const char* names_mc[] = {"accuracy", "macro_f1"};
    const char* names_ml[] = {"subset_accuracy", "hamming_loss", "macro_f1"};
    const auto add = [&](const ClassificationMetrics& m, const std::string& prefix) {
      if (m.samples == 0) return;
      if (ml)
        for (const char* n : names_ml) v.emplace_back(prefix + n, m.get(n));
      else
        for (const char* n : names_mc) v.emplace_back(prefix + n, m.get(n));
    };
    add(r.train, "");
    if (r.has_validation) {
      v.emplace_back("val_loss", r.val_loss);
      add(r.val, "val_");
    }
    v.emplace_back("lr", r.lr);
    return v;
  }

  /// Returns true when training should stop.
  bool update_early_stopping(const EpochRecord& rec, History& h) {
    const auto& es = *opt_.early_stopping;
    const double v = rec.get(es.monitor);
    const bool minimise = monitor_minimises(es.mode, es.monitor);
    const bool better = !std::isnan(v) && (std::isnan(es_best_) || (minimise ? v < es_best_ - es.min_delta
                                                                             : v > es_best_ + es.min_delta));
    if (better) {
      es_best_ = v;
      es_best_epoch_ = rec.epoch;
      es_wait_ = 0;
      if (es.restore_best_weights) best_params_ = model_->params();
      return false;
    }
    if (++es_wait_ >= std::max<Index>(es.patience, 1)) {
      h.stop_reason = detail::concat("early stopping: ", es.monitor, " did not improve for ", es_wait_,
                                     " epochs (best ", es_best_, " at epoch ", es_best_epoch_ + 1, ")");
      return true;
    }
    return false;
  }

  // Trainer state for checkpoints: layout version, begun, base lr, early-stopping best / best
  // epoch / wait, then the schedule's state.
  std::vector<double> state_vector() const {
    std::vector<double> s{1.0, begun_ ? 1.0 : 0.0, base_lr_, es_best_, double(es_best_epoch_), double(es_wait_)};
    const auto ss = schedule_.state();
    s.insert(s.end(), ss.begin(), ss.end());
    return s;
  }
  void set_state_vector(const std::vector<double>& s, const std::string& source) {
    if (s.size() != 12 || s[0] != 1.0)
      fail<IoError>(source, ": trainer state has ", s.size(), " values (layout ", s.empty() ? 0.0 : s[0],
                    "), expected 12 (layout 1)");
    begun_ = s[1] != 0.0;
    base_lr_ = s[2];
    es_best_ = s[3];
    es_best_epoch_ = Index(s[4]);
    es_wait_ = Index(s[5]);
    schedule_ = opt_.schedule;
    schedule_.set_state(std::vector<double>(s.begin() + 6, s.end()));
  }

  Model* model_;
  FitOptions<S> opt_;
  std::unique_ptr<DataParallel<Model>> dp_;
  std::vector<detail::Workspace<Model>> ws_;
  std::vector<double> partial_;
  SoftmaxCrossEntropy ce_;
  SigmoidBinaryCrossEntropy bce_;
  LrSchedule schedule_;
  bool begun_ = false;
  double base_lr_ = 0;
  Index epoch_ = 0;
  double es_best_ = EpochRecord::nan;
  Index es_best_epoch_ = -1, es_wait_ = 0;
  Vector<S> best_params_;
  std::vector<double> tuned_;
};

/// Train `model` on `train` (see FitOptions); returns the per-epoch history.
template <class Model>
History fit(Model& model, const data::Dataset<typename Model::scalar_type>& train,
            FitOptions<typename Model::scalar_type> options = {}) {
  Trainer<Model> t(model, std::move(options));
  return t.fit(train);
}

struct EvaluateOptions {
  Index batch_size = 256;
  int threads = 1;                 ///< workers (each beyond the first copies the model)
  std::vector<double> thresholds;  ///< multi-label decision thresholds (default 0.5)
  std::optional<bool> multi_label;  ///< default: the data set's flag
};

/// Class probabilities (softmax, or sigmoid for multi-label) of every series, N × K.
/// The model must not be used by another thread meanwhile (its layers cache activations).
template <class Model>
RowMatrix<typename Model::scalar_type> predict_proba(Model& model, const data::Dataset<typename Model::scalar_type>& d,
                                                     const EvaluateOptions& o = {}) {
  using S = typename Model::scalar_type;
  require_arg(o.batch_size >= 1, "predict_proba: batch_size must be >= 1");
  detail::check_dataset(model, d, "prediction", false);
  DataParallel<Model> dp(model, int(std::min<Index>(resolve_threads(o.threads), d.size())));
  std::vector<detail::Workspace<Model>> ws(std::size_t(dp.workers()));
  const RowMatrix<S> logits = detail::predict_logits(dp, ws, d, o.batch_size);
  RowMatrix<S> probs(logits.rows(), logits.cols());
  detail::to_probabilities<S>(logits, o.multi_label.value_or(d.multi_label), probs);
  return probs;
}

/// Every metric (and the unweighted mean loss) of the model on a labelled data set.
template <class Model>
ClassificationMetrics evaluate(Model& model, const data::Dataset<typename Model::scalar_type>& d,
                               const EvaluateOptions& o = {}) {
  using S = typename Model::scalar_type;
  require_arg(o.batch_size >= 1, "evaluate: batch_size must be >= 1");
  detail::check_dataset(model, d, "evaluation", true);
  const bool ml = o.multi_label.value_or(d.multi_label);
  require_arg(ml == d.multi_label, "evaluate: multi_label does not match the data set");
  DataParallel<Model> dp(model, int(std::min<Index>(resolve_threads(o.threads), d.size())));
  std::vector<detail::Workspace<Model>> ws(std::size_t(dp.workers()));
  const RowMatrix<S> logits = detail::predict_logits(dp, ws, d, o.batch_size);
  RowMatrix<S> probs(logits.rows(), logits.cols());
  detail::to_probabilities<S>(logits, ml, probs);
  auto m = detail::metrics_of(probs, d, ml, o.thresholds);
  m.loss = detail::plain_loss(logits, d, ml);
  return m;
}
template <class Model>
ClassificationMetrics evaluate(Model& model, const data::Dataset<typename Model::scalar_type>& d, Index batch_size) {
  EvaluateOptions o;
  o.batch_size = batch_size;
  return evaluate(model, d, o);
}

}  // namespace salient
