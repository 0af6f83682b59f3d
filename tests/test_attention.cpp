#include <salient/layers/activation.hpp>
#include <salient/layers/attention.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/pooling.hpp>
#include <salient/model/sequential.hpp>

#include <cmath>

#include "gradcheck.hpp"

using namespace salient;
using salient::test::check_layer;
using salient::test::check_mask_invariance;
using salient::test::GradCheckOptions;

namespace {

template <class L>
struct Owned {
  L layer;
  Vector<double> p, g;
  explicit Owned(L l, std::uint64_t seed = 1) : layer(std::move(l)) {
    p.setZero(layer.num_params());
    g.setZero(layer.num_params());
    layer.bind(p.data(), g.data());
    Rng rng(seed);
    layer.init(rng);
    for (Index i = 0; i < p.size(); ++i) p[i] += 0.2 * rng.uniform(-1, 1);
  }
};

SeqBatch<double> random_batch(Index T, Index B, Index F, Lengths lengths, std::uint64_t seed) {
  Rng rng(seed);
  SeqBatch<double> x(T, B, F);
  x.lengths = std::move(lengths);
  test::fill_uniform(x.values.data(), x.values.size(), rng, 1.0);
  zero_padding(x.values, x.lengths);
  return x;
}

// Sample b alone, cut to its own length: (L, 1, F).
SeqBatch<double> single(const SeqBatch<double>& x, Index b) {
  const Index L = x.length(b);
  SeqBatch<double> s(L, 1, x.features());
  for (Index t = 0; t < L; ++t)
    for (Index f = 0; f < x.features(); ++f) s(t, 0, f) = x(t, b, f);
  return s;
}

}  // namespace

// ---- AttentionPool ---------------------------------------------------------------------------

TEST_CASE("AttentionPool: gradients and mask invariance (uneven lengths, fixed and Dynamic)") {
  for (Lengths l : {Lengths{7, 4, 1}, Lengths{3, 7, 6}}) {
    GradCheckOptions o;
    o.lengths = l;
    check_layer<Shape::Sequence>(AttentionPool<4, double>(), 4, o);
    check_layer<Shape::Sequence>(AttentionPool<Dynamic, double>(3, 5), 3, o);
    check_mask_invariance(AttentionPool<4, double>(), 4, o);
    check_mask_invariance(AttentionPool<4, float>(), 4, o);
  }
}

TEST_CASE("AttentionPool: weights sum to 1 over valid steps, are exactly 0 on padded steps") {
  Owned<AttentionPool<3, double>> a(AttentionPool<3, double>(), 5);
  SeqBatch<double> x = random_batch(9, 3, 3, {9, 5, 2}, 8);
  RowMatrix<double> y;
  a.layer.forward(x, y, Mode::Inference);
  const RowMatrix<double>& w = a.layer.weights();
  REQUIRE(w.rows() == 3);
  REQUIRE(w.cols() == 9);
  for (Index b = 0; b < 3; ++b) {
    double s = 0;
    for (Index t = 0; t < 9; ++t) {
      if (t < x.length(b)) {
        CHECK(w(b, t) > 0.0);
        s += w(b, t);
      } else {
        CHECK(w(b, t) == 0.0);
      }
    }
    CHECK(s == doctest::Approx(1.0).epsilon(1e-14));
    // y = Σ α_t h_t, and the score follows vᵀ tanh(W h + b).
    for (Index f = 0; f < 3; ++f) {
      double yf = 0;
      for (Index t = 0; t < x.length(b); ++t) yf += w(b, t) * x(t, b, f);
      CHECK(y(b, f) == doctest::Approx(yf).epsilon(1e-14));
    }
    double z = 0;
    std::vector<double> e;
    for (Index t = 0; t < x.length(b); ++t) {
      Vector<double> h(3);
      for (Index f = 0; f < 3; ++f) h[f] = x(t, b, f);
      const Vector<double> u = (a.layer.weight() * h + a.layer.bias()).array().tanh();
      e.push_back(std::exp(u.dot(a.layer.score())));
      z += e.back();
    }
    for (Index t = 0; t < x.length(b); ++t) CHECK(w(b, t) == doctest::Approx(e[std::size_t(t)] / z).epsilon(1e-12));
  }
}

TEST_CASE("AttentionPool: a sample's output does not depend on the rest of the batch") {
  Owned<AttentionPool<Dynamic, double>> a(AttentionPool<Dynamic, double>(4, 6), 2);
  SeqBatch<double> x = random_batch(8, 3, 4, {8, 3, 5}, 4);
  RowMatrix<double> y, ys;
  a.layer.forward(x, y, Mode::Inference);
  for (Index b = 0; b < 3; ++b) {
    a.layer.forward(single(x, b), ys, Mode::Inference);
    for (Index f = 0; f < 4; ++f) CHECK(ys(0, f) == doctest::Approx(y(b, f)).epsilon(1e-13));
  }
}

