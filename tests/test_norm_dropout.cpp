#include <salient/layers/activation.hpp>
#include <salient/layers/attention.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/dropout.hpp>
#include <salient/layers/normalization.hpp>
#include <salient/layers/pooling.hpp>
#include <salient/layers/residual.hpp>
#include <salient/model/sequential.hpp>

#include <cmath>

#include "gradcheck.hpp"

using namespace salient;
using salient::test::check_layer;
using salient::test::check_mask_invariance;
using salient::test::GradCheckOptions;

namespace {
SeqBatch<double> random_batch(Index T, Index B, Index F, Lengths lengths, std::uint64_t seed, double shift = 0) {
  Rng rng(seed);
  SeqBatch<double> x(T, B, F);
  x.lengths = std::move(lengths);
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = shift + rng.uniform(-1, 1);
  zero_padding(x.values, x.lengths);
  return x;
}
}  // namespace

// ---- LayerNorm -------------------------------------------------------------------------------

TEST_CASE("LayerNorm: gradients on vectors and uneven sequences, mask invariance") {
  GradCheckOptions o;
  check_layer<Shape::Vector>(LayerNorm<5, double>(), 5, o);
  check_layer<Shape::Sequence>(LayerNorm<4, double>(), 4, o);
  o.lengths = {3, 7, 6};
  check_layer<Shape::Sequence>(LayerNorm<Dynamic, double>(3, 1e-3), 3, o);
  check_mask_invariance(LayerNorm<4, double>(), 4);
  check_mask_invariance(LayerNorm<4, float>(), 4);
}

TEST_CASE("LayerNorm: each valid step has mean 0 and variance 1 with γ = 1, β = 0") {
  LayerNorm<6, double> ln;
  Vector<double> p(ln.num_params()), g(ln.num_params());
  ln.bind(p.data(), g.data());
  Rng rng(1);
  ln.init(rng);
  SeqBatch<double> x = random_batch(5, 2, 6, {5, 3}, 2, 3.0), y;
  ln.forward(x, y, Mode::Inference);
  for_each_valid(y.lengths, 5, [&](Index t, Index b, Index) {
    double m = 0, v = 0;
    for (Index f = 0; f < 6; ++f) m += y(t, b, f) / 6;
    for (Index f = 0; f < 6; ++f) v += (y(t, b, f) - m) * (y(t, b, f) - m) / 6;
    CHECK(std::abs(m) < 1e-12);
    CHECK(v == doctest::Approx(1.0).epsilon(1e-4));
  });
}

// ---- BatchNorm1D -----------------------------------------------------------------------------

TEST_CASE("BatchNorm1D: gradients in training and inference mode, mask invariance") {
  for (Mode mode : {Mode::Training, Mode::Inference}) {
    GradCheckOptions o;
    o.mode = mode;
    check_layer<Shape::Vector>(BatchNorm1D<4, double>(), 4, o);
    check_layer<Shape::Sequence>(BatchNorm1D<3, double>(), 3, o);
    o.lengths = {2, 7, 5};
    check_layer<Shape::Sequence>(BatchNorm1D<Dynamic, double>(2, {0.2, 1e-3}), 2, o);
    check_mask_invariance(BatchNorm1D<3, double>(), 3, o);
    check_mask_invariance(BatchNorm1D<3, float>(), 3, o);
  }
}

TEST_CASE("BatchNorm1D: statistics over valid steps only; running stats; inference uses them") {
  BatchNorm1D<1, double> bn({0.5, 1e-12});
  Vector<double> p(bn.num_params()), g(bn.num_params());
  bn.bind(p.data(), g.data());
  Rng rng(1);
  bn.init(rng);
  SeqBatch<double> x(3, 2, 1), y;
  x.lengths = {3, 1};
  x(0, 0, 0) = 1;
  x(1, 0, 0) = 2;
  x(2, 0, 0) = 3;
  x(0, 1, 0) = 6;
  x(1, 1, 0) = 1e6;  // padded: must not count
  x(2, 1, 0) = -1e6;
  // Valid values {1, 2, 3, 6}: mean 3, biased var 3.5, unbiased 14/3.
  bn.forward(x, y, Mode::Training);
  CHECK(y(0, 0, 0) == doctest::Approx((1 - 3) / std::sqrt(3.5)));
  CHECK(y(0, 1, 0) == doctest::Approx((6 - 3) / std::sqrt(3.5)));
  CHECK(y(1, 1, 0) == 0.0);
  CHECK(bn.running_mean()[0] == doctest::Approx(0.5 * 0 + 0.5 * 3));
  CHECK(bn.running_var()[0] == doctest::Approx(0.5 * 1 + 0.5 * 14.0 / 3.0));
  // Inference: running statistics, not the batch's.
  bn.running_mean()[0] = 2.0;
  bn.running_var()[0] = 4.0;
  bn.forward(x, y, Mode::Inference);
  CHECK(y(0, 0, 0) == doctest::Approx((1 - 2) / 2.0));
  CHECK(y(0, 1, 0) == doctest::Approx((6 - 2) / 2.0));
  CHECK(bn.running_mean()[0] == 2.0);  // inference does not update
  // init() resets the running statistics.
  bn.init(rng);
  CHECK(bn.running_mean()[0] == 0.0);
  CHECK(bn.running_var()[0] == 1.0);
}

