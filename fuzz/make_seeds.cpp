// Seed corpora for the fuzz targets, made from real data and from a model saved here.
//
//   make_seeds DATA_DIR CORPUS_DIR
//
// For every readable .ts file under DATA_DIR up to 6 MB, the first 12 series (at most 64 steps
// and 4 channels each) are written as
//   CORPUS_DIR/csv/<name>.csv         (2 option bytes, see fuzz_csv_reader.cpp, then the text:
//                                      label last, channel-major — and a split variant with a
//                                      separate labels "file" after a NUL byte)
//   CORPUS_DIR/npy/<name>_X.npy, _y.npy, _len.npy  (float32 values with NaN tails, int64
//                                      labels, int64 lengths)
// and CORPUS_DIR/checkpoint/ gets the checkpoints of a small LSTM classifier trained for two
// epochs on the first two-class data set (with class names, scaler, Adam and progress state,
// and without the optional sections) plus Dense models, each prefixed with the
// fuzz_checkpoint.cpp mode byte; the plain save_model file also goes to CORPUS_DIR. Built by scripts/fuzz.sh without sanitizers.
#include <salient/data/scaler.hpp>
#include <salient/io/checkpoint.hpp>
#include <salient/io/csv.hpp>
#include <salient/io/npy.hpp>
#include <salient/io/ts_reader.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/model/sequential.hpp>
#include <salient/data/batching.hpp>
#include <salient/train/loss.hpp>
#include <salient/train/optimizer.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace salient;

