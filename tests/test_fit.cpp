// The training loop: schedules, early stopping, determinism, sharded gradients, callbacks,
// non-finite handling, progress output, evaluation.
#include <doctest/doctest.h>

#include <salient/salient.hpp>
#include <salient/train/fit.hpp>

#if __has_include(<salient/layers/lstm.hpp>)
#include <salient/layers/lstm.hpp>
#define SALIENT_TEST_HAVE_LSTM 1
#endif

#include <cmath>
#include <sstream>

#include "toy_data.hpp"

using namespace salient;
using doctest::Approx;
using doctest::Contains;

namespace {
using Model = Sequential<Dense<8, 16>, ReLU<>, Dense<16, 3>>;
using ModelML = Sequential<Dense<8, 16>, ReLU<>, Dense<16, 2>>;

FitOptions<float> quiet(Index epochs, Index batch_size = 16, int threads = 1) {
  FitOptions<float> o;
  o.epochs = epochs;
  o.batch_size = batch_size;
  o.threads = threads;
  o.verbose = 0;
  o.seed = 3;
  return o;
}
double max_abs_diff(const Vector<float>& a, const Vector<float>& b) {
  return double((a - b).cwiseAbs().maxCoeff());
}
}  // namespace

// ---- schedules ----------------------------------------------------------------------------

TEST_CASE("LrSchedule: constant, step and cosine follow their formulas") {
  auto c = LrSchedule::constant();
  c.begin(0.1, 10);
  CHECK(c.lr(0) == 0.1);
  CHECK(c.lr(9) == 0.1);

  auto s = LrSchedule::step(2, 0.5);
  s.begin(0.1, 10);
  const double want[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025};
  for (int e = 0; e < 6; ++e) CHECK(s.lr(e) == Approx(want[e]));

  auto k = LrSchedule::cosine(0, 0.0);
  k.begin(1.0, 5);  // E = 5: epochs 0..4 run 1, ..., 0
  CHECK(k.lr(0) == Approx(1.0));
  CHECK(k.lr(2) == Approx(0.5));
  CHECK(k.lr(4) == Approx(0.0));
  CHECK(k.lr(7) == Approx(0.0));

  auto w = LrSchedule::cosine(6, 0.1, 2);  // warm-up 2 epochs, then cosine over epochs 2..5
  w.begin(1.0, 100);
  CHECK(w.lr(0) == Approx(1.0 / 3));
  CHECK(w.lr(1) == Approx(2.0 / 3));
  CHECK(w.lr(2) == Approx(1.0));
  CHECK(w.lr(5) == Approx(0.1));
  CHECK(w.lr(3) == Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 3))));

  CHECK_THROWS_AS(LrSchedule::step(0), ArgumentError);
  CHECK_THROWS_AS(LrSchedule::plateau("val_loss", 1.5), ArgumentError);
}

