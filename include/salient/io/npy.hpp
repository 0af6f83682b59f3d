// salient/io/npy.hpp — NumPy `.npy` arrays in and out (through xtensor), and data sets made of them.
//
// Reading: salient parses and checks the header itself first — magic, version (1.0, 2.0, 3.0),
// header length, the `descr` / `fortran_order` / `shape` dictionary in any key order, a simple
// little-endian or byte-sized dtype (f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1), and that the data size
// matches the shape exactly — so a truncated or malformed file gives an IoError naming the file
// and the problem instead of reaching xtensor's loader (which trusts the header). The checked
// array is then decoded with xt::load_npy and converted to double.
//
// Data sets: values are N × T × C (or N × T, one channel). Each series' length is either given by
// a lengths array (N integers in [1, T]) or, without one, T minus its trailing steps that are
// NaN on every channel ("NaN-padded tails"). Labels are N integers (multi-class) or an N × K 0/1
// matrix (multi-label). Multi-class labels that are all >= 0 are class indices (K = number of
// class names if given, else max + 1); otherwise the distinct values, sorted, become classes
// 0..K-1 named by their values ("-1", "1").
//
// Writing: per-series matrices (attributions, T_i × C each) become one N × T_max × C array with
// NaN after each series' end (so the reader recovers the lengths); matrices (predicted
// probabilities, N × K) and index vectors (predicted classes, int64) are written as they are.
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../data/dataset.hpp"

namespace salient::io {

/// A decoded .npy array: shape and values in C (row-major) order, converted to double.
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<double> values;
  std::string dtype;  ///< as in the file, e.g. "<f4"

  std::size_t ndim() const { return shape.size(); }
  std::size_t size() const { return values.size(); }
};

/// The parts of a .npy header salient needs.
struct NpyHeader {
  char kind = 'f';   ///< 'f', 'i', 'u' or 'b'
  int itemsize = 8;  ///< bytes per value
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;  ///< where the values start
  std::size_t count = 1;        ///< product of the shape
  std::string descr;
};

