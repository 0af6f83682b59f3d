// One training step (forward, backward, gradient reduction, Adam) of an LSTM classifier at
// B = 64, T = 64, 8 channels, H = 64, 4 classes, with 1 and 2 data-parallel workers.
// Target: 2 workers ≥ 1.7× the throughput of 1 (docs/benchmarks.md, docs/training.md).
// Run on an otherwise idle machine: ./bench_fit_threads --benchmark_repetitions=5
//
// Each iteration runs Trainer::fit for one more epoch over a 64-series data set with
// batch_size = 64, i.e. exactly one optimizer step plus the (small) per-epoch bookkeeping:
// batch assembly, training metrics on 64 rows.
#include <benchmark/benchmark.h>

#include <ctime>

#include <salient/layers/lstm.hpp>
#include <salient/salient.hpp>
#include <salient/train/fit.hpp>

namespace {

using namespace salient;
constexpr Index kB = 64, kT = 64, kC = 8, kK = 4;
using Model = Sequential<LSTM<kC, 64, LastState>, Dense<64, kK>>;

data::Dataset<float> make_data() {
  data::Dataset<float> d;
  d.name = "bench";
  for (Index k = 0; k < kK; ++k) d.class_names.push_back("c" + std::to_string(k));
  Rng rng(1);
  for (Index i = 0; i < kB; ++i) {
    RowMatrix<float> s(kT, kC);
    for (Index j = 0; j < s.size(); ++j) s.data()[j] = float(rng.normal());
    d.series.push_back(std::move(s));
    d.labels.push_back(i % kK);
  }
  return d;
}

void BM_LstmTrainStep(benchmark::State& state) {
  const auto threads = int(state.range(0));
  const auto data = make_data();
  Model model;
  model.init(1);
  FitOptions<float> o;
  o.epochs = 0;
  o.batch_size = kB;
  o.threads = threads;
  o.verbose = 0;
  Trainer<Model> trainer(model, o);
  trainer.options().epochs = 1;
  trainer.fit(data);  // warm-up: replicas, pool, buffers
  const std::clock_t c0 = std::clock();
  for (auto _ : state) {
    trainer.options().epochs = trainer.epoch() + 1;
    benchmark::DoNotOptimize(trainer.fit(data));
  }
  const double cpu_ms = 1000.0 * double(std::clock() - c0) / CLOCKS_PER_SEC;
  state.SetItemsProcessed(state.iterations() * kB);
  state.counters["threads"] = threads;
  // CPU time of the whole process (all workers) per step: with W workers and no contention the
  // wall time of a step is about this / W when the work splits evenly, so comparing it with the
  // 1-thread figure gives the parallel overhead even on a busy machine.
  state.counters["process_cpu_ms"] = cpu_ms / double(state.iterations());
}
BENCHMARK(BM_LstmTrainStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
