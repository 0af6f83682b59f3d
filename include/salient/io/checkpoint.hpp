// salient/io/checkpoint.hpp — versioned, checksummed binary model files (save / load / resume).
//
// Layout (all integers and floats little-endian; see docs/training.md for the full table):
//   0   8  magic "SALIENT\0"
//   8   4  u32 format version (1)
//   12  4  u32 reserved (0)
//   16  8  u64 total file size in bytes, checksum included
//   24  4  u32 number of sections
//   28  …  sections, each: u32 tag (4 ASCII chars) | u64 payload length | payload
//   end 4  u32 CRC-32 (IEEE 802.3, as zlib) of every byte before it
// Sections (each at most once; ARCH and PARM required; an unknown tag is an error):
//   ARCH  u32 scalar bytes (4 = f32, 8 = f64) | u64 parameter count | u32 n | n bytes signature
//   CLSN  u32 K | K × (u32 n | n bytes)                        class names
//   SCAL  raw bytes                                             scaler state (Scaler::save output)
//   XTRA  raw bytes                                             extra non-trainable state
//   PARM  u64 n | n × scalar                                    the flat parameter buffer
//   OPTM  u32 n | n bytes name | i64 steps | u32 V | V × (u64 n | n × scalar)   optimizer state
//   PROG  u64 epoch | u64 seed | u32 n | n × f64 trainer state | u64 m | m × scalar best params
//
// Loading never trusts a length: the whole file is read (capped at max_checkpoint_bytes), the
// magic, version, declared size and checksum are verified before any section is parsed, and
// every length is checked against the bytes that remain before anything is allocated. Every
// failure is an IoError whose message starts with the file name.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace salient::io {

inline constexpr char checkpoint_magic[8] = {'S', 'A', 'L', 'I', 'E', 'N', 'T', '\0'};
inline constexpr std::uint32_t checkpoint_version = 1;
inline constexpr std::size_t checkpoint_header_bytes = 28;
/// Largest file load_checkpoint() accepts (16 GiB).
inline constexpr std::uint64_t max_checkpoint_bytes = std::uint64_t(1) << 34;

/// CRC-32 (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF; zlib's crc32).
inline std::uint32_t crc32(std::span<const unsigned char> data, std::uint32_t crc = 0) {
  static constexpr auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

/// Optimizer state for resuming: its name, step count and state vectors (optimizer.hpp order).
template <class S>
struct OptimizerState {
  std::string name;
  std::int64_t steps = 0;
  std::vector<Vector<S>> vectors;
};

/// Training progress for resuming: epochs completed, the shuffling seed, the trainer's own
/// numbers (schedule and early-stopping state) and, if any, the best weights so far.
template <class S>
struct TrainingProgress {
  std::uint64_t epoch = 0;
  std::uint64_t seed = 0;
  std::vector<double> trainer_state;
  Vector<S> best_params;
};

/// Everything a checkpoint holds. `architecture` and `num_params` identify the model.
template <class S>
struct Checkpoint {
  std::string architecture;
  Index num_params = 0;
  std::vector<std::string> class_names;
  std::string scaler_state;  ///< bytes written by MinMaxScaler/StandardScaler::save (empty = none)
  std::string extra_state;   ///< any non-trainable state (e.g. BatchNorm running statistics)
  Vector<S> params;
  std::optional<OptimizerState<S>> optimizer;
  std::optional<TrainingProgress<S>> progress;
};

namespace detail {

constexpr std::uint32_t tag(const char (&s)[5]) {
  return std::uint32_t(std::uint8_t(s[0])) | std::uint32_t(std::uint8_t(s[1])) << 8 |
         std::uint32_t(std::uint8_t(s[2])) << 16 | std::uint32_t(std::uint8_t(s[3])) << 24;
}
inline constexpr std::uint32_t tag_arch = tag("ARCH"), tag_clsn = tag("CLSN"), tag_scal = tag("SCAL"),
                               tag_xtra = tag("XTRA"), tag_parm = tag("PARM"), tag_optm = tag("OPTM"),
                               tag_prog = tag("PROG");

inline std::string tag_name(std::uint32_t t) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = char((t >> (8 * i)) & 0xff);
    s += (c >= 32 && c < 127) ? c : '?';
  }
  return s;
}

