// salient-classify — train, evaluate, apply and explain a classifier on any UEA/UCR `.ts` file.
//
//   salient-classify train    --train A_TRAIN.ts [--test A_TEST.ts] [--arch NAME] --model-out M.bin
//   salient-classify evaluate --model M.bin --test A_TEST.ts [--json PATH]
//   salient-classify predict  --model M.bin --data X.ts --out predictions.csv
//   salient-classify explain  --model M.bin --data X.ts --method NAME --out attributions.csv
//
// Every size is decided at run time: the channel count and the classes come from the training
// file, so the models are Sequential stacks of Dynamic layers, one std::variant alternative per
// architecture. The model file is a salient checkpoint holding the parameters, the architecture
// signature, the class names, the scaler fitted on the training file, and (in the extra-state
// section) the architecture name, the input width and the BatchNorm running statistics.
// See docs/cli.md.
// recurrent.hpp's packet-size helper triggers GCC's -Wignored-attributes (Eigen packet types as
// template arguments); reported to the layer's owner, silenced here to keep the build clean.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

#include <salient/salient.hpp>

#include <salient/data/batching.hpp>
#include <salient/data/dataset.hpp>
#include <salient/data/scaler.hpp>
#include <salient/explain/attention.hpp>
#include <salient/explain/gradient.hpp>
#include <salient/explain/integrated_gradients.hpp>
#include <salient/explain/occlusion.hpp>
#include <salient/explain/smoothgrad.hpp>
#include <salient/explain/target.hpp>
#include <salient/io/checkpoint.hpp>
#include <salient/io/ts_reader.hpp>
#include <salient/layers/attention.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/layers/normalization.hpp>
#include <salient/layers/pooling.hpp>
#include <salient/train/fit.hpp>
#ifdef SALIENT_WITH_MPI
#include <salient/distributed/mpi.hpp>  // train --distributed (docs/distributed.md)
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

using namespace salient;
using S = float;
constexpr int D = Dynamic;

namespace {

// ---- errors -------------------------------------------------------------------------------

/// A usage problem (bad option, missing value): exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void usage_fail(Args&&... args) {
  throw UsageError(salient::detail::concat(std::forward<Args>(args)...));
}

// ---- architectures ------------------------------------------------------------------------

// FCN (Wang, Yan & Oates 2017): three conv blocks, global average pooling, a linear classifier.
using FCN = Sequential<Conv1D<D, D, D>, BatchNorm1D<D>, ReLU<>,  //
                       Conv1D<D, D, D>, BatchNorm1D<D>, ReLU<>,  //
                       Conv1D<D, D, D>, BatchNorm1D<D>, ReLU<>,  //
                       GlobalAveragePool<>, Dense<D, D>>;
// A single LSTM reading the series, its last state classified.
using LSTMNet = Sequential<LSTM<D, D, LastState>, Dense<D, D>>;
// A conv front end, an LSTM over the conv features, additive attention pooling.
using ConvLSTMAttn = Sequential<Conv1D<D, D, D>, BatchNorm1D<D>, ReLU<>, LSTM<D, D, FullSequence>,
                                AttentionPool<D>, Dense<D, D>>;
using AnyModel = std::variant<FCN, LSTMNet, ConvLSTMAttn>;

struct ArchInfo {
  const char* name;
  const char* description;
};
constexpr ArchInfo archs[] = {
    {"fcn", "Conv(128,k8)-BN-ReLU, Conv(256,k5)-BN-ReLU, Conv(128,k3)-BN-ReLU, global average pool, Dense (default)"},
    {"fcn-small", "the same with 64-128-64 filters (about 4x faster)"},
    {"lstm", "LSTM(128) last state, Dense"},
    {"conv-lstm-attn", "Conv(64,k5)-BN-ReLU, LSTM(64) full sequence, attention pooling, Dense"},
};
constexpr const char* default_arch = "fcn";

/// Build the model in place. (Constructed in place, not moved in: Sequential's copy and move
/// constructors do not carry the cached output width, see the report to the lead.)
void make_model(std::optional<AnyModel>& out, const std::string& arch, Index C, Index K) {
  const Conv1DOptions same{};
  if (arch == "fcn" || arch == "fcn-small") {
    const Index w = arch == "fcn" ? 128 : 64;
    out.emplace(std::in_place_type<FCN>, Conv1D<D, D, D>(C, w, 8, same), BatchNorm1D<D>(w), ReLU<>(),  //
                Conv1D<D, D, D>(w, 2 * w, 5, same), BatchNorm1D<D>(2 * w), ReLU<>(),                   //
                Conv1D<D, D, D>(2 * w, w, 3, same), BatchNorm1D<D>(w), ReLU<>(),                       //
                GlobalAveragePool<>(), Dense<D, D>(w, K));
    return;
  }
  if (arch == "lstm") {
    out.emplace(std::in_place_type<LSTMNet>, LSTM<D, D, LastState>(C, 128), Dense<D, D>(128, K));
    return;
  }
  if (arch == "conv-lstm-attn") {
    out.emplace(std::in_place_type<ConvLSTMAttn>, Conv1D<D, D, D>(C, 64, 5, same), BatchNorm1D<D>(64), ReLU<>(),
                LSTM<D, D, FullSequence>(64, 64), AttentionPool<D>(64), Dense<D, D>(64, K));
    return;
  }
  std::string known;
  for (const auto& a : archs) known += std::string(known.empty() ? "" : ", ") + a.name;
  usage_fail("unknown architecture '", arch, "' (known: ", known, ")");
}

