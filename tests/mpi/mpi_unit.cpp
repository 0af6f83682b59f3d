// In-job checks of fit() across MPI processes; every rank runs every test case (run with
// mpirun -np 2). Only CHECK (never REQUIRE) so that a failure on one rank cannot make the ranks
// take different paths through the collectives.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <salient/distributed/mpi.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/salient.hpp>
#include <salient/train/fit.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>

#include "toy_data.hpp"

using namespace salient;

namespace {

MPI_Comm g_comm = MPI_COMM_WORLD;
int g_rank = 0, g_size = 1;

using Model = Sequential<LSTM<2, 8, LastState>, Dense<8, 3>>;
using MlModel = Sequential<LSTM<2, 6, LastState>, Dense<6, 2>>;

template <class M = Model>
FitOptions<float> base_options() {
  FitOptions<float> o;
  o.epochs = 5;
  o.batch_size = 24;
  o.threads = 1;
  o.seed = 11;
  o.verbose = 0;
  Adam<float> a;
  a.lr = 1e-2;
  o.optimizer = a;
  return o;
}

bool same_bits(const Eigen::Ref<const Vector<float>>& a, const Eigen::Ref<const Vector<float>>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), std::size_t(a.size()) * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("np ranks x 1 thread equal one process x np threads, bit for bit, with validation decisions") {
  const auto data = test::toy_multiclass<float>(180, 5, 10, 0.9);
  auto o = base_options();
  o.validation_fraction = 0.2;
  o.schedule = LrSchedule::plateau("val_loss", 0.5, 1);
  o.early_stopping = EarlyStopping{.monitor = "val_macro_f1", .patience = 2};
  o.clip_grad_norm = 1.0;

  Model local;
  local.init(1);
  auto lo = o;
  lo.threads = g_size;  // same shards as g_size ranks of 1 thread
  const History hl = fit(local, data, lo);

  Model dist;
  dist.init(1 + std::uint64_t(g_rank) * 77);  // other ranks start elsewhere: rank 0's weights are broadcast
  auto d = o;
  d.collective = distributed::make_collective<float>(g_comm);
  const History hd = fit(dist, data, d);

  CHECK(same_bits(local.params(), dist.params()));
  CHECK(hl.epochs.size() == hd.epochs.size());
  CHECK(hl.best_epoch == hd.best_epoch);
  CHECK(hl.restored_best == hd.restored_best);
  for (std::size_t e = 0; e < std::min(hl.epochs.size(), hd.epochs.size()); ++e) {
    CAPTURE(e);
    CHECK(hl.epochs[e].lr == hd.epochs[e].lr);
    CHECK(hl.epochs[e].val_loss == hd.epochs[e].val_loss);  // validation logits are exact
    CHECK(hl.epochs[e].val.macro_f1 == hd.epochs[e].val.macro_f1);
    CHECK(hl.epochs[e].train.accuracy == hd.epochs[e].train.accuracy);
    CHECK(hl.epochs[e].train.macro_f1 == hd.epochs[e].train.macro_f1);
    // The step loss is summed across ranks in float (one all-reduce with the gradients).
    CHECK(hd.epochs[e].loss == doctest::Approx(hl.epochs[e].loss).epsilon(1e-6));
  }
}

TEST_CASE("multi-label: BCE, training metrics and tuned thresholds match the local run") {
  const auto data = test::toy_multilabel<float>(150, 9, 8, 0.6);
  auto o = base_options();
  o.validation_fraction = 0.25;
  o.tune_thresholds = true;
  MlModel local, dist;
  local.init(2);
  dist.init(2 + std::uint64_t(g_rank));
  auto lo = o;
  lo.threads = g_size;
  Trainer<MlModel> tl(local, lo);
  const History hl = tl.fit(data);
  auto d = o;
  d.collective = distributed::make_collective<float>(g_comm);
  Trainer<MlModel> td(dist, d);
  const History hd = td.fit(data);
  CHECK(same_bits(local.params(), dist.params()));
  CHECK(tl.tuned_thresholds() == td.tuned_thresholds());
  CHECK(hl.epochs.back().train.hamming_loss == hd.epochs.back().train.hamming_loss);
  CHECK(hl.epochs.back().val.subset_accuracy == hd.epochs.back().val.subset_accuracy);
}

TEST_CASE("stop decisions come from rank 0; only rank 0 writes checkpoints and prints") {
  const auto data = test::toy_multiclass<float>(120, 3, 6, 0.9);
  Model m;
  m.init(4);
  auto o = base_options();
  o.epochs = 6;
  o.verbose = 1;
  std::ostringstream progress;
  o.out = &progress;
  o.progress = ProgressStyle::Lines;
  o.collective = distributed::make_collective<float>(g_comm);
  // Rank 1 wants to stop after epoch 1 (ignored), rank 0 after epoch 3 (obeyed by all).
  o.on_epoch_end = [](const EpochRecord& r) { return (g_rank == 1 && r.epoch == 0) || (g_rank == 0 && r.epoch == 2); };
  Trainer<Model> t(m, o);
  const History h = t.fit(data);
  CHECK(h.epochs.size() == 3);
  CHECK(t.epoch() == 3);
  CHECK(t.is_primary() == (g_rank == 0));
  CHECK((progress.str().empty()) == (g_rank != 0));

  // on_batch_end: rank 0 stops at batch 2 of the next epoch, the others follow.
  t.options().epochs = 10;
  t.options().on_epoch_end = nullptr;
  t.options().on_batch_end = [](const BatchRecord& b) { return g_rank == 0 && b.batch == 1; };
  const History h2 = t.fit(data);
  CHECK(h2.epochs.size() == 1);
  CHECK(h2.epochs[0].batches == 2);

  const std::string path = "mpi_unit_ck_rank" + std::to_string(g_rank) + ".slnt";
  std::filesystem::remove(path);
  t.save(path);
  CHECK(std::filesystem::exists(path) == (g_rank == 0));
  std::filesystem::remove(path);
}

TEST_CASE("a numeric failure on one rank is seen by all (no rank left in the all-reduce)") {
  auto data = test::toy_multiclass<float>(48, 6, 6, 0.9);
  // A NaN in a series of the second half of the first batch: only the last rank's shard sees it.
  Model m;
  m.init(5);
  auto o = base_options();
  o.epochs = 1;
  o.batch_size = 48;
  o.shuffle = false;
  o.on_non_finite = NonFinitePolicy::SkipBatch;
  o.collective = distributed::make_collective<float>(g_comm);
  data.series[47](0, 0) = std::numeric_limits<float>::quiet_NaN();
  const Vector<float> before = [&] {
    Model b;
    b.init(5);
    return Vector<float>(b.params());
  }();
  const History h = fit(m, data, o);
  CHECK(h.skipped_batches == 1);
  CHECK(same_bits(m.params(), before));  // rank 0's weights were broadcast, no step taken

  o.on_non_finite = NonFinitePolicy::Throw;
  bool threw = false;
  try {
    fit(m, data, o);
  } catch (const NumericError& e) {
    threw = true;
    const std::string msg = "rank " + std::to_string(g_rank) + ": " + e.what();
    MESSAGE(msg);
  }
  CHECK(threw);
}

int main(int argc, char** argv) {
  salient::distributed::Mpi mpi(argc, argv);
  g_comm = mpi.comm();
  g_rank = mpi.rank();
  g_size = mpi.size();
  doctest::Context ctx(argc, argv);
  if (g_rank != 0) ctx.setOption("minimal", true);
  const int rc = ctx.run();
  int worst = rc;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, g_comm);
  if (worst != 0 && g_rank == 0) std::fprintf(stderr, "mpi_unit: a rank failed (exit %d)\n", worst);
  return worst;
}
