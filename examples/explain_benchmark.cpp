// explain_benchmark: do the explanations point at the defect?
//
// Trains (A) LSTM(64) -> last state -> Dense(5) and (B) Conv1D(3->32, k5) + ReLU -> LSTM(64) ->
// AttentionPool -> Dense(5) as multi-label classifiers on the synthetic sensor-defect task
// (min-max scaled on the training split only), then, for every defect in the test set that is
// present and detected (probability > 0.5), scores each method's per-step attribution
// (target = that defect's logit) against the defect's true window over the valid steps.
//
//   explain_benchmark [--train N] [--test N] [--epochs E] [--cases N] [--threads N] [--seed S]
//
// Columns: time-step ROC AUC, average precision, pointing game, relevance mass (all means over
// cases), deletion area (sigmoid probability of the target while the top-scored steps are
// replaced by the training mean, 10 points; lower = more faithful; the random-order reference
// is printed per model), and cost: sample-forwards / sample-backwards per case, seconds in total
// (summed over worker threads).
#include <salient/data.hpp>
#include <salient/explain.hpp>
#include <salient/layers/activation.hpp>
#include <salient/layers/attention.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/model/sequential.hpp>
#include <salient/train/loss.hpp>
#include <salient/train/optimizer.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace salient;
namespace ex = salient::explain;
using S = float;

using ModelA = Sequential<LSTM<3, 64, LastState>, Dense<64, 5>>;
using ModelB = Sequential<Conv1D<3, 32, 5>, ReLU<>, LSTM<32, 64, FullSequence>, AttentionPool<64>, Dense<64, 5>>;

struct Args {
  Index train = 30000, test = 6000, epochs = 30, cases = 2000, threads = 2;
  std::uint64_t seed = 1;
};

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class Model>
void train(Model& model, const data::Dataset<S>& d, Index epochs, std::uint64_t seed, const char* name) {
  model.init(seed);
  Adam<S> opt;
  opt.lr = 2e-3;
  SigmoidBinaryCrossEntropy loss;
  Rng rng(seed + 1);
  auto it = data::batches(d, 32, &rng, {.shuffle = true, .bucket_by_length = true});
  RowMatrix<S> dlogits;
  const double t0 = now();
  for (Index e = 1; e <= epochs; ++e) {
    it.start_epoch();
    double total = 0;
    Index n = 0;
    if (e == Index(epochs * 0.7) + 1) opt.lr *= 0.3;
    while (const auto* b = it.next()) {
      model.zero_grad();
      total += double(loss(model.forward(b->x, Mode::Training), b->targets, &dlogits));
      ++n;
      model.backward(dlogits);
      clip_grad_norm(model.grads(), 1.0);
      opt.step(model.params(), model.grads());
    }
    std::fprintf(stderr, "[%s] epoch %2d  loss %.4f  (%.0f s)\n", name, int(e), total / double(n), now() - t0);
  }
}

/// Exact-match accuracy and the detected defects (series, label) of the test set.
template <class Model>
double detect(const Model& model, const data::Dataset<S>& d, std::vector<std::pair<Index, Index>>& cases) {
  Model m = model;
  Index exact = 0;
  for (Index i0 = 0; i0 < d.size(); i0 += 256) {
    std::vector<Index> idx;
    for (Index i = i0; i < std::min(d.size(), i0 + 256); ++i) idx.push_back(i);
    const auto b = data::make_batch(d, idx);
    const auto& y = m.forward(b.x, Mode::Inference);
    for (Index r = 0; r < Index(idx.size()); ++r) {
      bool all = true;
      for (Index k = 0; k < y.cols(); ++k) {
        const bool pred = y(r, k) > 0, truth = d.targets(idx[std::size_t(r)], k) != 0;
        all &= pred == truth;
        if (pred && truth) cases.emplace_back(idx[std::size_t(r)], k);
      }
      exact += all;
    }
  }
  return double(exact) / double(d.size());
}

struct Row {
  std::string method;
  double auroc = 0, auprc = 0, pointing = 0, mass = 0, deletion = 0;
  double n = 0, fwd = 0, bwd = 0, seconds = 0;
};

using Method = std::function<ex::Attribution<S>(const SeqBatch<S>&, const ex::Target&)>;

/// How one attribution becomes step scores.
struct Variant {
  std::string suffix;
  ex::StepReduce reduce = ex::StepReduce::AbsSum;
  Index smooth = 1;  ///< moving-average window over the step scores
};
struct Spec {
  std::string name;
  Method run;
  std::vector<Variant> variants{Variant{}};
};

