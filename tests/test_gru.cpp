// GRU: gradient harness, mask invariance, gate isolation (closed forms), composition and
// streaming step == forward. (Heap-allocation checks live in test_lstm.cpp.)
#include <salient/layers/dense.hpp>
#include <salient/layers/gru.hpp>
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
  o.T = 6;
  o.B = Index(lengths.size());
  o.lengths = std::move(lengths);
  o.seed = seed;
  o.input_scale = 1.5;
  return o;
}

template <class L>
struct Owned {
  L layer;
  Vector<typename L::scalar_type> p, g;
  explicit Owned(L l, std::uint64_t seed = 5) : layer(std::move(l)) {
    p.setZero(layer.num_params());
    g.setZero(layer.num_params());
    layer.bind(p.data(), g.data());
    Rng rng(seed);
    layer.init(rng);
    // Non-zero biases so every bias path is exercised.
    for (Index i = layer.num_params() - 6 * layer.hidden_size(); i < layer.num_params(); ++i)
      p[i] = typename L::scalar_type(rng.uniform(-0.5, 0.5));
  }
};

template <class S>
SeqBatch<S> random_batch(Index T, Index F, Lengths lengths, std::uint64_t seed) {
  SeqBatch<S> x(T, Index(lengths.size()), F);
  x.lengths = std::move(lengths);
  Rng rng(seed);
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = S(rng.uniform(-1, 1));
  zero_padding(x.values, x.lengths);
  return x;
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

TEST_CASE("GRU: gradients, both output modes, uneven lengths, fixed and Dynamic sizes") {
  check_layer<Shape::Sequence>(GRU<3, 4, LastState, double>(), 3, small({6, 3, 1}));
  check_layer<Shape::Sequence>(GRU<3, 4, FullSequence, double>(), 3, small({6, 3, 1}, 2));
  check_layer<Shape::Sequence>(GRU<Dynamic, Dynamic, LastState, double>(2, 5), 2, small({2, 6, 4}, 3));
  check_layer<Shape::Sequence>(GRU<Dynamic, Dynamic, FullSequence, double>(2, 3), 2, small({4, 1, 6}, 4));
  check_layer<Shape::Sequence>(GRU<3, 4, FullSequence, double>(), 3, small({6, 6}, 5));
  GradCheckOptions o = small({6, 2, 4}, 7);
  o.mode = Mode::Inference;
  check_layer<Shape::Sequence>(GRU<3, 4, LastState, double>(), 3, o);
}

TEST_CASE("GRU: garbage and NaN in padded steps change nothing") {
  check_mask_invariance(GRU<3, 5, LastState, double>(), 3);
  check_mask_invariance(GRU<3, 5, FullSequence, double>(), 3);
  check_mask_invariance(GRU<3, 5, LastState, float>(), 3);
  check_mask_invariance(GRU<3, 5, FullSequence, float>(), 3);
}

TEST_CASE("GRU: gate isolation with zero weights (closed forms, catches a swapped gate order)") {
  using L = GRU<2, 3, FullSequence, double>;
  const Index T = 5;
  const SeqBatch<double> x = random_batch<double>(T, 2, {T}, 11);
  // Zero weights: r = σ(b_ir + b_hr), z = σ(b_iz + b_hz), n = tanh(b_in + r·b_hn) are constants
  // and h_t = (1 - z)·n + z·h_{t-1} = n·(1 - z^{t+1}).
  auto run = [&](double bir, double biz, double bin, double bhr, double bhz, double bhn) {
    Owned<L> m(L{});
    m.p.setZero();
    m.layer.bias_ih(L::ResetGate).setConstant(bir);
    m.layer.bias_ih(L::UpdateGate).setConstant(biz);
    m.layer.bias_ih(L::NewGate).setConstant(bin);
    m.layer.bias_hh(L::ResetGate).setConstant(bhr);
    m.layer.bias_hh(L::UpdateGate).setConstant(bhz);
    m.layer.bias_hh(L::NewGate).setConstant(bhn);
    SeqBatch<double> y;
    m.layer.forward(x, y, Mode::Inference);
    const double r = sigmoid(bir + bhr), z = sigmoid(biz + bhz), n = std::tanh(bin + r * bhn);
    double h = 0;
    for (Index t = 0; t < T; ++t) {
      h = (1 - z) * n + z * h;
      for (Index k = 0; k < 3; ++k) REQUIRE(y(t, 0, k) == doctest::Approx(h).epsilon(1e-12));
    }
    return y(T - 1, 0, 0);
  };
  run(0.3, -0.7, 1.1, -0.2, 0.4, 0.9);
  CHECK(run(0, 0, 0, 0, 0, 0) == 0.0);
  // Update gate shut (z = 0): h = n at once. Open (z = 1): h stays 0.
  CHECK(run(0, -40, 1.0, 0, 0, 0) == doctest::Approx(std::tanh(1.0)));
  CHECK(run(0, 40, 1.0, 0, 0, 0) == doctest::Approx(0).epsilon(1e-12));
  // Reset gate only scales b_hn: shut -> n = tanh(b_in), open -> n = tanh(b_in + b_hn).
  CHECK(run(-40, -40, 0.5, 0, 0, 2.0) == doctest::Approx(std::tanh(0.5)));
  CHECK(run(40, -40, 0.5, 0, 0, 2.0) == doctest::Approx(std::tanh(2.5)));
}

TEST_CASE("GRU: padded samples keep their last valid state; small-batch kernel agrees") {
  using L = GRU<3, 16, FullSequence, double>;
  Owned<L> m(L{}, 9);
  const SeqBatch<double> x = random_batch<double>(6, 3, {6, 2, 4}, 3);
  SeqBatch<double> y;
  m.layer.forward(x, y, Mode::Inference);
  // 9 samples take the Eigen GEMM path; each alone takes the small-batch kernel.
  SeqBatch<double> big = random_batch<double>(6, 3, Lengths(9, 6), 3);
  for (Index t = 0; t < 6; ++t)
    for (Index b = 0; b < 3; ++b)
      for (Index f = 0; f < 3; ++f) big(t, b, f) = x(t, b, f);
  big.lengths[0] = 6;
  big.lengths[1] = 2;
  big.lengths[2] = 4;
  SeqBatch<double> ybig;
  m.layer.forward(big, ybig, Mode::Inference);
  GRU<3, 16, LastState, double> last;
  last.bind(m.p.data(), nullptr);
  RowMatrix<double> yl;
  last.forward(x, yl, Mode::Inference);
  for (Index b = 0; b < 3; ++b) {
    SeqBatch<double> xb(x.length(b), 1, 3);
    for (Index t = 0; t < x.length(b); ++t)
      for (Index f = 0; f < 3; ++f) xb(t, 0, f) = x(t, b, f);
    SeqBatch<double> yb;
    m.layer.forward(xb, yb, Mode::Inference);
    for (Index t = 0; t < 6; ++t)
      for (Index k = 0; k < 16; ++k) {
        const double want = t < x.length(b) ? yb(t, 0, k) : 0.0;
        CHECK(y(t, b, k) == doctest::Approx(want).epsilon(1e-12));
        CHECK(ybig(t, b, k) == doctest::Approx(want).epsilon(1e-12));
      }
    for (Index k = 0; k < 16; ++k) CHECK(yl(b, k) == doctest::Approx(yb(x.length(b) - 1, 0, k)).epsilon(1e-12));
  }
}

TEST_CASE("GRU: inside Sequential, fixed and Dynamic sizes") {
  SeqBatch<double> x = random_batch<double>(5, 3, {5, 2, 4}, 21);
  {
    Sequential<GRU<3, 6, LastState, double>, Dense<6, 2, double>> model;
    model.init(1);
    check_model(model, x);
  }
  {
    Sequential<GRU<Dynamic, Dynamic, FullSequence, double>, GRU<Dynamic, Dynamic, LastState, double>,
               Dense<Dynamic, Dynamic, double>>
        model(GRU<Dynamic, Dynamic, FullSequence, double>(3, 4), GRU<Dynamic, Dynamic, LastState, double>(4, 3),
              Dense<Dynamic, Dynamic, double>(3, 2));
    model.init(2);
    check_model(model, x);
    CHECK(model.name() == "Sequential[GRU<3,4,FullSequence>, GRU<4,3,LastState>, Dense<3,2>]");
  }
}

TEST_CASE("GRU: parameter layout and streaming step() == forward()") {
  using L = GRU<3, 5, FullSequence, double>;
  Owned<L> m(L{}, 13);
  CHECK(m.layer.num_params() == 3 * 5 * (3 + 5 + 2));
  CHECK(m.layer.weight_hh().data() == m.p.data() + 45);
  CHECK(m.layer.bias_ih().data() == m.p.data() + 45 + 75);
  CHECK(m.layer.bias_hh().data() == m.p.data() + 45 + 75 + 15);
  const SeqBatch<double> x = random_batch<double>(7, 3, {7, 7}, 8);
  SeqBatch<double> y;
  m.layer.forward(x, y, Mode::Inference);
  auto s = m.layer.make_state(2);
  RowMatrix<double> xt(2, 3);
  for (Index t = 0; t < 7; ++t) {
    for (Index b = 0; b < 2; ++b)
      for (Index f = 0; f < 3; ++f) xt(b, f) = x(t, b, f);
    const auto& h = m.layer.step(xt, s);
    for (Index b = 0; b < 2; ++b)
      for (Index k = 0; k < 5; ++k) CHECK(h(b, k) == doctest::Approx(y(t, b, k)).epsilon(1e-12));
  }
  m.layer.reset(s);
  CHECK(s.h.isZero());
}
