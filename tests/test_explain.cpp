// Attribution methods: input gradients vs finite differences on every layer type, exactness on
// a linear model, IG completeness, occlusion locality, Shapley efficiency, padding.
#include <salient/explain.hpp>
#include <salient/layers/activation.hpp>
#include <salient/layers/attention.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/layers/pooling.hpp>
#include <salient/model/sequential.hpp>
#include <salient/train/loss.hpp>

#include <cmath>
#include <limits>

#include "gradcheck.hpp"

using namespace salient;
namespace ex = salient::explain;

namespace {

/// y(b, f) = Σ_{t < L_b} x(t, b, f): sequence -> vector.
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

/// y(b, :) = x(K, b, :) (step K must be valid): the model reads one time step only.
template <int K, class S = double>
struct PickStep : SumOverTime<S> {
  template <class T>
  using rebind = PickStep<K, T>;
  std::string name() const { return "PickStep"; }
  void forward(const SeqBatch<S>& x, RowMatrix<S>& y, Mode) const {
    y.resize(x.batch(), x.features());
    for (Index b = 0; b < x.batch(); ++b)
      for (Index f = 0; f < x.features(); ++f) y(b, f) = x(K, b, f);
  }
  void backward(const SeqBatch<S>& x, const RowMatrix<S>&, const RowMatrix<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    for (Index b = 0; b < x.batch(); ++b)
      for (Index f = 0; f < x.features(); ++f) (*dx)(K, b, f) += dy(b, f);
  }
};

SeqBatch<double> random_batch(Index T, Index B, Index F, Lengths lengths, std::uint64_t seed,
                              bool garbage_padding = true) {
  Rng rng(seed);
  SeqBatch<double> x(T, B, F);
  x.lengths = std::move(lengths);
  test::fill_uniform(x.values.data(), x.values.size(), rng, 1.0);
  if (garbage_padding)
    for (Index t = 0; t < T; ++t)
      for (Index b = 0; b < B; ++b)
        if (t >= x.length(b))
          for (Index f = 0; f < F; ++f)
            x(t, b, f) = (t + f) % 2 ? std::numeric_limits<double>::quiet_NaN() : 1e30;
  return x;
}

template <class Model>
void init_model(Model& m, std::uint64_t seed) {
  m.init(seed);
  Rng rng(seed + 100);
  auto p = m.params();
  for (Index i = 0; i < p.size(); ++i) p[i] += 0.1 * rng.uniform(-1.0, 1.0);
}

/// Saliency equals central finite differences of the target logit; padded steps are 0.
template <class Model>
void check_saliency_fd(Model model, const SeqBatch<double>& x0, Index cls, double tol = 1e-6) {
  auto a = ex::saliency(model, x0, ex::Target::index(cls));
  SeqBatch<double> x = x0;
  zero_padding(x.values, x.lengths);
  const double h = 1e-6;
  int bad = 0;
  for (Index b = 0; b < x.batch(); ++b)
    for (Index t = 0; t < x.steps(); ++t)
      for (Index f = 0; f < x.features(); ++f) {
        if (t >= x.length(b)) {
          CHECK(a(t, b, f) == 0.0);
          continue;
        }
        const double keep = x(t, b, f);
        x(t, b, f) = keep + h;
        const double lp = model.forward(x)(b, cls);
        x(t, b, f) = keep - h;
        const double lm = model.forward(x)(b, cls);
        x(t, b, f) = keep;
        const double num = (lp - lm) / (2 * h);
        if (!test::close(a(t, b, f), num, tol) && bad++ < 5)
          FAIL_CHECK(model.name() << " (" << t << "," << b << "," << f << "): analytic " << a(t, b, f)
                                  << " numeric " << num);
      }
  CHECK(bad == 0);
  CHECK(a.cost.forward == x.batch());
  CHECK(a.cost.backward == x.batch());
}

using LinearModel = Sequential<Dense<3, 2, double>, SumOverTime<double>>;
using MlpModel = Sequential<Dense<3, 6, double>, Tanh<double>, GlobalAveragePool<double>, Dense<6, 2, double>>;
using ConvModel = Sequential<Conv1D<3, 4, 3, double>, ReLU<double>, GlobalMaxPool<double>, Dense<4, 2, double>>;
using ConvTanhModel = Sequential<Conv1D<3, 4, 3, double>, Tanh<double>, GlobalAveragePool<double>, Dense<4, 2, double>>;
using LstmModel = Sequential<LSTM<3, 5, LastState, double>, Dense<5, 2, double>>;
using AttnModel = Sequential<Conv1D<3, 4, 3, double>, ReLU<double>, LSTM<4, 4, FullSequence, double>,
                             AttentionPool<4, double>, Dense<4, 2, double>>;
using MhsaModel = Sequential<Dense<3, 4, double>, MultiHeadSelfAttention<4, 2, double>, Sigmoid<double>,
                             GlobalAveragePool<double>, Dense<4, 2, double>>;

}  // namespace