// ---- BatchNorm running statistics (non-trainable state) ----------------------------------

template <class L>
struct is_batchnorm : std::false_type {};
template <int F, class T>
struct is_batchnorm<BatchNorm1D<F, T>> : std::true_type {};

template <class Model, class Fn>
void for_each_batchnorm(Model& m, Fn&& fn) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          auto& layer = m.template layer<I>();
          if constexpr (is_batchnorm<std::remove_cvref_t<decltype(layer)>>::value) fn(layer);
        }(),
        ...);
  }(std::make_index_sequence<std::remove_cvref_t<Model>::num_layers>{});
}

// Little-endian helpers for the extra-state blob.
void put_u32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s += char((v >> (8 * i)) & 0xff);
}
void put_f64(std::string& s, double v) { put_u64(s, std::bit_cast<std::uint64_t>(v)); }

class BlobReader {
 public:
  BlobReader(const std::string& s, const std::string& file) : s_(s), file_(file) {}
  std::uint64_t uint(int n) {
    if (pos_ + std::size_t(n) > s_.size()) bad("truncated");
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | std::uint8_t(s_[pos_ + std::size_t(i)]);
    pos_ += std::size_t(n);
    return v;
  }
  double f64() { return std::bit_cast<double>(uint(8)); }
  std::string str(std::uint64_t n) {
    if (n > s_.size() - pos_) bad("truncated");
    std::string out = s_.substr(pos_, std::size_t(n));
    pos_ += std::size_t(n);
    return out;
  }
  bool done() const { return pos_ == s_.size(); }
  [[noreturn]] void bad(const std::string& what) const {
    fail<IoError>(file_, ": not a salient-classify model file (extra state ", what, ")");
  }

 private:
  const std::string& s_;
  const std::string& file_;
  std::size_t pos_ = 0;
};

constexpr char blob_magic[] = "SLNCLI01";

/// What the model file stores beside the checkpoint's own sections.
struct ModelMeta {
  std::string arch;
  Index channels = 0, classes = 0;
};

template <class Model>
std::string encode_extra(const ModelMeta& meta, Model& model) {
  std::string s(blob_magic, 8);
  put_u32(s, std::uint32_t(meta.arch.size()));
  s += meta.arch;
  put_u64(s, std::uint64_t(meta.channels));
  put_u64(s, std::uint64_t(meta.classes));
  std::uint32_t n = 0;
  for_each_batchnorm(model, [&](auto&) { ++n; });
  put_u32(s, n);
  for_each_batchnorm(model, [&](auto& bn) {
    put_u64(s, std::uint64_t(bn.running_mean().size()));
    for (Index i = 0; i < bn.running_mean().size(); ++i) put_f64(s, double(bn.running_mean()[i]));
    for (Index i = 0; i < bn.running_var().size(); ++i) put_f64(s, double(bn.running_var()[i]));
  });
  return s;
}

ModelMeta decode_meta(const std::string& blob, const std::string& file) {
  BlobReader r(blob, file);
  if (blob.size() < 8 || blob.compare(0, 8, blob_magic, 8) != 0) r.bad("missing");
  r.str(8);
  ModelMeta m;
  const auto n = r.uint(4);
  if (n > 256) r.bad("corrupt");
  m.arch = r.str(n);
  m.channels = Index(r.uint(8));
  m.classes = Index(r.uint(8));
  if (m.channels < 1 || m.channels > (1 << 24) || m.classes < 1 || m.classes > (1 << 20)) r.bad("corrupt");
  return m;
}

template <class Model>
void restore_batchnorm(const std::string& blob, Model& model, const std::string& file) {
  BlobReader r(blob, file);
  r.str(8);
  r.str(r.uint(4));
  r.uint(8);
  r.uint(8);
  const auto n = r.uint(4);
  std::uint32_t have = 0;
  for_each_batchnorm(model, [&](auto&) { ++have; });
  if (n != have) r.bad("has the wrong number of BatchNorm layers");
  for_each_batchnorm(model, [&](auto& bn) {
    const auto f = r.uint(8);
    if (f != std::uint64_t(bn.running_mean().size())) r.bad("has a BatchNorm layer of the wrong width");
    for (Index i = 0; i < Index(f); ++i) bn.running_mean()[i] = S(r.f64());
    for (Index i = 0; i < Index(f); ++i) {
      const double v = r.f64();
      if (!(v >= 0) || !std::isfinite(v)) r.bad("has an invalid running variance");
      bn.running_var()[i] = S(v);
    }
  });
  if (!r.done()) r.bad("has trailing bytes");
}