template <class S>
constexpr const char* scalar_name() {
  return sizeof(S) == 4 ? "f32" : "f64";
}

class Writer {
 public:
  std::vector<unsigned char> buf;
  void bytes(const void* p, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    buf.insert(buf.end(), c, c + n);
  }
  template <class U>
  void le(U v) {  // unsigned integer, little-endian
    for (std::size_t i = 0; i < sizeof(U); ++i) buf.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xff));
  }
  void u32(std::uint32_t v) { le(v); }
  void u64(std::uint64_t v) { le(v); }
  void f64(double v) { le(std::bit_cast<std::uint64_t>(v)); }
  template <class S>
  void scalar(S v) {
    if constexpr (sizeof(S) == 4) le(std::bit_cast<std::uint32_t>(v));
    else le(std::bit_cast<std::uint64_t>(v));
  }
  void str32(const std::string& s) {
    u32(std::uint32_t(s.size()));
    bytes(s.data(), s.size());
  }
  template <class S>
  void scalars(const S* p, Index n) {
    for (Index i = 0; i < n; ++i) scalar(p[i]);
  }
  /// Begin a section: returns the offset of its length field, patched by end_section().
  std::size_t begin_section(std::uint32_t t) {
    u32(t);
    const std::size_t at = buf.size();
    u64(0);
    return at;
  }
  void end_section(std::size_t at) {
    const std::uint64_t len = buf.size() - at - 8;
    for (int i = 0; i < 8; ++i) buf[at + std::size_t(i)] = static_cast<unsigned char>((len >> (8 * i)) & 0xff);
  }
};

/// Bounds-checked little-endian reader over a byte span; every failure names the file.
class Reader {
 public:
  Reader(std::span<const unsigned char> d, const std::string& file, const char* where)
      : d_(d), file_(file), where_(where) {}

  std::size_t remaining() const { return d_.size() - pos_; }
  bool done() const { return pos_ == d_.size(); }

  [[noreturn]] void corrupt(const std::string& what) const {
    fail<IoError>(file_, ": corrupt checkpoint: ", where_, ": ", what);
  }
  void need(std::uint64_t n, const char* what) const {
    if (n > remaining())
      corrupt(salient::detail::concat(what, " needs ", n, " bytes but only ", remaining(), " remain"));
  }
  template <class U>
  U le(const char* what) {
    need(sizeof(U), what);
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) v |= U(d_[pos_ + i]) << (8 * i);
    pos_ += sizeof(U);
    return v;
  }
  std::uint32_t u32(const char* what) { return le<std::uint32_t>(what); }
  std::uint64_t u64(const char* what) { return le<std::uint64_t>(what); }
  double f64(const char* what) { return std::bit_cast<double>(le<std::uint64_t>(what)); }
  std::span<const unsigned char> take(std::uint64_t n, const char* what) {
    need(n, what);
    auto s = d_.subspan(pos_, std::size_t(n));
    pos_ += std::size_t(n);
    return s;
  }
  std::string str32(const char* what, std::uint32_t cap) {
    const std::uint32_t n = u32(what);
    if (n > cap) corrupt(salient::detail::concat(what, " has length ", n, ", above the limit of ", cap));
    const auto s = take(n, what);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }
  /// n scalars of `bytes` bytes each (4 or 8) into a Vector<S> (n checked before allocating).
  template <class S>
  Vector<S> scalars(std::uint64_t n, const char* what) {
    if (n > remaining() / sizeof(S))
      corrupt(salient::detail::concat(what, ": ", n, " values need ", n, " x ", sizeof(S), " bytes but only ",
                             remaining(), " remain"));
    Vector<S> v(static_cast<Index>(n));
    for (Index i = 0; i < v.size(); ++i) {
      if constexpr (sizeof(S) == 4) v[i] = std::bit_cast<S>(le<std::uint32_t>(what));
      else v[i] = std::bit_cast<S>(le<std::uint64_t>(what));
    }
    return v;
  }
  void expect_end() const {
    if (!done()) corrupt(salient::detail::concat(remaining(), " unexpected trailing bytes"));
  }

 private:
  std::span<const unsigned char> d_;
  std::size_t pos_ = 0;
  const std::string& file_;
  const char* where_;
};

