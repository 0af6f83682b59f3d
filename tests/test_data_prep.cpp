// Tests of the Dataset model, scalers, splits and batching.
#include <doctest/doctest.h>

#include <salient/data/batching.hpp>
#include <salient/data/dataset.hpp>
#include <salient/data/scaler.hpp>
#include <salient/data/split.hpp>
#include <salient/data/synthetic.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>

using salient::Index;
using salient::Rng;
using salient::RowMatrix;
using namespace salient::data;

namespace {

/// A multi-class data set: series i has length 1 + i % 7, value 100·i + 10·t + c, class i % K
/// (or class sizes given explicitly).
Dataset<float> toy(const std::vector<Index>& class_sizes, Index C = 2) {
  Dataset<float> d;
  d.name = "toy";
  for (std::size_t k = 0; k < class_sizes.size(); ++k) d.class_names.push_back("c" + std::to_string(k));
  Index i = 0;
  for (std::size_t k = 0; k < class_sizes.size(); ++k)
    for (Index j = 0; j < class_sizes[k]; ++j, ++i) {
      RowMatrix<float> x(1 + i % 7, C);
      for (Index t = 0; t < x.rows(); ++t)
        for (Index c = 0; c < C; ++c) x(t, c) = float(100 * i + 10 * t + c);
      d.series.push_back(x);
      d.labels.push_back(Index(k));
    }
  // Interleave classes so that rows of one class are not contiguous.
  std::vector<Index> perm(d.series.size());
  for (std::size_t a = 0; a < perm.size(); ++a) perm[a] = Index((a * 7) % perm.size());
  if (std::set<Index>(perm.begin(), perm.end()).size() == perm.size()) d = d.subset(perm);
  return d;
}

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const salient::Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("Dataset: helpers and validation") {
  auto d = toy({3, 2});
  CHECK(d.size() == 5);
  CHECK(d.channels() == 2);
  CHECK(d.num_classes() == 2);
  CHECK(d.class_counts() == std::vector<Index>{3, 2});
  CHECK(d.min_length() == 1);
  CHECK(d.max_length() == 5);
  CHECK_NOTHROW(d.validate());

  const auto s = d.subset(std::vector<Index>{4, 0});
  CHECK(s.size() == 2);
  CHECK(s.labels == std::vector<Index>{d.labels[4], d.labels[0]});
  CHECK(s.series[0] == d.series[4]);
  CHECK(what_of([&] { (void)d.subset(std::vector<Index>{5}); }) == "Dataset::subset: index 5 outside [0, 5)");

  auto bad = d;
  bad.labels[1] = 7;
  CHECK(what_of([&] { bad.validate(); }) == "Dataset 'toy': series 1 has label 7, outside [0, 2)");
  bad = d;
  bad.series[2] = RowMatrix<float>::Zero(3, 4);
  CHECK(what_of([&] { bad.validate(); }) == "Dataset 'toy': series 2 has 4 channels, series 0 has 2");
  bad = d;
  bad.labels.pop_back();
  CHECK(what_of([&] { bad.validate(); }) == "Dataset 'toy': 4 labels for 5 series");
  bad = d;
  bad.masks.assign(5, {RowMatrix<float>::Zero(1, 2)});
  CHECK(what_of([&] { bad.validate(); }).find("mask of series") != std::string::npos);
  bad = d;
  bad.class_names[1] = "c0";
  CHECK(what_of([&] { bad.validate(); }) == "Dataset 'toy': class name 'c0' appears twice");

  const auto dd = d.cast<double>();
  CHECK(dd.series[3].cast<float>() == d.series[3]);
}

TEST_CASE("scalers: fit on the training split only, ignore NaN, transform and invert") {
  Dataset<float> train;
  train.name = "train";
  RowMatrix<float> a(3, 3), b(2, 3);
  a << 1, 10, 5, 2, NAN, 5, 3, 30, 5;  // channel 2 is constant
  b << 4, 20, 5, NAN, 40, 5;
  train.series = {a, b};
  Dataset<float> test = train;
  test.series = {RowMatrix<float>::Constant(2, 3, 100.f)};

  StandardScaler st;
  st.fit(train);
  CHECK(st.mean[0] == doctest::Approx(2.5));
  CHECK(st.mean[1] == doctest::Approx(25.0));
  CHECK(st.stddev[0] == doctest::Approx(std::sqrt(1.25)));
  CHECK(st.stddev[1] == doctest::Approx(std::sqrt(125.0)));
  CHECK(st.stddev[2] == 0.0);

  MinMaxScaler mm;
  mm.fit(train);
  CHECK(mm.mins == std::vector<double>{1, 10, 5});
  CHECK(mm.maxs == std::vector<double>{4, 40, 5});

  auto tr = st.transformed(train);
  CHECK(std::isnan(tr.series[0](1, 1)));  // NaN stays NaN
  CHECK(tr.series[0](2, 2) == 0.0f);      // constant channel: no division by zero
  double sum = 0, sq = 0;
  int n = 0;
  for (const auto& s : tr.series)
    for (Index t = 0; t < s.rows(); ++t)
      if (!std::isnan(s(t, 0))) sum += s(t, 0), sq += s(t, 0) * s(t, 0), ++n;
  CHECK(sum / n == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(sq / n == doctest::Approx(1.0));

  // The test split is scaled with the training statistics (not its own).
  auto te = mm.transformed(test);
  CHECK(te.series[0](0, 0) == doctest::Approx((100.0 - 1.0) / 3.0));
  CHECK(te.series[0](0, 2) == doctest::Approx(95.0));  // range 0 -> scale 1
  auto mtr = mm.transformed(train);
  CHECK(mtr.series[0](0, 0) == 0.0f);
  CHECK(mtr.series[1](0, 0) == 1.0f);
  CHECK(mtr.series[0](0, 2) == 0.0f);

  st.inverse_transform(tr);
  mm.inverse_transform(mtr);
  for (std::size_t i = 0; i < train.series.size(); ++i)
    for (Index t = 0; t < train.series[i].rows(); ++t)
      for (Index c = 0; c < 3; ++c) {
        const float x = train.series[i](t, c);
        if (std::isnan(x)) continue;
        CHECK(tr.series[i](t, c) == doctest::Approx(x));
        CHECK(mtr.series[i](t, c) == doctest::Approx(x));
      }

  // A custom range.
  MinMaxScaler sym(-1, 1);
  sym.fit(train);
  CHECK(sym.transformed(train).series[0](0, 0) == -1.0f);

  // Errors.
  RowMatrix<float> wrong(2, 2);
  CHECK(what_of([&] { st.transform(wrong); }) ==
        "StandardScaler::transform: series has 2 channels, the scaler was fitted on 3");
  CHECK(what_of([&] { StandardScaler().transform(wrong); }) ==
        "StandardScaler::transform: the scaler is not fitted");
  CHECK(what_of([&] { MinMaxScaler(1, 1); }) == "MinMaxScaler: need finite lo < hi, got [1, 1]");
  CHECK(what_of([&] { StandardScaler().fit(Dataset<float>{}); }) == "scaler fit: data set '' is empty");
}

TEST_CASE("scalers: a channel with no finite value is left unscaled") {
  Dataset<double> d;
  RowMatrix<double> a(2, 2);
  a << 1, NAN, 3, NAN;
  d.series = {a};
  StandardScaler st;
  st.fit(d);
  CHECK(st.mean[1] == 0.0);
  CHECK(st.stddev[1] == 1.0);
}

TEST_CASE("scalers: save/load round trip and malformed state") {
  Dataset<float> d = toy({4, 4}, 3);
  StandardScaler st;
  st.fit(d);
  MinMaxScaler mm(-2, 3);
  mm.fit(d);
  std::stringstream s1, s2;
  st.save(s1);
  mm.save(s2);
  const std::string st_bytes = s1.str();
  StandardScaler st2;
  st2.load(s1);
  CHECK(st2.mean == st.mean);
  CHECK(st2.stddev == st.stddev);
  MinMaxScaler mm2;
  mm2.load(s2);
  CHECK(mm2.mins == mm.mins);
  CHECK(mm2.maxs == mm.maxs);
  CHECK(mm2.lo == -2.0);
  CHECK(mm2.hi == 3.0);

  const auto load_err = [](const std::string& bytes, bool standard) {
    std::istringstream in(bytes);
    return what_of([&] {
      if (standard)
        StandardScaler().load(in);
      else
        MinMaxScaler().load(in);
    });
  };
  CHECK(load_err("", true) == "scaler state: expected magic 'SLNSCALE' at the start of the StandardScaler state");
  CHECK(load_err(st_bytes, false) == "scaler state: expected a MinMaxScaler (kind 1), found kind 2");
  CHECK(load_err(st_bytes.substr(0, st_bytes.size() - 3), true) ==
        "scaler state: truncated input while reading stddev");
  std::string v2 = st_bytes;
  v2[8] = 2;
  CHECK(load_err(v2, true) == "scaler state: unsupported version 2, expected 1");
  std::string huge = st_bytes;
  huge[23] = char(0x7f);
  CHECK(load_err(huge, true).find("scaler state: implausible channel count") == 0);
  // A failed load leaves the scaler unchanged.
  std::istringstream trunc(st_bytes.substr(0, 40));
  CHECK_THROWS_AS(st2.load(trunc), salient::IoError);
  CHECK(st2.mean == st.mean);
}

TEST_CASE("split: stratified train/val/test proportions, disjoint, deterministic") {
  const auto d = toy({50, 30, 20, 7});
  const auto sp = train_val_test_split(d, 0.2, 0.1, 42);
  std::vector<Index> all;
  for (const auto* v : {&sp.train, &sp.val, &sp.test}) {
    CHECK(std::is_sorted(v->begin(), v->end()));
    all.insert(all.end(), v->begin(), v->end());
  }
  std::sort(all.begin(), all.end());
  CHECK(all.size() == std::size_t(d.size()));
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  const auto counts = d.class_counts();
  const auto check = [&](const std::vector<Index>& rows, double f) {
    const auto c = d.subset(rows).class_counts();
    for (std::size_t k = 0; k < c.size(); ++k) {
      INFO("class ", k, " fraction ", f);
      CHECK(std::abs(double(c[k]) - f * double(counts[k])) <= 1.0);
    }
  };
  check(sp.train, 0.7);
  check(sp.val, 0.2);
  check(sp.test, 0.1);
  CHECK(std::abs(double(sp.val.size()) - 0.2 * double(d.size())) <= 2.0);

  const auto again = train_val_test_split(d, 0.2, 0.1, 42);
  CHECK(again.train == sp.train);
  CHECK(again.test == sp.test);
  const auto other = train_val_test_split(d, 0.2, 0.1, 43);
  CHECK(other.train != sp.train);

  const auto no_val = train_val_test_split(d, 0.0, 0.25, 1);
  CHECK(no_val.val.empty());

  CHECK(what_of([&] { (void)train_val_test_split(d, 0.6, 0.5, 1); }) ==
        "train_val_test_split: need val, test >= 0 and val + test < 1, got val 0.6, test 0.5");
}

TEST_CASE("split: stratified k-fold") {
  const auto d = toy({23, 11, 6});
  const auto folds = stratified_kfold(d, 5, 7);
  REQUIRE(folds.size() == 5);
  std::vector<int> seen(std::size_t(d.size()), 0);
  for (const auto& f : folds) {
    CHECK(f.train.size() + f.val.size() == std::size_t(d.size()));
    for (Index i : f.val) ++seen[std::size_t(i)];
    const auto c = d.subset(f.val).class_counts();
    CHECK(std::abs(double(c[0]) - 23.0 / 5) < 1.0);
    CHECK(std::abs(double(c[1]) - 11.0 / 5) < 1.0);
    CHECK(std::abs(double(c[2]) - 6.0 / 5) < 1.0);
    std::vector<Index> u;
    std::set_intersection(f.train.begin(), f.train.end(), f.val.begin(), f.val.end(), std::back_inserter(u));
    CHECK(u.empty());
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
  CHECK(what_of([&] { (void)stratified_kfold(d, 1, 7); }) ==
        "stratified_kfold: need 2 <= k <= 40 (the number of series), got k = 1");
}

TEST_CASE("split: multi-label iterative stratification keeps label proportions") {
  SensorDefectOptions o;
  o.count = 600;
  o.seed = 3;
  const auto d = make_sensor_defects<float>(o);
  const auto sp = train_val_test_split(d, 0.15, 0.15, 11);
  CHECK(sp.train.size() + sp.val.size() + sp.test.size() == 600);
  const auto total = d.class_counts();
  for (const auto& [rows, f] : {std::pair{&sp.train, 0.7}, std::pair{&sp.val, 0.15}, std::pair{&sp.test, 0.15}}) {
    CHECK(std::abs(double(rows->size()) - f * 600) <= 6);
    const auto c = d.subset(*rows).class_counts();
    for (std::size_t k = 0; k < c.size(); ++k) CHECK(std::abs(double(c[k]) - f * double(total[k])) <= 2.0);
  }
  const auto folds = stratified_kfold(d, 4, 5);
  for (const auto& f : folds) {
    const auto c = d.subset(f.val).class_counts();
    for (std::size_t k = 0; k < c.size(); ++k) CHECK(std::abs(double(c[k]) - double(total[k]) / 4) <= 2.0);
  }
}

TEST_CASE("batching: padding zeros, lengths, labels and indices") {
  const auto d = toy({4, 3});
  const std::vector<Index> rows{2, 6, 0};
  const auto b = make_batch(d, rows);
  const Index T = std::max({d.length(2), d.length(6), d.length(0)});
  CHECK(b.x.steps() == T);
  CHECK(b.x.batch() == 3);
  CHECK(b.x.features() == 2);
  CHECK_NOTHROW(b.x.validate());
  CHECK(b.indices == rows);
  for (Index j = 0; j < 3; ++j) {
    const Index i = rows[std::size_t(j)];
    CHECK(b.x.length(j) == d.length(i));
    CHECK(b.classes[std::size_t(j)] == d.labels[std::size_t(i)]);
    for (Index t = 0; t < T; ++t)
      for (Index c = 0; c < 2; ++c)
        CHECK(b.x(t, j, c) == (t < d.length(i) ? d.series[std::size_t(i)](t, c) : 0.0f));
  }
  CHECK(b.targets.size() == 0);
  CHECK(what_of([&] { (void)make_batch(d, std::vector<Index>{}); }) == "make_batch: no indices given");
  CHECK(what_of([&] { (void)make_batch(d, std::vector<Index>{9}); }) == "make_batch: index 9 outside [0, 7)");
}

TEST_CASE("batching: multi-label targets") {
  SensorDefectOptions o;
  o.count = 10;
  const auto d = make_sensor_defects<float>(o);
  const auto b = make_batch(d, std::vector<Index>{3, 1});
  CHECK(b.classes.empty());
  REQUIRE(b.targets.rows() == 2);
  CHECK(b.targets.row(0) == d.targets.row(3));
  CHECK(b.targets.row(1) == d.targets.row(1));
}

TEST_CASE("batching: every sample exactly once per epoch, deterministic per seed") {
  const auto d = toy({30, 23});
  for (bool bucket : {false, true}) {
    INFO("bucket_by_length = ", bucket);
    Rng r1(5), r2(5), r3(6);
    BatchOptions opt;
    opt.bucket_by_length = bucket;
    auto it1 = batches(d, 8, &r1, opt), it2 = batches(d, 8, &r2, opt), it3 = batches(d, 8, &r3, opt);
    CHECK(it1.batches_per_epoch() == 7);
    std::vector<std::vector<Index>> first_epoch;
    for (int epoch = 0; epoch < 3; ++epoch) {
      it1.start_epoch();
      it2.start_epoch();
      it3.start_epoch();
      CHECK(it1.plan() == it2.plan());
      if (epoch == 0) first_epoch = it1.plan();
      if (epoch > 0) CHECK(it1.plan() != first_epoch);  // reshuffled each epoch
      CHECK(it1.plan() != it3.plan());                   // another seed, another order
      std::vector<int> seen(std::size_t(d.size()), 0);
      Index nb = 0;
      while (const auto* b = it1.next()) {
        ++nb;
        CHECK(b->size() <= 8);
        for (Index j = 0; j < b->size(); ++j) {
          const Index i = b->indices[std::size_t(j)];
          ++seen[std::size_t(i)];
          CHECK(b->x.length(j) == d.length(i));
        }
        if (bucket) {
          // Bucketing: lengths inside a batch are a contiguous slice of the sorted lengths.
          Index lo = 1000, hi = 0;
          for (Index j = 0; j < b->size(); ++j) lo = std::min(lo, b->x.length(j)), hi = std::max(hi, b->x.length(j));
          CHECK(hi - lo <= 1);
        }
      }
      CHECK(nb == 7);
      CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
    }
  }
}

TEST_CASE("batching: drop_last, no shuffle, and argument errors") {
  const auto d = toy({5, 5});
  BatchOptions opt;
  opt.shuffle = false;
  opt.drop_last = true;
  auto it = batches(d, 3, nullptr, opt);
  CHECK(it.batches_per_epoch() == 3);
  std::vector<Index> order;
  while (const auto* b = it.next()) {
    CHECK(b->size() == 3);
    order.insert(order.end(), b->indices.begin(), b->indices.end());
  }
  CHECK(order == std::vector<Index>{0, 1, 2, 3, 4, 5, 6, 7, 8});

  Rng rng(1);
  BatchOptions drop;
  drop.drop_last = true;
  auto it2 = batches(d, 4, &rng, drop);
  Index n = 0;
  while (const auto* b = it2.next()) {
    n += b->size();
    CHECK(b->size() == 4);
  }
  CHECK(n == 8);

  CHECK(what_of([&] { (void)batches(d, 0, &rng); }) == "batches: batch_size must be >= 1, got 0");
  CHECK(what_of([&] { (void)batches(d, 2, nullptr); }) == "batches: shuffle requested but no Rng given");
}