TEST_CASE("BatchNorm1D: running statistics converge to the data's") {
  BatchNorm1D<Dynamic, double> bn(2);
  Vector<double> p(bn.num_params()), g(bn.num_params());
  bn.bind(p.data(), g.data());
  Rng rng(3);
  bn.init(rng);
  for (int it = 0; it < 200; ++it) {
    RowMatrix<double> x(64, 2), y;
    for (Index i = 0; i < 64; ++i) {
      x(i, 0) = rng.normal(5.0, 2.0);
      x(i, 1) = rng.normal(-1.0, 0.5);
    }
    bn.forward(x, y, Mode::Training);
  }
  CHECK(bn.running_mean()[0] == doctest::Approx(5.0).epsilon(0.05));
  CHECK(bn.running_mean()[1] == doctest::Approx(-1.0).epsilon(0.05));
  CHECK(bn.running_var()[0] == doctest::Approx(4.0).epsilon(0.15));
  CHECK(bn.running_var()[1] == doctest::Approx(0.25).epsilon(0.15));
}

// ---- Dropout ---------------------------------------------------------------------------------

// The harness moves the layer it checks, so the mask is fixed by a wrapper that reseeds before
// every forward (each forward draws a fresh mask otherwise).
template <class S>
struct Reseeded : Dropout<S> {
  using Dropout<S>::Dropout;
  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode m) {
    this->reseed(5);
    Dropout<S>::forward(x, y, m);
  }
  void forward(const RowMatrix<S>& x, RowMatrix<S>& y, Mode m) {
    this->reseed(5);
    Dropout<S>::forward(x, y, m);
  }
};

TEST_CASE("Dropout: gradients (fixed mask), mask invariance, inference = identity") {
  for (Mode mode : {Mode::Training, Mode::Inference}) {
    GradCheckOptions o;
    o.mode = mode;
    check_layer<Shape::Sequence>(Reseeded<double>(0.4, 11), 3, o);
    check_layer<Shape::Vector>(Reseeded<double>(0.4, 11), 5, o);
    check_mask_invariance(Reseeded<double>(0.3), 3, o);
    check_mask_invariance(Reseeded<float>(0.3), 3, o);
  }
  Dropout<double> d(0.5);
  SeqBatch<double> x = random_batch(6, 3, 4, {6, 2, 5}, 1), y;
  d.forward(x, y, Mode::Inference);
  for (Index i = 0; i < x.values.size(); ++i) CHECK(y.values.data()[i] == x.values.data()[i]);
}

TEST_CASE("Dropout: rate respected, mean preserved, deterministic per seed, reseed gives new streams") {
  const double rate = 0.3;
  Dropout<double> d(rate, 42);
  RowMatrix<double> x = RowMatrix<double>::Constant(400, 250, 2.0), y;  // 100k elements
  d.forward(x, y, Mode::Training);
  const double n = double(x.size());
  const double dropped = double((y.array() == 0.0).count()) / n;
  CHECK(std::abs(dropped - rate) < 4 * std::sqrt(rate * (1 - rate) / n));  // 4 sigma
  CHECK(y.mean() == doctest::Approx(2.0).epsilon(0.01));
  CHECK(((y.array() == 0.0) || (y.array() == 2.0 / (1 - rate))).all());
  // Same seed, same mask; reseed to another seed, another mask.
  Dropout<double> d2(rate, 42), d3(rate, 42);
  RowMatrix<double> y2, y3;
  d2.forward(x, y2, Mode::Training);
  CHECK(y2 == y);
  d3.reseed(43);
  d3.forward(x, y3, Mode::Training);
  CHECK(y3 != y);
  // Consecutive calls draw fresh masks.
  d2.forward(x, y2, Mode::Training);
  CHECK(y2 != y);
  // Padded steps stay 0 and NaN in a dropped valid element gives 0, never NaN.
  SeqBatch<double> s = random_batch(4, 2, 3, {4, 1}, 3), ys;
  s(1, 1, 0) = std::nan("");
  d.forward(s, ys, Mode::Training);
  for (Index t = 1; t < 4; ++t)
    for (Index f = 0; f < 3; ++f) CHECK(ys(t, 1, f) == 0.0);
  CHECK(Dropout<>(0.25).name() == "Dropout<0.25>");
  CHECK_THROWS_AS(Dropout<>(1.0), ArgumentError);
}