/// A trained model with everything needed to apply it.
struct Loaded {
  ModelMeta meta;
  std::optional<AnyModel> model;
  std::vector<std::string> class_names;
  data::StandardScaler scaler;
};

void save_model_file(const std::string& path, const ModelMeta& meta, AnyModel& model,
                     const std::vector<std::string>& class_names, const data::StandardScaler& scaler) {
  std::visit(
      [&](auto& m) {
        io::SaveOptions<S> so;
        so.class_names = class_names;
        std::ostringstream os;
        scaler.save(os);
        so.scaler_state = os.str();
        so.extra_state = encode_extra(meta, m);
        io::save_model(path, m, std::move(so));
      },
      model);
}

Loaded load_model_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) fail<IoError>(path, ": no such model file");
  auto c = io::read_checkpoint<S>(path);
  Loaded out;
  out.meta = decode_meta(c.extra_state, path);
  if (Index(c.class_names.size()) != out.meta.classes)
    fail<IoError>(path, ": the model file holds ", c.class_names.size(), " class names for ", out.meta.classes,
                  " classes");
  out.class_names = c.class_names;
  try {
    make_model(out.model, out.meta.arch, out.meta.channels, out.meta.classes);
  } catch (const UsageError&) {
    fail<IoError>(path, ": unknown architecture '", out.meta.arch, "' in the model file");
  }
  std::visit(
      [&](auto& m) {
        io::apply_checkpoint(c, m, path);
        restore_batchnorm(c.extra_state, m, path);
      },
      *out.model);
  if (c.scaler_state.empty()) fail<IoError>(path, ": the model file has no scaler state");
  std::istringstream is(c.scaler_state);
  out.scaler.load(is);
  if (out.scaler.channels() != out.meta.channels)
    fail<IoError>(path, ": the scaler has ", out.scaler.channels(), " channels, the model ", out.meta.channels);
  return out;
}

// ---- data ---------------------------------------------------------------------------------

data::Dataset<S> read_data(const std::string& path, const char* what) {
  if (!std::filesystem::exists(path)) fail<IoError>(path, ": no such ", what, " file");
  if (!std::filesystem::is_regular_file(path)) fail<IoError>(path, ": the ", what, " file is not a regular file");
  io::TsReadOptions ro;
  ro.missing = data::MissingPolicy::impute_series_mean;
  auto d = io::read_ts<S>(path, ro);
  if (d.empty()) fail<IoError>(path, ": the ", what, " file holds no series");
  if (d.multi_label) fail<IoError>(path, ": multi-label data is not supported by salient-classify");
  if (data::has_missing(d))
    fail<IoError>(path, ": a channel of some series has no observed value (all missing)");
  return d;
}

/// Map the file's class labels onto the model's classes (by name) and check the width.
void align_to_model(data::Dataset<S>& d, const Loaded& m, const std::string& path) {
  if (d.channels() != m.meta.channels)
    fail<IoError>(path, ": the file has ", d.channels(), " channel(s), the model was trained on ", m.meta.channels);
  if (!d.labelled()) return;
  std::map<std::string, Index> index;
  for (std::size_t k = 0; k < m.class_names.size(); ++k) index[m.class_names[k]] = Index(k);
  std::vector<Index> map(d.class_names.size());
  for (std::size_t k = 0; k < d.class_names.size(); ++k) {
    const auto it = index.find(d.class_names[k]);
    if (it == index.end()) {
      // Is the label actually used? Unused header labels are harmless.
      const bool used = std::find(d.labels.begin(), d.labels.end(), Index(k)) != d.labels.end();
      if (used) fail<IoError>(path, ": class '", d.class_names[k], "' is not one of the model's classes");
      map[k] = -1;
    } else {
      map[k] = it->second;
    }
  }
  for (auto& y : d.labels) y = map[std::size_t(y)];
  d.class_names = m.class_names;
}

// ---- argument parsing -----------------------------------------------------------------------

struct OptionSpec {
  std::string name;  // without "--"
  bool flag = false;
};

