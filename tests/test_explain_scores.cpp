// Scores of explanations on hand-worked examples: AUROC with ties, AP, pointing game, relevance
// mass, deletion / insertion areas, aggregation helpers, Spearman and the randomisation check.
#include <salient/explain.hpp>
#include <salient/layers/dense.hpp>
#include <salient/model/sequential.hpp>

#include <cmath>
#include <vector>

#include <doctest/doctest.h>

using namespace salient;
namespace ex = salient::explain;

namespace {
/// y(b, f) = Σ_{t < L_b} x(t, b, f).
template <class S = double>
struct SumOverTime {
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Vector;
  static constexpr int input_size = SameAsInput;
  static constexpr int output_size = SameAsInput;
  template <class T>
  using rebind = SumOverTime<T>;
  Index input_features() const { return -1; }
  Index output_features(Index in) const { return in; }
  Index num_params() const { return 0; }
  std::string name() const { return "SumOverTime"; }
  void bind(S*, S*) {}
  void init(Rng&) {}
  void forward(const SeqBatch<S>& x, RowMatrix<S>& y, Mode) const {
    y = RowMatrix<S>::Zero(x.batch(), x.features());
    for_each_valid(x.lengths, x.steps(), [&](Index t, Index b, Index) {
      for (Index f = 0; f < x.features(); ++f) y(b, f) += x(t, b, f);
    });
  }
  void backward(const SeqBatch<S>& x, const RowMatrix<S>&, const RowMatrix<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    for_each_valid(x.lengths, x.steps(), [&](Index t, Index b, Index) {
      for (Index f = 0; f < x.features(); ++f) (*dx)(t, b, f) += dy(b, f);
    });
  }
};
using V = std::vector<double>;
using M = std::vector<char>;
}  // namespace

TEST_CASE("scores: ROC AUC counts ties half") {
  // pos {0.9, 0.5} vs neg {0.5, 0.1}: 1 + 1 + ½ + 1 of 4 pairs.
  CHECK(ex::roc_auc(V{0.9, 0.5, 0.5, 0.1}, M{1, 1, 0, 0}) == 0.875);
  CHECK(ex::roc_auc(V{1, 2, 3, 4}, M{0, 0, 1, 1}) == 1.0);
  CHECK(ex::roc_auc(V{1, 2, 3, 4}, M{1, 1, 0, 0}) == 0.0);
  CHECK(ex::roc_auc(V{2, 2, 2, 2}, M{0, 1, 0, 0}) == 0.5);
  // pos {3} vs neg {1, 3, 3, 5}: 1 + ½ + ½ + 0 of 4.
  CHECK(ex::roc_auc(V{1, 3, 3, 3, 5}, M{0, 1, 0, 0, 0}) == 0.5);
  CHECK(std::isnan(ex::roc_auc(V{1, 2}, M{1, 1})));
  CHECK_THROWS_AS(ex::roc_auc(V{1, 2}, M{1}), ShapeError);
}

TEST_CASE("scores: average precision") {
  // Ranks: + − + −: ½·1 + ½·⅔.
  CHECK(ex::average_precision(V{0.9, 0.8, 0.7, 0.6}, M{1, 0, 1, 0}) == doctest::Approx(5.0 / 6.0));
  // Tied group {0.5: one +, one −} enters at once: ½·1 + ½·⅔ again.
  CHECK(ex::average_precision(V{0.9, 0.5, 0.5, 0.1}, M{1, 0, 1, 0}) == doctest::Approx(5.0 / 6.0));
  // Everything tied: AP = prevalence.
  CHECK(ex::average_precision(V{1, 1, 1, 1}, M{0, 1, 0, 0}) == 0.25);
  CHECK(ex::average_precision(V{4, 3, 2, 1}, M{1, 1, 0, 0}) == 1.0);
  // − + : ½.
  CHECK(ex::average_precision(V{2, 1}, M{0, 1}) == 0.5);
  CHECK(std::isnan(ex::average_precision(V{1, 2}, M{0, 0})));
}

TEST_CASE("scores: pointing game and relevance mass") {
  CHECK(ex::pointing_game(V{1, 3, 2, 0}, M{0, 1, 0, 0}) == 1.0);
  CHECK(ex::pointing_game(V{1, 3, 2, 0}, M{1, 0, 1, 1}) == 0.0);
  CHECK(ex::pointing_game(V{1, 3, 3, 0}, M{0, 1, 0, 0}) == 0.5);  // tie at the top
  CHECK(ex::relevance_mass(V{1, -2, 3, 4}, M{0, 1, 1, 0}) == 0.5);
  CHECK(ex::relevance_mass(V{0, 0}, M{0, 1}) == 0.0);
  const auto l = ex::localization(V{0.1, 0.9, 0.2}, M{0, 1, 0});
  CHECK(l.auroc == 1.0);
  CHECK(l.auprc == 1.0);
  CHECK(l.pointing == 1.0);
  CHECK(l.mass == doctest::Approx(0.75));
  RowMatrix<float> mask = RowMatrix<float>::Zero(4, 3);
  mask(2, 1) = 1;
  mask(3, 0) = 1;
  CHECK(ex::step_mask(mask) == M{0, 0, 1, 1});
}