inline constexpr std::uint32_t max_string_bytes = 1u << 20;    // signatures, names
inline constexpr std::uint32_t max_class_count = 1u << 20;
inline constexpr std::uint32_t max_optimizer_vectors = 64;
inline constexpr std::uint32_t max_trainer_state = 1u << 16;

}  // namespace detail

/// The bytes of a checkpoint file (what write_checkpoint() writes).
template <class S>
std::vector<unsigned char> serialize_checkpoint(const Checkpoint<S>& c) {
  static_assert(sizeof(S) == 4 || sizeof(S) == 8, "checkpoints hold f32 or f64 parameters");
  require_arg(c.params.size() == c.num_params, "serialize_checkpoint: ", c.params.size(),
              " parameters given, the architecture has ", c.num_params);
  detail::Writer w;
  w.bytes(checkpoint_magic, 8);
  w.u32(checkpoint_version);
  w.u32(0);
  w.u64(0);  // total size, patched below
  std::uint32_t sections = 0;
  const std::size_t count_at = w.buf.size();
  w.u32(0);  // section count, patched below

  auto at = w.begin_section(detail::tag_arch);
  w.u32(std::uint32_t(sizeof(S)));
  w.u64(std::uint64_t(c.num_params));
  w.str32(c.architecture);
  w.end_section(at);
  ++sections;

  if (!c.class_names.empty()) {
    at = w.begin_section(detail::tag_clsn);
    w.u32(std::uint32_t(c.class_names.size()));
    for (const auto& n : c.class_names) w.str32(n);
    w.end_section(at);
    ++sections;
  }
  if (!c.scaler_state.empty()) {
    at = w.begin_section(detail::tag_scal);
    w.bytes(c.scaler_state.data(), c.scaler_state.size());
    w.end_section(at);
    ++sections;
  }
  if (!c.extra_state.empty()) {
    at = w.begin_section(detail::tag_xtra);
    w.bytes(c.extra_state.data(), c.extra_state.size());
    w.end_section(at);
    ++sections;
  }
  at = w.begin_section(detail::tag_parm);
  w.u64(std::uint64_t(c.params.size()));
  w.scalars(c.params.data(), c.params.size());
  w.end_section(at);
  ++sections;

  if (c.optimizer) {
    at = w.begin_section(detail::tag_optm);
    w.str32(c.optimizer->name);
    w.u64(std::uint64_t(c.optimizer->steps));
    w.u32(std::uint32_t(c.optimizer->vectors.size()));
    for (const auto& v : c.optimizer->vectors) {
      w.u64(std::uint64_t(v.size()));
      w.scalars(v.data(), v.size());
    }
    w.end_section(at);
    ++sections;
  }
  if (c.progress) {
    at = w.begin_section(detail::tag_prog);
    w.u64(c.progress->epoch);
    w.u64(c.progress->seed);
    w.u32(std::uint32_t(c.progress->trainer_state.size()));
    for (double v : c.progress->trainer_state) w.f64(v);
    w.u64(std::uint64_t(c.progress->best_params.size()));
    w.scalars(c.progress->best_params.data(), c.progress->best_params.size());
    w.end_section(at);
    ++sections;
  }
  for (int i = 0; i < 4; ++i) w.buf[count_at + std::size_t(i)] = static_cast<unsigned char>((sections >> (8 * i)) & 0xff);
  const std::uint64_t total = w.buf.size() + 4;
  for (int i = 0; i < 8; ++i) w.buf[16 + std::size_t(i)] = static_cast<unsigned char>((total >> (8 * i)) & 0xff);
  w.u32(crc32(w.buf));
  return std::move(w.buf);
}