class Args {
 public:
  Args(const std::string& cmd, const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs)
      : cmd_(cmd) {
    for (std::size_t i = 0; i < argv.size(); ++i) {
      const std::string& a = argv[i];
      if (a.rfind("--", 0) != 0) usage_fail(cmd_, ": unexpected argument '", a, "' (see salient-classify ", cmd_, " --help)");
      std::string key = a.substr(2), value;
      bool has_value = false;
      if (const auto eq = key.find('='); eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
        has_value = true;
      }
      const auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.name == key; });
      if (spec == specs.end())
        usage_fail(cmd_, ": unknown option '--", key, "' (see salient-classify ", cmd_, " --help)");
      if (values_.count(key)) usage_fail(cmd_, ": option '--", key, "' given twice");
      if (spec->flag) {
        if (has_value) usage_fail(cmd_, ": option '--", key, "' takes no value");
        values_[key] = "1";
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argv.size() || argv[i + 1].rfind("--", 0) == 0)
          usage_fail(cmd_, ": option '--", key, "' needs a value");
        value = argv[++i];
      }
      if (value.empty()) usage_fail(cmd_, ": option '--", key, "' has an empty value");
      values_[key] = value;
    }
  }
  bool has(const std::string& k) const { return values_.count(k) > 0; }
  std::string str(const std::string& k) const {
    const auto it = values_.find(k);
    if (it == values_.end()) usage_fail(cmd_, ": missing required option '--", k, "' (see salient-classify ", cmd_, " --help)");
    return it->second;
  }
  std::string str(const std::string& k, const std::string& def) const { return has(k) ? str(k) : def; }
  long long integer(const std::string& k, long long def, long long lo, long long hi) const {
    if (!has(k)) return def;
    const std::string v = str(k);
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || errno == ERANGE)
      usage_fail(cmd_, ": option '--", k, "' needs an integer, got '", v, "'");
    if (x < lo || x > hi) usage_fail(cmd_, ": option '--", k, "' must be in [", lo, ", ", hi, "], got ", x);
    return x;
  }
  double real(const std::string& k, double def, double lo, double hi) const {
    if (!has(k)) return def;
    const std::string v = str(k);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !std::isfinite(x))
      usage_fail(cmd_, ": option '--", k, "' needs a number, got '", v, "'");
    if (x < lo || x > hi) usage_fail(cmd_, ": option '--", k, "' must be in [", lo, ", ", hi, "], got ", x);
    return x;
  }

 private:
  std::string cmd_;
  std::map<std::string, std::string> values_;
};

// ---- output helpers -----------------------------------------------------------------------

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (std::uint8_t(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", unsigned(std::uint8_t(c)));
          o += b;
        } else {
          o += c;
        }
    }
  }
  return o;
}