// ---- MultiHeadSelfAttention ------------------------------------------------------------------

TEST_CASE("MultiHeadSelfAttention: gradients and mask invariance, plain and causal") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    GradCheckOptions o;
    check_layer<Shape::Sequence>(MultiHeadSelfAttention<4, 2, double>({causal}), 4, o);
    o.lengths = {2, 7, 5};
    o.seed = 4;
    check_layer<Shape::Sequence>(MultiHeadSelfAttention<Dynamic, Dynamic, double>(6, 3, {causal}), 6, o);
    check_layer<Shape::Sequence>(MultiHeadSelfAttention<4, 1, double>({causal}), 4, o);
    check_mask_invariance(MultiHeadSelfAttention<4, 2, double>({causal}), 4, o);
    check_mask_invariance(MultiHeadSelfAttention<4, 2, float>({causal}), 4, o);
  }
}

TEST_CASE("MultiHeadSelfAttention: matches a naive per-head computation; probabilities per head") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const Index F = 6, H = 2, d = 3, T = 6, B = 3;
    Owned<MultiHeadSelfAttention<F, H, double>> m(MultiHeadSelfAttention<F, H, double>({causal}), 9);
    SeqBatch<double> x = random_batch(T, B, F, {6, 2, 4}, 10), y;
    m.layer.forward(x, y, Mode::Inference);
    const auto Win = m.layer.in_weight();
    const auto bin = m.layer.in_bias();
    for (Index b = 0; b < B; ++b) {
      const Index L = x.length(b);
      RowMatrix<double> X(L, F);
      for (Index t = 0; t < L; ++t)
        for (Index f = 0; f < F; ++f) X(t, f) = x(t, b, f);
      RowMatrix<double> qkv = X * Win.transpose();
      qkv.rowwise() += bin.transpose();
      RowMatrix<double> ctx(L, F);
      for (Index h = 0; h < H; ++h) {
        const auto P = m.layer.attention(b, h);
        REQUIRE(P.rows() == L);
        for (Index i = 0; i < L; ++i) {
          std::vector<double> s(std::size_t(L), 0.0);
          double z = 0;
          for (Index j = 0; j < L; ++j) {
            if (causal && j > i) continue;
            s[std::size_t(j)] = std::exp(qkv.row(i).segment(h * d, d).dot(qkv.row(j).segment(F + h * d, d)) /
                                         std::sqrt(double(d)));
            z += s[std::size_t(j)];
          }
          double rowsum = 0;
          for (Index j = 0; j < L; ++j) {
            if (causal && j > i) CHECK(P(i, j) == 0.0);
            CHECK(P(i, j) == doctest::Approx(s[std::size_t(j)] / z).epsilon(1e-12));
            rowsum += P(i, j);
          }
          CHECK(rowsum == doctest::Approx(1.0).epsilon(1e-14));
          for (Index c = 0; c < d; ++c) {
            double v = 0;
            for (Index j = 0; j < L; ++j) v += P(i, j) * qkv(j, 2 * F + h * d + c);
            ctx(i, h * d + c) = v;
          }
        }
      }
      RowMatrix<double> ref = ctx * m.layer.out_weight().transpose();
      ref.rowwise() += m.layer.out_bias().transpose();
      for (Index t = 0; t < T; ++t)
        for (Index f = 0; f < F; ++f)
          CHECK(y(t, b, f) == (t < L ? doctest::Approx(ref(t, f)).epsilon(1e-12) : doctest::Approx(0.0)));
    }
  }
}

TEST_CASE("MultiHeadSelfAttention: a sample's output does not depend on the rest of the batch") {
  Owned<MultiHeadSelfAttention<Dynamic, Dynamic, double>> m(MultiHeadSelfAttention<Dynamic, Dynamic, double>(4, 2), 3);
  SeqBatch<double> x = random_batch(7, 3, 4, {7, 1, 4}, 5), y, ys;
  m.layer.forward(x, y, Mode::Inference);
  for (Index b = 0; b < 3; ++b) {
    m.layer.forward(single(x, b), ys, Mode::Inference);
    for (Index t = 0; t < x.length(b); ++t)
      for (Index f = 0; f < 4; ++f) CHECK(ys(t, 0, f) == doctest::Approx(y(t, b, f)).epsilon(1e-13));
  }
}

