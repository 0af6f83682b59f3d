// salient/data/scaler.hpp — per-channel scaling fitted on the training split only.
//
// Scalers work on a Dataset (unpadded series), so padding can never leak into the statistics:
// fit() on the training split, then transform() the training, validation and test splits.
// NaN and infinite values are ignored when fitting and stay NaN/inf when transforming.
//
// Degenerate channels never divide by zero: a constant channel uses a range / standard deviation
// of 1 (so it maps to `lo` / 0 on the training data), and a channel with no finite value at all
// in the training data is left unscaled (min 0, max 1 / mean 0, std 1).
//
// State is plain vectors plus save()/load() in a small versioned little-endian binary format, so
// a model file can embed it:
//   bytes 0-7  "SLNSCALE" | u32 version (1) | u32 kind (1 = min-max, 2 = standard) | u64 C
//   min-max:  f64 lo, f64 hi, C × f64 mins, C × f64 maxs
//   standard: C × f64 mean, C × f64 stddev
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "dataset.hpp"

namespace salient::data {

namespace detail {

inline constexpr char scaler_magic[8] = {'S', 'L', 'N', 'S', 'C', 'A', 'L', 'E'};
inline constexpr std::uint32_t scaler_version = 1;
inline constexpr std::uint64_t scaler_max_channels = std::uint64_t(1) << 24;

inline void put_u64(std::ostream& os, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = char((v >> (8 * i)) & 0xff);
  os.write(b, 8);
}
inline void put_u32(std::ostream& os, std::uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = char((v >> (8 * i)) & 0xff);
  os.write(b, 4);
}
inline void put_f64(std::ostream& os, double v) { put_u64(os, std::bit_cast<std::uint64_t>(v)); }

inline std::uint64_t get_bytes(std::istream& is, int n, const char* what) {
  unsigned char b[8] = {};
  is.read(reinterpret_cast<char*>(b), n);
  if (is.gcount() != n) fail<IoError>("scaler state: truncated input while reading ", what);
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}
inline double get_f64(std::istream& is, const char* what) {
  return std::bit_cast<double>(get_bytes(is, 8, what));
}

/// Reads and checks the common header; returns the channel count.
inline std::size_t read_scaler_header(std::istream& is, std::uint32_t kind, const char* kind_name) {
  char magic[8] = {};
  is.read(magic, 8);
  if (is.gcount() != 8 || !std::equal(magic, magic + 8, scaler_magic))
    fail<IoError>("scaler state: expected magic 'SLNSCALE' at the start of the ", kind_name,
                  " state");
  const auto version = std::uint32_t(get_bytes(is, 4, "the version"));
  if (version != scaler_version)
    fail<IoError>("scaler state: unsupported version ", version, ", expected ", scaler_version);
  const auto k = std::uint32_t(get_bytes(is, 4, "the scaler kind"));
  if (k != kind)
    fail<IoError>("scaler state: expected a ", kind_name, " (kind ", kind, "), found kind ", k);
  const std::uint64_t C = get_bytes(is, 8, "the channel count");
  if (C == 0 || C > scaler_max_channels)
    fail<IoError>("scaler state: implausible channel count ", C);
  return std::size_t(C);
}

/// Per-channel statistics over the finite values of every series.
template <class S>
struct ChannelStats {
  std::vector<double> min, max, mean, stddev;
  std::vector<Index> count;