TEST_CASE("LrSchedule: reduce-on-plateau counts patience, respects min_lr and cooldown, round-trips state") {
  auto p = LrSchedule::plateau("val_loss", 0.5, 2, 0.2);
  p.begin(1.0, 100);
  CHECK_FALSE(p.end_epoch(1.0));  // best
  CHECK_FALSE(p.end_epoch(0.5));  // better
  CHECK_FALSE(p.end_epoch(0.6));  // wait 1
  CHECK(p.lr(3) == 1.0);
  CHECK(p.end_epoch(0.7));  // wait 2 -> reduce
  CHECK(p.lr(4) == 0.5);
  CHECK_FALSE(p.end_epoch(0.5));  // not better than 0.5 - 1e-4: wait 1
  CHECK(p.end_epoch(0.5));        // wait 2 -> 0.25
  CHECK(p.lr(6) == 0.25);
  const auto st = p.state();
  CHECK_FALSE(p.end_epoch(0.5));
  CHECK(p.end_epoch(0.5));  // -> max(0.125, 0.2) = 0.2
  CHECK(p.lr(8) == 0.2);
  CHECK_FALSE(p.end_epoch(0.5));
  CHECK_FALSE(p.end_epoch(0.5));  // at min_lr: no change
  CHECK(p.lr(10) == 0.2);
  auto q = LrSchedule::plateau("val_loss", 0.5, 2, 0.2);
  q.set_state(st);
  CHECK(q.lr(0) == 0.25);

  auto maxmode = LrSchedule::plateau("val_accuracy", 0.1, 1);
  maxmode.begin(1.0, 10);
  maxmode.end_epoch(0.5);
  CHECK(maxmode.end_epoch(0.4));  // lower accuracy = worse
  CHECK(maxmode.lr(2) == Approx(0.1));

  auto cd = LrSchedule::plateau("loss", 0.5, 1, 0.0, MonitorMode::Min, 0.0, 2);
  cd.begin(1.0, 10);
  cd.end_epoch(1.0);
  CHECK(cd.end_epoch(1.0));        // reduce -> 0.5, cooldown 2
  CHECK_FALSE(cd.end_epoch(1.0));  // cooldown
  CHECK_FALSE(cd.end_epoch(1.0));  // cooldown
  CHECK(cd.end_epoch(1.0));        // reduce again
  CHECK(cd.lr(0) == 0.25);
}

TEST_CASE("fit: the schedule sets the rate each epoch (SGD at lr 0 leaves the weights alone)") {
  const auto train = test::toy_multiclass(48, 1);
  Model m;
  m.init(1);
  auto o = quiet(3);
  SGD<float> sgd;
  sgd.lr = 0.1;
  o.optimizer = sgd;
  o.schedule = LrSchedule::cosine(2, 0.0);  // epoch 0: 0.1, epoch 1: 0, epoch 2: 0
  std::vector<Vector<float>> after;
  std::vector<double> batch_lr;
  o.on_epoch_end = [&](const EpochRecord&) {
    after.push_back(m.params());
    return false;
  };
  o.on_batch_end = [&](const BatchRecord& b) {
    batch_lr.push_back(b.lr);
    return false;
  };
  const auto h = fit(m, train, o);
  CHECK(h.values("lr") == std::vector<double>{0.1, 0.0, 0.0});
  CHECK(batch_lr.front() == 0.1);
  CHECK(batch_lr.back() == 0.0);
  REQUIRE(after.size() == 3);
  CHECK(after[1] == after[0]);
  CHECK(after[2] == after[0]);

  // Step decay as recorded in the history.
  auto o2 = quiet(5);
  o2.optimizer = sgd;
  o2.schedule = LrSchedule::step(2, 0.1);
  Model m2;
  m2.init(1);
  const auto h2 = fit(m2, train, o2);
  const auto lr = h2.values("lr");
  CHECK(lr[0] == Approx(0.1));
  CHECK(lr[1] == Approx(0.1));
  CHECK(lr[2] == Approx(0.01));
  CHECK(lr[4] == Approx(0.001));
}

TEST_CASE("fit: reduce-on-plateau lowers the rate when validation loss stops improving") {
  const auto train = test::toy_multiclass(60, 1);
  auto val = train;  // same series, shifted labels: validation loss rises as training learns
  for (auto& y : val.labels) y = (y + 1) % 3;
  Model m;
  m.init(2);
  auto o = quiet(5);
  o.validation = &val;
  o.schedule = LrSchedule::plateau("val_loss", 0.5, 1);
  const auto h = fit(m, train, o);
  const auto lr = h.values("lr");
  const auto vl = h.values("val_loss");
  CHECK(vl[1] > vl[0]);
  CHECK(lr[0] == Approx(1e-3));
  CHECK(lr[1] == Approx(1e-3));
  CHECK(lr[2] == Approx(5e-4));
  CHECK(lr[3] < lr[2]);
}

// ---- early stopping ---------------------------------------------------------------------