/// A flat JSON object of numbers and strings, written in insertion order.
class JsonObject {
 public:
  void num(const std::string& k, double v) {
    char b[64];
    if (std::isfinite(v)) std::snprintf(b, sizeof b, "%.10g", v);
    else std::snprintf(b, sizeof b, "null");
    items_.emplace_back(k, b);
  }
  void integer(const std::string& k, long long v) { items_.emplace_back(k, std::to_string(v)); }
  void str(const std::string& k, const std::string& v) { items_.emplace_back(k, "\"" + json_escape(v) + "\""); }
  std::string text() const {
    std::string s = "{\n";
    for (std::size_t i = 0; i < items_.size(); ++i)
      s += "  \"" + json_escape(items_[i].first) + "\": " + items_[i].second + (i + 1 < items_.size() ? ",\n" : "\n");
    return s + "}\n";
  }
  void write(const std::string& path) const {
    std::ofstream os(path, std::ios::trunc);
    if (!os) fail<IoError>(path, ": cannot open the JSON file for writing");
    os << text();
    if (!os.flush()) fail<IoError>(path, ": write failed");
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

/// CSV field: quoted when it holds a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

/// Fail early (before minutes of training) when an output file's folder does not exist.
void check_output_path(const std::string& path, const char* what) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    fail<IoError>(path, ": cannot write the ", what, " file: the folder '", parent.string(), "' does not exist");
  if (std::filesystem::is_directory(path)) fail<IoError>(path, ": is a folder, expected a ", what, " file name");
}

std::ofstream open_out(const std::string& path, const char* what) {
  std::ofstream os(path, std::ios::trunc);
  if (!os) fail<IoError>(path, ": cannot open the ", what, " file for writing");
  return os;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

// ---- help texts ---------------------------------------------------------------------------

const char* main_help =
    "salient-classify: train, evaluate, apply and explain a time-series classifier on UEA/UCR .ts files.\n"
    "\n"
    "usage: salient-classify <command> [options]     (salient-classify <command> --help for details)\n"
    "\n"
    "commands:\n"
    "  train     fit a model on a training file and save it (optionally score a test file)\n"
    "  evaluate  score a saved model on a labelled file\n"
    "  predict   write class probabilities for every series of a file\n"
    "  explain   write per-step, per-channel attributions for every series of a file\n";

const char* train_help =
    "usage: salient-classify train --train A_TRAIN.ts [--test A_TEST.ts] [--arch NAME] [--epochs N]\n"
    "                              [--batch N] [--lr X] [--seed S] [--threads N] --model-out M.bin\n"
    "                              [--json PATH] [--quiet] [--distributed]\n"
    "\n"
    "Fits a classifier on a labelled .ts file. The channel count and the classes come from the file.\n"
    "Each channel is standardised with the mean and standard deviation of the training file; the\n"
    "scaler, the class names and the architecture are stored in the model file.\n"
    "\n"
    "options:\n"
    "  --train PATH      training .ts file (required)\n"
    "  --test PATH       test .ts file, scored after training (reported, never used for training)\n"
    "  --arch NAME       fcn (default), fcn-small, lstm, conv-lstm-attn\n"
    "  --epochs N        training epochs (default: enough for about 1500 optimiser steps,\n"
    "                    clamped to [100, 500] epochs)\n"
    "  --batch N         batch size (default: min(16, max(4, N_train / 10)))\n"
    "  --lr X            Adam learning rate (default 0.001), decayed by a cosine schedule\n"
    "  --seed S          seed of the initialisation, shuffling and validation split (default 0)\n"
    "  --threads N       data-parallel training threads (default 0 = all cores)\n"
    "  --model-out PATH  where to write the model file (required)\n"
    "  --json PATH       write train_accuracy, test_accuracy (with --test), balanced_accuracy,\n"
    "                    epochs_run, train_seconds (and a few more) as JSON\n"
    "  --quiet           no progress lines on stderr\n"
    "  --distributed     data-parallel over MPI: run as mpirun -np N salient-classify train\n"
    "                    --distributed ...; every rank reads the same files, takes 1/N of each\n"
    "                    batch, rank 0 prints and writes the files; --threads defaults to the\n"
    "                    cores per rank (needs a build with MPI, see docs/distributed.md)\n"
    "\n"
    "Validation rule: when the training file has at least 500 series and at least 50 per class,\n"
    "a stratified 10% is held out and training stops early once the validation loss has not\n"
    "improved for 30 epochs (the best epoch's weights are kept). Smaller training files are used\n"
    "whole for a fixed number of epochs and the final weights are kept.\n";

const char* evaluate_help =
    "usage: salient-classify evaluate --model M.bin --test A_TEST.ts [--json PATH] [--threads N]\n"
    "\n"
    "Scores a saved model on a labelled .ts file (its labels are matched to the model's classes by\n"
    "name) and prints the per-class report.\n"
    "\n"
    "options:\n"
    "  --model PATH   model file written by 'salient-classify train' (required)\n"
    "  --test PATH    labelled .ts file (required)\n"
    "  --json PATH    write accuracy, balanced_accuracy, macro_f1, n as JSON\n"
    "  --threads N    inference threads (default 1)\n";

const char* predict_help =
    "usage: salient-classify predict --model M.bin --data X.ts --out predictions.csv [--threads N]\n"
    "\n"
    "Writes one row per series: series (0-based, file order), predicted (class name), probability\n"
    "(of the predicted class), then one probability column per class, named after the class.\n"
    "The file may be unlabelled (@classLabel false).\n"
    "\n"
    "options:\n"
    "  --model PATH   model file (required)\n"
    "  --data PATH    .ts file (required)\n"
    "  --out PATH     CSV file to write (required)\n"
    "  --threads N    inference threads (default 1)\n";

const char* explain_help =
    "usage: salient-classify explain --model M.bin --data X.ts\n"
    "         --method saliency|grad-x-input|integrated-gradients|smoothgrad|occlusion|attention\n"
    "         [--target predicted|true|CLASS_NAME] --out attributions.csv\n"
    "         [--steps N] [--samples N] [--noise X] [--window N] [--seed S]\n"
    "\n"
    "Writes the attribution of every valid time step and channel of every series:\n"
    "columns series,time,channel,attribution (all 0-based). Attributions are computed on the\n"
    "standardised input (the model's view) and explain the target class's logit.\n"
    "\n"
    "options:\n"
    "  --model PATH    model file (required)\n"
    "  --data PATH     .ts file (required; labelled when --target true)\n"
    "  --method NAME   saliency              gradient of the target logit\n"
    "                  grad-x-input          gradient x input\n"
    "                  integrated-gradients  from an all-zero (= training mean) baseline\n"
    "                  smoothgrad            saliency averaged over noisy copies\n"
    "                  occlusion             drop of the logit when a window of steps is set to 0\n"
    "                  attention             attention-pooling weights (conv-lstm-attn models only;\n"
    "                                        the same for every target, spread evenly over channels)\n"
    "  --target T      predicted (default), true (the file's label), or a class name\n"
    "  --out PATH      CSV file to write (required)\n"
    "  --steps N       integrated gradients: Gauss-Legendre points (default 32)\n"
    "  --samples N     smoothgrad: noisy copies (default 32)\n"
    "  --noise X       smoothgrad: noise as a fraction of the series' range (default 0.15)\n"
    "  --window N      occlusion: window length in steps (default: max(1, shortest length / 20))\n"
    "  --seed S        smoothgrad noise seed (default 0)\n";

bool wants_help(const std::vector<std::string>& a) {
  return std::find(a.begin(), a.end(), "--help") != a.end() || std::find(a.begin(), a.end(), "-h") != a.end();
}

// ---- train --------------------------------------------------------------------------------

/// Training with `coll` (one process unless --distributed); `default_threads` for --threads.
int train_run(const Args& a, const Collective<S>& coll, int default_threads) {
  const bool primary = coll.rank == 0;  // prints, writes the model and JSON files
  const std::string train_path = a.str("train"), model_out = a.str("model-out");
  check_output_path(model_out, "model");
  if (a.has("json")) check_output_path(a.str("json"), "JSON");
  const std::string arch = a.str("arch", default_arch);
  const bool quiet = a.has("quiet") || !primary;
  const auto seed = std::uint64_t(a.integer("seed", 0, 0, (1LL << 62)));
  const int threads = int(a.integer("threads", default_threads, 0, 1024));
  const double lr = a.real("lr", 1e-3, 1e-7, 1.0);
  std::optional<AnyModel> model;
  make_model(model, arch, 1, 2);  // reject an unknown name before reading any data

  auto train = read_data(train_path, "training");
  if (!train.labelled()) fail<IoError>(train_path, ": the training file has no class labels (@classLabel false)");
  const Index N = train.size(), C = train.channels(), K = train.num_classes();
  if (K < 2) fail<IoError>(train_path, ": the training file declares ", K, " class; need at least 2");
  std::optional<data::Dataset<S>> test;
  if (a.has("test")) test = read_data(a.str("test"), "test");  // read early: fail before training

  const auto counts = train.class_counts();
  const Index min_count = *std::min_element(counts.begin(), counts.end());
  const bool use_validation = N >= 500 && min_count >= 50;
  const Index batch = Index(a.integer("batch", std::min<Index>(16, std::max<Index>(4, N / 10)), 1, 4096));
  const Index n_fit = use_validation ? N - N / 10 : N;
  const Index steps_per_epoch = (n_fit + batch - 1) / batch;
  const Index auto_epochs = std::clamp<Index>((1500 + steps_per_epoch - 1) / steps_per_epoch, 100, 500);
  const Index epochs = Index(a.integer("epochs", auto_epochs, 1, 100000));

  data::StandardScaler scaler;
  scaler.fit(train);
  scaler.transform(train);

  ModelMeta meta{arch, C, K};
  make_model(model, arch, C, K);
  if (!quiet)
    std::cerr << "salient-classify: " << train.name << ": " << N << " series, " << C << " channels, length "
              << train.min_length() << (train.equal_length() ? "" : "-" + std::to_string(train.max_length()))
              << ", " << K << " classes; arch " << arch << ", " << epochs << " epochs of batch " << batch
              << (use_validation ? ", 10% validation with early stopping" : ", no validation (fixed epochs)")
              << "\n";

  History hist;
  const auto t0 = std::chrono::steady_clock::now();
  std::visit(
      [&](auto& m) {
        m.init(seed);
        FitOptions<S> fo;
        fo.epochs = epochs;
        fo.batch_size = batch;
        Adam<S> adam;
        adam.lr = lr;
        fo.optimizer = adam;
        fo.schedule = LrSchedule::cosine(epochs, lr * 0.01);
        fo.seed = seed;
        fo.threads = threads;
        fo.verbose = 0;
        fo.collective = coll;
        // Best-epoch snapshot of the weights AND the BatchNorm running statistics (the trainer's
        // own restore_best_weights restores the flat parameters only).
        using M = std::remove_cvref_t<decltype(m)>;
        std::optional<M> best;
        double best_loss = INFINITY;
        if (use_validation) {
          fo.validation_fraction = 0.1;
          fo.early_stopping = EarlyStopping{.monitor = "val_loss", .patience = 30, .restore_best_weights = false};
        }
        const Index every = std::max<Index>(1, epochs / 10);
        fo.on_epoch_end = [&](const EpochRecord& r) {
          if (use_validation && r.val_loss < best_loss) {
            best_loss = r.val_loss;
            best = m;
          }
          if (!quiet && ((r.epoch + 1) % every == 0 || r.epoch == 0)) {
            std::cerr << "  epoch " << r.epoch + 1 << "/" << epochs << "  loss " << fmt(r.loss) << "  accuracy "
                      << fmt(r.train.accuracy);
            if (r.has_validation) std::cerr << "  val_loss " << fmt(r.val_loss) << "  val_accuracy " << fmt(r.val.accuracy);
            std::cerr << "  (" << fmt(r.seconds) << " s)\n";
          }
          return false;
        };
        hist = fit(m, train, fo);
        if (best) m = *best;
      },
      *model);
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!primary) return 0;  // distributed: rank 0 evaluates and writes

  save_model_file(model_out, meta, *model, train.class_names, scaler);

  EvaluateOptions eo;
  eo.threads = threads;
  const auto train_m = std::visit([&](auto& m) { return evaluate(m, train, eo); }, *model);
  JsonObject js;
  js.num("train_accuracy", train_m.accuracy);
  double balanced = train_m.balanced_accuracy;
  std::optional<ClassificationMetrics> test_m;
  if (test) {
    Loaded view;
    view.meta = meta;
    view.class_names = train.class_names;
    align_to_model(*test, view, a.str("test"));
    if (!test->labelled()) fail<IoError>(a.str("test"), ": the test file has no class labels");
    scaler.transform(*test);
    test_m = std::visit([&](auto& m) { return evaluate(m, *test, eo); }, *model);
    js.num("test_accuracy", test_m->accuracy);
    balanced = test_m->balanced_accuracy;
  }
  js.num("balanced_accuracy", balanced);
  js.integer("epochs_run", (long long)hist.epochs.size());
  js.num("train_seconds", train_seconds);
  js.str("arch", arch);
  js.str("dataset", train.name);
  js.integer("n_train", N);
  if (test) {
    js.integer("n_test", test->size());
    js.num("test_macro_f1", test_m->macro_f1);
  }
  js.num("train_balanced_accuracy", train_m.balanced_accuracy);

  std::cout << "trained " << arch << " on " << train.name << " (" << N << " series) in " << fmt(train_seconds)
            << " s, " << hist.epochs.size() << " epochs" << (hist.stop_reason.empty() ? "" : "; " + hist.stop_reason)
            << "\n";
  std::cout << "train accuracy " << fmt(train_m.accuracy) << "\n";
  if (test_m)
    std::cout << "test accuracy " << fmt(test_m->accuracy) << ", balanced accuracy " << fmt(test_m->balanced_accuracy)
              << ", macro F1 " << fmt(test_m->macro_f1) << " (" << test->size() << " series)\n";
  std::cout << "model written to " << model_out << "\n";
  if (a.has("json")) js.write(a.str("json"));
  return 0;
}

int cmd_train(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << train_help;
    return 0;
  }
  const Args a("train", argv,
               {{"train"}, {"test"}, {"arch"}, {"epochs"}, {"batch"}, {"lr"}, {"seed"}, {"threads"},
                {"model-out"}, {"json"}, {"quiet", true}, {"distributed", true}});
  if (a.has("distributed")) {
#ifdef SALIENT_WITH_MPI
    // From here on an error on any rank stops the whole job (MPI_Abort) with a message naming
    // the rank, so no rank is left waiting in a collective.
    distributed::Mpi mpi;
    return mpi.run([&] { return train_run(a, mpi.collective<S>(), mpi.default_threads()); });
#else
    usage_fail("train: --distributed needs salient-classify built with MPI (install Open MPI with "
               "'bash scripts/setup.sh --mpi' and reconfigure; see docs/distributed.md)");
#endif
  }
  return train_run(a, Collective<S>{}, 0);
}

