// Bidirectional: gradient harness on LSTM and GRU (both output modes, uneven lengths), mask
// invariance, the reversed pass reading each sample within its own length, composition.
#include <salient/layers/bidirectional.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/gru.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/model/sequential.hpp>

#include "gradcheck.hpp"

using namespace salient;
using salient::test::check_layer;
using salient::test::check_mask_invariance;
using salient::test::check_model;
using salient::test::GradCheckOptions;

namespace {

GradCheckOptions small(Lengths lengths, std::uint64_t seed = 1) {
  GradCheckOptions o;
  o.T = 5;
  o.B = Index(lengths.size());
  o.lengths = std::move(lengths);
  o.seed = seed;
  o.input_scale = 1.5;
  return o;
}

template <class S>
SeqBatch<S> random_batch(Index T, Index F, Lengths lengths, std::uint64_t seed) {
  SeqBatch<S> x(T, Index(lengths.size()), F);
  x.lengths = std::move(lengths);
  Rng rng(seed);
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = S(rng.uniform(-1, 1));
  zero_padding(x.values, x.lengths);
  return x;
}

}  // namespace

TEST_CASE("Bidirectional: gradients for LSTM and GRU, both output modes, uneven lengths") {
  check_layer<Shape::Sequence>(Bidirectional<LSTM<3, 3, LastState, double>>(), 3, small({5, 3, 1}));
  check_layer<Shape::Sequence>(Bidirectional<LSTM<3, 3, FullSequence, double>>(), 3, small({5, 3, 1}, 2));
  check_layer<Shape::Sequence>(Bidirectional<GRU<3, 3, LastState, double>>(), 3, small({2, 5, 4}, 3));
  check_layer<Shape::Sequence>(Bidirectional<GRU<3, 3, FullSequence, double>>(), 3, small({2, 5, 4}, 4));
  check_layer<Shape::Sequence>(
      Bidirectional<LSTM<Dynamic, Dynamic, FullSequence, double>>(LSTM<Dynamic, Dynamic, FullSequence, double>(2, 3)),
      2, small({4, 5}, 5));
}

TEST_CASE("Bidirectional: garbage and NaN in padded steps change nothing") {
  check_mask_invariance(Bidirectional<LSTM<3, 4, LastState, double>>(), 3);
  check_mask_invariance(Bidirectional<LSTM<3, 4, FullSequence, float>>(), 3);
  check_mask_invariance(Bidirectional<GRU<3, 4, FullSequence, double>>(), 3);
  check_mask_invariance(Bidirectional<GRU<3, 4, LastState, float>>(), 3);
}

TEST_CASE("Bidirectional: the reversed pass reads each sample reversed within its length") {
  using Inner = LSTM<3, 4, FullSequence, double>;
  Bidirectional<Inner> bi;
  Vector<double> p(bi.num_params()), g(bi.num_params());
  bi.bind(p.data(), g.data());
  Rng rng(3);
  bi.init(rng);
  CHECK(bi.name() == "Bidirectional<LSTM<3,4,FullSequence>>");
  CHECK(bi.output_features(3) == 8);
  CHECK(Bidirectional<Inner>::output_size == 8);
  CHECK(bi.forward_layer().weight_ih().data() == p.data());
  CHECK(bi.backward_layer().weight_ih().data() == p.data() + bi.forward_layer().num_params());
  CHECK(bi.forward_layer().weight_ih() != bi.backward_layer().weight_ih());

  const SeqBatch<double> x = random_batch<double>(6, 3, {6, 2, 4}, 9);
  SeqBatch<double> y;
  bi.forward(x, y, Mode::Inference);
  Bidirectional<LSTM<3, 4, LastState, double>> bil;
  bil.bind(p.data(), nullptr);
  RowMatrix<double> yl;
  bil.forward(x, yl, Mode::Inference);
  for (Index b = 0; b < 3; ++b) {
    const Index L = x.length(b);
    SeqBatch<double> fw(L, 1, 3), rv(L, 1, 3), yf, yr;
    for (Index t = 0; t < L; ++t)
      for (Index f = 0; f < 3; ++f) {
        fw(t, 0, f) = x(t, b, f);
        rv(t, 0, f) = x(L - 1 - t, b, f);
      }
    bi.forward_layer().forward(fw, yf, Mode::Inference);
    bi.backward_layer().forward(rv, yr, Mode::Inference);
    for (Index t = 0; t < 6; ++t)
      for (Index k = 0; k < 4; ++k) {
        CHECK(y(t, b, k) == doctest::Approx(t < L ? yf(t, 0, k) : 0.0).epsilon(1e-12));
        CHECK(y(t, b, 4 + k) == doctest::Approx(t < L ? yr(L - 1 - t, 0, k) : 0.0).epsilon(1e-12));
      }
    for (Index k = 0; k < 4; ++k) {
      CHECK(yl(b, k) == doctest::Approx(yf(L - 1, 0, k)).epsilon(1e-12));
      CHECK(yl(b, 4 + k) == doctest::Approx(yr(L - 1, 0, k)).epsilon(1e-12));
    }
  }
}

TEST_CASE("Bidirectional: inside Sequential") {
  SeqBatch<double> x = random_batch<double>(5, 3, {5, 2, 4}, 21);
  {
    Sequential<Bidirectional<LSTM<3, 3, FullSequence, double>>, LSTM<6, 3, LastState, double>, Dense<3, 2, double>> model;
    model.init(1);
    check_model(model, x);
  }
  {
    using Bi = Bidirectional<GRU<Dynamic, Dynamic, LastState, double>>;
    Sequential<Bi, Dense<Dynamic, Dynamic, double>> model(Bi(GRU<Dynamic, Dynamic, LastState, double>(3, 4)),
                                                         Dense<Dynamic, Dynamic, double>(8, 2));
    model.init(2);
    check_model(model, x);
  }
}