TEST_CASE("explain: saliency agrees with finite differences on every layer type") {
  const auto x = random_batch(7, 3, 3, {7, 4, 2}, 11);
  { LinearModel m; init_model(m, 1); check_saliency_fd(m, x, 1); }
  { MlpModel m; init_model(m, 2); check_saliency_fd(m, x, 0); }
  { ConvModel m; init_model(m, 3); check_saliency_fd(m, x, 1); }
  { LstmModel m; init_model(m, 4); check_saliency_fd(m, x, 0); }
  { AttnModel m; init_model(m, 5); check_saliency_fd(m, x, 1); }
  { MhsaModel m; init_model(m, 6); check_saliency_fd(m, x, 0); }
}

TEST_CASE("explain: the model check harness agrees on the explained models") {
  const auto x = random_batch(6, 2, 3, {6, 3}, 12, false);
  AttnModel m;
  init_model(m, 5);
  test::check_model(m, x, 1e-6, 3, Mode::Inference);
}

TEST_CASE("explain: gradient × input on a linear model is exactly w·x") {
  LinearModel m;
  init_model(m, 7);
  const auto x = random_batch(5, 3, 3, {5, 2, 4}, 13);
  const auto W = m.layer<0>().weight();
  for (Index k = 0; k < 2; ++k) {
    const auto a = ex::gradient_x_input(m, x, ex::Target::index(k));
    const auto s = ex::saliency(m, x, ex::Target::index(k), {.absolute = true});
    for (Index b = 0; b < 3; ++b)
      for (Index t = 0; t < 5; ++t)
        for (Index f = 0; f < 3; ++f) {
          const bool valid = t < x.length(b);
          CHECK(a(t, b, f) == doctest::Approx(valid ? W(k, f) * x(t, b, f) : 0.0).epsilon(1e-14));
          CHECK(s(t, b, f) == (valid ? std::abs(W(k, f)) : 0.0));
        }
  }
  // Per-sample targets and the predicted class resolve as documented.
  const auto logits = m.forward(x);
  const auto p = ex::saliency(m, x, ex::Target::predicted());
  for (Index b = 0; b < 3; ++b) {
    Index k;
    logits.row(b).maxCoeff(&k);
    CHECK(p.classes[std::size_t(b)] == k);
    CHECK(p(0, b, 2) == W(k, 2));
  }
  const auto q = ex::saliency(m, x, ex::Target::per_sample({1, 0, 1}));
  CHECK(q(0, 1, 0) == W(0, 0));
  CHECK(q(0, 2, 0) == W(1, 0));
  CHECK_THROWS_AS(ex::saliency(m, x, ex::Target::per_sample({1, 0})), ShapeError);
  CHECK_THROWS_AS(ex::saliency(m, x, ex::Target::index(2)), ArgumentError);
  CHECK(ex::each_label(2).size() == 2);
}

