// explain_api: call the attribution functions on a trained model and score them against the
// known defect positions. Usage: explain_api
#include <salient/data.hpp>
#include <salient/explain.hpp>
#include <salient/salient.hpp>
#include <salient/train/fit.hpp>

#include <cstdio>

using namespace salient;

int main() try {
  data::SensorDefectOptions gen;
  gen.count = 3000;
  auto all = data::make_sensor_defects<float>(gen);
  const auto split = data::train_val_test_split(all, 0.0, 0.2, 3);
  data::MinMaxScaler scaler;
  auto train = all.subset(split.train);
  scaler.fit(train);
  train = scaler.transformed(train);
  const auto test = scaler.transformed(all.subset(split.test));

  Sequential<Conv1D<3, 32, 5>, ReLU<>, LSTM<32, 48, FullSequence>, AttentionPool<48>, Dense<48, 5>> model;
  model.init(1);
  FitOptions<float> opt;
  opt.epochs = 12;
  opt.verbose = 0;
  fit(model, train, opt);

  // Explain label k ("coupled_s1_s3") on the test series that carry it.
  const Index k = 4;
  std::vector<Index> rows;
  for (Index i = 0; i < test.size() && rows.size() < 64; ++i)
    if (test.has_label(i, k)) rows.push_back(i);
  const auto batch = data::make_batch(test, rows);
  const auto target = explain::Target::index(k);

  // A baseline drawn from defect-free training series avoids the blind spots of zeros / means.
  std::vector<RowMatrix<float>> normal;
  for (Index i = 0; i < train.size() && normal.size() < 128; ++i)
    if (train.targets.row(i).sum() == 0) normal.push_back(train.series[std::size_t(i)]);
  explain::IntegratedGradientsOptions<float> ig;
  ig.steps = 16;
  ig.baseline = explain::Baseline<float>::distribution(normal, 8, /*seed=*/5);

  const auto methods = {std::pair{"saliency", explain::saliency(model, batch.x, target, {true, {}})},
                        std::pair{"gradient x input", explain::gradient_x_input(model, batch.x, target)},
                        std::pair{"integrated gradients", explain::integrated_gradients(model, batch.x, target, ig)}};
  std::printf("%-22s %7s %9s %9s\n", "method", "AUROC", "pointing", "rel.mass");
  for (const auto& [name, attribution] : methods) {
    const RowMatrix<double> steps = explain::per_step(attribution);  // B × T, Σ|attr| over channels
    double auroc = 0, pointing = 0, mass = 0;
    for (Index b = 0; b < Index(rows.size()); ++b) {
      const Index i = rows[std::size_t(b)];
      const auto s = explain::localization(steps, b, test.length(i), explain::step_mask(test.mask(i, k)));
      auroc += s.auroc, pointing += s.pointing, mass += s.mass;
    }
    const double n = double(rows.size());
    std::printf("%-22s %7.3f %9.3f %9.3f\n", name, auroc / n, pointing / n, mass / n);
  }
  return 0;
} catch (const salient::Error& e) {
  std::fprintf(stderr, "explain_api: %s\n", e.what());
  return 1;
}
