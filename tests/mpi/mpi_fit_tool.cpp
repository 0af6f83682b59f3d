// salient_mpi_fit — driver of the MPI tests and throughput measurements (tests/mpi_tests.cmake).
//
//   mpirun -np 2 salient_mpi_fit --out P.bin [--threads N] [--epochs E] [--batch B] [--seed S]
//          [--n N] [--validation] [--checkpoint C.slnt] [--resume C.slnt]
//          [--die-rank R --die-epoch E --die-batch b]      SIGKILL rank R at that batch (1-based)
//          [--throw-rank R --throw-epoch E]                an exception on rank R at that epoch
//          [--local]                                       no collective: plain one-process fit
//   salient_mpi_fit --compare A.bin B.bin --tol X          max |a - b| <= X (0: bit-identical)
//   mpirun -np P salient_mpi_fit --bench lstm|demo|big [--steps N] [--threads N] [--batch B] [--local]
//   mpirun -np P salient_mpi_fit --bench allreduce [--count FLOATS] [--steps REPS]
//
// Training uses a small LSTM classifier on tests/toy_data.hpp's 3-class data (Adam, cosine
// schedule, gradient clipping; with --validation a 20% split, reduce-on-plateau and early
// stopping). Rank 0 writes the final flat parameters (raw f32) and the per-epoch losses to
// --out and --out.loss.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

#include <salient/distributed/mpi.hpp>
#include <salient/layers/attention.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/layers/pooling.hpp>
#include <salient/data/synthetic.hpp>
#include <salient/salient.hpp>
#include <salient/train/fit.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "../toy_data.hpp"

using namespace salient;

namespace {

using ToyModel = Sequential<LSTM<2, 8, LastState>, Dense<8, 3>>;
// bench_fit_threads.cpp's model.
using LstmModel = Sequential<LSTM<8, 64, LastState>, Dense<64, 4>>;
// examples/sensor_defects.cpp's model.
using DemoModel = Sequential<Conv1D<3, 32, 5>, ReLU<>, Conv1D<32, 32, 5>, ReLU<>, LSTM<32, 64, FullSequence>,
                             AttentionPool<64>, Dense<64, 5>>;
// The larger model of the scaling model: three LSTM layers of H = 256.
using BigModel = Sequential<LSTM<3, 256, FullSequence>, LSTM<256, 256, FullSequence>, LSTM<256, 256, LastState>,
                            Dense<256, 5>>;

std::map<std::string, std::string> parse(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::runtime_error("unexpected argument '" + k + "'");
    k = k.substr(2);
    if (k == "validation" || k == "local") {
      a[k] = "1";
    } else if (k == "compare") {
      if (i + 2 >= argc) throw std::runtime_error("--compare needs two files");
      a["compare"] = argv[++i];
      a["compare2"] = argv[++i];
    } else {
      if (i + 1 >= argc) throw std::runtime_error("--" + k + " needs a value");
      a[k] = argv[++i];
    }
  }
  return a;
}
long long num(const std::map<std::string, std::string>& a, const std::string& k, long long def) {
  const auto it = a.find(k);
  return it == a.end() ? def : std::stoll(it->second);
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream is(path, std::ios::binary);
  if (!is) throw std::runtime_error(path + ": cannot open");
  std::vector<char> b((std::istreambuf_iterator<char>(is)), {});
  std::vector<float> v(b.size() / sizeof(float));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}

int compare(const std::string& fa, const std::string& fb, double tol) {
  const auto a = read_floats(fa), b = read_floats(fb);
  if (a.size() != b.size() || a.empty()) {
    std::printf("compare: %s has %zu values, %s has %zu\n", fa.c_str(), a.size(), fb.c_str(), b.size());
    return 1;
  }
  double worst = 0, scale = 0;
  std::size_t differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i]));
    worst = std::max(worst, d);
    scale = std::max(scale, std::abs(double(a[i])));
    differ += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  }
  std::printf("compare %s %s: %zu values, %zu differ in some bit, max |a-b| = %.3g (max |a| = %.3g), tolerance %.3g\n",
              fa.c_str(), fb.c_str(), a.size(), differ, worst, scale, tol);
  if (tol == 0) return differ == 0 ? 0 : 1;
  return worst <= tol ? 0 : 1;
}