TEST_CASE("explain: probability outputs chain the softmax / sigmoid derivative") {
  MlpModel m;
  init_model(m, 8);
  const auto x = random_batch(5, 2, 3, {5, 3}, 14);
  const auto al = ex::saliency(m, x, ex::Target::index(1));
  const auto as = ex::saliency(m, x, ex::Target::index(1, ex::Output::Sigmoid));
  SeqBatch<double> xc = x;
  zero_padding(xc.values, xc.lengths);
  const auto logits = m.forward(xc);
  for (Index b = 0; b < 2; ++b) {
    const double p = 1 / (1 + std::exp(-logits(b, 1)));
    CHECK(as(0, b, 0) == doctest::Approx(p * (1 - p) * al(0, b, 0)).epsilon(1e-12));
  }
  // Softmax of two classes: dp1/dx = p1 p0 (dz1/dx − dz0/dx).
  const auto a0 = ex::saliency(m, x, ex::Target::index(0));
  const auto am = ex::saliency(m, x, ex::Target::index(1, ex::Output::Softmax));
  const auto pr = softmax(logits);
  for (Index b = 0; b < 2; ++b)
    CHECK(am(1, b, 2) == doctest::Approx(pr(b, 1) * pr(b, 0) * (al(1, b, 2) - a0(1, b, 2))).epsilon(1e-10));
}

TEST_CASE("explain: integrated gradients completeness on LSTM, conv and attention models") {
  const auto x = random_batch(9, 4, 3, {9, 6, 3, 8}, 15);
  auto run = [&](const auto& model, ex::Quadrature q, Index steps, const ex::Baseline<double>& base) {
    ex::IntegratedGradientsOptions<double> o;
    o.steps = steps;
    o.quadrature = q;
    o.baseline = base;
    o.engine.max_batch = 37;  // odd chunking on purpose
    const auto a = ex::integrated_gradients(model, x, ex::Target::index(1), o);
    REQUIRE(a.delta.size() == 4);
    double worst = 0;
    for (double d : a.delta) worst = std::max(worst, std::abs(d));
    for (Index b = 0; b < 4; ++b)
      for (Index t = x.length(b); t < 9; ++t)
        for (Index f = 0; f < 3; ++f) REQUIRE(a(t, b, f) == 0.0);
    return worst;
  };
  LstmModel lstm;
  init_model(lstm, 21);
  ConvTanhModel conv;
  init_model(conv, 22);
  AttnModel attn;
  init_model(attn, 23);
  const auto mean = ex::Baseline<double>::channel_mean({0.1, -0.2, 0.3});
  for (auto q : {ex::Quadrature::GaussLegendre, ex::Quadrature::Trapezoid}) {
    CHECK(run(lstm, q, 64, ex::Baseline<double>::zeros()) < 1e-3);
    CHECK(run(conv, q, 64, mean) < 1e-3);
    CHECK(run(attn, q, 64, ex::Baseline<double>::blurred(3)) < 1e-3);
  }
  // Gauss–Legendre is far more accurate per step.
  CHECK(run(lstm, ex::Quadrature::GaussLegendre, 16, mean) < 1e-8);
  // A distribution baseline: completeness against the mean reference value (the ReLU kinks of
  // this model make the integrand non-smooth, so more nodes).
  std::vector<RowMatrix<double>> pool;
  Rng rng(3);
  for (int i = 0; i < 5; ++i) {
    RowMatrix<double> s(6 + i, 3);
    test::fill_uniform(s.data(), s.size(), rng, 1.0);
    pool.push_back(s);
  }
  CHECK(run(attn, ex::Quadrature::GaussLegendre, 128, ex::Baseline<double>::distribution(pool, 3, 9)) < 1e-3);
}