TEST_CASE("fit: early stopping stops after `patience` epochs and restores the best epoch's weights") {
  const auto train = test::toy_multiclass(60, 1);
  auto val = train;
  for (auto& y : val.labels) y = (y + 1) % 3;  // gets worse as training improves: best = epoch 0
  Model m;
  m.init(2);
  auto o = quiet(20);
  o.validation = &val;
  o.early_stopping = EarlyStopping{.monitor = "val_loss", .patience = 3};
  std::vector<Vector<float>> weights;
  o.on_epoch_end = [&](const EpochRecord&) {
    weights.push_back(m.params());
    return false;
  };
  const auto h = fit(m, train, o);
  CHECK(h.best_epoch == 0);
  CHECK(h.size() == 4);  // epoch 0 best, then 3 without improvement
  CHECK(h.stopped_early);
  CHECK(h.restored_best);
  CHECK(h.stop_reason.find("early stopping: val_loss did not improve for 3 epochs") == 0);
  CHECK(h.best_value == h.epochs[0].val_loss);
  CHECK(m.params() == weights[0]);
  CHECK(m.params() != weights.back());

  // Max-mode metric and a best epoch in the middle: val = train, accuracy improves then we stop
  // it artificially by a huge min_delta after the best.
  Model m2;
  m2.init(2);
  auto o2 = quiet(6);
  o2.validation = &train;
  o2.early_stopping = EarlyStopping{.monitor = "val_accuracy", .patience = 10};
  weights.clear();
  o2.on_epoch_end = [&](const EpochRecord&) {
    weights.push_back(m2.params());
    return false;
  };
  const auto h2 = fit(m2, train, o2);
  const auto acc = h2.values("val_accuracy");
  const auto best = std::max_element(acc.begin(), acc.end()) - acc.begin();  // first max
  CHECK(h2.best_epoch == best);
  CHECK(m2.params() == weights[std::size_t(best)]);
  CHECK_FALSE(h2.stopped_early);
}

TEST_CASE("fit: monitors are checked before training") {
  const auto train = test::toy_multiclass(30, 1);
  Model m;
  auto o = quiet(2);
  o.early_stopping = EarlyStopping{};  // val_loss without validation data
  CHECK_THROWS_WITH_AS(fit(m, train, o), "fit: early stopping monitors 'val_loss', which needs validation data",
                       ArgumentError);
  o.validation_fraction = 0.2;
  o.early_stopping->monitor = "val_hamming_loss";  // multi-label metric on multi-class data
  CHECK_THROWS_WITH_AS(fit(m, train, o), "metric 'hamming_loss' does not apply to multi-class data", ArgumentError);
  o.early_stopping->monitor = "val_f2";
  CHECK_THROWS_AS(fit(m, train, o), ArgumentError);
  Sequential<Dense<8, 4>, Dense<4, 4>> wrong_k;
  CHECK_THROWS_WITH_AS(fit(wrong_k, train, quiet(1)),
                       "training data set 'toy3' has 3 classes, the model outputs 4", ShapeError);
  Sequential<Dense<6, 3>> wrong_in;
  CHECK_THROWS_AS(fit(wrong_in, train, quiet(1)), ShapeError);
}

// ---- determinism and parallelism ----------------------------------------------------------

TEST_CASE("fit: same seed and thread count give bit-identical weights; 1 vs 2 threads agree closely") {
  const auto train = test::toy_multiclass(120, 4);
  auto run = [&](int threads, std::uint64_t seed) {
    Model m;
    m.init(5);
    auto o = quiet(4, 20, threads);
    o.seed = seed;
    o.validation_fraction = 0.25;
    fit(m, train, o);
    return Vector<float>(m.params());
  };
  const auto a = run(2, 9), b = run(2, 9), c = run(1, 9), d = run(1, 9), e = run(2, 10);
  CHECK(a == b);
  CHECK(c == d);
  CHECK(max_abs_diff(a, c) < 1e-4);
  CHECK(a != e);  // another seed shuffles differently
}