int train(const std::map<std::string, std::string>& a, const distributed::Mpi* mpi) {
  const bool local = a.count("local") || mpi == nullptr;
  const int rank = mpi ? mpi->rank() : 0;
  const auto n = Index(num(a, "n", 240));
  auto data = test::toy_multiclass<float>(n, 7, 12, 0.9);
  ToyModel model;
  model.init(std::uint64_t(num(a, "seed", 3)) + std::uint64_t(rank) * 1000);  // rank 0's weights win
  FitOptions<float> o;
  o.epochs = Index(num(a, "epochs", 6));
  o.batch_size = Index(num(a, "batch", 32));
  o.threads = int(num(a, "threads", 1));
  o.seed = std::uint64_t(num(a, "seed", 3));
  Adam<float> adam;
  adam.lr = 1e-2;
  o.optimizer = adam;
  o.clip_grad_norm = 1.0;
  o.verbose = 0;
  if (a.count("validation")) {
    o.validation_fraction = 0.2;
    o.schedule = LrSchedule::plateau("val_loss", 0.5, 1);
    o.early_stopping = EarlyStopping{.monitor = "val_macro_f1", .patience = 3};
  } else {
    o.schedule = LrSchedule::cosine(0, 1e-4);
  }
  if (!local) o.collective = mpi->collective<float>();
  Trainer<ToyModel> t(model, o);
  const std::string ckpt = a.count("checkpoint") ? a.at("checkpoint") : "";
  if (a.count("resume")) t.resume(a.at("resume"));
  const long long die_rank = num(a, "die-rank", -1), die_epoch = num(a, "die-epoch", -1),
                  die_batch = num(a, "die-batch", -1);
  const long long throw_rank = num(a, "throw-rank", -1), throw_epoch = num(a, "throw-epoch", -1);
  t.options().on_batch_end = [&](const BatchRecord& b) {
    if (rank == die_rank && b.epoch + 1 == die_epoch && b.batch + 1 == die_batch) {
      std::fprintf(stderr, "salient_mpi_fit: rank %d kills itself (SIGKILL) at epoch %lld batch %lld\n", rank,
                   die_epoch, die_batch);
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
    if (rank == throw_rank && b.epoch + 1 == throw_epoch)
      throw std::runtime_error("injected failure at epoch " + std::to_string(throw_epoch));
    return false;
  };
  std::vector<double> losses;
  t.options().on_epoch_end = [&](const EpochRecord& r) {
    losses.push_back(r.loss);
    losses.push_back(r.train.accuracy);
    if (r.has_validation) losses.push_back(r.val_loss);
    if (!ckpt.empty()) t.save(ckpt);  // rank 0 only
    return false;
  };
  const History h = t.fit(data);
  if (rank == 0 && a.count("out")) {
    const std::string out = a.at("out");
    std::ofstream os(out, std::ios::binary);
    os.write(reinterpret_cast<const char*>(model.params().data()), std::streamsize(model.num_params() * sizeof(float)));
    std::ofstream ls(out + ".loss", std::ios::binary);
    std::vector<float> lf(losses.begin(), losses.end());
    ls.write(reinterpret_cast<const char*>(lf.data()), std::streamsize(lf.size() * sizeof(float)));
    std::printf("rank 0: %zu epochs run, final loss %.6f, %s\n", h.epochs.size(), h.epochs.back().loss,
                h.stop_reason.c_str());
  }
  return 0;
}

/// Throughput: one epoch of `steps` optimizer steps of batch B (a data set of B·steps series,
/// one Trainer::fit call, so the once-per-epoch collectives are amortised as in real training),
/// after a warm-up epoch.
template <class Model>
int bench(const std::map<std::string, std::string>& a, const distributed::Mpi& mpi, const data::Dataset<float>& d,
          Index B, const char* what) {
  Model model;
  model.init(1);
  FitOptions<float> o;
  o.batch_size = B;
  o.threads = int(num(a, "threads", 1));
  o.verbose = 0;
  // Time spent inside the collectives (waiting for the other ranks + the transfer itself).
  double comm = 0;
  if (mpi.size() > 1 && !a.count("local")) {
    o.collective = mpi.collective<float>();
    auto timed = [&comm](auto fn) {
      return [&comm, fn](auto b) {
        const auto t0 = std::chrono::steady_clock::now();
        fn(b);
        comm += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      };
    };
    o.collective.sum = timed(o.collective.sum);
    o.collective.broadcast = timed(o.collective.broadcast);
    o.collective.broadcast_f64 = timed(o.collective.broadcast_f64);
  }
  Trainer<Model> t(model, o);
  const Index steps = d.size() / B;
  t.options().epochs = 1;
  t.fit(d);
  MPI_Barrier(mpi.comm());
  const auto w0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  t.options().epochs = 2;
  comm = 0;
  t.fit(d);
  const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  double cpu_sum = cpu, wall_max = wall, cpu_max = cpu, comm_min = comm;
  MPI_Reduce(&cpu, &cpu_sum, 1, MPI_DOUBLE, MPI_SUM, 0, mpi.comm());
  MPI_Reduce(&cpu, &cpu_max, 1, MPI_DOUBLE, MPI_MAX, 0, mpi.comm());
  MPI_Reduce(&wall, &wall_max, 1, MPI_DOUBLE, MPI_MAX, 0, mpi.comm());
  MPI_Reduce(&comm, &comm_min, 1, MPI_DOUBLE, MPI_MIN, 0, mpi.comm());
  const double ms = 1e3 / double(steps);
  if (mpi.primary())
    std::printf("%s: %ld params, B=%ld, %d rank(s) x %d thread(s), %ld steps: wall %.2f ms/step (%.0f samples/s); "
                "CPU %.2f ms/step all ranks, %.2f max rank; in collectives (min over ranks) %.2f ms/step\n",
                what, long(model.num_params()), long(B), mpi.size(), o.threads, long(steps), wall_max * ms,
                double(steps * B) / wall_max, cpu_sum * ms, cpu_max * ms, comm_min * ms);
  return 0;
}

/// Time of one in-place MPI_Allreduce of `count` floats (median of `reps`).
int bench_allreduce(const std::map<std::string, std::string>& a, const distributed::Mpi& mpi) {
  const auto count = std::size_t(num(a, "count", 30000));
  const int reps = int(num(a, "steps", 200));
  std::vector<float> buf(count, 1.0f);
  std::vector<double> t;
  for (int r = 0; r < reps + 10; ++r) {
    MPI_Barrier(mpi.comm());
    const auto t0 = std::chrono::steady_clock::now();
    distributed::allreduce_sum(std::span<float>(buf), mpi.comm());
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r >= 10) t.push_back(dt);
  }
  std::sort(t.begin(), t.end());
  if (mpi.primary())
    std::printf("allreduce of %zu floats (%.1f KB) over %d ranks: median %.1f us, p10 %.1f us, p90 %.1f us\n", count,
                double(count) * 4 / 1024, mpi.size(), 1e6 * t[t.size() / 2], 1e6 * t[t.size() / 10],
                1e6 * t[t.size() * 9 / 10]);
  return 0;
}

