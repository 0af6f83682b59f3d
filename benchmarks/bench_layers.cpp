// benchmarks/bench_layers.cpp — Conv1D, AttentionPool and MultiHeadSelfAttention, float, one thread.
//
// "FLOP/s" counts the arithmetic of the matrix products (multiply-adds × 2):
//   Conv1D forward        2·T·B·Out·In·K          training (forward + dW + dx) = 3× forward
//   AttentionPool forward 2·T·B·F·A               training ≈ 3× forward
//   MHSA forward          8·T·B·F² + 4·B·T²·F     training ≈ 3× forward
// Every sample is full length (no padding) so the counts are exact.
#include <benchmark/benchmark.h>

#include <salient/layers/attention.hpp>
#include <salient/layers/conv1d.hpp>

using namespace salient;
using S = float;

namespace {

template <class L>
struct Fixture {
  L layer;
  Vector<S> params, grads;
  SeqBatch<S> x;
  Tensor3<S> dx;
  explicit Fixture(L l, Index T, Index B, Index F) : layer(std::move(l)), x(T, B, F), dx(T, B, F) {
    params.setZero(layer.num_params());
    grads.setZero(layer.num_params());
    layer.bind(params.data(), grads.data());
    Rng rng(1);
    layer.init(rng);
    for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = S(rng.uniform(-1, 1));
    dx.setZero();
  }
};

template <class Out>
void fill_like(const Out& y, Tensor3<S>& g) {
  g.resize(y.values.dimension(0), y.values.dimension(1), y.values.dimension(2));
  Rng rng(2);
  for (Index i = 0; i < g.size(); ++i) g.data()[i] = S(rng.uniform(-1, 1));
}
void fill_like(const RowMatrix<S>& y, RowMatrix<S>& g) {
  g.resize(y.rows(), y.cols());
  Rng rng(2);
  for (Index i = 0; i < g.size(); ++i) g.data()[i] = S(rng.uniform(-1, 1));
}

template <class L, class Out, class Grad>
void run(benchmark::State& state, Fixture<L>& f, bool training, double forward_flops) {
  Out y;
  Grad dy;
  f.layer.forward(f.x, y, Mode::Training);
  fill_like(y, dy);
  for (auto _ : state) {
    if (training) {
      f.layer.forward(f.x, y, Mode::Training);
      f.layer.backward(f.x, y, dy, &f.dx);
    } else {
      f.layer.forward(f.x, y, Mode::Inference);
    }
    benchmark::DoNotOptimize(y);
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] = benchmark::Counter((training ? 3 : 1) * forward_flops,
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::OneK::kIs1000);
}

// Conv1D: B=32, T=256, 8 -> 64, k=5, same padding.
void BM_Conv1D(benchmark::State& state) {
  const Index T = 256, B = 32, In = 8, Out = 64, K = 5;
  Fixture<Conv1D<8, 64, 5, S>> f(Conv1D<8, 64, 5, S>(), T, B, In);
  run<Conv1D<8, 64, 5, S>, SeqBatch<S>, Tensor3<S>>(state, f, state.range(0) == 1, 2.0 * T * B * Out * In * K);
}
BENCHMARK(BM_Conv1D)->ArgName("training")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// AttentionPool: B=32, T=256, F=64, attention size 64.
void BM_AttentionPool(benchmark::State& state) {
  const Index T = 256, B = 32, F = 64;
  Fixture<AttentionPool<64, S>> f(AttentionPool<64, S>(), T, B, F);
  run<AttentionPool<64, S>, RowMatrix<S>, RowMatrix<S>>(state, f, state.range(0) == 1, 2.0 * T * B * F * F);
}
BENCHMARK(BM_AttentionPool)->ArgName("training")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// MultiHeadSelfAttention: B=32, T=128, F=64, 4 heads.
void BM_MultiHeadSelfAttention(benchmark::State& state) {
  const Index T = 128, B = 32, F = 64;
  using M = MultiHeadSelfAttention<64, 4, S>;
  Fixture<M> f(M(AttentionOptions{state.range(1) == 1}), T, B, F);
  run<M, SeqBatch<S>, Tensor3<S>>(state, f, state.range(0) == 1, 8.0 * T * B * F * F + 4.0 * B * T * T * F);
}
BENCHMARK(BM_MultiHeadSelfAttention)
    ->ArgNames({"training", "causal"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
