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
#include <limits>
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

/// Hooks through which a group of processes makes fit() data-parallel across processes
/// (salient/distributed/mpi.hpp fills them from an MPI communicator; the core library knows
/// nothing of MPI). The default, size 1, is single-process training and changes nothing.
/// With size P > 1 every process must run fit() with the same data, options and model
/// architecture; then
///  * at the start the parameters, optimizer state and trainer state of process 0 are
///    broadcast;
///  * process p takes the contiguous part split_range(B, P, p) of every global batch (and
///    splits it over its own threads); the loss gradient is scaled by the global batch weight,
///    so the sum over processes is the full-batch gradient;
///  * the flat gradient buffer (plus the step's loss and correct count) is summed with one
///    `sum` call per step, and every process takes the same optimizer step;
///  * validation batch i is run by process i mod P, the training scores and validation logits
///    are summed (zeros elsewhere: exact), so metrics are the same on every process;
///  * stopping, early-stopping and schedule state are decided on process 0 and broadcast once
///    per epoch (with a checksum of the parameters: a process whose weights differ stops the
///    job with an error); an on_batch_end stop is broadcast from process 0;
///  * only process 0 prints progress and writes checkpoints (Trainer::save).
template <Scalar S = float>
struct Collective {
  int rank = 0;  ///< this process, 0 .. size-1
  int size = 1;  ///< number of processes
  /// Element-wise sum over all processes, in place; every process must receive the same bits.
  std::function<void(std::span<S>)> sum;
  /// Overwrite with the values of process 0.
  std::function<void(std::span<S>)> broadcast;
  std::function<void(std::span<double>)> broadcast_f64;
  bool active() const { return size > 1; }
};

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

  /// Data parallelism across processes (see Collective; default: one process).
  Collective<S> collective;
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
/// With ranks > 1 only batches b ≡ rank (mod ranks) are run, the other rows are 0.
template <class Model, class S>
RowMatrix<S> predict_logits(DataParallel<Model>& dp, std::vector<Workspace<Model>>& ws,
                            const data::Dataset<S>& d, Index batch_size, int rank = 0, int ranks = 1) {
  dp.sync();
  const Index N = d.size(), K = dp.primary().output_features(), nb = (N + batch_size - 1) / batch_size;
  RowMatrix<S> out(N, K);
  if (ranks > 1) out.setZero();
  const int W = dp.workers();
  dp.pool().run([&](int w) {
    auto& s = ws[std::size_t(w)];
    for (Index b = rank + Index(w) * ranks; b < nb; b += Index(W) * ranks) {
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
    const auto& coll = opt_.collective;
    const bool dist = coll.active();
    if (dist) {
      require_arg(coll.rank >= 0 && coll.rank < coll.size, "fit: collective rank ", coll.rank, " is not in [0, ",
                  coll.size, ")");
      require_arg(bool(coll.sum) && bool(coll.broadcast) && bool(coll.broadcast_f64),
                  "fit: a collective of ", coll.size, " processes needs its sum and broadcast functions");
    }
    // Threads are capped at the rows this process gets of a full batch (= batch_size alone).
    const Index rows_here = dist ? split_range(opt_.batch_size, coll.size, 0).second : opt_.batch_size;
    const Index W = std::min<Index>(resolve_threads(opt_.threads), rows_here);
    if (!dp_ || dp_->workers() != W) {
      dp_ = std::make_unique<DataParallel<Model>>(*model_, int(W));
      ws_.assign(std::size_t(W), {});
      partial_.assign(std::size_t(W), 0.0);
    }
    const Index eval_bs = opt_.eval_batch_size > 0 ? opt_.eval_batch_size : std::max<Index>(opt_.batch_size, 256);
    if (dist) sync_from_primary();

    std::vector<Index> lengths(std::size_t(train->size()));
    for (Index i = 0; i < train->size(); ++i) lengths[std::size_t(i)] = train->length(i);
    const Index K = train->num_classes();
    Progress progress(is_primary() ? opt_.verbose : 0, opt_.out, opt_.progress);
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
          correct += dist ? last_correct_ : count_correct(*train, idx, scores, base, ml);
        }
        ++rec.batches;
        br.running_loss = loss_n ? loss_sum / double(loss_n) : EpochRecord::nan;
        NamedValues running{{"loss", br.running_loss}};
        running.emplace_back(ml ? "subset_accuracy" : "accuracy", loss_n ? double(correct) / double(loss_n) : 0.0);
        progress.batch_end(bi + 1, running);
        if (opt_.on_batch_end && decide(opt_.on_batch_end(br))) {
          stop = true;
          h.stop_reason = detail::concat("on_batch_end callback at epoch ", e + 1, ", batch ", bi + 1);
          break;
        }
      }
      // Epoch figures.
      rec.loss = loss_n ? loss_sum / double(loss_n) : EpochRecord::nan;
      if (dist && !seen.empty()) {  // each process filled the rows of its shards, zeros elsewhere
        auto top = scores.topRows(Index(seen.size()));
        coll.sum(std::span<S>(top.data(), std::size_t(top.size())));
      }
      if (!seen.empty()) {
        rec.train = detail::metrics_of_rows<S>(scores.topRows(Index(seen.size())), *train, seen, ml, opt_.thresholds);
        rec.train.loss = rec.loss;
      }
      if (val) {
        const RowMatrix<S> logits = logits_of(*val, eval_bs);
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
      if (dist) {  // process 0 decides; every process continues or stops with it
        const bool agreed = agree_after_epoch(e, stop);
        if (agreed && !stop) h.stop_reason = detail::concat("stopped by process 0 after epoch ", e + 1);
        if (!agreed) h.stop_reason.clear();
        stop = agreed;
        h.best_epoch = es_best_epoch_;
        h.best_value = es_best_;
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
      const RowMatrix<S> logits = logits_of(*val, eval_bs);
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
  /// Writes the checkpoint; across processes (options().collective) only process 0 writes.
  void save(const std::string& path, io::SaveOptions<S> extra = {}) const {
    if (!is_primary()) return;
    io::write_checkpoint(path, checkpoint(std::move(extra)));
  }
  /// False on every process but 0 of a collective (those print nothing and write no checkpoint).
  bool is_primary() const { return opt_.collective.rank == 0; }
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
    const auto& coll = opt_.collective;
    const bool dist = coll.active();
    const Index B = Index(idx.size());
    const std::span<const Index> all(idx.data(), idx.size());
    const double total = weight_of(d, all, ml);
    require_arg(total > 0, "fit: the class weights of a batch sum to 0");
    // This process's rows of the batch: [r0, r0 + Bp) (the whole batch on one process).
    // Plain variables, not a structured binding: clang 14 cannot capture bindings in lambdas.
    const std::pair<Index, Index> rank_rows = dist ? split_range(B, coll.size, coll.rank) : std::pair<Index, Index>{0, B};
    const Index r0 = rank_rows.first, r1 = rank_rows.second;
    const Index Bp = r1 - r0;
    if (dist) probs.setZero();  // rows of other processes: 0, so the epoch's sum is exact
    const auto work = [&](int w) {
      dp.sync_worker(w);
      Model& m = dp.replica(w);
      m.zero_grad();
      partial_[std::size_t(w)] = 0.0;
      auto [lo, hi] = split_range(Bp, W, w);
      lo += r0;
      hi += r0;
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
    };
    double loss = 0;
    if (!dist) {
      dp.pool().run(work);
      dp.reduce_grads();
      for (double p : partial_) loss += p;
    } else {
      // Every process must reach the all-reduce: a local numeric failure becomes a NaN loss
      // that every process sees after the sum (and the local message is kept for this one).
      std::string local_error;
      try {
        dp.pool().run(work);
        dp.reduce_grads();
        for (double p : partial_) loss += p;
      } catch (const NumericError& err) {
        local_error = err.what();
        loss = std::numeric_limits<double>::quiet_NaN();
      }
      const Index n = model_->num_params();
      stage_.resize(n + 2);
      stage_.head(n) = model_->grads();
      stage_[n] = S(loss);
      stage_[n + 1] = S(count_correct(d, std::vector<Index>(idx.begin() + r0, idx.begin() + r1), probs, r0, ml));
      coll.sum(std::span<S>(stage_.data(), std::size_t(stage_.size())));
      model_->grads() = stage_.head(n);
      loss = double(stage_[n]);
      last_correct_ = Index(std::llround(double(stage_[n + 1])));
      if (!std::isfinite(loss)) {
        if (!local_error.empty()) fail<NumericError>(local_error);
        fail<NumericError>("non-finite loss (", loss, ", from another process)");
      }
    }
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

  template <class Scores>
  Index count_correct(const data::Dataset<S>& d, const std::vector<Index>& idx, const Scores& scores,
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

  // ---- across processes (opt_.collective) ------------------------------------------------

  /// Validation / threshold-tuning logits: batch i on process i mod P, then summed (exact).
  RowMatrix<S> logits_of(const data::Dataset<S>& d, Index eval_bs) {
    const auto& c = opt_.collective;
    if (!c.active()) return detail::predict_logits(*dp_, ws_, d, eval_bs);
    RowMatrix<S> logits = detail::predict_logits(*dp_, ws_, d, eval_bs, c.rank, c.size);
    c.sum(std::span<S>(logits.data(), std::size_t(logits.size())));
    return logits;
  }

  /// Process 0's decision (a no-op on one process).
  bool decide(bool local) {
    const auto& c = opt_.collective;
    if (!c.active()) return local;
    double v = local ? 1.0 : 0.0;
    c.broadcast_f64(std::span<double>(&v, 1));
    return v != 0.0;
  }

  /// FNV-1a over the raw bytes of the parameters, as two 32-bit halves (exact in a double).
  std::pair<double, double> param_hash() const {
    const auto p = model_->params();
    const auto* b = reinterpret_cast<const unsigned char*>(p.data());
    std::uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < std::size_t(p.size()) * sizeof(S); ++i) h = (h ^ b[i]) * 1099511628211ULL;
    return {double(h >> 32), double(h & 0xffffffffULL)};
  }

  /// Start of a distributed fit: parameters, optimizer state, epoch, trainer state and best
  /// weights of process 0 on every process.
  void sync_from_primary() {
    const auto& c = opt_.collective;
    auto p = model_->params();
    c.broadcast(std::span<S>(p.data(), std::size_t(p.size())));
    std::vector<double> st = state_vector();
    const std::size_t k = st.size();
    st.push_back(double(epoch_));
    st.push_back(double(best_params_.size()));
    std::visit(
        [&](auto& o) {
          st.push_back(double(o.steps));
          for (auto* v : o.state()) st.push_back(double(v->size()));
        },
        opt_.optimizer);
    c.broadcast_f64(st);
    set_state_vector(std::vector<double>(st.begin(), st.begin() + std::ptrdiff_t(k)), "process 0");
    epoch_ = Index(st[k]);
    best_params_.resize(Index(st[k + 1]));
    if (best_params_.size() > 0) c.broadcast(std::span<S>(best_params_.data(), std::size_t(best_params_.size())));
    std::visit(
        [&](auto& o) {
          o.steps = static_cast<decltype(o.steps)>(st[k + 2]);
          std::size_t j = k + 3;
          for (auto* v : o.state()) {
            v->resize(Index(st[j++]));
            if (v->size() > 0) c.broadcast(std::span<S>(v->data(), std::size_t(v->size())));
          }
        },
        opt_.optimizer);
  }

  /// End of a distributed epoch: process 0's stop decision and trainer state on every process,
  /// and a check that every process holds the same weights. Returns the agreed stop flag.
  bool agree_after_epoch(Index e, bool stop) {
    const auto& c = opt_.collective;
    const auto [h1, h2] = param_hash();
    std::vector<double> st = state_vector();
    st.push_back(stop ? 1.0 : 0.0);
    st.push_back(h1);
    st.push_back(h2);
    c.broadcast_f64(st);
    if (st[st.size() - 2] != h1 || st[st.size() - 1] != h2)
      fail<NumericError>("fit: process ", c.rank, " of ", c.size, ": after epoch ", e + 1,
                         " its weights differ from those of process 0 (the collective sum did not give every "
                         "process the same bits, or the processes were not given the same data and options)");
    const bool agreed = st[st.size() - 3] != 0.0;
    st.resize(st.size() - 3);
    set_state_vector(st, "process 0");
    if (opt_.early_stopping && opt_.early_stopping->restore_best_weights && es_best_epoch_ == e)
      best_params_ = model_->params();
    return agreed;
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
  Vector<S> stage_;        // across processes: gradients, loss and correct count of a step
  Index last_correct_ = 0;  // across processes: correct predictions of the last step (all shards)
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