/// Parse checkpoint bytes; `file` names the source in every error message. With
/// verify_checksum = false the CRC is not compared (for fuzzing the section parser only).
template <class S>
Checkpoint<S> parse_checkpoint(std::span<const unsigned char> bytes, const std::string& file,
                               bool verify_checksum = true) {
  using detail::Reader;
  const std::size_t n = bytes.size();
  if (n < 8 || std::memcmp(bytes.data(), checkpoint_magic, 8) != 0)
    fail<IoError>(file, ": not a salient checkpoint (the file does not start with \"SALIENT\\0\")");
  if (n < checkpoint_header_bytes + 4)
    fail<IoError>(file, ": truncated checkpoint: ", n, " bytes, shorter than the ",
                  checkpoint_header_bytes + 4, "-byte minimum");
  Reader head(bytes.first(checkpoint_header_bytes), file, "header");
  head.take(8, "magic");
  const std::uint32_t version = head.u32("version");
  if (version == 0) fail<IoError>(file, ": corrupt checkpoint: format version 0 is invalid");
  if (version > checkpoint_version)
    fail<IoError>(file, ": checkpoint format version ", version, " is newer than this build of salient reads (",
                  checkpoint_version, "); upgrade salient to load it");
  head.u32("reserved");
  const std::uint64_t total = head.u64("file size");
  const std::uint32_t nsections = head.u32("section count");
  if (total > n)
    fail<IoError>(file, ": truncated checkpoint: ", n, " bytes, the header says ", total);
  if (total < n)
    fail<IoError>(file, ": corrupt checkpoint: ", n, " bytes, the header says ", total,
                  " (extra bytes at the end)");
  const std::uint32_t stored = std::uint32_t(bytes[n - 4]) | std::uint32_t(bytes[n - 3]) << 8 |
                               std::uint32_t(bytes[n - 2]) << 16 | std::uint32_t(bytes[n - 1]) << 24;
  const std::uint32_t computed = crc32(bytes.first(n - 4));
  if (verify_checksum && stored != computed) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "stored %08x, computed %08x", stored, computed);
    fail<IoError>(file, ": checksum mismatch (", buf, "): the file is corrupt");
  }

  Checkpoint<S> c;
  bool have_arch = false, have_params = false;
  std::uint32_t seen = 0;  // bit per known section
  Reader body(bytes.subspan(checkpoint_header_bytes, n - 4 - checkpoint_header_bytes), file, "sections");
  std::uint64_t file_scalar = 0;
  for (std::uint32_t s = 0; s < nsections; ++s) {
    const std::uint32_t t = body.u32("section tag");
    const std::uint64_t len = body.u64("section length");
    const auto payload = body.take(len, "section payload");
    const std::string where = "section " + detail::tag_name(t);
    Reader r(payload, file, where.c_str());
    int bit = -1;
    if (t == detail::tag_arch) {
      bit = 0;
      file_scalar = r.u32("scalar size");
      if (file_scalar != 4 && file_scalar != 8) r.corrupt(salient::detail::concat("scalar size ", file_scalar, " is not 4 or 8"));
      if (file_scalar != sizeof(S))
        fail<IoError>(file, ": the checkpoint holds ", file_scalar == 4 ? "f32" : "f64",
                      " parameters, the model uses ", detail::scalar_name<S>());
      const std::uint64_t np = r.u64("parameter count");
      if (np > (std::uint64_t(1) << 40)) r.corrupt(salient::detail::concat("implausible parameter count ", np));
      c.num_params = Index(np);
      c.architecture = r.str32("architecture signature", detail::max_string_bytes);
      have_arch = true;
    } else if (t == detail::tag_clsn) {
      bit = 1;
      const std::uint32_t k = r.u32("class count");
      if (k > detail::max_class_count || k > r.remaining() / 4)
        r.corrupt(salient::detail::concat("class count ", k, " does not fit the section"));
      c.class_names.reserve(k);
      for (std::uint32_t i = 0; i < k; ++i) c.class_names.push_back(r.str32("class name", detail::max_string_bytes));
    } else if (t == detail::tag_scal) {
      bit = 2;
      c.scaler_state.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
      r.take(payload.size(), "scaler state");
    } else if (t == detail::tag_xtra) {
      bit = 3;
      c.extra_state.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
      r.take(payload.size(), "extra state");
    } else if (t == detail::tag_parm) {
      bit = 4;
      if (!have_arch) r.corrupt("parameters come before the ARCH section");
      const std::uint64_t np = r.u64("parameter count");
      if (np != std::uint64_t(c.num_params))
        r.corrupt(salient::detail::concat(np, " parameters stored, the ARCH section says ", c.num_params));
      c.params = r.scalars<S>(np, "parameters");
      have_params = true;
    } else if (t == detail::tag_optm) {
      bit = 5;
      OptimizerState<S> o;
      o.name = r.str32("optimizer name", 256);
      o.steps = std::int64_t(r.u64("optimizer steps"));
      if (o.steps < 0) r.corrupt(salient::detail::concat("negative optimizer step count ", o.steps));
      const std::uint32_t nv = r.u32("optimizer vector count");
      if (nv > detail::max_optimizer_vectors) r.corrupt(salient::detail::concat(nv, " optimizer vectors, above the limit"));
      for (std::uint32_t i = 0; i < nv; ++i) o.vectors.push_back(r.scalars<S>(r.u64("vector length"), "optimizer vector"));
      c.optimizer = std::move(o);
    } else if (t == detail::tag_prog) {
      bit = 6;
      TrainingProgress<S> p;
      p.epoch = r.u64("epoch");
      p.seed = r.u64("seed");
      const std::uint32_t ns = r.u32("trainer state size");
      if (ns > detail::max_trainer_state || ns > r.remaining() / 8)
        r.corrupt(salient::detail::concat("trainer state size ", ns, " does not fit the section"));
      for (std::uint32_t i = 0; i < ns; ++i) p.trainer_state.push_back(r.f64("trainer state"));
      p.best_params = r.scalars<S>(r.u64("best parameter count"), "best parameters");
      c.progress = std::move(p);
    } else {
      body.corrupt(salient::detail::concat("unknown section tag '", detail::tag_name(t), "'"));
    }
    r.expect_end();
    if (seen & (1u << bit)) body.corrupt("section " + detail::tag_name(t) + " appears twice");
    seen |= 1u << bit;
  }
  body.expect_end();
  if (!have_arch) fail<IoError>(file, ": corrupt checkpoint: no ARCH section");
  if (!have_params) fail<IoError>(file, ": corrupt checkpoint: no PARM section");
  if (c.optimizer)
    for (const auto& v : c.optimizer->vectors)
      if (v.size() != 0 && v.size() != c.num_params)
        fail<IoError>(file, ": corrupt checkpoint: an optimizer vector has ", v.size(), " values for ",
                      c.num_params, " parameters");
  if (c.progress && c.progress->best_params.size() != 0 && c.progress->best_params.size() != c.num_params)
    fail<IoError>(file, ": corrupt checkpoint: ", c.progress->best_params.size(), " best parameters for ",
                  c.num_params, " parameters");
  return c;
}