// ---- Residual --------------------------------------------------------------------------------

TEST_CASE("Residual: gradients and mask invariance for conv and transformer blocks") {
  GradCheckOptions o;
  using ConvBlock = Residual<Conv1D<3, 3, 3, double>, ReLU<double>, Conv1D<3, 3, 2, double>>;
  check_layer<Shape::Sequence>(ConvBlock(), 3, o);
  check_mask_invariance(ConvBlock(), 3, o);
  using AttnBlock = Residual<LayerNorm<4, double>, MultiHeadSelfAttention<4, 2, double>>;
  check_layer<Shape::Sequence>(AttnBlock(), 4, o);
  check_mask_invariance(AttnBlock(), 4, o);
  using FfBlock = Residual<LayerNorm<4, double>, Dense<4, 6, double>, GELU<double>, Dense<6, 4, double>>;
  check_layer<Shape::Sequence>(FfBlock(), 4, o);
  using Dyn = Conv1D<Dynamic, Dynamic, Dynamic, double>;
  check_layer<Shape::Sequence>(Residual<Dyn, Tanh<double>>(Dyn(2, 2, 3), Tanh<double>()), 2, o);
  static_assert(ConvBlock::input_size == 3 && ConvBlock::output_size == 3);
  static_assert(Residual<ReLU<double>>::input_size == SameAsInput);
  static_assert(Residual<ReLU<double>, Dense<5, 5, double>>::input_size == 5);
  static_assert(std::is_same_v<ConvBlock::rebind<float>::scalar_type, float>);
  static_assert(std::is_same_v<Sequential<Dense<2, 3, double>, ConvBlock>::rebind<float>::scalar_type, float>);
  CHECK(ConvBlock().name() == "Residual[Conv1D<3,3,3,same>, ReLU, Conv1D<3,3,2,same>]");
}

TEST_CASE("Residual: shape errors for Dynamic widths and length-changing blocks") {
  using Dyn = Conv1D<Dynamic, Dynamic, Dynamic, double>;
  CHECK_THROWS_WITH_AS((Residual<Dyn>(Dyn(3, 4, 3))),
                       "Residual: the block receives 3 features but outputs 4; y = x + block(x) needs the same width",
                       ShapeError);
  Residual<Dyn> strided(Dyn(2, 2, 3, {2, 1, Padding::Same, true}));
  Vector<double> p(strided.num_params()), g(strided.num_params());
  strided.bind(p.data(), g.data());
  SeqBatch<double> x = random_batch(6, 2, 2, {6, 3}, 1), y;
  CHECK_THROWS_AS(strided.forward(x, y, Mode::Inference), ShapeError);
}

TEST_CASE("Compositions: FCN/ResNet-style conv stack and a small transformer encoder, fixed and Dynamic") {
  using Block = Residual<Conv1D<4, 4, 3, double>, BatchNorm1D<4, double>, ReLU<double>>;
  using M = Sequential<Conv1D<2, 4, 3, double>, BatchNorm1D<4, double>, ReLU<double>, Block, Dropout<double>,
                       GlobalAveragePool<double>, Dense<4, 3, double>>;
  static_assert(M::input_size == 2 && M::output_size == 3 && M::output_shape == Shape::Vector);
  M m(Conv1D<2, 4, 3, double>(), BatchNorm1D<4, double>(), ReLU<double>(), Block(), Dropout<double>(0.0),
      GlobalAveragePool<double>(), Dense<4, 3, double>());
  m.init(3);
  SeqBatch<double> x = random_batch(7, 3, 2, {7, 4, 1}, 4);
  test::check_model(m, x);
  CHECK(m.num_params() == (2 * 3 * 4 + 4) + 8 + (4 * 3 * 4 + 4 + 8) + 4 * 3 + 3);

  using Enc = Residual<LayerNorm<Dynamic, double>, MultiHeadSelfAttention<Dynamic, Dynamic, double>>;
  using Ff = Residual<LayerNorm<Dynamic, double>, Dense<Dynamic, Dynamic, double>, ReLU<double>,
                      Dense<Dynamic, Dynamic, double>>;
  using D = Dense<Dynamic, Dynamic, double>;
  Sequential<D, PositionalEncoding<Dynamic, double>, Enc, Ff, AttentionPool<Dynamic, double>, D> t(
      D(2, 4), PositionalEncoding<Dynamic, double>(),
      Enc(LayerNorm<Dynamic, double>(4), MultiHeadSelfAttention<Dynamic, Dynamic, double>(4, 2, {true})),
      Ff(LayerNorm<Dynamic, double>(4), D(4, 8), ReLU<double>(), D(8, 4)), AttentionPool<Dynamic, double>(4), D(4, 2));
  t.init(5);
  test::check_model(t, x);
}