namespace {

using LstmModel = Sequential<LSTM<1, 6, LastState>, Dense<6, 2>>;

void put(const fs::path& file, const std::string& prefix, const std::vector<unsigned char>& bytes) {
  std::ofstream os(file, std::ios::binary);
  os << prefix;
  os.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

/// The first `n` series of d, cut to `T` steps and `C` channels.
data::Dataset<float> small(const data::Dataset<float>& d, Index n, Index T, Index C) {
  data::Dataset<float> s;
  s.name = d.name;
  s.class_names = d.class_names;
  for (Index i = 0; i < std::min(n, d.size()); ++i) {
    const auto& x = d.series[std::size_t(i)];
    s.series.push_back(x.topLeftCorner(std::min(T, x.rows()), std::min(C, x.cols())));
    if (d.labelled() && !d.multi_label) s.labels.push_back(d.labels[std::size_t(i)]);
  }
  if (s.labels.empty()) s.class_names.clear();
  s.validate();
  return s;
}

void write_csv_seeds(const data::Dataset<float>& d, const fs::path& dir) {
  const Index C = d.channels();
  std::ostringstream values, labels, joined;
  values.precision(std::numeric_limits<float>::max_digits10);
  for (Index i = 0; i < d.size(); ++i) {
    const auto& s = d.series[std::size_t(i)];
    std::string row;
    for (Index c = 0; c < C; ++c)
      for (Index t = 0; t < s.rows(); ++t) {
        std::ostringstream v;
        v.precision(std::numeric_limits<float>::max_digits10);
        if (std::isnan(s(t, c))) v << "?";
        else v << s(t, c);
        row += (row.empty() ? "" : ",") + v.str();
      }
    values << row << "\n";
    const std::string lab = d.labelled() ? d.class_names[std::size_t(d.labels[std::size_t(i)])] : "0";
    joined << row << "," << lab << "\n";
    labels << lab << "\n";
  }
  const unsigned char b0 = static_cast<unsigned char>((C - 1) | (2 << 2));  // label last
  std::ofstream(dir / (d.name + ".csv"), std::ios::binary) << char(b0) << char(0) << joined.str();
  const std::string split = values.str() + std::string(1, '\0') + labels.str();
  std::ofstream(dir / (d.name + "_split.csv"), std::ios::binary)
      << char(C - 1) << char(8) << split;
}

void write_npy_seeds(const data::Dataset<float>& d, const fs::path& dir) {
  io::write_npy((dir / (d.name + "_X.npy")).string(), d.series);
  if (d.labelled()) io::write_npy((dir / (d.name + "_y.npy")).string(), d.labels);
  std::vector<Index> len;
  for (Index i = 0; i < d.size(); ++i) len.push_back(d.length(i));
  io::write_npy((dir / (d.name + "_len.npy")).string(), len);
}

bool write_checkpoint_seeds(const data::Dataset<float>& d, const fs::path& dir) {
  if (d.channels() < 1 || !d.labelled() || d.num_classes() != 2) return false;
  data::Dataset<float> uni = small(d, d.size(), 32, 1);
  data::StandardScaler scaler;
  scaler.fit(uni);
  scaler.transform(uni);
  for (auto& s : uni.series)
    if (!s.allFinite()) return false;
  // A short plain training loop (forward, loss, backward, Adam) — the library's own pieces,
  // without the trainer, so that the seeds do not depend on fit.hpp.
  LstmModel m;
  m.init(3);
  Adam<float> adam;
  SoftmaxCrossEntropy ce;
  RowMatrix<float> dlogits;
  for (int epoch = 0; epoch < 2; ++epoch)
    for (Index lo = 0; lo < uni.size(); lo += 4) {
      std::vector<Index> idx;
      for (Index i = lo; i < std::min(uni.size(), lo + 4); ++i) idx.push_back(i);
      const auto b = data::make_batch(uni, idx);
      m.zero_grad();
      (void)ce(m.forward(b.x, Mode::Training), b.classes, &dlogits);
      m.backward(dlogits);
      adam.step(m.params(), m.grads());
    }
  std::ostringstream sc;
  scaler.save(sc);
  io::SaveOptions<float> extra;
  extra.class_names = uni.class_names;
  extra.scaler_state = sc.str();
  const auto model = io::serialize_checkpoint(io::make_checkpoint(m, extra));
  extra.optimizer = io::optimizer_state(adam);
  io::TrainingProgress<float> prog;
  prog.epoch = 2;
  prog.seed = 3;
  prog.trainer_state = {1, 1, 0.001, 0.5, 1, 0, 0.001, 2, 0.001, 0.5, 0, 0};
  prog.best_params = m.params();
  extra.progress = prog;
  const auto full = io::serialize_checkpoint(io::make_checkpoint(m, extra));
  put(dir / ("lstm_full_" + d.name), std::string(1, '\0'), full);
  put(dir / ("lstm_full_fixed_" + d.name), std::string(1, '\1'), full);
  put(dir / ("lstm_model_" + d.name), std::string(1, '\1'), model);
  io::save_model((dir.parent_path() / ("lstm_" + d.name + ".slnt")).string(), m, {.class_names = uni.class_names});
  return true;
}

void write_dense_seeds(const fs::path& dir) {
  Sequential<Dense<2, 3, float>> mf;
  mf.init(1);
  io::SaveOptions<float> extra;
  extra.class_names = {"a", "b", "c"};
  extra.extra_state = std::string(5, '\x7f');
  put(dir / "dense_f32", std::string(1, '\0'), io::serialize_checkpoint(io::make_checkpoint(mf, extra)));
  put(dir / "dense_f32_fixed", std::string(1, '\1'), io::serialize_checkpoint(io::make_checkpoint(mf)));
  Sequential<Dense<2, 3, double>> md;
  md.init(2);
  put(dir / "dense_f64_fixed", std::string(1, '\3'), io::serialize_checkpoint(io::make_checkpoint(md)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_seeds DATA_DIR CORPUS_DIR\n";
    return 2;
  }
  const fs::path data = argv[1], out = argv[2];
  for (const char* sub : {"csv", "npy", "checkpoint"}) fs::create_directories(out / sub);
  write_dense_seeds(out / "checkpoint");
  std::vector<fs::path> files;
  if (fs::is_directory(data))
    for (const auto& e : fs::recursive_directory_iterator(data))
      if (e.is_regular_file() && e.path().extension() == ".ts" && e.file_size() <= 6'000'000)
        files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int sets = 0;
  bool model_done = false;
  for (const auto& f : files) {
    try {
      const auto d = io::read_ts<float>(f.string(), {data::MissingPolicy::keep_nan});
      const auto s = small(d, 12, 64, 4);
      write_csv_seeds(s, out / "csv");
      write_npy_seeds(s, out / "npy");
      if (!model_done) model_done = write_checkpoint_seeds(small(d, 24, 64, 4), out / "checkpoint");
      ++sets;
    } catch (const std::exception& e) {
      std::cerr << "make_seeds: skipping " << f << ": " << e.what() << "\n";
    }
  }
  std::cout << "make_seeds: seeds from " << sets << " data files" << (model_done ? " and a trained LSTM" : "")
            << "\n";
  return 0;
}