  explicit ChannelStats(const Dataset<S>& d) {
    require_arg(!d.empty(), "scaler fit: data set '", d.name, "' is empty");
    const Index C = d.channels();
    min.assign(std::size_t(C), 0.0);
    max.assign(std::size_t(C), 1.0);
    mean.assign(std::size_t(C), 0.0);
    stddev.assign(std::size_t(C), 1.0);
    count.assign(std::size_t(C), 0);
    std::vector<double> sum(std::size_t(C), 0.0), lo(std::size_t(C), INFINITY),
        hi(std::size_t(C), -INFINITY), ss(std::size_t(C), 0.0);
    for (const auto& s : d.series) {
      require_shape(s.cols() == C, "scaler fit: series with ", s.cols(), " channels, expected ", C);
      for (Index t = 0; t < s.rows(); ++t)
        for (Index c = 0; c < C; ++c) {
          const double v = double(s(t, c));
          if (!std::isfinite(v)) continue;
          const auto k = std::size_t(c);
          sum[k] += v;
          lo[k] = std::min(lo[k], v);
          hi[k] = std::max(hi[k], v);
          ++count[k];
        }
    }
    for (std::size_t k = 0; k < std::size_t(C); ++k)
      if (count[k] > 0) mean[k] = sum[k] / double(count[k]);
    // Second pass for the variance: accurate even when |mean| >> std.
    for (const auto& s : d.series)
      for (Index t = 0; t < s.rows(); ++t)
        for (Index c = 0; c < C; ++c) {
          const double v = double(s(t, c));
          if (std::isfinite(v)) ss[std::size_t(c)] += (v - mean[std::size_t(c)]) * (v - mean[std::size_t(c)]);
        }
    for (std::size_t k = 0; k < std::size_t(C); ++k)
      if (count[k] > 0) {
        min[k] = lo[k];
        max[k] = hi[k];
        stddev[k] = std::sqrt(ss[k] / double(count[k]));
      }
  }
};

/// Applies y = (x - shift[c]) * mul[c] + add to every value of a T × C matrix.
template <class S>
void affine_channels(RowMatrix<S>& x, const std::vector<double>& shift, const std::vector<double>& mul,
                     double add, const char* who) {
  require_arg(!shift.empty(), who, ": the scaler is not fitted");
  require_shape(x.cols() == Index(shift.size()), who, ": series has ", x.cols(),
                " channels, the scaler was fitted on ", shift.size());
  for (Index t = 0; t < x.rows(); ++t)
    for (Index c = 0; c < x.cols(); ++c)
      x(t, c) = S((double(x(t, c)) - shift[std::size_t(c)]) * mul[std::size_t(c)] + add);
}

}  // namespace detail

/// Scales each channel to [lo, hi] using the training split's min and max.
class MinMaxScaler {
 public:
  std::vector<double> mins, maxs;  ///< per-channel minimum / maximum seen by fit()
  double lo = 0.0, hi = 1.0;       ///< target range

  explicit MinMaxScaler(double lo_ = 0.0, double hi_ = 1.0) : lo(lo_), hi(hi_) {
    require_arg(std::isfinite(lo_) && std::isfinite(hi_) && lo_ < hi_,
                "MinMaxScaler: need finite lo < hi, got [", lo_, ", ", hi_, "]");
  }

  bool fitted() const { return !mins.empty(); }
  Index channels() const { return Index(mins.size()); }

  /// Learn per-channel min/max from the (training) data set; NaN/inf are ignored.
  template <Scalar S>
  MinMaxScaler& fit(const Dataset<S>& train) {
    detail::ChannelStats<S> st(train);
    mins = st.min;
    maxs = st.max;
    return *this;
  }

  template <Scalar S>
  void transform(RowMatrix<S>& x) const {
    detail::affine_channels(x, mins, factors(false), lo, "MinMaxScaler::transform");
  }
  template <Scalar S>
  void inverse_transform(RowMatrix<S>& x) const {
    // x = (y - lo) / f + min  ==  (y - lo') * (1/f) + 0 with a shift of lo on every channel.
    std::vector<double> shift(mins.size(), lo);
    detail::affine_channels(x, shift, factors(true), 0.0, "MinMaxScaler::inverse_transform");
    for (Index t = 0; t < x.rows(); ++t)
      for (Index c = 0; c < x.cols(); ++c) x(t, c) = S(double(x(t, c)) + mins[std::size_t(c)]);
  }
  /// Transform every series in place (labels and masks are untouched).
  template <Scalar S>
  void transform(Dataset<S>& d) const {
    for (auto& s : d.series) transform(s);
  }
  template <Scalar S>
  void inverse_transform(Dataset<S>& d) const {
    for (auto& s : d.series) inverse_transform(s);
  }
  /// A transformed copy.
  template <Scalar S>
  Dataset<S> transformed(Dataset<S> d) const {
    transform(d);
    return d;
  }