TEST_CASE("aggregate: per step, per channel, smoothing, top windows, normalisation") {
  ex::Attribution<double> a;
  a.values.resize(3, 2, 2);
  a.values.setZero();
  a.lengths = {3, 2};
  a.values(0, 0, 0) = 1, a.values(0, 0, 1) = -3;
  a.values(1, 0, 0) = 2, a.values(2, 0, 1) = 4;
  a.values(1, 1, 0) = -1;
  const auto abs = ex::per_step(a);
  CHECK(abs(0, 0) == 4);
  CHECK(abs(0, 2) == 4);
  CHECK(abs(1, 1) == 1);
  CHECK(abs(1, 2) == 0);  // padded step of sample 1
  const auto sum = ex::per_step(a, ex::StepReduce::Sum);
  CHECK(sum(0, 0) == -2);
  CHECK(ex::per_step(a, ex::StepReduce::PositiveSum)(0, 0) == 0);
  CHECK(ex::per_step(a, ex::StepReduce::SquaredSum)(0, 0) == 10);
  const auto ch = ex::per_channel(a);
  CHECK(ch(0, 0) == 3);
  CHECK(ch(0, 1) == 7);
  CHECK(ch(1, 0) == 1);
  RowMatrix<double> s(1, 5);
  s << 0, 3, 0, 6, 0;
  const auto sm = ex::smooth_steps(s, {5}, 3);
  CHECK(sm(0, 0) == 1.5);
  CHECK(sm(0, 2) == 3.0);
  CHECK(sm(0, 4) == 3.0);
  const auto w = ex::top_windows(s, 0, 5, 2, 2);
  REQUIRE(w.size() == 2);
  CHECK(w[0].start == 2);  // [0,6] and [6,0] tie at 6: the first wins
  CHECK(w[0].score == 6);
  CHECK(w[1].start == 0);
  const auto n = ex::normalize(s, {5}, ex::Normalization::MaxAbs);
  CHECK(n(0, 3) == 1.0);
  CHECK(n(0, 1) == 0.5);
  CHECK(ex::normalize(s, {5}, ex::Normalization::Sum)(0, 1) == doctest::Approx(1.0 / 3.0));
  CHECK(ex::normalize(s, {4}, ex::Normalization::MinMax)(0, 1) == 0.5);
  CHECK(ex::normalize_cells(a)(2, 0, 1) == 1.0);
}

TEST_CASE("scores: deletion and insertion curves, random reference") {
  // y = Σ_t x_t, x = [3, 1, 2], zero baseline, order by x: deletion 6, 3, 1, 0 at q = 0, ⅓, ⅔, 1.
  Sequential<Dense<1, 1, double>, SumOverTime<double>> m;
  m.params() << 1.0, 0.0;
  SeqBatch<double> x(4, 1, 1);
  x.lengths = {3};
  x(0, 0, 0) = 3, x(1, 0, 0) = 1, x(2, 0, 0) = 2;
  RowMatrix<double> order(1, 4);
  order << 3, 1, 2, 0;
  ex::CurveOptions<double> o;
  o.points = 3;
  const auto d = ex::deletion_curve(m, x, ex::Target::index(0), order, o);
  CHECK(d.value(0, 0) == 6);
  CHECK(d.value(0, 1) == 3);
  CHECK(d.value(0, 2) == 1);
  CHECK(d.value(0, 3) == 0);
  CHECK(d.area[0] == doctest::Approx(7.0 / 3.0));
  CHECK(d.mean_area() == doctest::Approx(7.0 / 3.0));
  CHECK(d.cost.forward == 4);
  o.insertion = true;
  const auto ins = ex::deletion_curve(m, x, ex::Target::index(0), order, o);
  CHECK(ins.area[0] == doctest::Approx(11.0 / 3.0));  // 0, 3, 5, 6
  // Removing the largest steps first minimises the area: every random order does at least as well.
  o.insertion = false;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto r = ex::deletion_curve(m, x, ex::Target::index(0), ex::random_order_scores(x.lengths, 4, seed), o);
    CHECK(r.area[0] >= d.area[0] - 1e-12);
  }
  // With a constant baseline of 1: deletion values 6, 4, 3, 3.
  o.baseline = ex::Baseline<double>::constant(1.0);
  const auto c = ex::deletion_curve(m, x, ex::Target::index(0), order, o);
  CHECK(c.value(0, 1) == 4);
  CHECK(c.value(0, 3) == 3);
}

TEST_CASE("scores: Spearman and the model-randomisation check") {
  CHECK(ex::spearman(V{1, 2, 3, 4}, V{1, 3, 2, 4}) == doctest::Approx(0.8));
  CHECK(ex::spearman(V{1, 2, 3}, V{3, 2, 1}) == doctest::Approx(-1.0));
  CHECK(ex::spearman(V{1, 1, 1}, V{3, 2, 1}) == 0.0);
  Sequential<Dense<2, 2, double>, SumOverTime<double>> m;
  m.init(1);
  SeqBatch<double> x(5, 2, 2);
  x.lengths = {5, 3};
  Rng rng(2);
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = rng.uniform(-1, 1);
  zero_padding(x.values, x.lengths);
  // A "method" that ignores the model: perfectly correlated with itself.
  auto input_only = [](const auto&, const SeqBatch<double>& xx, const ex::Target&) {
    ex::Attribution<double> a;
    a.values = xx.values;
    a.lengths = xx.lengths;
    return a;
  };
  const auto r = ex::model_randomization(m, x, ex::Target::index(0), input_only);
  CHECK(r.correlation.size() == 2);
  CHECK(r.mean == doctest::Approx(1.0));
  // Gradient × input depends on the weights: a re-initialised model gives a different ranking.
  auto gxi = [](const auto& model, const SeqBatch<double>& xx, const ex::Target& t) {
    return ex::gradient_x_input(model, xx, t);
  };
  const auto g = ex::model_randomization(m, x, ex::Target::index(0), gxi, 99);
  CHECK(g.mean < 0.999);
  CHECK(g.mean >= -1.0);
}
