// LSTM microbenchmarks: forward (inference), forward + backward (training step without the
// input gradient, as in training), and one streaming step. F = 8 input features.
// Counter FLOPS: forward = 2·T·B·4H·(F+H) flops, training ≈ 3× that; step = 2·B·4H·(F+H).
//
//   ./bench_lstm --benchmark_filter='Forward' --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <salient/layers/lstm.hpp>

#ifdef SALIENT_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

using namespace salient;
constexpr Index F = 8;
using Layer = LSTM<F, Dynamic, LastState, float>;

struct Setup {
  Layer layer;
  Vector<float> p, g;
  SeqBatch<float> x;
  RowMatrix<float> y, dy;
  Setup(Index H, Index T, Index B) : layer(F, H), x(T, B, F) {
    p.setZero(layer.num_params());
    g.setZero(layer.num_params());
    layer.bind(p.data(), g.data());
    Rng rng(1);
    layer.init(rng);
    for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = float(rng.uniform(-1, 1));
    dy = RowMatrix<float>::Constant(B, H, 0.01f);
  }
};

double forward_flops(Index H, Index T, Index B) { return 2.0 * double(T * B * 4 * H * (F + H)); }

void BM_LstmForward(benchmark::State& state) {
  const Index H = state.range(0), T = state.range(1), B = state.range(2);
  Setup s(H, T, B);
  for (auto _ : state) {
    s.layer.forward(s.x, s.y, Mode::Inference);
    benchmark::DoNotOptimize(s.y.data());
  }
  state.counters["FLOPS"] = benchmark::Counter(forward_flops(H, T, B), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LstmTrain(benchmark::State& state) {
  const Index H = state.range(0), T = state.range(1), B = state.range(2);
  Setup s(H, T, B);
  for (auto _ : state) {
    s.layer.forward(s.x, s.y, Mode::Training);
    s.layer.backward(s.x, s.y, s.dy, nullptr);
    benchmark::DoNotOptimize(s.g.data());
  }
  state.counters["FLOPS"] =
      benchmark::Counter(3 * forward_flops(H, T, B), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LstmStep(benchmark::State& state) {
  const Index H = state.range(0), B = state.range(2);
  Setup s(H, 1, B);
  auto st = s.layer.make_state(B);
  const RowMatrix<float> xt = RowMatrix<float>::Constant(B, F, 0.3f);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.layer.step(xt, st).data());
  }
  state.counters["FLOPS"] = benchmark::Counter(forward_flops(H, 1, B), benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"H", "T", "B"});
  for (int H : {64, 128})
    for (int T : {64, 256})
      for (int B : {1, 32, 64}) b->Args({H, T, B});
}
void step_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"H", "T", "B"});
  for (int H : {64, 128})
    for (int B : {1, 32, 64}) b->Args({H, 1, B});
}

}  // namespace

BENCHMARK(BM_LstmForward)->Apply(shapes)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LstmTrain)->Apply(shapes)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LstmStep)->Apply(step_shapes)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
#ifdef SALIENT_HAVE_OPENBLAS
  openblas_set_num_threads(1);  // only matters for the EIGEN_USE_BLAS variant
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
