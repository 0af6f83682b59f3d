// LSTM: gradient harness, mask invariance, gate isolation (closed forms), composition,
// streaming step == forward, and zero heap allocations in the steady state.

// Heap-allocation accounting for this test binary: Eigen reports its own allocations through
// EIGEN_RUNTIME_NO_MALLOC (turned into an exception below); everything else through the
// counting global operator new.
#include <cstdlib>
#include <new>
#include <stdexcept>
#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) \
  do {                  \
    if (!(x)) throw std::runtime_error("Eigen assertion failed: " #x); \
  } while (0)

#include <atomic>

namespace {
std::atomic<long> g_news{0};
}
// GCC cannot see that these replacements pair new with free consistently.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  ++g_news;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  ++g_news;
  const std::size_t al = std::size_t(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

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
  o.T = 6;
  o.B = Index(lengths.size());
  o.lengths = std::move(lengths);
  o.seed = seed;
  o.input_scale = 1.5;
  return o;
}

/// Counts heap allocations (operator new and Eigen's allocator) made while fn runs.
template <class Fn>
long heap_allocations(Fn&& fn) {
  const long before = g_news.load();
  Eigen::internal::set_is_malloc_allowed(false);
  long eigen = 0;
  try {
    fn();
  } catch (const std::runtime_error&) {
    eigen = 1;  // Eigen tried to allocate
  }
  Eigen::internal::set_is_malloc_allowed(true);
  return g_news.load() - before + eigen;
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

TEST_CASE("LSTM: gradients, both output modes, uneven lengths, fixed and Dynamic sizes") {
  check_layer<Shape::Sequence>(LSTM<3, 4, LastState, double>(), 3, small({6, 3, 1}));
  check_layer<Shape::Sequence>(LSTM<3, 4, FullSequence, double>(), 3, small({6, 3, 1}, 2));
  check_layer<Shape::Sequence>(LSTM<Dynamic, Dynamic, LastState, double>(2, 5), 2, small({2, 6, 4}, 3));
  check_layer<Shape::Sequence>(LSTM<Dynamic, Dynamic, FullSequence, double>(2, 3), 2, small({4, 1, 6}, 4));
  // No padding at all, and a batch of one.
  check_layer<Shape::Sequence>(LSTM<3, 4, FullSequence, double>(), 3, small({6, 6}, 5));
  check_layer<Shape::Sequence>(LSTM<3, 4, LastState, double>(), 3, small({5}, 6));
}

TEST_CASE("LSTM: gradients after an inference-mode forward (attribution path)") {
  GradCheckOptions o = small({6, 2, 4}, 7);
  o.mode = Mode::Inference;
  check_layer<Shape::Sequence>(LSTM<3, 4, LastState, double>(), 3, o);
  check_layer<Shape::Sequence>(LSTM<3, 4, FullSequence, double>(), 3, o);
}

TEST_CASE("LSTM: garbage and NaN in padded steps change nothing") {
  check_mask_invariance(LSTM<3, 5, LastState, double>(), 3);
  check_mask_invariance(LSTM<3, 5, FullSequence, double>(), 3);
  check_mask_invariance(LSTM<3, 5, LastState, float>(), 3);
  check_mask_invariance(LSTM<3, 5, FullSequence, float>(), 3);
  GradCheckOptions o;
  o.lengths = {1, 7, 3};
  check_mask_invariance(LSTM<Dynamic, Dynamic, FullSequence, float>(4, 6), 4, o);
}

TEST_CASE("LSTM: gate isolation with zero weights (closed forms, catches a swapped gate order)") {
  using L = LSTM<2, 3, FullSequence, double>;
  const Index T = 5;
  const SeqBatch<double> x = random_batch<double>(T, 2, {T}, 11);
  // Zero weights: every step sees z = bias, so i, f, g, o are constants and
  //   c_t = f·c_{t-1} + i·g = i·g·(1 - f^{t+1}) / (1 - f),   h_t = o·tanh(c_t).
  auto run = [&](double bi, double bf, double bg, double bo) {
    Owned<L> m(L{});
    m.p.setZero();
    m.layer.bias(L::InputGate).setConstant(bi);
    m.layer.bias(L::ForgetGate).setConstant(bf);
    m.layer.bias(L::CellGate).setConstant(bg);
    m.layer.bias(L::OutputGate).setConstant(bo);
    SeqBatch<double> y;
    m.layer.forward(x, y, Mode::Inference);
    const double i = sigmoid(bi), f = sigmoid(bf), g = std::tanh(bg), o = sigmoid(bo);
    double c = 0;
    for (Index t = 0; t < T; ++t) {
      c = f * c + i * g;
      for (Index k = 0; k < 3; ++k) REQUIRE(y(t, 0, k) == doctest::Approx(o * std::tanh(c)).epsilon(1e-12));
    }
    return y(T - 1, 0, 0);
  };
  // Distinct values for all four gates: any permutation of the gate blocks changes the result.
  run(0.3, -0.7, 1.1, -0.2);
  // One gate's bias set, the others 0 (σ(0) = 1/2, tanh(0) = 0):
  CHECK(run(0, 0, 0, 0) == 0.0);                // g = 0: nothing is ever written
  CHECK(run(20, 0, 0, 0) == 0.0);               // input gate open, still g = 0
  CHECK(run(0, 0, 2, 0) > 0.2);                 // candidate on: c grows towards i·g/(1-f)
  CHECK(run(0, 0, 2, -20) == doctest::Approx(0).epsilon(1e-8));  // output gate closed
  const double f_open = run(0, 20, 2, 0), f_closed = run(0, -20, 2, 0);
  // forget gate open: c accumulates i·g over the 5 steps; shut: c = i·g at every step
  CHECK(f_open == doctest::Approx(0.5 * std::tanh(5 * 0.5 * std::tanh(2.0))).epsilon(1e-6));
  CHECK(f_closed == doctest::Approx(0.5 * std::tanh(0.5 * std::tanh(2.0))).epsilon(1e-8));
}

TEST_CASE("LSTM: gate isolation through W_ih and W_hh blocks") {
  using L = LSTM<1, 1, FullSequence, double>;
  const Index T = 4;
  SeqBatch<double> x(T, 1, 1);
  for (Index t = 0; t < T; ++t) x(t, 0, 0) = 0.25 * double(t + 1);
  SeqBatch<double> y;
  {  // Cell-gate input weight only; input/output gates forced open, forget gate shut.
    Owned<L> m(L{});
    m.p.setZero();
    m.layer.weight_ih(L::CellGate)(0, 0) = 1.5;
    m.layer.bias(L::InputGate)(0) = 40;
    m.layer.bias(L::ForgetGate)(0) = -40;
    m.layer.bias(L::OutputGate)(0) = 40;
    m.layer.forward(x, y, Mode::Inference);
    for (Index t = 0; t < T; ++t)
      CHECK(y(t, 0, 0) == doctest::Approx(std::tanh(std::tanh(1.5 * x(t, 0, 0)))).epsilon(1e-12));
  }
  {  // Output gate driven by the previous hidden state only: o_t = σ(w·h_{t-1}).
    Owned<L> m(L{});
    m.p.setZero();
    m.layer.weight_hh(L::OutputGate)(0, 0) = 2.0;
    m.layer.bias(L::InputGate)(0) = 40;
    m.layer.bias(L::ForgetGate)(0) = -40;
    m.layer.bias(L::CellGate)(0) = 0.5;
    m.layer.forward(x, y, Mode::Inference);
    double h = 0;
    for (Index t = 0; t < T; ++t) {
      h = sigmoid(2.0 * h) * std::tanh(std::tanh(0.5));
      CHECK(y(t, 0, 0) == doctest::Approx(h).epsilon(1e-12));
    }
  }
}

TEST_CASE("LSTM: padded samples keep the state of their last valid step") {
  using L = LSTM<3, 4, FullSequence, double>;
  using LL = LSTM<3, 4, LastState, double>;
  Owned<L> seq(L{}, 9);
  Owned<LL> last(LL{}, 9);
  const SeqBatch<double> x = random_batch<double>(6, 3, {6, 2, 4}, 3);
  SeqBatch<double> y;
  RowMatrix<double> yl;
  seq.layer.forward(x, y, Mode::Inference);
  last.layer.forward(x, yl, Mode::Inference);
  for (Index b = 0; b < 3; ++b) {
    // Alone, with no padding, each sample gives the same values.
    SeqBatch<double> xb(x.length(b), 1, 3);
    for (Index t = 0; t < x.length(b); ++t)
      for (Index f = 0; f < 3; ++f) xb(t, 0, f) = x(t, b, f);
    SeqBatch<double> yb;
    seq.layer.forward(xb, yb, Mode::Inference);
    for (Index t = 0; t < 6; ++t)
      for (Index k = 0; k < 4; ++k) {
        if (t < x.length(b)) {
          CHECK(y(t, b, k) == doctest::Approx(yb(t, 0, k)).epsilon(1e-12));
        } else {
          CHECK(y(t, b, k) == 0.0);
        }
      }
    for (Index k = 0; k < 4; ++k)
      CHECK(yl(b, k) == doctest::Approx(yb(x.length(b) - 1, 0, k)).epsilon(1e-12));
  }
}

TEST_CASE("LSTM: the small-batch kernel agrees with the GEMM path") {
  // Batches below rnn::small_batch use their own kernel and a SIMD transpose of W_hh; sizes
  // that are multiples of the SIMD width (and odd ones, for the edges) against a large batch.
  auto check = [](auto proto, Index In, Index H, double tol) {
    using L = decltype(proto);
    using S = typename L::scalar_type;
    Owned<L> m(proto, 17);
    const SeqBatch<S> big = random_batch<S>(9, In, Lengths(11, 9), 5);
    SeqBatch<S> y_big, y_small;
    m.layer.forward(big, y_big, Mode::Inference);
    for (Index B : {1, 2, 3, 5, 7}) {
      SeqBatch<S> x(9, B, In);
      x.lengths = Lengths(std::size_t(B), 9);
      for (Index t = 0; t < 9; ++t)
        for (Index b = 0; b < B; ++b)
          for (Index f = 0; f < In; ++f) x(t, b, f) = big(t, b, f);
      m.layer.forward(x, y_small, Mode::Inference);
      for (Index t = 0; t < 9; ++t)
        for (Index b = 0; b < B; ++b)
          for (Index k = 0; k < H; ++k) REQUIRE(double(y_small(t, b, k)) == doctest::Approx(double(y_big(t, b, k))).epsilon(tol));
    }
  };
  check(LSTM<8, 32, FullSequence, float>(), 8, 32, 1e-5);
  check(LSTM<Dynamic, Dynamic, FullSequence, float>(5, 21), 5, 21, 1e-5);
  check(LSTM<Dynamic, Dynamic, FullSequence, double>(3, 16), 3, 16, 1e-12);
  check(LSTM<Dynamic, Dynamic, FullSequence, double>(3, 9), 3, 9, 1e-12);
}

TEST_CASE("LSTM: inside Sequential, fixed and Dynamic sizes") {
  SeqBatch<double> x = random_batch<double>(5, 3, {5, 2, 4}, 21);
  {
    Sequential<LSTM<3, 8, LastState, double>, Dense<8, 2, double>> model;
    model.init(1);
    check_model(model, x);
  }
  {
    Sequential<LSTM<Dynamic, Dynamic, FullSequence, double>, LSTM<Dynamic, Dynamic, LastState, double>,
               Dense<Dynamic, Dynamic, double>>
        model(LSTM<Dynamic, Dynamic, FullSequence, double>(3, 4), LSTM<Dynamic, Dynamic, LastState, double>(4, 3),
              Dense<Dynamic, Dynamic, double>(3, 2));
    model.init(2);
    check_model(model, x);
    CHECK(model.name() == "Sequential[LSTM<3,4,FullSequence>, LSTM<4,3,LastState>, Dense<3,2>]");
  }
  CHECK_THROWS_AS((Sequential<LSTM<Dynamic, Dynamic, LastState, double>, Dense<Dynamic, Dynamic, double>>(
                      LSTM<Dynamic, Dynamic, LastState, double>(3, 4), Dense<Dynamic, Dynamic, double>(5, 2))),
                  ShapeError);
}

TEST_CASE("LSTM: parameter layout, initialisation and errors") {
  LSTM<3, 4> l;
  CHECK(l.num_params() == 4 * 4 * (3 + 4 + 1));
  CHECK(l.name() == "LSTM<3,4,LastState>");
  Owned<LSTM<3, 4>> m(LSTM<3, 4>{});
  CHECK(m.layer.weight_ih().data() == m.p.data());
  CHECK(m.layer.weight_hh().data() == m.p.data() + 48);
  CHECK(m.layer.bias().data() == m.p.data() + 48 + 64);
  for (Index k = 0; k < 16; ++k) CHECK(m.layer.bias()(k) == (k >= 4 && k < 8 ? 1.0f : 0.0f));
  // W_hh has orthonormal columns.
  const Eigen::MatrixXf wtw = m.layer.weight_hh().transpose() * m.layer.weight_hh();
  CHECK((wtw - Eigen::MatrixXf::Identity(4, 4)).cwiseAbs().maxCoeff() < 1e-5f);
  const float a = std::sqrt(6.0f / (3 + 16));
  CHECK(m.layer.weight_ih().cwiseAbs().maxCoeff() <= a);
  SeqBatch<float> x(4, 2, 5);
  RowMatrix<float> y;
  CHECK_THROWS_WITH_AS(m.layer.forward(x, y, Mode::Inference), "LSTM<3,4,LastState>: expected 3 input features, got 5",
                       ShapeError);
  CHECK_THROWS_AS((LSTM<3, 4>(3, 5)), ShapeError);
  CHECK_THROWS_AS((LSTM<Dynamic, Dynamic>(0, 5)), ShapeError);
}

TEST_CASE("LSTM: streaming step() equals forward() in inference mode") {
  using L = LSTM<3, 5, FullSequence, double>;
  Owned<L> m(L{}, 13);
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
  // One series through the pointer overload; LastState of the same layer weights agrees.
  LSTM<3, 5, LastState, double> last;
  last.bind(m.p.data(), nullptr);
  RowMatrix<double> yl;
  last.forward(x, yl, Mode::Inference);
  auto s1 = last.make_state();
  std::vector<double> buf(3);
  for (Index t = 0; t < 7; ++t) {
    for (Index f = 0; f < 3; ++f) buf[std::size_t(f)] = x(t, 1, f);
    last.step(buf.data(), s1);
  }
  for (Index k = 0; k < 5; ++k) CHECK(s1.h(0, k) == doctest::Approx(yl(1, k)).epsilon(1e-12));
  last.reset(s1);
  CHECK(s1.h.isZero());
  CHECK(s1.c.isZero());
}

TEST_CASE("LSTM: no heap allocation in steady-state step, forward and backward") {
  using L = LSTM<8, 32, LastState, float>;
  Owned<L> m(L{});
  auto s = m.layer.make_state();
  RowMatrix<float> xt = RowMatrix<float>::Constant(1, 8, 0.5f);
  m.layer.step(xt, s);
  CHECK(heap_allocations([&] {
          for (int k = 0; k < 100; ++k) m.layer.step(xt, s);
        }) == 0);
  std::vector<float> one(8, 0.25f);
  CHECK(heap_allocations([&] { m.layer.step(one.data(), s); }) == 0);

  for (const Lengths& lengths : {Lengths{16, 16, 16, 16}, Lengths{16, 9, 3, 12}}) {
    const SeqBatch<float> x = random_batch<float>(16, 8, lengths, 4);
    RowMatrix<float> y, dy = RowMatrix<float>::Ones(4, 32);
    Tensor3<float> dx(16, 4, 8);
    dx.setZero();
    m.layer.forward(x, y, Mode::Inference);  // first call at this shape may allocate
    m.layer.backward(x, y, dy, &dx);
    CHECK(heap_allocations([&] { m.layer.forward(x, y, Mode::Inference); }) == 0);
    CHECK(heap_allocations([&] { m.layer.forward(x, y, Mode::Training); }) == 0);
    CHECK(heap_allocations([&] { m.layer.backward(x, y, dy, &dx); }) == 0);
  }
  // The same for GRU and Bidirectional (sequence output, small and large batch).
  GRU<8, 16, FullSequence, float> gru;
  Bidirectional<LSTM<8, 16, FullSequence, float>> bi;
  Vector<float> pg(gru.num_params()), gg(gru.num_params()), pb(bi.num_params()), gb(bi.num_params());
  gru.bind(pg.data(), gg.data());
  bi.bind(pb.data(), gb.data());
  Rng rng(2);
  gru.init(rng);
  bi.init(rng);
  auto gs = gru.make_state();
  gru.step(one.data(), gs);
  CHECK(heap_allocations([&] { gru.step(one.data(), gs); }) == 0);
  for (Index B : {3, 9}) {
    Lengths lengths(std::size_t(B), 12);
    lengths[1] = 5;
    const SeqBatch<float> x = random_batch<float>(12, 8, lengths, 4);
    SeqBatch<float> yg, yb;
    Tensor3<float> dyg(12, B, 16), dyb(12, B, 32), dx(12, B, 8);
    dyg.setConstant(0.1f);
    dyb.setConstant(0.1f);
    dx.setZero();
    gru.forward(x, yg, Mode::Training);
    gru.backward(x, yg, dyg, &dx);
    bi.forward(x, yb, Mode::Training);
    bi.backward(x, yb, dyb, &dx);
    CHECK(heap_allocations([&] { gru.forward(x, yg, Mode::Inference); }) == 0);
    CHECK(heap_allocations([&] { gru.backward(x, yg, dyg, &dx); }) == 0);
    CHECK(heap_allocations([&] { bi.forward(x, yb, Mode::Inference); }) == 0);
    CHECK(heap_allocations([&] { bi.backward(x, yb, dyb, &dx); }) == 0);
  }
  // The accounting itself works.
  CHECK(heap_allocations([] { RowMatrix<float> big(64, 64); big.setZero(); }) > 0);
  CHECK(heap_allocations([] { std::vector<int> v(10); v[0] = 1; }) > 0);
}
