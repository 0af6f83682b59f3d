// Metrics on small hand-worked cases (values derived by hand, scikit-learn conventions).
#include <doctest/doctest.h>

#include <salient/train/metrics.hpp>

#include <cmath>

using namespace salient;
using doctest::Approx;

namespace {
RowMatrix<double> mat(Index r, Index c, std::initializer_list<double> v) {
  RowMatrix<double> m(r, c);
  std::copy(v.begin(), v.end(), m.data());
  return m;
}
}  // namespace

TEST_CASE("roc_auc: Mann-Whitney with ties counting one half") {
  CHECK(roc_auc(std::vector<double>{0.1, 0.4, 0.35, 0.8}, {false, false, true, true}) == Approx(0.75));
  CHECK(roc_auc(std::vector<double>{0.5, 0.5, 0.5, 0.5}, {true, false, true, false}) == Approx(0.5));
  CHECK(roc_auc(std::vector<double>{0.2, 0.5, 0.5}, {false, true, false}) == Approx(0.75));
  CHECK(std::isnan(roc_auc(std::vector<double>{0.2, 0.5}, {true, true})));
  CHECK_THROWS_AS(roc_auc(std::vector<double>{0.2, NAN}, {true, false}), ArgumentError);
}

// y = [0,0,1,1,2,2], arg-max predictions = [0,1,1,1,0,2].
// Confusion [[1,1,0],[0,2,0],[1,0,1]]; P = [1/2, 2/3, 1], R = [1/2, 1, 1/2], F1 = [1/2, 4/5, 2/3].
// OvR AUC (pairs, ties = 1/2): class 0 6.5/8, class 1 7.5/8, class 2 7/8.
TEST_CASE("multiclass_metrics: hand-worked 3-class case") {
  const auto s = mat(6, 3, {0.6, 0.3, 0.1,  //
                            0.3, 0.5, 0.2,  //
                            0.2, 0.7, 0.1,  //
                            0.1, 0.5, 0.4,  //
                            0.6, 0.1, 0.3,  //
                            0.2, 0.2, 0.6});
  const auto m = multiclass_metrics(s, {0, 0, 1, 1, 2, 2}, {"a", "b", "c"});
  CHECK_FALSE(m.multi_label);
  CHECK(m.confusion(0, 0) == 1);
  CHECK(m.confusion(0, 1) == 1);
  CHECK(m.confusion(1, 1) == 2);
  CHECK(m.confusion(2, 0) == 1);
  CHECK(m.confusion(2, 2) == 1);
  CHECK(m.confusion.sum() == 6);
  CHECK(m.accuracy == Approx(4.0 / 6));
  CHECK(m.balanced_accuracy == Approx(2.0 / 3));
  CHECK(m.precision[0] == Approx(0.5));
  CHECK(m.precision[1] == Approx(2.0 / 3));
  CHECK(m.precision[2] == Approx(1.0));
  CHECK(m.recall[0] == Approx(0.5));
  CHECK(m.recall[1] == Approx(1.0));
  CHECK(m.recall[2] == Approx(0.5));
  CHECK(m.f1[0] == Approx(0.5));
  CHECK(m.f1[1] == Approx(0.8));
  CHECK(m.f1[2] == Approx(2.0 / 3));
  CHECK(m.support == std::vector<Index>{2, 2, 2});
  CHECK(m.macro_f1 == Approx((0.5 + 0.8 + 2.0 / 3) / 3));
  CHECK(m.macro_precision == Approx((0.5 + 2.0 / 3 + 1.0) / 3));
  CHECK(m.weighted_f1 == Approx(m.macro_f1));
  CHECK(m.micro_f1 == Approx(m.accuracy));
  CHECK(m.micro_precision == Approx(m.accuracy));
  CHECK(m.auc[0] == Approx(0.8125));
  CHECK(m.auc[1] == Approx(0.9375));
  CHECK(m.auc[2] == Approx(0.875));
  CHECK(m.macro_auc == Approx(0.875));
  CHECK(m.get("val_accuracy" + 4) == m.accuracy);  // "accuracy"
  CHECK(m.get("macro_f1") == m.macro_f1);
  CHECK_THROWS_WITH_AS(m.get("hamming_loss"), "metric 'hamming_loss' does not apply to multi-class data",
                       ArgumentError);
  CHECK_THROWS_AS(m.get("nonsense"), ArgumentError);

  const std::string r = m.report();
  CHECK(r.find("precision") != std::string::npos);
  CHECK(r.find("           a    0.5000    0.5000    0.5000         2    0.8125") != std::string::npos);
  CHECK(r.find("    accuracy                        0.6667         6") != std::string::npos);
  CHECK(r.find("confusion matrix") != std::string::npos);
}