/// Write a checkpoint atomically: to `path.tmp`, then renamed over `path`.
template <class S>
void write_checkpoint(const std::string& path, const Checkpoint<S>& c) {
  const auto bytes = serialize_checkpoint(c);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream os(tmp, std::ios::binary | std::ios::trunc);
    if (!os) fail<IoError>(path, ": cannot open '", tmp, "' for writing");
    os.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    os.flush();
    if (!os) fail<IoError>(path, ": write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail<IoError>(path, ": cannot rename the temporary file into place");
  }
}

/// Read and verify a checkpoint file (format only: no model involved).
template <class S>
Checkpoint<S> read_checkpoint(const std::string& path) {
  std::ifstream is(path, std::ios::binary | std::ios::ate);
  if (!is) fail<IoError>(path, ": cannot open the checkpoint for reading");
  const std::streamoff size = is.tellg();
  if (size < 0) fail<IoError>(path, ": cannot determine the file size");
  if (std::uint64_t(size) > max_checkpoint_bytes)
    fail<IoError>(path, ": ", size, " bytes is larger than the ", max_checkpoint_bytes, "-byte limit for checkpoints");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  is.seekg(0);
  is.read(reinterpret_cast<char*>(bytes.data()), size);
  if (is.gcount() != size) fail<IoError>(path, ": read failed");
  return parse_checkpoint<S>(bytes, path);
}

// ---- model-level helpers ----------------------------------------------------------------

/// The architecture signature stored in checkpoints: model.name() (layer types and sizes).
template <class Model>
std::string architecture_of(const Model& model) {
  return model.name();
}