TEST_CASE("explain: quadrature rules integrate polynomials") {
  std::vector<double> a, w;
  ex::quadrature_rule(ex::Quadrature::GaussLegendre, 5, a, w);
  double s9 = 0, s1 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s9 += w[i] * std::pow(a[i], 9), s1 += w[i];
  CHECK(s1 == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(s9 == doctest::Approx(0.1).epsilon(1e-13));  // degree 2n − 1 = 9 exactly
  ex::quadrature_rule(ex::Quadrature::Trapezoid, 4, a, w);
  CHECK(a.size() == 5);
  CHECK(w.front() == 0.125);
  ex::quadrature_rule(ex::Quadrature::Midpoint, 4, a, w);
  CHECK(a.front() == 0.125);
}

TEST_CASE("explain: occlusion on a model that reads one step attributes only that step") {
  Sequential<PickStep<2, double>, Dense<3, 2, double>> m;
  init_model(m, 31);
  const auto x = random_batch(6, 3, 3, {6, 3, 5}, 16);
  for (Index cw : {0, 1}) {
    ex::OcclusionOptions<double> o;
    o.window = 1;
    o.channel_window = cw;
    o.engine.max_batch = 4;
    const auto a = ex::occlusion(m, x, ex::Target::index(0), o);
    const auto W = m.layer<1>().weight();
    for (Index b = 0; b < 3; ++b)
      for (Index t = 0; t < 6; ++t)
        for (Index f = 0; f < 3; ++f) {
          if (t != 2) {
            CHECK(a(t, b, f) == 0.0);
          } else if (cw == 1) {
            CHECK(a(t, b, f) == doctest::Approx(W(0, f) * x(2, b, f)).epsilon(1e-12));
          }
        }
    // Forward count: per sample 1 + windows · groups.
    CHECK(a.cost.forward == (1 + 6 * (cw ? 3 : 1)) + (1 + 3 * (cw ? 3 : 1)) + (1 + 5 * (cw ? 3 : 1)));
    CHECK(a.cost.backward == 0);
  }
  // A window of 3 spreads the effect over the windows covering step 2 only.
  ex::OcclusionOptions<double> o;
  o.window = 3;
  const auto a = ex::occlusion(m, x, ex::Target::index(1), o);
  CHECK(a(5, 0, 0) == 0.0);  // only the window starting at 3 covers step 5
  for (Index b = 0; b < 3; ++b) CHECK(a(2, b, 0) != 0.0);
}

TEST_CASE("explain: window starts cover every valid step") {
  CHECK(ex::window_starts(7, 3, 3) == std::vector<Index>{0, 3, 4});
  CHECK(ex::window_starts(6, 3, 3) == std::vector<Index>{0, 3});
  CHECK(ex::window_starts(2, 3, 1) == std::vector<Index>{0});
}

TEST_CASE("explain: Shapley sampling is efficient and exact on an additive model") {
  LinearModel lin;
  init_model(lin, 41);
  const auto x = random_batch(6, 2, 3, {6, 4}, 17);
  ex::ShapleyOptions<double> o;
  o.window = 1;
  o.channel_window = 1;
  o.permutations = 3;
  const auto a = ex::shapley_sampling(lin, x, ex::Target::index(0), o);
  const auto g = ex::gradient_x_input(lin, x, ex::Target::index(0));
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 6; ++t)
      for (Index f = 0; f < 3; ++f) CHECK(a(t, b, f) == doctest::Approx(g(t, b, f)).epsilon(1e-10));
  // Efficiency on a non-linear model: Σ φ = f(x) − f(baseline).
  LstmModel lstm;
  init_model(lstm, 42);
  o.window = 2;
  o.channel_window = 0;
  o.baseline = ex::Baseline<double>::channel_mean({0.2, 0.1, -0.1});
  const auto s = ex::shapley_sampling(lstm, x, ex::Target::index(1), o);
  SeqBatch<double> xc = x;
  zero_padding(xc.values, xc.lengths);
  const auto ref = o.baseline.materialize(xc, 0, {});
  const auto fx = lstm.forward(xc);
  const RowMatrix<double> f1 = fx;
  const auto fr = lstm.forward(ref);
  for (Index b = 0; b < 2; ++b) {
    double sum = 0;
    for (Index t = 0; t < x.length(b); ++t)
      for (Index f = 0; f < 3; ++f) sum += s(t, b, f);
    CHECK(sum == doctest::Approx(f1(b, 1) - fr(b, 1)).epsilon(1e-10));
  }
  // Seeded: the same seed gives the same values.
  const auto s2 = ex::shapley_sampling(lstm, x, ex::Target::index(1), o);
  CHECK(s2(1, 0, 0) == s(1, 0, 0));
}