TEST_CASE("multiclass_metrics: absent class counts 0 in macro averages, not in balanced accuracy") {
  // Class 2 neither occurs nor is predicted. Predictions [0,0,1,1] for y [0,1,1,1].
  const auto s = mat(4, 3, {0.9, 0.1, 0.0,  //
                            0.8, 0.2, 0.0,  //
                            0.1, 0.9, 0.0,  //
                            0.3, 0.7, 0.0});
  const auto m = multiclass_metrics(s, {0, 1, 1, 1});
  // class 0: tp 1 fp 1 -> P 1/2, R 1; class 1: tp 2 fn 1 -> P 1, R 2/3; class 2: zeros.
  CHECK(m.precision[2] == 0.0);
  CHECK(m.recall[2] == 0.0);
  CHECK(m.f1[2] == 0.0);
  CHECK(m.f1[0] == Approx(2.0 / 3));
  CHECK(m.f1[1] == Approx(0.8));
  CHECK(m.macro_f1 == Approx((2.0 / 3 + 0.8) / 3));
  CHECK(m.balanced_accuracy == Approx((1.0 + 2.0 / 3) / 2));
  CHECK(m.weighted_f1 == Approx((1 * 2.0 / 3 + 3 * 0.8) / 4));
  CHECK(std::isnan(m.auc[2]));
  CHECK(m.auc[0] == Approx(1.0));
  CHECK(m.macro_auc == Approx((m.auc[0] + m.auc[1]) / 2));
  CHECK(m.class_names == std::vector<std::string>{"0", "1", "2"});
  CHECK_THROWS_AS(multiclass_metrics(s, {0, 1, 5, 1}), ArgumentError);
  CHECK_THROWS_AS(multiclass_metrics(s, {0, 1}), ArgumentError);
}

// truth / scores (threshold 0.5 -> predictions):
//   [1 0 1] [0.9 0.2 0.4] -> [1 0 0]
//   [0 1 0] [0.6 0.7 0.1] -> [1 1 0]
//   [1 1 0] [0.8 0.3 0.5] -> [1 0 1]
//   [0 0 0] [0.1 0.4 0.2] -> [0 0 0]
TEST_CASE("multilabel_metrics: hand-worked 3-label case") {
  const auto truth = mat(4, 3, {1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0});
  const auto s = mat(4, 3, {0.9, 0.2, 0.4, 0.6, 0.7, 0.1, 0.8, 0.3, 0.5, 0.1, 0.4, 0.2});
  const auto m = multilabel_metrics(s, truth, {"x", "y", "z"});
  CHECK(m.multi_label);
  CHECK(m.tp == std::vector<Index>{2, 1, 0});
  CHECK(m.fp == std::vector<Index>{1, 0, 1});
  CHECK(m.fn == std::vector<Index>{0, 1, 1});
  CHECK(m.tn == std::vector<Index>{1, 2, 2});
  CHECK(m.precision[0] == Approx(2.0 / 3));
  CHECK(m.recall[1] == Approx(0.5));
  CHECK(m.f1[0] == Approx(0.8));
  CHECK(m.f1[1] == Approx(2.0 / 3));
  CHECK(m.f1[2] == 0.0);
  CHECK(m.micro_precision == Approx(0.6));
  CHECK(m.micro_recall == Approx(0.6));
  CHECK(m.micro_f1 == Approx(0.6));
  CHECK(m.macro_f1 == Approx((0.8 + 2.0 / 3) / 3));
  CHECK(m.weighted_f1 == Approx((2 * 0.8 + 2 * 2.0 / 3) / 5));
  CHECK(m.subset_accuracy == Approx(0.25));
  CHECK(m.accuracy == m.subset_accuracy);
  CHECK(m.get("accuracy") == m.subset_accuracy);
  CHECK(m.hamming_loss == Approx(4.0 / 12));
  CHECK(m.jaccard == Approx((0.5 + 0.5 + 1.0 / 3 + 0.0) / 4));
  CHECK(m.samples_f1 == Approx((2.0 / 3 + 2.0 / 3 + 0.5 + 0.0) / 4));
  CHECK(m.auc[0] == Approx(1.0));
  CHECK(m.auc[1] == Approx(0.75));
  CHECK(m.auc[2] == Approx(2.0 / 3));
  CHECK(m.macro_auc == Approx((1.0 + 0.75 + 2.0 / 3) / 3));
  CHECK(std::isnan(m.balanced_accuracy));
  CHECK_THROWS_AS(m.get("balanced_accuracy"), ArgumentError);
  const std::string r = m.report();
  CHECK(r.find("   micro avg    0.6000    0.6000    0.6000         5\n") != std::string::npos);
  CHECK(r.find(" samples avg    0.5000    0.5000    0.4583         5\n") != std::string::npos);
  CHECK(r.find("hamming loss") != std::string::npos);

  // Per-label thresholds change the predictions.
  const auto m2 = multilabel_metrics(s, truth, {}, {0.7, 0.25, 0.3});
  CHECK(m2.f1[0] == Approx(1.0));
  CHECK(m2.f1[1] == Approx(0.8));
  CHECK(m2.f1[2] == Approx(2.0 / 3));
  CHECK_THROWS_AS(multilabel_metrics(s, truth, {}, {0.5}), ArgumentError);
}

TEST_CASE("tune_thresholds: maximises per-label F1 with midpoint thresholds") {
  const auto truth = mat(4, 3, {1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0});
  const auto s = mat(4, 3, {0.9, 0.2, 0.4, 0.6, 0.7, 0.1, 0.8, 0.3, 0.5, 0.1, 0.4, 0.2});
  const auto t = tune_thresholds(s, truth);
  REQUIRE(t.size() == 3);
  CHECK(t[0] == Approx(0.7));
  CHECK(t[1] == Approx(0.25));
  CHECK(t[2] == Approx(0.3));
  // A label without positives keeps the fallback.
  const auto t2 = tune_thresholds(s, mat(4, 3, {1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0}), 0.42);
  CHECK(t2[2] == 0.42);
}