TEST_CASE("fit: sharded gradients equal the full-batch gradient (class weights, smoothing, pos_weight)") {
  // Double precision, one SGD step over one batch of 13 (uneven shards): 1 vs 2 vs 3 workers.
  using MD = Sequential<Dense<8, 6, double>, Tanh<double>, Dense<6, 3, double>>;
  const auto train = test::toy_multiclass<double>(13, 7);
  auto run = [&](int threads) {
    MD m;
    m.init(3);
    FitOptions<double> o;
    o.epochs = 1;
    o.batch_size = 13;
    o.threads = threads;
    o.verbose = 0;
    o.class_weights = {0.0, 2.0, 0.5};  // a zero weight: some shards may weigh nothing
    o.label_smoothing = 0.1;
    SGD<double> sgd;
    sgd.lr = 1.0;
    o.optimizer = sgd;
    const auto h = fit(m, train, o);
    return std::make_pair(Vector<double>(m.params()), h.epochs[0].loss);
  };
  const auto [p1, l1] = run(1);
  const auto [p2, l2] = run(2);
  const auto [p3, l3] = run(3);
  CHECK((p1 - p2).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((p1 - p3).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(l1 == Approx(l2).epsilon(1e-12));
  CHECK(l1 == Approx(l3).epsilon(1e-12));

  // One sample per worker: the shard holding the class-0 sample weighs 0 and contributes nothing.
  const auto three = train.subset(std::vector<Index>{0, 1, 2});
  auto run3 = [&](int threads) {
    MD m;
    m.init(3);
    FitOptions<double> o;
    o.epochs = 2;
    o.batch_size = 3;
    o.threads = threads;
    o.verbose = 0;
    o.class_weights = {0.0, 2.0, 0.5};
    SGD<double> sgd;
    sgd.lr = 1.0;
    o.optimizer = sgd;
    fit(m, three, o);
    return Vector<double>(m.params());
  };
  CHECK((run3(1) - run3(3)).cwiseAbs().maxCoeff() < 1e-12);

  using MLD = Sequential<Dense<8, 6, double>, Tanh<double>, Dense<6, 2, double>>;
  const auto ml = test::toy_multilabel<double>(11, 2);
  auto run_ml = [&](int threads) {
    MLD m;
    m.init(3);
    FitOptions<double> o;
    o.epochs = 1;
    o.batch_size = 11;
    o.threads = threads;
    o.verbose = 0;
    o.pos_weight = {3.0, 0.5};
    SGD<double> sgd;
    sgd.lr = 1.0;
    o.optimizer = sgd;
    fit(m, ml, o);
    return Vector<double>(m.params());
  };
  CHECK((run_ml(1) - run_ml(2)).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("fit: validation metrics and predictions do not depend on the thread count") {
  const auto train = test::toy_multiclass(90, 4);
  Model m;
  m.init(5);
  fit(m, train, quiet(10));
  EvaluateOptions e1, e2;
  e1.batch_size = e2.batch_size = 16;
  e2.threads = 2;
  const RowMatrix<float> p1 = predict_proba(m, train, e1), p2 = predict_proba(m, train, e2);
  CHECK(p1 == p2);
  const auto m1 = evaluate(m, train, e1), m2 = evaluate(m, train, e2);
  CHECK(m1.loss == m2.loss);
  CHECK(m1.accuracy == m2.accuracy);
  CHECK(m1.accuracy > 0.6);
  CHECK(evaluate(m, train, Index(7)).accuracy == m1.accuracy);
}

// ---- callbacks and non-finite values --------------------------------------------------------

TEST_CASE("fit: callbacks can stop training") {
  const auto train = test::toy_multiclass(64, 1);
  Model m;
  m.init(1);
  auto o = quiet(5, 8);
  o.on_batch_end = [](const BatchRecord& b) { return b.epoch == 1 && b.batch == 2; };
  const auto h = fit(m, train, o);
  REQUIRE(h.size() == 2);
  CHECK(h.epochs[1].batches == 3);
  CHECK(h.epochs[0].batches == 8);
  CHECK(h.stopped_early);
  CHECK(h.stop_reason == "on_batch_end callback at epoch 2, batch 3");
  CHECK(h.epochs[1].train.samples == 24);  // metrics over the batches that ran

  auto o2 = quiet(5, 8);
  o2.on_epoch_end = [](const EpochRecord& r) { return r.epoch == 0; };
  const auto h2 = fit(m, train, o2);
  CHECK(h2.size() == 1);
  CHECK(h2.stop_reason == "on_epoch_end callback after epoch 1");
}

TEST_CASE("fit: a non-finite loss stops training with the epoch and batch, or is skipped") {
  auto train = test::toy_multiclass(40, 1);
  train.series[9](2, 1) = std::numeric_limits<float>::quiet_NaN();  // row 9: batch 3 of 4-sample batches
  // (Sequential::forward refuses non-finite inputs, naming the sample in the batch and the
  // flattened feature 2·C + 1 = 5; without that check ReLU would map NaN to 0 and only the first
  // layer's gradient would be NaN)
  Model m;
  m.init(1);
  auto o = quiet(3, 4);
  o.shuffle = false;
  CHECK_THROWS_WITH_AS(fit(m, train, o),
                       Contains("fit: epoch 1/3, batch 3/10: Sequential[Dense<8,16>, ReLU, Dense<16,3>]: input sample 1, "
                                "feature 5 is nan"),
                       NumericError);

  // Two workers: the error is the same.
  Model m2;
  m2.init(1);
  auto o2 = o;
  o2.threads = 2;
  CHECK_THROWS_WITH_AS(fit(m2, train, o2), Contains("fit: epoch 1/3, batch 3/10: "), NumericError);

  // Skip policy: the batch is skipped (once per epoch), the weights stay finite.
  Model m3;
  m3.init(1);
  auto o3 = o;
  o3.on_non_finite = NonFinitePolicy::SkipBatch;
  o3.shuffle = true;
  const auto h = fit(m3, train, o3);
  CHECK(h.skipped_batches == 3);
  CHECK(h.epochs[0].skipped_batches == 1);
  CHECK(h.epochs[0].train.samples == 36);
  CHECK(m3.params().allFinite());

  // Weights that became NaN (here: set by a callback after epoch 1) stop epoch 2 at batch 1.
  auto clean = test::toy_multiclass(40, 1);
  Model m4;
  m4.init(1);
  auto o4 = quiet(3, 4);
  o4.on_epoch_end = [&](const EpochRecord&) {
    m4.params()[0] = std::numeric_limits<float>::infinity();
    return false;
  };
  CHECK_THROWS_WITH_AS(fit(m4, clean, o4), Contains("fit: epoch 2/3, batch 1/10: SoftmaxCrossEntropy: logit ("),
                       NumericError);
}

// ---- multi-label, progress, misc ----------------------------------------------------------

TEST_CASE("fit: multi-label data trains with sigmoid BCE and reports multi-label metrics") {
  const auto train = test::toy_multilabel(160, 1);
  const auto val = test::toy_multilabel(60, 2);
  ModelML m;
  m.init(1);
  auto o = quiet(15, 16, 2);
  Adam<float> adam;
  adam.lr = 0.01;
  o.optimizer = adam;
  o.validation = &val;
  o.pos_weight = balanced_pos_weight(train);
  o.early_stopping = EarlyStopping{.monitor = "val_subset_accuracy", .patience = 20};
  o.tune_thresholds = true;
  Trainer<ModelML> t(m, o);
  const auto h = t.fit(train);
  CHECK(h.back().val.multi_label);
  CHECK(h.back().get("val_subset_accuracy") == h.back().val.subset_accuracy);
  CHECK(h.back().get("val_accuracy") == h.back().val.subset_accuracy);  // never per-label accuracy
  CHECK(h.best_value > 0.8);
  CHECK(t.tuned_thresholds().size() == 2);
  const auto e = evaluate(m, val);
  CHECK(e.subset_accuracy == Approx(h.best_value));
  CHECK(e.hamming_loss < 0.15);
  EvaluateOptions eo;
  eo.thresholds = t.tuned_thresholds();
  CHECK(evaluate(m, val, eo).thresholds == t.tuned_thresholds());

  auto bad = o;
  bad.class_weights = {1.0, 2.0};
  CHECK_THROWS_AS(fit(m, train, bad), ArgumentError);
  auto bad2 = quiet(1);
  bad2.loss = LossKind::SoftmaxCrossEntropy;
  CHECK_THROWS_AS(fit(m, train, bad2), ArgumentError);
}

TEST_CASE("fit: progress output - plain lines, bar, quiet") {
  const auto train = test::toy_multiclass(40, 1);
  Model m;
  m.init(1);
  std::ostringstream os;
  auto o = quiet(2, 8);
  o.verbose = 1;
  o.out = &os;
  o.progress = ProgressStyle::Lines;
  o.validation_fraction = 0.25;
  fit(m, train, o);
  const std::string lines = os.str();
  CHECK(lines.find("Epoch 1/2 - 4 batches - ") == 0);
  CHECK(lines.find("Epoch 2/2 - 4 batches - ") != std::string::npos);
  CHECK(lines.find(" - loss: ") != std::string::npos);
  CHECK(lines.find(" - val_accuracy: ") != std::string::npos);
  CHECK(lines.find(" - lr: 1.0e-03\n") != std::string::npos);
  CHECK(lines.find('\r') == std::string::npos);

  std::ostringstream bar;
  o.out = &bar;
  o.progress = ProgressStyle::Bar;
  fit(m, train, o);
  CHECK(bar.str().find("Epoch 1/2\n") == 0);
  CHECK(bar.str().find("\r4/4 [==============================] - ") != std::string::npos);
  CHECK(bar.str().find("ms/step - loss: ") != std::string::npos);

  std::ostringstream none;
  o.out = &none;
  o.verbose = 0;
  fit(m, train, o);
  CHECK(none.str().empty());
}

TEST_CASE("fit: class-weight helpers") {
  auto d = test::toy_multiclass(9, 1);
  d.labels = {0, 0, 0, 0, 0, 0, 1, 1, 2};
  const auto w = balanced_class_weights(d);
  CHECK(w[0] == Approx(9.0 / (3 * 6)));
  CHECK(w[1] == Approx(9.0 / (3 * 2)));
  CHECK(w[2] == Approx(3.0));
  const auto ml = test::toy_multilabel(20, 3);
  const auto pw = balanced_pos_weight(ml);
  const auto counts = ml.class_counts();
  CHECK(pw[0] == Approx(double(20 - counts[0]) / double(counts[0])));
}

#ifdef SALIENT_TEST_HAVE_LSTM
TEST_CASE("fit: an LSTM classifier on variable-length sequences learns, deterministically with 2 threads") {
  auto train = test::toy_multiclass(90, 3, 12, 0.8);
  for (Index i = 0; i < train.size(); i += 2) train.series[std::size_t(i)].conservativeResize(7 + i % 5, 2);
  using L = Sequential<LSTM<2, 8, LastState>, Dense<8, 3>>;
  auto run = [&] {
    L m;
    m.init(1);
    auto o = quiet(15, 16, 2);
    Adam<float> adam;
    adam.lr = 0.02;
    o.optimizer = adam;
    const auto h = fit(m, train, o);
    return std::make_pair(Vector<float>(m.params()), h.back().train.accuracy);
  };
  const auto [p1, acc] = run();
  const auto [p2, acc2] = run();
  CHECK(p1 == p2);
  CHECK(acc > 0.8);
}
#endif