TEST_CASE("explain: SmoothGrad wraps gradient methods") {
  LinearModel lin;
  init_model(lin, 51);
  const auto x = random_batch(5, 2, 3, {5, 3}, 18);
  ex::SmoothGradOptions o;
  o.samples = 8;
  o.noise = 0.3;
  // Saliency of a linear model does not depend on the input: SmoothGrad returns it unchanged.
  const auto a = ex::smoothgrad(lin, x, ex::Target::index(1), o);
  const auto W = lin.layer<0>().weight();
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 5; ++t)
      CHECK(a(t, b, 1) == doctest::Approx(t < x.length(b) ? W(1, 1) : 0.0).epsilon(1e-12));
  CHECK(a.cost.forward == 2 * 8);
  // Zero noise: SmoothGrad of gradient × input is gradient × input.
  LstmModel lstm;
  init_model(lstm, 52);
  o.noise = 0;
  const auto s = ex::smoothgrad(lstm, x, ex::Target::index(0), o, ex::GradientXInputMethod{});
  const auto g = ex::gradient_x_input(lstm, x, ex::Target::index(0));
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < x.length(b); ++t) CHECK(s(t, b, 2) == doctest::Approx(g(t, b, 2)).epsilon(1e-12));
  // Noise changes the result, the same seed reproduces it.
  o.noise = 0.2;
  const auto n1 = ex::smoothgrad(lstm, x, ex::Target::index(0), o);
  const auto n2 = ex::smoothgrad(lstm, x, ex::Target::index(0), o);
  const auto plain = ex::saliency(lstm, x, ex::Target::index(0));
  CHECK(n1(0, 0, 0) == n2(0, 0, 0));
  CHECK(n1(0, 0, 0) != plain(0, 0, 0));
}

TEST_CASE("explain: baselines") {
  SeqBatch<double> x(4, 2, 2);
  x.lengths = {4, 3};
  for (Index t = 0; t < 4; ++t)
    for (Index b = 0; b < 2; ++b)
      for (Index f = 0; f < 2; ++f) x(t, b, f) = double(t + 10 * f + 100 * b);
  zero_padding(x.values, x.lengths);
  using B = ex::Baseline<double>;
  const auto blur = B::blurred(3).materialize(x, 0, {});
  CHECK(blur(0, 0, 0) == 0.5);   // (0 + 1) / 2
  CHECK(blur(1, 0, 1) == 11.0);  // (10 + 11 + 12) / 3
  CHECK(blur(2, 1, 0) == 101.5); // (101 + 102) / 2: the padded step is not read
  CHECK(blur(3, 1, 0) == 0.0);
  const auto mean = B::channel_mean({1.5, -2}).materialize(x, 0, {});
  CHECK(mean(2, 1, 1) == -2.0);
  CHECK(mean(3, 1, 1) == 0.0);
  RowMatrix<double> s(3, 2);
  s << 0, 1, 2, 3, 4, 5;
  const auto st = B::series(s).materialize(x, 0, {});
  CHECK(st(0, 0, 0) == 0.0);
  CHECK(st(3, 0, 0) == 4.0);      // stretched: 4 steps over 3
  CHECK(st(1, 0, 0) == doctest::Approx(4.0 / 3.0));
  CHECK(st(1, 1, 1) == 3.0);      // 3 steps onto 3: unchanged
  const auto wrap = B::series(s, ex::Align::Start).materialize(x, 0, {});
  CHECK(wrap(3, 0, 1) == 1.0);    // step 3 reads step 0
  std::vector<RowMatrix<double>> pool{s, s * 2.0};
  const auto dist = B::distribution(pool, 4, 7);
  const auto picks = dist.picks(2);
  CHECK(picks.size() == 8);
  CHECK(picks == dist.picks(2));  // seeded
  const auto r = dist.materialize(x, 1, picks);
  CHECK(r(1, 1, 1) == 3.0 * (picks[5] == 0 ? 1 : 2));
  CHECK_THROWS_AS(B::channel_mean({1.0}).materialize(x, 0, {}), ShapeError);
  CHECK_THROWS_AS(B::distribution({}, 2), ArgumentError);
}