  void save(std::ostream& os) const {
    require_arg(fitted(), "MinMaxScaler::save: the scaler is not fitted");
    os.write(detail::scaler_magic, 8);
    detail::put_u32(os, detail::scaler_version);
    detail::put_u32(os, 1);
    detail::put_u64(os, mins.size());
    detail::put_f64(os, lo);
    detail::put_f64(os, hi);
    for (double v : mins) detail::put_f64(os, v);
    for (double v : maxs) detail::put_f64(os, v);
    if (!os) fail<IoError>("MinMaxScaler::save: write failed");
  }
  /// Replace the state by one written by save(); throws IoError on malformed input (and then
  /// leaves this scaler unchanged).
  void load(std::istream& is) {
    const std::size_t C = detail::read_scaler_header(is, 1, "MinMaxScaler");
    const double l = detail::get_f64(is, "lo"), h = detail::get_f64(is, "hi");
    if (!(std::isfinite(l) && std::isfinite(h) && l < h))
      fail<IoError>("scaler state: invalid MinMaxScaler range [", l, ", ", h, "]");
    std::vector<double> mn(C), mx(C);
    for (auto& v : mn) v = detail::get_f64(is, "mins");
    for (auto& v : mx) v = detail::get_f64(is, "maxs");
    for (std::size_t c = 0; c < C; ++c)
      if (!(std::isfinite(mn[c]) && std::isfinite(mx[c]) && mn[c] <= mx[c]))
        fail<IoError>("scaler state: invalid MinMaxScaler channel ", c, " [", mn[c], ", ", mx[c], "]");
    lo = l;
    hi = h;
    mins = std::move(mn);
    maxs = std::move(mx);
  }

 private:
  std::vector<double> factors(bool inverse) const {
    require_arg(maxs.size() == mins.size(), "MinMaxScaler: mins and maxs differ in size");
    std::vector<double> f(mins.size());
    for (std::size_t c = 0; c < f.size(); ++c) {
      const double range = maxs[c] - mins[c];
      const double scale = (hi - lo) / (range > 0 ? range : 1.0);  // constant channel: no /0
      f[c] = inverse ? 1.0 / scale : scale;
    }
    return f;
  }
};

/// Standardises each channel to zero mean and unit variance (population std) of the training split.
class StandardScaler {
 public:
  std::vector<double> mean, stddev;  ///< per-channel statistics seen by fit()

  bool fitted() const { return !mean.empty(); }
  Index channels() const { return Index(mean.size()); }

  template <Scalar S>
  StandardScaler& fit(const Dataset<S>& train) {
    detail::ChannelStats<S> st(train);
    mean = st.mean;
    stddev = st.stddev;
    return *this;
  }

  template <Scalar S>
  void transform(RowMatrix<S>& x) const {
    detail::affine_channels(x, mean, factors(false), 0.0, "StandardScaler::transform");
  }
  template <Scalar S>
  void inverse_transform(RowMatrix<S>& x) const {
    std::vector<double> zero(mean.size(), 0.0);
    detail::affine_channels(x, zero, factors(true), 0.0, "StandardScaler::inverse_transform");
    for (Index t = 0; t < x.rows(); ++t)
      for (Index c = 0; c < x.cols(); ++c) x(t, c) = S(double(x(t, c)) + mean[std::size_t(c)]);
  }
  template <Scalar S>
  void transform(Dataset<S>& d) const {
    for (auto& s : d.series) transform(s);
  }
  template <Scalar S>
  void inverse_transform(Dataset<S>& d) const {
    for (auto& s : d.series) inverse_transform(s);
  }
  template <Scalar S>
  Dataset<S> transformed(Dataset<S> d) const {
    transform(d);
    return d;
  }

  void save(std::ostream& os) const {
    require_arg(fitted(), "StandardScaler::save: the scaler is not fitted");
    os.write(detail::scaler_magic, 8);
    detail::put_u32(os, detail::scaler_version);
    detail::put_u32(os, 2);
    detail::put_u64(os, mean.size());
    for (double v : mean) detail::put_f64(os, v);
    for (double v : stddev) detail::put_f64(os, v);
    if (!os) fail<IoError>("StandardScaler::save: write failed");
  }
  void load(std::istream& is) {
    const std::size_t C = detail::read_scaler_header(is, 2, "StandardScaler");
    std::vector<double> m(C), s(C);
    for (auto& v : m) v = detail::get_f64(is, "mean");
    for (auto& v : s) v = detail::get_f64(is, "stddev");
    for (std::size_t c = 0; c < C; ++c)
      if (!(std::isfinite(m[c]) && std::isfinite(s[c]) && s[c] >= 0))
        fail<IoError>("scaler state: invalid StandardScaler channel ", c, " (mean ", m[c],
                      ", std ", s[c], ")");
    mean = std::move(m);
    stddev = std::move(s);
  }

 private:
  std::vector<double> factors(bool inverse) const {
    require_arg(stddev.size() == mean.size(), "StandardScaler: mean and stddev differ in size");
    std::vector<double> f(mean.size());
    for (std::size_t c = 0; c < f.size(); ++c) {
      const double sd = stddev[c] > 0 ? stddev[c] : 1.0;  // constant channel: no /0
      f[c] = inverse ? sd : 1.0 / sd;
    }
    return f;
  }
};

}  // namespace salient::data
