// Reliability (issue 9): numerical guards and bad input at the public entry points.
//
//  * NaN/Inf inputs are refused with a message naming the sample, step and channel (or imputed
//    when the reader's missing-value policy says so); padding may hold anything.
//  * softmax / sigmoid / log-sum-exp (inside the losses, predict_proba and explain's probability
//    outputs) stay finite for logits of ±1e4; LSTM and GRU stay finite over 10,000 steps;
//    input and parameter gradients of extreme inputs stay finite.
//  * wrong channel count, empty data set, zero-length series, lengths beyond the tensor, a class
//    label not in the header: each entry point says so in an exception naming the problem.
#include <doctest/doctest.h>

#include <salient/explain.hpp>
#include <salient/io/checkpoint.hpp>
#include <salient/data/scaler.hpp>
#include <salient/data/split.hpp>
#include <salient/io/ts_reader.hpp>
#include <salient/salient.hpp>
#include <salient/train/fit.hpp>
#ifdef SALIENT_HAVE_XTENSOR
#include <salient/io/csv.hpp>
#include <salient/io/npy.hpp>
#endif

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "toy_data.hpp"

using namespace salient;
namespace ex = salient::explain;
using doctest::Contains;

namespace {

using Lstm = Sequential<LSTM<2, 8, LastState>, Dense<8, 3>>;
constexpr float nanf_ = std::numeric_limits<float>::quiet_NaN();
constexpr float inff_ = std::numeric_limits<float>::infinity();

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

SeqBatch<float> batch_of(const data::Dataset<float>& d) {
  std::vector<Index> idx(std::size_t(d.size()));
  for (Index i = 0; i < d.size(); ++i) idx[std::size_t(i)] = i;
  return data::make_batch(d, idx).x;
}

FitOptions<float> quiet(Index epochs = 1) {
  FitOptions<float> o;
  o.epochs = epochs;
  o.batch_size = 4;
  o.threads = 1;
  o.verbose = 0;
  return o;
}

template <class T>
bool finite(const T& t) {
  for (Index i = 0; i < Index(t.size()); ++i)
    if (!std::isfinite(t.data()[i])) return false;
  return true;
}

}  // namespace

// ============================================================================================
// Numerical guards
// ============================================================================================

TEST_CASE_TEMPLATE("numeric: softmax, sigmoid and the losses stay finite for logits of +-1e4", S, float, double) {
  RowMatrix<S> z(3, 3);
  z << S(1e4), S(-1e4), S(0),  //
      S(-1e4), S(-1e4), S(-1e4),  //
      S(1e4), S(1e4), S(-1e4);
  const RowMatrix<S> p = softmax(z);
  CHECK(finite(p));
  for (Index i = 0; i < 3; ++i) CHECK(double(p.row(i).sum()) == doctest::Approx(1.0));
  CHECK(p(0, 0) == S(1));
  CHECK(double(p(1, 0)) == doctest::Approx(1.0 / 3));
  CHECK(sigmoid(S(1e4)) == S(1));
  CHECK(sigmoid(S(-1e4)) == S(0));
  CHECK(softplus(S(1e4)) == S(1e4));
  CHECK(softplus(S(-1e4)) == S(0));

  // Cross-entropy is a log-sum-exp: the wrong class at 2e4 below the right one costs 2e4.
  SoftmaxCrossEntropy ce;
  RowMatrix<S> g;
  const S right = ce(z, std::vector<Index>{0, 1, 0}, &g);
  CHECK(std::isfinite(double(right)));
  CHECK(finite(g));
  const S wrong = ce(z, std::vector<Index>{1, 1, 2}, &g);
  CHECK(std::isfinite(double(wrong)));
  CHECK(double(wrong) == doctest::Approx((2e4 + std::log(3.0) + 2e4 + std::log(2.0)) / 3).epsilon(1e-4));
  CHECK(finite(g));
  ce.label_smoothing = 0.1;
  CHECK(std::isfinite(double(ce(z, std::vector<Index>{1, 1, 2}, &g))));
  CHECK(finite(g));

  SigmoidBinaryCrossEntropy bce;
  RowMatrix<S> t(3, 3);
  t << 0, 1, 1, 1, 0, 1, 0, 0, 1;
  const S l = bce(z, t, &g);
  CHECK(std::isfinite(double(l)));
  CHECK(finite(g));
  bce.pos_weight = {3.0, 0.5, 1.0};
  CHECK(std::isfinite(double(bce(z, t, &g))));
  CHECK(finite(g));
}