TEST_CASE("MultiHeadSelfAttention: names and errors") {
  CHECK(MultiHeadSelfAttention<8, 2>().name() == "MultiHeadSelfAttention<8,2>");
  CHECK(MultiHeadSelfAttention<8, 2>({true}).name() == "MultiHeadSelfAttention<8,2,causal>");
  CHECK(MultiHeadSelfAttention<8, 2>().num_params() == 4 * 64 + 4 * 8);
  CHECK_THROWS_AS((MultiHeadSelfAttention<Dynamic, Dynamic>(6, 4)), ShapeError);
}

// ---- PositionalEncoding ----------------------------------------------------------------------

TEST_CASE("PositionalEncoding: values, gradients, mask invariance") {
  CHECK(PositionalEncoding<4, double>::value(0, 0, 4) == 0.0);
  CHECK(PositionalEncoding<4, double>::value(0, 1, 4) == 1.0);
  CHECK(PositionalEncoding<4, double>::value(3, 2, 4) == doctest::Approx(std::sin(3.0 / 100.0)));
  CHECK(PositionalEncoding<4, double>::value(3, 3, 4) == doctest::Approx(std::cos(3.0 / 100.0)));
  GradCheckOptions o;
  check_layer<Shape::Sequence>(PositionalEncoding<4, double>(), 4, o);
  check_layer<Shape::Sequence>(PositionalEncoding<Dynamic, double>(), 5, o);
  check_mask_invariance(PositionalEncoding<4, double>(), 4, o);
  check_mask_invariance(PositionalEncoding<Dynamic, float>(), 3, o);
  static_assert(PositionalEncoding<>::input_size == SameAsInput);
}

// ---- compositions ----------------------------------------------------------------------------

TEST_CASE("Attention: Conv1D → PositionalEncoding → MHSA → AttentionPool → Dense, fixed and Dynamic") {
  using M = Sequential<Conv1D<2, 4, 3, double>, PositionalEncoding<4, double>,
                       MultiHeadSelfAttention<4, 2, double>, ReLU<double>, AttentionPool<4, double>,
                       Dense<4, 3, double>>;
  static_assert(M::input_shape == Shape::Sequence && M::output_shape == Shape::Vector);
  static_assert(M::input_size == 2 && M::output_size == 3);
  M m;
  m.init(12);
  SeqBatch<double> x = random_batch(7, 3, 2, {7, 4, 1}, 13);
  test::check_model(m, x);

  using C = Conv1D<Dynamic, Dynamic, Dynamic, double>;
  using A = MultiHeadSelfAttention<Dynamic, Dynamic, double>;
  using P = AttentionPool<Dynamic, double>;
  using D = Dense<Dynamic, Dynamic, double>;
  Sequential<C, PositionalEncoding<Dynamic, double>, A, P, D> dm(C(2, 6, 3, {1, 1, Padding::Causal, true}),
                                                                 PositionalEncoding<Dynamic, double>(),
                                                                 A(6, 3, {true}), P(6, 4), D(6, 2));
  dm.init(14);
  test::check_model(dm, x);
  CHECK_THROWS_AS((Sequential<C, A, P, D>(C(2, 6, 3), A(4, 2), P(4), D(4, 2))), ShapeError);
}

#if __has_include(<salient/layers/lstm.hpp>)
#include <salient/layers/lstm.hpp>

TEST_CASE("Attention: Conv1D → LSTM(FullSequence) → AttentionPool → Dense, fixed and Dynamic") {
  using M = Sequential<Conv1D<2, 3, 3, double>, ReLU<double>, LSTM<3, 4, FullSequence, double>,
                       AttentionPool<4, double>, Dense<4, 2, double>>;
  static_assert(M::output_shape == Shape::Vector && M::output_size == 2);
  static_assert(std::is_same_v<M::rebind<float>::scalar_type, float>);
  M m;
  m.init(21);
  SeqBatch<double> x = random_batch(7, 3, 2, {7, 4, 1}, 22);
  test::check_model(m, x);
  // The pooled attention weights are readable through the model after forward.
  const RowMatrix<double>& w = m.layer<3>().weights();
  CHECK(w.row(1).sum() == doctest::Approx(1.0));
  CHECK(w(1, 5) == 0.0);

  using C = Conv1D<Dynamic, Dynamic, Dynamic, double>;
  using R = LSTM<Dynamic, Dynamic, FullSequence, double>;
  Sequential<C, R, MaxPool1D<double>, AttentionPool<Dynamic, double>, Dense<Dynamic, Dynamic, double>> d(
      C(2, 3, 2, {1, 1, Padding::Causal, true}), R(3, 4), MaxPool1D<double>(2), AttentionPool<Dynamic, double>(4, 3),
      Dense<Dynamic, Dynamic, double>(4, 2));
  d.init(23);
  test::check_model(d, x);
}
#endif
