// salient fuzz harnesses: the body of every libFuzzer target, shared with the regression test
// (tests/test_reliability_regressions.cpp replays the files under tests/regressions/ through
// the same functions). Each function feeds one input to a reader and returns normally when the
// reader either accepts it (and what it returns satisfies every invariant) or throws a
// salient::Error. Any other exception escapes; a crash, a sanitizer report or a leak is a bug.
//
//   ts_reader   io::read_ts under every MissingPolicy, then validate() and write_ts
//   npy_reader  io::read_npy_bytes, then dataset_from_arrays as values, labels and lengths
//   csv_reader  io::read_csv / read_csv_labels (option bytes first, see csv_options)
//   checkpoint  io::parse_checkpoint, apply_checkpoint to two models, one forward pass
//               (mode byte first, see checkpoint)
#pragma once

#include <salient/io/checkpoint.hpp>
#include <salient/io/csv.hpp>
#include <salient/io/npy.hpp>
#include <salient/io/ts_reader.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/lstm.hpp>
#include <salient/model/sequential.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace salient::fuzz {

/// .ts text: any input must load a valid Dataset or throw salient::Error.
inline void ts_reader(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using salient::data::MissingPolicy;
  for (MissingPolicy p : {MissingPolicy::keep_nan, MissingPolicy::impute_series_mean, MissingPolicy::error}) {
    std::istringstream in(text);
    try {
      const auto d = salient::io::read_ts<float>(in, "fuzz.ts", {p});
      d.validate();  // whatever loads must satisfy every Dataset invariant
      if (!d.labelled() || d.empty()) continue;
      std::ostringstream out;  // and must be writable again
      salient::io::write_ts(out, d);
    } catch (const salient::Error&) {
    }
  }
}

/// .npy bytes: header validation, xtensor decoding, and building a Dataset from the array as
/// values, labels or lengths (xtensor's std::runtime_error must come back as IoError).
inline void npy_reader(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  salient::io::NpyArray a;
  try {
    a = salient::io::read_npy_bytes(bytes, "fuzz.npy");
  } catch (const salient::Error&) {
    return;
  }
  try {
    const auto d = salient::io::dataset_from_arrays<float>(a, nullptr, nullptr);
    d.validate();
  } catch (const salient::Error&) {
  }
  // The same array as labels / lengths of a small fixed data set.
  if (a.ndim() >= 1 && a.shape[0] >= 1 && a.shape[0] <= 64) {
    salient::io::NpyArray v;
    v.shape = {a.shape[0], 4, 2};
    v.values.assign(a.shape[0] * 8, 1.0);
    try {
      (void)salient::io::dataset_from_arrays<float>(v, &a, nullptr);
    } catch (const salient::Error&) {
    }
    try {
      (void)salient::io::dataset_from_arrays<float>(v, nullptr, &a);
    } catch (const salient::Error&) {
    }
  }
}

/// Reader options from the first two input bytes:
///   byte 0: bits 0-1 channels - 1 (1..4), bits 2-3 label column (none / first / last / none),
///           bit 4 time-major layout, bit 5 header line, bits 6-7 missing-value policy
///   byte 1: bits 0-1 delimiter (',' ';' tab ' '), bit 2 fixed class names {"1","2","a"},
///           bit 3 split the text at its first NUL byte: values before it, a labels file after
///           it (read_csv_labels)
inline salient::io::CsvReadOptions csv_options(std::uint8_t b0, std::uint8_t b1) {
  using namespace salient::io;
  CsvReadOptions o;
  o.channels = 1 + (b0 & 3);
  const LabelColumn cols[] = {LabelColumn::none, LabelColumn::first, LabelColumn::last, LabelColumn::none};
  o.label_column = cols[(b0 >> 2) & 3];
  o.layout = (b0 & 16) ? CsvLayout::time_major : CsvLayout::channel_major;
  o.header = (b0 & 32) != 0;
  const salient::data::MissingPolicy pol[] = {salient::data::MissingPolicy::keep_nan,
                                              salient::data::MissingPolicy::impute_series_mean,
                                              salient::data::MissingPolicy::error,
                                              salient::data::MissingPolicy::keep_nan};
  o.missing = pol[(b0 >> 6) & 3];
  const char delims[] = {',', ';', '\t', ' '};
  o.delimiter = delims[b1 & 3];
  if (b1 & 4) o.class_names = {"1", "2", "a"};
  return o;
}

/// CSV: two option bytes (csv_options), then the text.
inline void csv_reader(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return;
  auto opt = csv_options(data[0], data[1]);
  const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string values = text, labels;
  const bool split = (data[1] & 8) != 0;
  if (split) {
    const auto nul = text.find('\0');
    if (nul != std::string::npos) {
      values = text.substr(0, nul);
      labels = text.substr(nul + 1);
    }
    opt.label_column = salient::io::LabelColumn::none;
  }
  try {
    std::istringstream in(values);
    auto d = salient::io::read_csv<float>(in, "fuzz.csv", opt);
    d.validate();
    if (split) {
      std::istringstream lin(labels);
      salient::io::read_csv_labels(d, lin, "fuzz_labels.csv", opt);
      d.validate();
    }
    std::ostringstream out;  // whatever loads must be writable again
    salient::io::write_csv(out, d.series, opt.layout);
  } catch (const salient::Error&) {
  }
}

namespace detail {
template <class S>
void checkpoint_load(const std::vector<unsigned char>& bytes) {
  try {
    const auto c = salient::io::parse_checkpoint<S>(bytes, "fuzz-input");
    // Also exercise the model-side checks on what parsed.
    salient::Sequential<salient::Dense<2, 3, S>> model;
    try {
      salient::io::apply_checkpoint(c, model, "fuzz-input");
      salient::RowMatrix<S> x = salient::RowMatrix<S>::Ones(2, 2);
      (void)model.forward(x);
    } catch (const salient::IoError&) {
    }
    salient::Sequential<salient::LSTM<1, 6, salient::LastState, S>, salient::Dense<6, 2, S>> lstm;
    try {
      salient::io::apply_checkpoint(c, lstm, "fuzz-input");
      salient::SeqBatch<S> x(5, 2, 1);
      x.lengths = {5, 3};
      (void)lstm.forward(x);
    } catch (const salient::IoError&) {
    }
  } catch (const salient::IoError&) {
  }
}
}  // namespace detail

/// Checkpoint bytes after one mode byte: bit 0 set = rewrite the declared size and the CRC so
/// they are right (mutations then reach the section parser), bit 1 set = f64 parameters. The
/// loader may only throw IoError.
inline void checkpoint(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  const std::uint8_t mode = data[0];
  std::vector<unsigned char> b(data + 1, data + size);
  if ((mode & 1) && b.size() >= salient::io::checkpoint_header_bytes + 4) {
    const std::uint64_t n = b.size();
    for (int i = 0; i < 8; ++i) b[16 + std::size_t(i)] = static_cast<unsigned char>(n >> (8 * i));
    const std::uint32_t crc = salient::io::crc32(std::span<const unsigned char>(b.data(), b.size() - 4));
    for (int i = 0; i < 4; ++i) b[b.size() - 4 + std::size_t(i)] = static_cast<unsigned char>(crc >> (8 * i));
  }
  if (mode & 2) detail::checkpoint_load<double>(b);
  else detail::checkpoint_load<float>(b);
}

}  // namespace salient::fuzz