TEST_CASE("numeric: predict_proba, evaluate and explain's probability outputs stay finite for logits of +-1e4") {
  // GlobalAveragePool then Dense<2,2> with weights that put the logits at +-1e4.
  using M = Sequential<GlobalAveragePool<>, Dense<2, 2>>;
  M m;
  m.params() << 1e4f, 0, -1e4f, 0, 0, 0;  // W = [[1e4, 0], [-1e4, 0]], b = 0
  data::Dataset<float> d;
  d.name = "extreme";
  d.class_names = {"a", "b"};
  for (int i = 0; i < 4; ++i) {
    RowMatrix<float> s(3, 2);
    s.setConstant(i % 2 ? -1.0f : 1.0f);
    d.series.push_back(s);
    d.labels.push_back(i % 2 ? 0 : 1);  // every prediction maximally wrong
  }
  const auto p = predict_proba(m, d);
  CHECK(finite(p));
  CHECK(p(0, 0) == 1.0f);
  const auto e = evaluate(m, d);
  CHECK(std::isfinite(e.loss));
  CHECK(e.loss == doctest::Approx(2e4).epsilon(1e-4));
  d.multi_label = true;
  d.labels.clear();
  d.targets.setOnes(4, 2);
  const auto pm = predict_proba(m, d);
  CHECK(finite(pm));
  CHECK(std::isfinite(evaluate(m, d).loss));

  const auto x = batch_of(d);
  for (auto out : {ex::Output::Logit, ex::Output::Softmax, ex::Output::Sigmoid}) {
    const auto a = ex::saliency(m, x, ex::Target::index(1, out));
    CHECK(finite(a.values));
    const auto ig = ex::integrated_gradients(m, x, ex::Target::index(0, out), {.steps = 4});
    CHECK(finite(ig.values));
    for (double dl : ig.delta) CHECK(std::isfinite(dl));
  }
}

TEST_CASE("numeric: LSTM and GRU over 10,000 steps neither overflow nor produce NaN, forward and backward") {
  constexpr Index T = 10000;
  Rng rng(4);
  SeqBatch<float> x(T, 2, 2);
  x.lengths = {T, T / 2};
  for (Index t = 0; t < T; ++t)
    for (Index b = 0; b < 2; ++b)
      for (Index c = 0; c < 2; ++c) x(t, b, c) = float(rng.normal(0, 5));
  RowMatrix<float> dy = RowMatrix<float>::Ones(2, 3);

  SUBCASE("LSTM") {
    Lstm m;
    m.init(1);
    const auto& y = m.forward(x, Mode::Training);
    CHECK(finite(y));
    CHECK(m.output<0>().cwiseAbs().maxCoeff() <= 1.0f);  // h = o * tanh(c)
    Tensor3<float> dx;
    m.zero_grad();
    m.backward(dy, &dx);
    CHECK(finite(dx));
    CHECK(m.grads().allFinite());
    // Saturating inputs (every gate pinned at 0 or 1; the cell state grows by at most 1 a step).
    SeqBatch<float> big = x;
    for (Index t = 0; t < T; ++t)
      for (Index b = 0; b < 2; ++b) big(t, b, 0) = big(t, b, 1) = 1e4f;
    CHECK(finite(m.forward(big, Mode::Training)));
    m.zero_grad();
    m.backward(dy, &dx);
    CHECK(finite(dx));
    CHECK(m.grads().allFinite());
  }
  SUBCASE("GRU") {
    Sequential<GRU<2, 8, LastState>, Dense<8, 3>> m;
    m.init(2);
    CHECK(finite(m.forward(x, Mode::Training)));
    CHECK(m.output<0>().cwiseAbs().maxCoeff() <= 1.0f);
    Tensor3<float> dx;
    m.zero_grad();
    m.backward(dy, &dx);
    CHECK(finite(dx));
    CHECK(m.grads().allFinite());
  }
}