TEST_CASE("explain: padded steps are exactly 0 for every method") {
  const auto x = random_batch(8, 3, 3, {8, 5, 1}, 19);
  AttnModel m;
  init_model(m, 61);
  const auto tgt = ex::Target::predicted();
  std::vector<RowMatrix<double>> pool(3, RowMatrix<double>::Constant(6, 3, 0.5));
  const auto dist = ex::Baseline<double>::distribution(pool, 2, 1);
  std::vector<ex::Attribution<double>> all;
  all.push_back(ex::saliency(m, x, tgt));
  all.push_back(ex::saliency(m, x, tgt, {.absolute = true}));
  all.push_back(ex::gradient_x_input(m, x, tgt));
  all.push_back(ex::integrated_gradients(m, x, tgt, {.steps = 8, .baseline = dist}));
  all.push_back(ex::smoothgrad(m, x, tgt, {.samples = 4}));
  all.push_back(ex::occlusion(m, x, tgt, {.window = 2, .baseline = dist}));
  all.push_back(ex::shapley_sampling(m, x, tgt, {.window = 3, .permutations = 2}));
  all.push_back(ex::temporal_saliency_rescaling(m, x, tgt));
  all.push_back(ex::temporal_saliency_rescaling(m, x, tgt, {.channel_stage = false}));
  all.push_back(ex::attention_attribution(m, x));
  for (std::size_t i = 0; i < all.size(); ++i) {
    CAPTURE(i);
    const auto& a = all[i];
    REQUIRE(a.steps() == 8);
    REQUIRE(a.batch() == 3);
    REQUIRE(a.features() == 3);
    double valid = 0;
    for (Index b = 0; b < 3; ++b)
      for (Index t = 0; t < 8; ++t)
        for (Index f = 0; f < 3; ++f) {
          if (t >= x.length(b)) REQUIRE(a(t, b, f) == 0.0);
          else REQUIRE(std::isfinite(a(t, b, f)));
          if (t < x.length(b)) valid += std::abs(a(t, b, f));
        }
    CHECK(valid > 0);
  }
}

TEST_CASE("explain: attention weights are read from the layers") {
  const auto x = random_batch(6, 2, 3, {6, 4}, 20);
  AttnModel m;
  init_model(m, 71);
  const auto v = ex::attention_weights(m, x);
  REQUIRE(v.size() == 1);
  CHECK(v[0].layer == 3);
  CHECK(v[0].head == -1);
  CHECK(v[0].weights.row(1).sum() == doctest::Approx(1.0));
  CHECK(v[0].weights(1, 5) == 0.0);
  MhsaModel mh;
  init_model(mh, 72);
  const auto w = ex::attention_weights(mh, x);
  REQUIRE(w.size() == 2);
  CHECK(w[1].head == 1);
  CHECK(w[1].weights.row(1).sum() == doctest::Approx(1.0));  // mean over queries of rows summing to 1
  LinearModel lin;
  CHECK(ex::attention_weights(lin, x).empty());
  CHECK_THROWS_AS(ex::attention_attribution(lin, x), ArgumentError);
}

TEST_CASE("explain: float models and large batches are chunked consistently") {
  Sequential<LSTM<3, 4, LastState, float>, Dense<4, 2, float>> m;
  m.init(5);
  Rng rng(1);
  SeqBatch<float> x(10, 20, 3);
  for (Index b = 0; b < 20; ++b) x.lengths[std::size_t(b)] = 3 + b % 8;
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = float(rng.uniform(-1, 1));
  zero_padding(x.values, x.lengths);
  const auto a = ex::integrated_gradients(m, x, ex::Target::index(0), {.steps = 16, .engine = {.max_batch = 1000}});
  const auto b = ex::integrated_gradients(m, x, ex::Target::index(0), {.steps = 16, .engine = {.max_batch = 7}});
  for (Index i = 0; i < a.values.size(); ++i) CHECK(a.values.data()[i] == doctest::Approx(b.values.data()[i]).epsilon(1e-5));
  for (double d : a.delta) CHECK(std::abs(d) < 1e-3);
  // The user's model is not changed (parameter gradients untouched, still trainable).
  CHECK(m.grads().cwiseAbs().sum() == 0.0f);
}