// ---- evaluate -----------------------------------------------------------------------------

int cmd_evaluate(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << evaluate_help;
    return 0;
  }
  const Args a("evaluate", argv, {{"model"}, {"test"}, {"json"}, {"threads"}});
  const std::string model_path = a.str("model"), test_path = a.str("test");
  if (a.has("json")) check_output_path(a.str("json"), "JSON");
  const int threads = int(a.integer("threads", 1, 0, 1024));
  Loaded m = load_model_file(model_path);
  auto d = read_data(test_path, "test");
  if (!d.labelled()) fail<IoError>(test_path, ": the file has no class labels; use 'predict' for unlabelled data");
  align_to_model(d, m, test_path);
  m.scaler.transform(d);
  EvaluateOptions eo;
  eo.threads = threads;
  const auto r = std::visit([&](auto& mod) { return evaluate(mod, d, eo); }, *m.model);
  std::cout << r.report();
  JsonObject js;
  js.num("accuracy", r.accuracy);
  js.num("balanced_accuracy", r.balanced_accuracy);
  js.num("macro_f1", r.macro_f1);
  js.integer("n", d.size());
  if (a.has("json")) js.write(a.str("json"));
  return 0;
}

// ---- predict ------------------------------------------------------------------------------

int cmd_predict(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << predict_help;
    return 0;
  }
  const Args a("predict", argv, {{"model"}, {"data"}, {"out"}, {"threads"}});
  const std::string model_path = a.str("model"), data_path = a.str("data"), out_path = a.str("out");
  check_output_path(out_path, "predictions");
  const int threads = int(a.integer("threads", 1, 0, 1024));
  Loaded m = load_model_file(model_path);
  auto d = read_data(data_path, "data");
  align_to_model(d, m, data_path);
  m.scaler.transform(d);
  EvaluateOptions eo;
  eo.threads = threads;
  const RowMatrix<S> p = std::visit([&](auto& mod) { return predict_proba(mod, d, eo); }, *m.model);
  auto os = open_out(out_path, "predictions");
  os << "series,predicted,probability";
  for (const auto& c : m.class_names) os << "," << csv_field(c);
  os << "\n";
  for (Index i = 0; i < p.rows(); ++i) {
    Index k;
    p.row(i).maxCoeff(&k);
    os << i << "," << csv_field(m.class_names[std::size_t(k)]) << "," << fmt(p(i, k));
    for (Index c = 0; c < p.cols(); ++c) os << "," << fmt(p(i, c));
    os << "\n";
  }
  if (!os.flush()) fail<IoError>(out_path, ": write failed");
  std::cout << "wrote " << p.rows() << " predictions to " << out_path << "\n";
  return 0;
}