/// Score every method on all cases (batches of cases spread over threads).
template <class Model>
std::vector<Row> evaluate(const Model& model, const data::Dataset<S>& test,
                          const std::vector<std::pair<Index, Index>>& cases, const std::vector<Spec>& specs,
                          const ex::Baseline<S>& deletion_baseline, Index threads, double& random_deletion) {
  const Index per = 32;
  const Index nb = (Index(cases.size()) + per - 1) / per;
  std::vector<std::pair<std::size_t, Variant>> vars;
  for (std::size_t m = 0; m < specs.size(); ++m)
    for (const auto& v : specs[m].variants) vars.emplace_back(m, v);
  std::vector<Row> rows(vars.size());
  for (std::size_t r = 0; r < vars.size(); ++r) rows[r].method = specs[vars[r].first].name + vars[r].second.suffix;
  std::mutex mu;
  std::atomic<Index> next{0};
  double rnd_sum = 0;
  auto worker = [&] {
    for (;;) {
      const Index bi = next++;
      if (bi >= nb) return;
      std::vector<Index> idx, cls;
      for (Index c = bi * per; c < std::min(Index(cases.size()), (bi + 1) * per); ++c) {
        idx.push_back(cases[std::size_t(c)].first);
        cls.push_back(cases[std::size_t(c)].second);
      }
      const auto batch = data::make_batch(test, idx);
      const auto& x = batch.x;
      const auto target = ex::Target::per_sample(cls);
      ex::CurveOptions<S> co;
      co.points = 10;
      co.baseline = deletion_baseline;
      const auto prob = target.with_output(ex::Output::Sigmoid);
      std::vector<Row> local(vars.size());
      std::size_t m_done = specs.size();
      ex::Attribution<S> a;
      for (std::size_t vi = 0; vi < vars.size(); ++vi) {
        const std::size_t m = vars[vi].first;
        const Variant& var = vars[vi].second;
        if (m != m_done) a = specs[m].run(x, target), m_done = m;
        auto steps = ex::per_step(a, var.reduce);
        if (var.smooth > 1) steps = ex::smooth_steps(steps, x.lengths, var.smooth);
        const auto del = ex::deletion_curve(model, x, prob, steps, co);
        Row& r = local[vi];
        for (Index b = 0; b < x.batch(); ++b) {
          const auto truth = ex::step_mask(test.mask(idx[std::size_t(b)], cls[std::size_t(b)]));
          const auto l = ex::localization(steps, b, x.length(b), truth);
          r.auroc += l.auroc, r.auprc += l.auprc, r.pointing += l.pointing, r.mass += l.mass;
          r.deletion += del.area[std::size_t(b)];
          r.n += 1;
        }
        r.fwd += double(a.cost.forward), r.bwd += double(a.cost.backward), r.seconds += a.cost.seconds;
      }
      const auto rnd = ex::deletion_curve(model, x, prob, ex::random_order_scores(x.lengths, x.steps(), 7 + bi), co);
      std::lock_guard<std::mutex> lock(mu);
      rnd_sum += rnd.mean_area() * double(x.batch());
      for (std::size_t m = 0; m < vars.size(); ++m) {
        Row& r = rows[m];
        const Row& l = local[m];
        r.auroc += l.auroc, r.auprc += l.auprc, r.pointing += l.pointing, r.mass += l.mass;
        r.deletion += l.deletion, r.n += l.n, r.fwd += l.fwd, r.bwd += l.bwd, r.seconds += l.seconds;
      }
    }
  };
  std::vector<std::thread> pool;
  for (Index t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  for (auto& r : rows) {
    r.auroc /= r.n, r.auprc /= r.n, r.pointing /= r.n, r.mass /= r.n, r.deletion /= r.n;
    r.fwd /= r.n, r.bwd /= r.n;
  }
  random_deletion = rnd_sum / double(cases.size());
  return rows;
}

template <class Model>
std::vector<Spec> make_specs(const Model& model, const std::vector<double>& mean,
                             const std::vector<RowMatrix<S>>& normal, bool with_attention) {
  using B = ex::Baseline<S>;
  const auto mean_b = B::channel_mean(mean);
  const auto normal8 = B::distribution(normal, 8, 11);
  std::vector<Spec> s;
  s.push_back({"saliency |grad|", [&model](auto& x, auto& t) { return ex::saliency(model, x, t); }});
  s.push_back({"gradient x input", [&model](auto& x, auto& t) { return ex::gradient_x_input(model, x, t); }});
  s.push_back({"SmoothGrad (16, 0.15)", [&model](auto& x, auto& t) {
                 return ex::smoothgrad(model, x, t, {.samples = 16, .noise = 0.15});
               }});
  s.push_back({"IG 32 GL, zero baseline", [&model](auto& x, auto& t) {
                 return ex::integrated_gradients(model, x, t, {.steps = 32});
               }});
  s.push_back({"IG 32 GL, train-mean baseline", [&model, mean_b](auto& x, auto& t) {
                 return ex::integrated_gradients(model, x, t, {.steps = 32, .baseline = mean_b});
               }});
  const std::vector<Variant> variants{{"", ex::StepReduce::AbsSum, 1},
                                      {", signed>0", ex::StepReduce::PositiveSum, 1},
                                      {", smoothed w3", ex::StepReduce::AbsSum, 3}};
  s.push_back({"IG 16 GL x 8 normal series", [&model, normal8](auto& x, auto& t) {
                 return ex::integrated_gradients(model, x, t, {.steps = 16, .baseline = normal8});
               }, variants});
  s.push_back({"occlusion w3, zero", [&model](auto& x, auto& t) {
                 return ex::occlusion(model, x, t, {.window = 3});
               }});
  s.push_back({"occlusion w3, train mean", [&model, mean_b](auto& x, auto& t) {
                 return ex::occlusion(model, x, t, {.window = 3, .baseline = mean_b});
               }});
  s.push_back({"occlusion w3, 8 normal series", [&model, normal8](auto& x, auto& t) {
                 return ex::occlusion(model, x, t, {.window = 3, .baseline = normal8});
               }, variants});
  s.push_back({"Shapley w4, 2x2 orders, 4 normal", [&model, normal8](auto& x, auto& t) {
                 return ex::shapley_sampling(model, x, t, {.window = 4, .permutations = 2, .baseline = normal8.with_draws(4)});
               }});
  if (with_attention)
    s.push_back({"attention weights", [&model](auto& x, auto&) { return ex::attention_attribution(model, x); }});
  return s;
}

static void print_table(const char* model, const std::vector<Row>& rows, double rnd) {
  std::printf("\n%s (random-order deletion area: %.3f)\n", model, rnd);
  std::printf("| method | AUROC | AUPRC | pointing | rel. mass | deletion area | fwd / bwd per case | seconds |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows)
    std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f / %.0f | %.1f |\n", r.method.c_str(), r.auroc,
                r.auprc, r.pointing, r.mass, r.deletion, r.fwd, r.bwd, r.seconds);
  std::fflush(stdout);
}

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--train") a.train = v;
    else if (k == "--test") a.test = v;
    else if (k == "--epochs") a.epochs = v;
    else if (k == "--cases") a.cases = v;
    else if (k == "--threads") a.threads = v;
    else if (k == "--seed") a.seed = std::uint64_t(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const double t0 = now();
  data::SensorDefectOptions go;
  go.count = a.train;
  go.seed = a.seed;
  auto train_set = data::make_sensor_defects<S>(go);
  go.count = a.test;
  go.seed = a.seed + 1000;
  auto test_set = data::make_sensor_defects<S>(go);
  data::MinMaxScaler scaler;
  scaler.fit(train_set);
  scaler.transform(train_set);
  scaler.transform(test_set);
  // Per-channel mean of the scaled training data, and the normal (defect-free) training series.
  const Index C = train_set.channels();
  std::vector<double> mean(std::size_t(C), 0.0);
  double count = 0;
  std::vector<RowMatrix<S>> normal;
  for (Index i = 0; i < train_set.size(); ++i) {
    const auto& s = train_set.series[std::size_t(i)];
    for (Index t = 0; t < s.rows(); ++t)
      for (Index c = 0; c < C; ++c) mean[std::size_t(c)] += double(s(t, c));
    count += double(s.rows());
    if (train_set.targets.row(i).sum() == 0 && normal.size() < 256) normal.push_back(s);
  }
  for (auto& m : mean) m /= count;

  ModelA ma;
  ModelB mb;
  {
    std::thread ta([&] { train(ma, train_set, a.epochs, a.seed + 10, "A"); });
    train(mb, train_set, a.epochs, a.seed + 20, "B");
    ta.join();
  }
  std::vector<std::pair<Index, Index>> ca, cb;
  const double acc_a = detect(ma, test_set, ca), acc_b = detect(mb, test_set, cb);
  std::printf("train %lld, test %lld series, %lld epochs, %zu normal series in the baseline pool\n",
              (long long)a.train, (long long)a.test, (long long)a.epochs, normal.size());
  std::printf("A: LSTM(64)                          exact match %.2f%%, %zu detected defects\n", 100 * acc_a, ca.size());
  std::printf("B: Conv1D(32,k5)+LSTM(64)+attention  exact match %.2f%%, %zu detected defects\n", 100 * acc_b, cb.size());
  if (Index(ca.size()) > a.cases) ca.resize(std::size_t(a.cases));
  if (Index(cb.size()) > a.cases) cb.resize(std::size_t(a.cases));
  const auto del_base = ex::Baseline<S>::channel_mean(mean);
  double ra = 0, rb = 0;
  const auto rows_a = evaluate(ma, test_set, ca, make_specs(ma, mean, normal, false), del_base, a.threads, ra);
  print_table("A: LSTM", rows_a, ra);
  const auto rows_b = evaluate(mb, test_set, cb, make_specs(mb, mean, normal, true), del_base, a.threads, rb);
  print_table("B: Conv1D + LSTM + attention", rows_b, rb);
  std::printf("\ntotal %.0f s\n", now() - t0);
  return 0;
}