TEST_CASE("numeric: input and parameter gradients of extreme inputs stay finite") {
  auto d = test::toy_multiclass(6, 3, 8);
  for (float scale : {1e4f, 1e6f}) {
    CAPTURE(scale);
    auto big = d;
    for (auto& s : big.series) s *= scale;
    const auto x = batch_of(big);
    auto check_model = [&](auto model, const char* what) {
      CAPTURE(what);
      model.init(5);
      const auto a = ex::saliency(model, x, ex::Target::predicted());
      CHECK(finite(a.values));
      const auto gi = ex::gradient_x_input(model, x, ex::Target::index(0, ex::Output::Softmax));
      CHECK(finite(gi.values));
      RowMatrix<float> g;
      model.zero_grad();
      const float l = SoftmaxCrossEntropy{}(model.forward(x, Mode::Training), big.labels, &g);
      CHECK(std::isfinite(l));
      model.backward(g);
      CHECK(model.grads().allFinite());
    };
    check_model(Lstm{}, "LSTM");
    check_model(Sequential<GRU<2, 8, LastState>, Dense<8, 3>>{}, "GRU");
    check_model(Sequential<Conv1D<2, 4, 3>, ReLU<>, GlobalAveragePool<>, Dense<4, 3>>{}, "Conv1D");
    check_model(Sequential<LayerNorm<2>, Dense<2, 6>, Tanh<>, AttentionPool<6>, Dense<6, 3>>{}, "LayerNorm+attention");
  }
}

TEST_CASE("numeric: NaN and Inf inputs are refused with the sample, step and channel; padding may hold NaN") {
  Lstm m;
  m.init(2);
  SeqBatch<float> x(5, 2, 2);
  x.lengths = {5, 3};
  for (Index t = 0; t < 5; ++t)
    for (Index b = 0; b < 2; ++b) x(t, b, 0) = x(t, b, 1) = 0.5f;
  // NaN and Inf in padded steps are never read.
  x(3, 1, 0) = nanf_;
  x(4, 1, 1) = inff_;
  CHECK(finite(m.forward(x)));
  auto bad = x;
  bad(2, 1, 1) = nanf_;
  CHECK_THROWS_WITH_AS(m.forward(bad), Contains("input sample 1, step 2, channel 1 is nan; the model needs finite inputs"),
                       NumericError);
  bad = x;
  bad(0, 0, 0) = -inff_;
  CHECK_THROWS_WITH_AS(m.forward(bad, Mode::Training), Contains("input sample 0, step 0, channel 0 is -inf"),
                       NumericError);
  CHECK_THROWS_AS(ex::saliency(m, bad, ex::Target::predicted()), NumericError);
  CHECK_THROWS_AS(ex::occlusion(m, bad, ex::Target::index(0)), NumericError);

  Sequential<Dense<4, 2>> v;
  RowMatrix<float> xv = RowMatrix<float>::Zero(3, 4);
  xv(2, 1) = nanf_;
  CHECK_THROWS_WITH_AS(v.forward(xv), Contains("input sample 2, feature 1 is nan"), NumericError);

  // Through the data-set entry points.
  auto d = test::toy_multiclass(8, 1, 5);
  d.series[5](3, 1) = nanf_;
  CHECK_THROWS_WITH_AS(predict_proba(m, d), Contains("channel 1 is nan"), NumericError);
  CHECK_THROWS_WITH_AS(evaluate(m, d), Contains("channel 1 is nan"), NumericError);
  CHECK_THROWS_WITH_AS(fit(m, d, quiet()), Contains("channel 1 is nan"), NumericError);

  // The reader's policy decides: imputed values are finite, 'error' refuses the file.
  const std::string ts =
      "@problemName P\n@univariate false\n@dimensions 2\n@missing true\n@classLabel true a b c\n@data\n"
      "1,2,?,4,5:1,1,1,1,1:a\n1,2,3,4,5:?,1,2,3,4:b\n5,4,3,2,1:1,2,3,4,5:c\n";
  std::istringstream in1(ts);
  const auto keep = io::read_ts<float>(in1, "p.ts");
  CHECK_THROWS_AS(predict_proba(m, keep), NumericError);
  std::istringstream in2(ts);
  const auto imputed = io::read_ts<float>(in2, "p.ts", {data::MissingPolicy::impute_series_mean});
  CHECK(finite(predict_proba(m, imputed)));
  std::istringstream in3(ts);
  CHECK_THROWS_AS(io::read_ts<float>(in3, "p.ts", {data::MissingPolicy::error}), IoError);
}