// ---- explain ------------------------------------------------------------------------------

template <class L>
struct is_attention_pool : std::false_type {};
template <int F, class T>
struct is_attention_pool<AttentionPool<F, T>> : std::true_type {};

template <class Model>
constexpr bool has_attention() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return (is_attention_pool<typename Model::template layer_type<I>>::value || ...);
  }(std::make_index_sequence<Model::num_layers>{});
}

int cmd_explain(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << explain_help;
    return 0;
  }
  const Args a("explain", argv,
               {{"model"}, {"data"}, {"method"}, {"target"}, {"out"}, {"steps"}, {"samples"}, {"noise"},
                {"window"}, {"seed"}});
  const std::string model_path = a.str("model"), data_path = a.str("data"), out_path = a.str("out");
  const std::string method = a.str("method"), target_s = a.str("target", "predicted");
  check_output_path(out_path, "attributions");
  static const std::set<std::string> methods{"saliency",   "grad-x-input", "integrated-gradients",
                                             "smoothgrad", "occlusion",    "attention"};
  if (!methods.count(method))
    usage_fail("explain: unknown method '", method,
               "' (known: saliency, grad-x-input, integrated-gradients, smoothgrad, occlusion, attention)");
  const Index steps = Index(a.integer("steps", 32, 1, 4096));
  const Index samples = Index(a.integer("samples", 32, 1, 4096));
  const double noise = a.real("noise", 0.15, 0.0, 10.0);
  const auto seed = std::uint64_t(a.integer("seed", 0, 0, (1LL << 62)));

  Loaded m = load_model_file(model_path);
  auto d = read_data(data_path, "data");
  align_to_model(d, m, data_path);
  m.scaler.transform(d);

  explain::Target target = explain::Target::predicted();
  if (target_s == "true") {
    if (!d.labelled()) fail<IoError>(data_path, ": --target true needs a labelled file");
    target = explain::Target::per_sample(d.labels);
  } else if (target_s != "predicted") {
    const auto it = std::find(m.class_names.begin(), m.class_names.end(), target_s);
    if (it == m.class_names.end()) {
      std::string known;
      for (const auto& c : m.class_names) known += (known.empty() ? "" : ", ") + c;
      usage_fail("explain: --target '", target_s, "' is not predicted, true or a class of the model (", known, ")");
    }
    target = explain::Target::index(Index(it - m.class_names.begin()));
  }
  const Index window = Index(a.integer("window", std::max<Index>(1, d.min_length() / 20), 1, 1 << 20));

  std::vector<Index> all(std::size_t(d.size()));
  std::iota(all.begin(), all.end(), Index(0));
  const auto batch = data::make_batch(d, all);
  const SeqBatch<S>& x = batch.x;

  const auto attr = std::visit(
      [&](auto& mod) -> explain::Attribution<S> {
        using M = std::remove_cvref_t<decltype(mod)>;
        if (method == "saliency") return explain::saliency(mod, x, target);
        if (method == "grad-x-input") return explain::gradient_x_input(mod, x, target);
        if (method == "integrated-gradients") {
          explain::IntegratedGradientsOptions<S> o;
          o.steps = steps;
          o.completeness = false;
          return explain::integrated_gradients(mod, x, target, o);
        }
        if (method == "smoothgrad") {
          explain::SmoothGradOptions o;
          o.samples = samples;
          o.noise = noise;
          o.seed = seed;
          return explain::smoothgrad(mod, x, target, o);
        }
        if (method == "occlusion") {
          explain::OcclusionOptions<S> o;
          o.window = window;
          o.stride = window;
          return explain::occlusion(mod, x, target, o);
        }
        if constexpr (has_attention<M>()) {
          return explain::attention_attribution(mod, x);
        } else {
          fail<ArgumentError>("explain: --method attention needs a model with an attention layer (arch ",
                              "conv-lstm-attn); this model is '", m.meta.arch, "'");
        }
      },
      *m.model);

  auto os = open_out(out_path, "attributions");
  os << "series,time,channel,attribution\n";
  std::string line;
  for (Index b = 0; b < x.batch(); ++b)
    for (Index t = 0; t < x.length(b); ++t)
      for (Index f = 0; f < x.features(); ++f) {
        line.clear();
        line += std::to_string(b);
        line += ',';
        line += std::to_string(t);
        line += ',';
        line += std::to_string(f);
        line += ',';
        line += fmt(double(attr.values(t, b, f)));
        line += '\n';
        os << line;
      }
  if (!os.flush()) fail<IoError>(out_path, ": write failed");
  std::cout << "wrote the " << method << " attributions of " << x.batch() << " series to " << out_path << " ("
            << fmt(attr.cost.seconds) << " s)\n";
  return 0;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "salient-classify: error: no command given (train, evaluate, predict, explain; see salient-classify --help)\n";
    return 2;
  }
  const std::string cmd = args.front();
  args.erase(args.begin());
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << main_help;
      return 0;
    }
    if (cmd == "train") return cmd_train(args);
    if (cmd == "evaluate") return cmd_evaluate(args);
    if (cmd == "predict") return cmd_predict(args);
    if (cmd == "explain") return cmd_explain(args);
    usage_fail("unknown command '", cmd, "' (train, evaluate, predict, explain; see salient-classify --help)");
  } catch (const UsageError& e) {
    std::cerr << "salient-classify: error: " << one_line(e.what()) << "\n";
    return 2;
  } catch (const salient::Error& e) {
    std::cerr << "salient-classify: error: " << one_line(e.what()) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "salient-classify: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "salient-classify: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}