namespace detail {

inline constexpr std::size_t npy_max_ndim = 32;

/// Parse and check the header of the .npy bytes in `b`. `name` is used in error messages.
inline NpyHeader parse_npy_header(const std::string& b, const std::string& name) {
  const auto bad = [&](auto&&... what) -> void { fail<IoError>(name, ": ", what...); };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0)
    bad("not a .npy file: expected the magic bytes \\x93NUMPY at the start");
  const unsigned major = static_cast<unsigned char>(b[6]), minor = static_cast<unsigned char>(b[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    bad("unsupported .npy format version ", major, ".", minor, " (expected 1.0, 2.0 or 3.0)");
  std::size_t len = 0, start = 0;
  const auto byte = [&](std::size_t i) { return std::size_t(static_cast<unsigned char>(b[i])); };
  if (major == 1) {
    len = byte(8) | (byte(9) << 8);
    start = 10;
  } else {
    if (b.size() < 12) bad("truncated .npy header: expected a 4-byte header length");
    len = byte(8) | (byte(9) << 8) | (byte(10) << 16) | (byte(11) << 24);
    start = 12;
  }
  if (len > b.size() - start)
    bad("truncated .npy header: header length is ", len, " bytes but only ", b.size() - start,
        " follow");
  const std::string h = b.substr(start, len);
  NpyHeader out;
  out.data_offset = start + len;

  // A tiny parser for the Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
  std::size_t p = 0;
  const auto ws = [&] {
    while (p < h.size() && (h[p] == ' ' || h[p] == '\t' || h[p] == '\n' || h[p] == '\r')) ++p;
  };
  const auto expect = [&](char c, const char* what) {
    ws();
    if (p >= h.size() || h[p] != c) bad("malformed .npy header: expected ", what, " at offset ", p);
    ++p;
  };
  const auto quoted = [&]() -> std::string {
    ws();
    if (p >= h.size() || (h[p] != '\'' && h[p] != '"'))
      bad("malformed .npy header: expected a quoted string at offset ", p);
    const char q = h[p++];
    const std::size_t e = h.find(q, p);
    if (e == std::string::npos) bad("malformed .npy header: unterminated string");
    std::string s = h.substr(p, e - p);
    p = e + 1;
    return s;
  };
  bool have_descr = false, have_order = false, have_shape = false;
  expect('{', "'{'");
  for (;;) {
    ws();
    if (p < h.size() && h[p] == '}') {
      ++p;
      break;
    }
    const std::string key = quoted();
    expect(':', "':'");
    ws();
    if (key == "descr") {
      if (p < h.size() && h[p] == '[') bad("structured dtypes are not supported; expected a numeric dtype");
      out.descr = quoted();
      have_descr = true;
    } else if (key == "fortran_order") {
      if (h.compare(p, 4, "True") == 0) {
        out.fortran_order = true;
        p += 4;
      } else if (h.compare(p, 5, "False") == 0) {
        out.fortran_order = false;
        p += 5;
      } else {
        bad("malformed .npy header: expected True or False for 'fortran_order'");
      }
      have_order = true;
    } else if (key == "shape") {
      expect('(', "'(' opening the shape");
      for (;;) {
        ws();
        if (p < h.size() && h[p] == ')') {
          ++p;
          break;
        }
        std::size_t v = 0, digits = 0;
        while (p < h.size() && h[p] >= '0' && h[p] <= '9') {
          if (++digits > 15) bad("malformed .npy header: shape dimension too large");
          v = v * 10 + std::size_t(h[p++] - '0');
        }
        if (p < h.size() && h[p] == 'L') ++p;  // Python 2 long suffix
        if (digits == 0) bad("malformed .npy header: expected a non-negative integer in 'shape'");
        if (out.shape.size() >= npy_max_ndim) bad("malformed .npy header: more than ", npy_max_ndim, " dimensions");
        out.shape.push_back(v);
        ws();
        if (p < h.size() && h[p] == ',') {
          ++p;
          continue;
        }
        expect(')', "',' or ')' in 'shape'");
        break;
      }
      have_shape = true;
    } else {
      bad("malformed .npy header: unexpected key '", key, "'");
    }
    ws();
    if (p < h.size() && h[p] == ',') {
      ++p;
      continue;
    }
    expect('}', "',' or '}' in the header dictionary");
    break;
  }
  ws();
  if (p != h.size()) bad("malformed .npy header: unexpected text after the dictionary");
  if (!have_descr || !have_order || !have_shape)
    bad("malformed .npy header: expected the keys 'descr', 'fortran_order' and 'shape'");

  const std::string& d = out.descr;
  if (d.size() < 3 || std::string("<>|=").find(d[0]) == std::string::npos ||
      std::string("fiub").find(d[1]) == std::string::npos || d.size() > 4)
    bad("unsupported dtype '", d, "' (expected one of <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1)");
  out.kind = d[1];
  out.itemsize = 0;
  for (std::size_t i = 2; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9') bad("unsupported dtype '", d, "'");
    out.itemsize = out.itemsize * 10 + (d[i] - '0');
  }
  const bool ok = (out.kind == 'f' && (out.itemsize == 4 || out.itemsize == 8)) ||
                  ((out.kind == 'i' || out.kind == 'u') &&
                   (out.itemsize == 1 || out.itemsize == 2 || out.itemsize == 4 || out.itemsize == 8)) ||
                  (out.kind == 'b' && out.itemsize == 1);
  if (!ok) bad("unsupported dtype '", d, "' (expected one of <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1)");
  if (d[0] == '>' && out.itemsize > 1) bad("big-endian dtype '", d, "' is not supported; save it little-endian");

  out.count = 1;
  for (std::size_t v : out.shape) {
    if (v != 0 && out.count > (std::numeric_limits<std::size_t>::max() / 16) / v)
      bad("shape is too large");
    out.count *= v;
  }
  const std::size_t need = out.count * std::size_t(out.itemsize), have = b.size() - out.data_offset;
  if (have < need) bad("truncated .npy data: the shape needs ", need, " bytes, the file has ", have);
  if (have > need) bad("malformed .npy file: ", have - need, " unexpected bytes after the data");
  return out;
}

/// The header xtensor's loader reads reliably: version 1.0, canonical key order and dtype
/// spelling, and a length whose low byte is < 128 (its 1.0 reader sign-extends that byte).
inline std::string canonical_npy_header(const NpyHeader& h) {
  std::string dict = "{'descr': '";
  dict += (h.itemsize == 1 ? '|' : '<');
  dict += h.kind;
  dict += std::to_string(h.itemsize);
  dict += "', 'fortran_order': ";
  dict += h.fortran_order ? "True" : "False";
  dict += ", 'shape': (";
  for (std::size_t i = 0; i < h.shape.size(); ++i) {
    dict += std::to_string(h.shape[i]);
    if (h.shape.size() == 1)
      dict += ",";
    else if (i + 1 < h.shape.size())
      dict += ", ";
  }
  dict += "), }";
  std::size_t len = dict.size() + 1;
  while ((10 + len) % 64 != 0 || (len & 0x80) != 0) ++len;
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(len & 0xff);
  out += char((len >> 8) & 0xff);
  out += dict;
  out.append(len - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

template <class T>
void decode_npy(std::istream& in, NpyArray& out) {
  auto a = xt::load_npy<T>(in);
  out.values.resize(a.size());
  if (out.values.empty()) return;
  // Copy in C order whatever the file's order (xtensor's adaptor carries the strides).
  xt::xarray<double, xt::layout_type::row_major> r = xt::cast<double>(a);
  std::copy(r.begin(), r.end(), out.values.begin());
}

}  // namespace detail

/// Read a .npy array from memory-resident bytes; `name` is used in error messages.
inline NpyArray read_npy_bytes(const std::string& bytes, const std::string& name) {
  const NpyHeader h = detail::parse_npy_header(bytes, name);
  NpyArray out;
  out.shape = h.shape;
  out.dtype = h.descr;
  if (h.count == 0) return out;  // nothing to decode (xtensor would adapt a null buffer)
  // Booleans are decoded as bytes: a byte other than 0/1 read as `bool` is undefined behaviour.
  NpyHeader decode_as = h;
  if (h.kind == 'b') decode_as.kind = 'u';
  std::istringstream in(detail::canonical_npy_header(decode_as) + bytes.substr(h.data_offset));
  try {
    switch (h.kind) {
      case 'f':
        h.itemsize == 4 ? detail::decode_npy<float>(in, out) : detail::decode_npy<double>(in, out);
        break;
      case 'b':
        detail::decode_npy<unsigned char>(in, out);
        for (std::size_t i = 0; i < out.values.size(); ++i)
          if (out.values[i] != 0 && out.values[i] != 1)
            fail<IoError>(name, ": invalid boolean byte ", out.values[i], " at element ", i, " (expected 0 or 1)");
        break;
      case 'i':
        if (h.itemsize == 1) detail::decode_npy<signed char>(in, out);
        else if (h.itemsize == 2) detail::decode_npy<std::int16_t>(in, out);
        else if (h.itemsize == 4) detail::decode_npy<std::int32_t>(in, out);
        else detail::decode_npy<std::int64_t>(in, out);
        break;
      default:
        if (h.itemsize == 1) detail::decode_npy<unsigned char>(in, out);
        else if (h.itemsize == 2) detail::decode_npy<std::uint16_t>(in, out);
        else if (h.itemsize == 4) detail::decode_npy<std::uint32_t>(in, out);
        else detail::decode_npy<std::uint64_t>(in, out);
    }
  } catch (const salient::Error&) {
    throw;
  } catch (const std::exception& e) {  // xtensor reports problems as std::runtime_error
    fail<IoError>(name, ": cannot decode the .npy data: ", e.what());
  }
  if (out.values.size() != h.count) fail<IoError>(name, ": decoded ", out.values.size(), " values, expected ", h.count);
  return out;
}

/// Read a .npy array from a stream (read to the end).
inline NpyArray read_npy(std::istream& in, const std::string& name) {
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail<IoError>(name, ": read error");
  return read_npy_bytes(bytes, name);
}

/// Read a .npy file. Throws IoError if it cannot be opened or is malformed.
inline NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail<IoError>(path, ": cannot open file for reading: ", std::strerror(errno));
  return read_npy(in, path);
}

struct NpyDatasetOptions {
  std::vector<std::string> class_names;  ///< optional; see the label rules above
  data::MissingPolicy missing = data::MissingPolicy::keep_nan;  ///< NaN inside a series' length
  std::string name;                      ///< data-set name (default: the values file's stem)
};

namespace detail {

inline bool is_integral_value(double v) { return std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15; }

inline std::string number_name(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

/// Fill the labels of `d` (N series) from a labels array; `name` is the labels file.
template <class S>
void labels_from_array(data::Dataset<S>& d, const NpyArray& a, std::vector<std::string> names,
                       const std::string& name) {
  const std::size_t N = std::size_t(d.size());
  const auto bad = [&](auto&&... what) -> void { fail<IoError>(name, ": ", what...); };
  if (a.ndim() == 0 || a.ndim() > 2 || a.shape[0] != N)
    bad("expected labels of shape (", N, ") or (", N, ", K) to match the ", N, " series, found ",
        a.ndim(), " dimensions with ", a.ndim() ? a.shape[0] : 0, " rows");
  if (a.ndim() == 2 && a.shape[1] > 1) {
    const std::size_t K = a.shape[1];
    if (!names.empty() && names.size() != K)
      bad(K, " label columns but ", names.size(), " class names were given");
    d.multi_label = true;
    d.targets.resize(Index(N), Index(K));
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t k = 0; k < K; ++k) {
        const double v = a.values[i * K + k];
        if (v != 0 && v != 1) bad("multi-hot label (", i, ", ", k, ") is ", v, ", expected 0 or 1");
        d.targets(Index(i), Index(k)) = S(v);
      }
    if (names.empty())
      for (std::size_t k = 0; k < K; ++k) names.push_back(std::to_string(k));
    d.class_names = std::move(names);
    return;
  }
  if (a.ndim() == 2 && a.shape[1] != 1) bad("expected at least one label column");
  bool negative = false;
  double maxv = -1;
  for (std::size_t i = 0; i < N; ++i) {
    const double v = a.values[i];
    if (!is_integral_value(v)) bad("label of series ", i, " is ", v, ", expected an integer");
    negative = negative || v < 0;
    maxv = std::max(maxv, v);
  }
  d.labels.resize(N);
  if (!names.empty() || !negative) {
    const double K = names.empty() ? maxv + 1 : double(names.size());
    if (K > 1e6) bad("largest label ", maxv, " implies an implausible number of classes");
    for (std::size_t i = 0; i < N; ++i) {
      if (a.values[i] < 0 || a.values[i] >= K)
        bad("label of series ", i, " is ", a.values[i], ", expected a class index in [0, ", K, ")");
      d.labels[i] = Index(a.values[i]);
    }
    if (names.empty())
      for (Index k = 0; k < Index(K); ++k) names.push_back(std::to_string(k));
  } else {
    std::map<double, Index> index;
    for (std::size_t i = 0; i < N; ++i) index.emplace(a.values[i], 0);
    for (auto& [v, k] : index) {
      k = Index(names.size());
      names.push_back(number_name(v));
    }
    for (std::size_t i = 0; i < N; ++i) d.labels[i] = index[a.values[i]];
  }
  d.class_names = std::move(names);
}

/// Build the series of `d` from an N × T × C (or N × T) array and optional lengths.
template <class S>
void series_from_array(data::Dataset<S>& d, const NpyArray& v, const NpyArray* lengths,
                       data::MissingPolicy missing, const std::string& name,
                       const std::string& lengths_name) {
  const auto bad = [&](const std::string& file, auto&&... what) -> void { fail<IoError>(file, ": ", what...); };
  if (v.ndim() != 2 && v.ndim() != 3)
    bad(name, "expected values of shape (N, T, C) or (N, T), found ", v.ndim(), " dimensions");
  const std::size_t N = v.shape[0], T = v.shape[1], C = v.ndim() == 3 ? v.shape[2] : 1;
  if (N == 0 || T == 0 || C == 0) bad(name, "expected N, T and C >= 1, found shape (", N, ", ", T, ", ", C, ")");
  if (lengths) {
    if (lengths->ndim() != 1 || lengths->shape[0] != N)
      bad(lengths_name, "expected ", N, " lengths (shape (", N, ",)), found ", lengths->ndim(),
          " dimensions with ", lengths->ndim() ? lengths->shape[0] : 0, " entries");
    for (std::size_t i = 0; i < N; ++i) {
      const double L = lengths->values[i];
      if (!is_integral_value(L) || L < 1 || L > double(T))
        bad(lengths_name, "length of series ", i, " is ", L, ", expected an integer in [1, ", T, "]");
    }
  }
  d.series.reserve(N);
  for (std::size_t i = 0; i < N; ++i) {
    const double* x = v.values.data() + i * T * C;
    std::size_t L = T;
    if (lengths) {
      L = std::size_t(lengths->values[i]);
    } else {
      const auto step_is_nan = [&](std::size_t t) {
        for (std::size_t c = 0; c < C; ++c)
          if (!std::isnan(x[t * C + c])) return false;
        return true;
      };
      while (L > 0 && step_is_nan(L - 1)) --L;
      if (L == 0) bad(name, "series ", i, " has only NaN values (no length can be inferred)");
    }
    RowMatrix<S> m(static_cast<Index>(L), static_cast<Index>(C));
    for (std::size_t t = 0; t < L; ++t)
      for (std::size_t c = 0; c < C; ++c) {
        const double val = x[t * C + c];
        if (std::isinf(val) || std::isinf(double(S(val))))
          bad(name, "series ", i, ", step ", t, ", channel ", c, ": value ", val, " is not finite");
        if (std::isnan(val) && missing == data::MissingPolicy::error)
          bad(name, "series ", i, ", step ", t, ", channel ", c,
              ": missing value (NaN), and the missing-value policy is 'error'");
        m(Index(t), Index(c)) = S(val);
      }
    if (missing == data::MissingPolicy::impute_series_mean && !data::impute_channel_means(m))
      bad(name, "series ", i, ": a channel has only missing values; cannot impute it");
    d.series.push_back(std::move(m));
  }
}

inline std::string stem(const std::string& path) {
  const auto slash = path.find_last_of("/\\");
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

}  // namespace detail

/// Build a data set from decoded arrays (labels / lengths may be null). The names are used in
/// error messages.
template <Scalar S = float>
data::Dataset<S> dataset_from_arrays(const NpyArray& values, const NpyArray* labels,
                                     const NpyArray* lengths, const NpyDatasetOptions& opt = {},
                                     const std::string& values_name = "values",
                                     const std::string& labels_name = "labels",
                                     const std::string& lengths_name = "lengths") {
  data::Dataset<S> d;
  d.name = opt.name.empty() ? detail::stem(values_name) : opt.name;
  detail::series_from_array(d, values, lengths, opt.missing, values_name, lengths_name);
  if (labels) detail::labels_from_array(d, *labels, opt.class_names, labels_name);
  d.validate();
  return d;
}

/// Load a data set from .npy files: values (N × T × C or N × T), labels ("" = unlabelled) and
/// optional lengths ("" = infer from NaN-padded tails).
template <Scalar S = float>
data::Dataset<S> load_npy_dataset(const std::string& values_path, const std::string& labels_path,
                                  const std::string& lengths_path = "", const NpyDatasetOptions& opt = {}) {
  const NpyArray v = read_npy(values_path);
  NpyArray lab, len;
  if (!labels_path.empty()) lab = read_npy(labels_path);
  if (!lengths_path.empty()) len = read_npy(lengths_path);
  return dataset_from_arrays<S>(v, labels_path.empty() ? nullptr : &lab,
                                lengths_path.empty() ? nullptr : &len, opt, values_path,
                                labels_path, lengths_path);
}

namespace detail {
template <class E>
void dump_npy_file(const std::string& path, const E& e) {
  std::ofstream os(path, std::ios::binary);
  if (!os) fail<IoError>(path, ": cannot open file for writing: ", std::strerror(errno));
  try {
    os << xt::dump_npy(e);
  } catch (const std::exception& ex) {
    fail<IoError>(path, ": cannot write .npy: ", ex.what());
  }
  os.flush();
  if (!os) fail<IoError>(path, ": write failed");
}
}  // namespace detail

/// Write per-series matrices (e.g. attributions, each T_i × C) as one N × T_max × C array of S;
/// steps after a series' end hold NaN, so load_npy_dataset recovers the lengths.
template <Scalar S>
void write_npy(const std::string& path, const std::vector<RowMatrix<S>>& series) {
  require_arg(!series.empty(), "write_npy: no series given");
  const Index C = series.front().cols();
  Index T = 0;
  for (const auto& s : series) {
    require_shape(s.cols() == C, "write_npy: series with ", s.cols(), " channels, expected ", C);
    T = std::max(T, s.rows());
  }
  std::vector<S> buf(series.size() * static_cast<std::size_t>(T * C), std::numeric_limits<S>::quiet_NaN());
  for (std::size_t i = 0; i < series.size(); ++i)
    std::copy_n(series[i].data(), series[i].size(), buf.begin() + std::ptrdiff_t(i * std::size_t(T * C)));
  const std::vector<std::size_t> shape{series.size(), std::size_t(T), std::size_t(C)};
  detail::dump_npy_file(path, xt::adapt(buf, shape));
}

/// Write a matrix (e.g. predicted probabilities, N × K) as a 2-D array of S.
template <Scalar S>
void write_npy(const std::string& path, const RowMatrix<S>& m) {
  const std::vector<std::size_t> shape{std::size_t(m.rows()), std::size_t(m.cols())};
  std::vector<S> buf(m.data(), m.data() + m.size());
  detail::dump_npy_file(path, xt::adapt(buf, shape));
}

/// Write indices (e.g. predicted classes) as a 1-D int64 array.
inline void write_npy(const std::string& path, const std::vector<Index>& v) {
  std::vector<std::int64_t> buf(v.begin(), v.end());
  const std::vector<std::size_t> shape{buf.size()};
  detail::dump_npy_file(path, xt::adapt(buf, shape));
}

}  // namespace salient::io