TEST_CASE("numeric: a checkpoint with a NaN or Inf weight is refused and the model left unchanged") {
  Lstm m;
  m.init(3);
  const Vector<float> before = m.params();
  auto c = io::make_checkpoint(m);
  c.params[7] = nanf_;
  const auto bytes = io::serialize_checkpoint(c);  // a valid file: the checksum matches
  const auto parsed = io::parse_checkpoint<float>(bytes, "nan.slnt");
  const std::string want = "nan.slnt: parameter 7 of " + std::to_string(m.num_params()) + " is nan";
  CHECK_THROWS_WITH_AS(io::apply_checkpoint(parsed, m, "nan.slnt"), Contains(want.c_str()), IoError);
  CHECK(Vector<float>(m.params()) == before);
  c.params[7] = inff_;
  CHECK_THROWS_AS(io::apply_checkpoint(c, m, "inf.slnt"), IoError);
}

// ============================================================================================
// Bad input at every public entry point
// ============================================================================================

TEST_CASE("bad input: wrong channel count for the model") {
  Lstm m;
  m.init(1);
  SeqBatch<float> x(4, 2, 3);
  CHECK_THROWS_WITH_AS(m.forward(x), Contains("input has 3 channels, the model expects 2"), ShapeError);
  CHECK_THROWS_WITH_AS(ex::saliency(m, x, ex::Target::index(0)), Contains("input has 3 channels, the model expects 2"),
                       ShapeError);
  CHECK_THROWS_AS(ex::integrated_gradients(m, x, ex::Target::predicted()), ShapeError);
  CHECK_THROWS_AS(ex::shapley_sampling(m, x, ex::Target::index(0)), ShapeError);

  data::Dataset<float> d;
  d.name = "three";
  d.class_names = {"a", "b", "c"};
  for (int i = 0; i < 6; ++i) {
    d.series.push_back(RowMatrix<float>::Ones(4, 3));
    d.labels.push_back(i % 3);
  }
  CHECK_THROWS_WITH_AS(fit(m, d, quiet()), Contains("training data set 'three' has 3 channels, the model expects 2"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(evaluate(m, d), Contains("has 3 channels, the model expects 2"), ShapeError);
  CHECK_THROWS_WITH_AS(predict_proba(m, d), Contains("has 3 channels, the model expects 2"), ShapeError);
  auto o = quiet();
  const auto good = test::toy_multiclass(6, 1, 4);
  o.validation = &d;
  CHECK_THROWS_WITH_AS(fit(m, good, o), Contains("validation data set 'three' has 3 channels"), ShapeError);

  // A vector model: T x C values per series.
  Sequential<Dense<8, 3>> v;
  CHECK_THROWS_WITH_AS(predict_proba(v, d), Contains("4 steps x 3 channels = 12 values per series, the model expects 8"),
                       ShapeError);
  // A checkpoint of another architecture.
  Sequential<LSTM<3, 8, LastState>, Dense<8, 3>> other;
  const auto c = io::make_checkpoint(other);
  CHECK_THROWS_WITH_AS(io::apply_checkpoint(c, m, "other.slnt"), Contains("other.slnt: architecture mismatch"), IoError);
}

TEST_CASE("bad input: empty data set") {
  Lstm m;
  data::Dataset<float> empty;
  empty.name = "nothing";
  CHECK_THROWS_WITH_AS(fit(m, empty, quiet()), Contains("training data set 'nothing' is empty"), ArgumentError);
  CHECK_THROWS_WITH_AS(evaluate(m, empty), Contains("evaluation data set 'nothing' is empty"), ArgumentError);
  CHECK_THROWS_WITH_AS(predict_proba(m, empty), Contains("prediction data set 'nothing' is empty"), ArgumentError);
  CHECK_THROWS_WITH_AS(data::make_batch(empty, std::vector<Index>{}), Contains("no indices"), ArgumentError);
  CHECK_THROWS_AS(data::make_batch(empty, std::vector<Index>{0}), ArgumentError);
  data::StandardScaler sc;
  CHECK_THROWS_AS(sc.fit(empty), Error);
  CHECK_THROWS_AS(data::train_val_test_split(empty, 0.2, 0.2, 1), Error);
  // Readers: a file without series.
  std::istringstream ts("@problemName E\n@univariate true\n@classLabel true a b\n@data\n");
  CHECK_THROWS_AS(io::read_ts<float>(ts, "empty.ts"), IoError);
  std::istringstream nothing("");
  CHECK_THROWS_AS(io::read_ts<float>(nothing, "nothing.ts"), IoError);
  // An explanation of an empty batch is an empty attribution (nothing to explain, no crash).
  SeqBatch<float> none(3, 0, 2);
  CHECK(ex::saliency(m, none, ex::Target::index(0)).batch() == 0);
#ifdef SALIENT_HAVE_XTENSOR
  std::istringstream csv("# only a comment\n\n");
  CHECK_THROWS_WITH_AS(io::read_csv<float>(csv, "e.csv"), Contains("e.csv: expected at least one data row"), IoError);
  io::NpyArray zero;
  zero.shape = {0, 4, 2};
  CHECK_THROWS_AS(io::dataset_from_arrays<float>(zero, nullptr, nullptr), Error);
#endif
}

TEST_CASE("bad input: zero-length series") {
  Lstm m;
  auto d = test::toy_multiclass(6, 1, 4);
  d.series[2].resize(0, 2);
  CHECK_THROWS_WITH_AS(d.validate(), Contains("series 2 is empty"), ShapeError);
  CHECK_THROWS_WITH_AS(fit(m, d, quiet()), Contains("series 2 is empty"), ShapeError);
  CHECK_THROWS_WITH_AS(evaluate(m, d), Contains("series 2 is empty"), ShapeError);
  CHECK_THROWS_WITH_AS(predict_proba(m, d), Contains("series 2 is empty"), ShapeError);
  CHECK_THROWS_WITH_AS(data::make_batch(d, std::vector<Index>{1, 2}), Contains("make_batch: series 2 of 'toy3' is empty"),
                       ShapeError);
  // A series with fewer channels than series 0 (would be read past its end).
  auto narrow = test::toy_multiclass(4, 1, 4);
  narrow.series[3] = RowMatrix<float>::Ones(4, 1);
  CHECK_THROWS_WITH_AS(data::make_batch(narrow, std::vector<Index>{0, 3}),
                       Contains("make_batch: series 3 of 'toy3' has 1 channels, series 0 has 2"), ShapeError);
  CHECK_THROWS_AS(predict_proba(m, narrow), ShapeError);
  // A batch that declares a length of 0.
  SeqBatch<float> x(4, 2, 2);
  x.lengths = {4, 0};
  CHECK_THROWS_WITH_AS(m.forward(x), Contains("sample 1 has length 0, outside [1, 4]"), ShapeError);
  CHECK_THROWS_AS(ex::saliency(m, x, ex::Target::index(0)), ShapeError);
  CHECK_THROWS_AS((SeqBatch<float>(Tensor3<float>(4, 2, 2), Lengths{4, 0})), ShapeError);
  // Readers: a series with no values.
  std::istringstream ts("@problemName Z\n@univariate true\n@classLabel true a b\n@data\n1,2,3:a\n:b\n");
  CHECK_THROWS_AS(io::read_ts<float>(ts, "z.ts"), IoError);
#ifdef SALIENT_HAVE_XTENSOR
  std::istringstream csv("1,2,3,a\n,,,b\n");
  io::CsvReadOptions last;
  last.label_column = io::LabelColumn::last;
  CHECK_THROWS_WITH_AS(io::read_csv<float>(csv, "z.csv", last),
                       Contains("z.csv:2: expected at least one value"), IoError);
  io::NpyArray v, len;
  v.shape = {2, 3, 1};
  v.values = {1, 2, 3, 4, 5, 6};
  len.shape = {2};
  len.values = {3, 0};
  CHECK_THROWS_AS(io::dataset_from_arrays<float>(v, nullptr, &len), Error);
#endif
}

TEST_CASE("bad input: lengths longer than the tensor") {
  Lstm m;
  SeqBatch<float> x(4, 2, 2);
  x.lengths = {4, 5};
  CHECK_THROWS_WITH_AS(m.forward(x), Contains("sample 1 has length 5, outside [1, 4]"), ShapeError);
  CHECK_THROWS_AS(ex::saliency(m, x, ex::Target::index(0)), ShapeError);
  CHECK_THROWS_AS(ex::occlusion(m, x, ex::Target::index(0)), ShapeError);
  x.lengths = {4};
  CHECK_THROWS_WITH_AS(m.forward(x), Contains("1 lengths given for a batch of 2 samples"), ShapeError);
  CHECK_THROWS_AS((SeqBatch<float>(Tensor3<float>(4, 2, 2), Lengths{4, 9})), ShapeError);
  // Ground-truth masks longer than their series.
  auto d = test::toy_multiclass(3, 1, 4);
  d.masks.assign(3, {RowMatrix<float>::Ones(4, 2)});
  d.masks[1][0] = RowMatrix<float>::Ones(6, 2);
  CHECK_THROWS_AS(d.validate(), ShapeError);
#ifdef SALIENT_HAVE_XTENSOR
  io::NpyArray v, len;
  v.shape = {2, 3, 1};
  v.values = {1, 2, 3, 4, 5, 6};
  len.shape = {2};
  len.values = {3, 4};
  CHECK_THROWS_AS(io::dataset_from_arrays<float>(v, nullptr, &len), Error);
#endif
  // .ts: a series longer than @seriesLength.
  std::istringstream ts("@problemName L\n@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n"
                        "@data\n1,2,3:a\n1,2,3,4:b\n");
  CHECK_THROWS_AS(io::read_ts<float>(ts, "l.ts"), IoError);
}

TEST_CASE("bad input: a class label that the header or the model does not know") {
  std::istringstream ts("@problemName C\n@univariate true\n@classLabel true a b\n@data\n1,2,3:a\n4,5,6:c\n");
  CHECK_THROWS_WITH_AS(io::read_ts<float>(ts, "bad.ts"), Contains("bad.ts:6: class label 'c' is not listed in @classLabel (a b)"),
                       IoError);
#ifdef SALIENT_HAVE_XTENSOR
  std::istringstream csv("1,2,a\n3,4,z\n");
  io::CsvReadOptions o;
  o.label_column = io::LabelColumn::last;
  o.class_names = {"a", "b"};
  CHECK_THROWS_WITH_AS(io::read_csv<float>(csv, "bad.csv", o), Contains("bad.csv:2: label 'z' is not one of the given class names"),
                       IoError);
  io::NpyArray v, lab;
  v.shape = {2, 2};
  v.values = {1, 2, 3, 4};
  lab.shape = {2};
  lab.values = {0, 5};
  io::NpyDatasetOptions no;
  no.class_names = {"a", "b"};
  CHECK_THROWS_AS(io::dataset_from_arrays<float>(v, &lab, nullptr, no), Error);
#endif
  // A label outside the class list of a data set built by hand.
  auto d = test::toy_multiclass(6, 1, 4);
  d.labels[4] = 3;
  CHECK_THROWS_WITH_AS(d.validate(), Contains("series 4 has label 3"), ArgumentError);
  Lstm m;
  CHECK_THROWS_AS(fit(m, d, quiet()), ArgumentError);
  CHECK_THROWS_AS(evaluate(m, d), ArgumentError);
  // More classes than the model has outputs.
  auto four = test::toy_multiclass(8, 1, 4);
  four.class_names.push_back("extra");
  four.labels[0] = 3;
  CHECK_THROWS_WITH_AS(fit(m, four, quiet()), Contains("has 4 classes, the model outputs 3"), ShapeError);
  CHECK_THROWS_WITH_AS(evaluate(m, four), Contains("has 4 classes, the model outputs 3"), ShapeError);
  // A target class the model does not have.
  SeqBatch<float> x(3, 1, 2);
  CHECK_THROWS_WITH_AS(ex::saliency(m, x, ex::Target::index(3)), Contains("outside [0, 3)"), ArgumentError);
  CHECK_THROWS_AS(ex::saliency(m, x, ex::Target::per_sample({-1})), ArgumentError);
}