/// Snapshot of an optimizer (SGD / Adam / AdamW or anything with name, steps and state()).
template <class Opt>
auto optimizer_state(Opt& opt) {
  using V = std::remove_pointer_t<typename decltype(opt.state())::value_type>;
  OptimizerState<typename V::Scalar> s;
  s.name = Opt::name;
  s.steps = std::int64_t(opt.steps);
  for (auto* v : opt.state()) s.vectors.push_back(*v);
  return s;
}

/// Put a snapshot back into an optimizer; IoError (naming `file`) if it belongs to another
/// optimizer or another model size.
template <class Opt, class S>
void restore_optimizer(Opt& opt, const OptimizerState<S>& s, Index num_params, const std::string& file) {
  if (s.name != Opt::name)
    fail<IoError>(file, ": the checkpoint holds ", s.name, " state, training uses ", Opt::name);
  auto dst = opt.state();
  if (dst.size() != s.vectors.size())
    fail<IoError>(file, ": ", s.name, " state has ", s.vectors.size(), " vectors, expected ", dst.size());
  for (std::size_t i = 0; i < dst.size(); ++i) {
    if (s.vectors[i].size() != 0 && s.vectors[i].size() != num_params)
      fail<IoError>(file, ": optimizer vector ", i, " has ", s.vectors[i].size(), " values for ", num_params,
                    " parameters");
    *dst[i] = s.vectors[i];
  }
  opt.steps = s.steps;
}

/// What save_model() stores beside the parameters.
template <class S>
struct SaveOptions {
  std::vector<std::string> class_names{};
  std::string scaler_state{};  ///< e.g. from an std::ostringstream passed to scaler.save()
  std::string extra_state{};
  std::optional<OptimizerState<S>> optimizer{};
  std::optional<TrainingProgress<S>> progress{};
};

/// The checkpoint of a model (parameters and signature) plus the given extras.
template <class Model, class S = typename Model::scalar_type>
Checkpoint<S> make_checkpoint(const Model& model, SaveOptions<S> extra = {}) {
  Checkpoint<S> c;
  c.architecture = architecture_of(model);
  c.num_params = model.num_params();
  c.params = model.params();
  c.class_names = std::move(extra.class_names);
  c.scaler_state = std::move(extra.scaler_state);
  c.extra_state = std::move(extra.extra_state);
  c.optimizer = std::move(extra.optimizer);
  c.progress = std::move(extra.progress);
  return c;
}

/// Save a model (and extras) to `path`.
template <class Model, class S = typename Model::scalar_type>
void save_model(const std::string& path, const Model& model, SaveOptions<S> extra = {}) {
  write_checkpoint(path, make_checkpoint(model, std::move(extra)));
}

/// Check that a checkpoint fits a model (same signature and parameter count) and copy its
/// parameters into it. IoError naming `file` and both architectures otherwise, and IoError for
/// a NaN or Inf parameter (the model is then left unchanged): a checksum only proves the file
/// is the one that was written, and a model with a non-finite weight would give non-finite or
/// meaningless outputs for every input.
template <class Model, class S = typename Model::scalar_type>
void apply_checkpoint(const Checkpoint<S>& c, Model& model, const std::string& file) {
  const std::string arch = architecture_of(model);
  if (c.architecture != arch || c.num_params != model.num_params())
    fail<IoError>(file, ": architecture mismatch: the checkpoint holds '", c.architecture, "' (", c.num_params,
                  " parameters), the model is '", arch, "' (", model.num_params(), " parameters)");
  for (Index i = 0; i < c.params.size(); ++i)
    if (!std::isfinite(c.params[i]))
      fail<IoError>(file, ": parameter ", i, " of ", c.params.size(), " is ", c.params[i],
                    "; refusing to load non-finite weights");
  model.params() = c.params;
}

/// Load `path` into `model` (which must have the same architecture); returns the whole
/// checkpoint for the class names, scaler state, optimizer state and progress.
template <class Model, class S = typename Model::scalar_type>
Checkpoint<S> load_model(const std::string& path, Model& model) {
  auto c = read_checkpoint<S>(path);
  apply_checkpoint(c, model, path);
  return c;
}

}  // namespace salient::io