data::Dataset<float> bench_data(Index B, Index T, Index C, Index K) {
  data::Dataset<float> d;
  d.name = "bench";
  for (Index k = 0; k < K; ++k) d.class_names.push_back("c" + std::to_string(k));
  Rng rng(1);
  for (Index i = 0; i < B; ++i) {
    RowMatrix<float> s(T, C);
    for (Index j = 0; j < s.size(); ++j) s.data()[j] = float(rng.normal());
    d.series.push_back(std::move(s));
    d.labels.push_back(i % K);
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a;
  try {
    a = parse(argc, argv);
    if (a.count("compare")) return compare(a["compare"], a["compare2"], std::stod(a.count("tol") ? a["tol"] : "0"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "salient_mpi_fit: %s\n", e.what());
    return 2;
  }
  distributed::Mpi mpi(argc, argv);
  return mpi.run([&] {
    if (a.count("bench")) {
      const std::string m = a["bench"];
      const Index B = Index(num(a, "batch", 64)), n = B * Index(num(a, "steps", 40));
      if (m == "allreduce") return bench_allreduce(a, mpi);
      if (m == "lstm") return bench<LstmModel>(a, mpi, bench_data(n, 64, 8, 4), B, "lstm(8->64)");
      if (m == "demo") return bench<DemoModel>(a, mpi, bench_data(n, 50, 3, 5), B, "sensor_defects Model");
      if (m == "big") return bench<BigModel>(a, mpi, bench_data(n, 50, 3, 5), B, "3 x LSTM(256)");
      throw std::runtime_error("unknown --bench model '" + m + "'");
    }
    return train(a, &mpi);
  });
}
