// custom_classifier: compose your own model, train it on a .ts data set (or generated data),
// predict. Usage: custom_classifier [TRAIN.ts TEST.ts]
#include <salient/data.hpp>
#include <salient/salient.hpp>
#include <salient/train/fit.hpp>

#include <cstdio>

using namespace salient;

int main(int argc, char** argv) try {
  // 1. Data: a UEA/UCR pair, or 2,000 generated sensor series with defect labels.
  data::Dataset<float> train, test;
  if (argc == 3) {
    train = io::read_ts<float>(argv[1]);
    test = io::read_ts<float>(argv[2]);
  } else {
    data::SensorDefectOptions gen;
    gen.count = 2000;
    const auto all = data::make_sensor_defects<float>(gen);
    const auto split = data::train_val_test_split(all, 0.0, 0.25, 1);
    train = all.subset(split.train), test = all.subset(split.test);
  }
  data::StandardScaler scaler;  // fitted on the training split only
  scaler.fit(train);
  train = scaler.transformed(train), test = scaler.transformed(test);

  // 2. Model: sizes known only at run time (channels, classes) → Dynamic.
  constexpr int D = Dynamic;
  Sequential<Conv1D<D, D, D>, ReLU<>, LSTM<D, D, FullSequence>, GlobalMaxPool<>, Dense<D, D>> model(
      Conv1D<D, D, D>(train.channels(), 32, 5), ReLU<>(), LSTM<D, D, FullSequence>(32, 48),
      GlobalMaxPool<>(), Dense<D, D>(48, train.num_classes()));
  model.init(42);

  // 3. Train (multi-label or multi-class is taken from the data set) and evaluate.
  FitOptions<float> opt;
  opt.epochs = 15;
  opt.validation_fraction = 0.15;
  opt.early_stopping = EarlyStopping{};
  fit(model, train, opt);
  std::printf("%s\n", evaluate(model, test).report().c_str());

  // 4. Predict probabilities for new series.
  const RowMatrix<float> p = predict_proba(model, test);
  std::printf("first test series, probability per class:\n");
  for (Index k = 0; k < p.cols(); ++k) std::printf("  P(%s) = %.3f\n", test.class_names[std::size_t(k)].c_str(), p(0, k));
  return 0;
} catch (const salient::Error& e) {
  std::fprintf(stderr, "custom_classifier: %s\n", e.what());
  return 1;
}
