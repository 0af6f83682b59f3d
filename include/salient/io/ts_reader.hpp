// salient/io/ts_reader.hpp — read and write the UEA/UCR `.ts` time-series format.
//
// Format (as used by the UEA/UCR archive, sktime and aeon): `#` comment lines, then header lines
// `@key value...` (keys are case-insensitive), then `@data` and one series per line:
//   c1v1,c1v2,...:c2v1,c2v2,...:...:label
// `:` separates channels (the label comes last), `,` separates values, `?` marks a missing value.
//
// What this reader accepts and refuses (each refusal is an IoError "file:line: what was expected"):
//  * keys @problemName @timeStamps @missing @univariate @dimensions @equalLength @seriesLength
//    @classLabel @data, each at most once; an unknown key is refused (it is usually a typo).
//  * `@timeStamps true` (values as `(t,v)` tuples) and `@targetLabel` (regression) are refused.
//  * `@classLabel true a b c` maps label "a" to class 0, "b" to 1, ... in that order;
//    `@classLabel false` gives an unlabelled data set (no label field on data lines).
//  * Numbers are parsed with strtod (scientific notation, `nan`); infinities are refused.
//    `?`, empty-looking `nan` values are missing and handled by TsReadOptions::missing, even when
//    the header says `@missing false` (archive files are not always consistent about it).
//  * Every channel of one series must have the same number of values (salient stores a series
//    as a T × C matrix); lengths may differ between series unless `@equalLength true`.
//  * Blank lines and `#` lines may appear anywhere; `\r` line ends and a UTF-8 BOM are accepted.
// Reading never goes out of bounds: truncated or binary input produces an IoError.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../data/dataset.hpp"

namespace salient::io {

using data::MissingPolicy;

struct TsReadOptions {
  /// What to do with `?` / `nan` values (see data::MissingPolicy).
  MissingPolicy missing = MissingPolicy::keep_nan;
};

namespace detail {

inline std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

/// Split on runs of blanks.
inline std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

/// Quote a piece of input for an error message, shortened and with control bytes escaped.
inline std::string quote(std::string_view s, std::size_t max = 40) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (s.size() > max) out += "...";
  return out + "'";
}

inline std::string file_stem(const std::string& path) {
  const auto slash = path.find_last_of("/\\");
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

/// Parses one `.ts` stream; keeps the file name and line number for every error.
template <class S>
class TsParser {
 public:
  TsParser(std::istream& in, std::string file, const TsReadOptions& opt)
      : in_(in), file_(std::move(file)), opt_(opt) {}

  data::Dataset<S> parse() {
    data::Dataset<S> d;
    std::string raw;
    bool in_data = false;
    while (std::getline(in_, raw)) {
      ++line_;
      if (line_ == 1 && raw.size() >= 3 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
      const std::string_view s = trim(raw);
      if (s.empty() || s.front() == '#') continue;
      if (!in_data) {
        if (s.front() != '@')
          fail_at("expected a header line '@key value' or '@data' before the data, found ",
                  quote(s));
        in_data = header_line(s.substr(1), d);
        if (in_data) finish_header();
      } else {
        if (s.front() == '@')
          fail_at("header line ", quote(s), " after @data (header keys must come before @data)");
        data_line(s, d);
      }
    }
    if (in_.bad()) fail<IoError>(file_, ": read error after line ", line_);
    if (!in_data) fail<IoError>(file_, ":", line_, ": unexpected end of file: expected @data");
    if (d.series.empty())
      fail<IoError>(file_, ":", line_, ": expected at least one series after @data, found none");
    if (d.name.empty()) d.name = file_stem(file_);
    d.class_names = labels_;
    d.multi_label = false;
    return d;
  }

 private:
  template <class... Args>
  [[noreturn]] void fail_at(Args&&... args) const {
    fail<IoError>(file_, ":", line_, ": ", std::forward<Args>(args)...);
  }

  bool parse_bool(std::string_view key, std::string_view v) const {
    const std::string l = lower(v);
    if (l == "true") return true;
    if (l == "false") return false;
    fail_at("expected true or false after @", key, ", found ", quote(v));
  }

  Index parse_count(std::string_view key, std::string_view v) const {
    // Digits only, bounded, so that a garbage header cannot ask for absurd sizes.
    Index n = 0;
    if (v.empty() || v.size() > 9) fail_at("expected a positive integer after @", key, ", found ", quote(v));
    for (char c : v) {
      if (c < '0' || c > '9') fail_at("expected a positive integer after @", key, ", found ", quote(v));
      n = n * 10 + (c - '0');
    }
    if (n < 1) fail_at("expected a positive integer after @", key, ", found ", quote(v));
    return n;
  }

  void mark_seen(const std::string& key) {
    auto [it, inserted] = seen_.emplace(key, line_);
    if (!inserted) fail_at("duplicate @", key, " (first given on line ", it->second, ")");
  }

  /// Handles one header line (without the '@'); returns true at @data.
  bool header_line(std::string_view body, data::Dataset<S>& d) {
    std::size_t k = 0;
    while (k < body.size() && body[k] != ' ' && body[k] != '\t') ++k;
    const std::string key = lower(body.substr(0, k));
    const std::string_view rest = trim(body.substr(k));
    const auto words = split_ws(rest);
    const auto single = [&](std::string_view name) -> std::string_view {
      if (words.size() != 1)
        fail_at("expected exactly one value after @", name, ", found ", words.size());
      return words[0];
    };
    if (key == "data") {
      if (!rest.empty()) fail_at("expected nothing after @data, found ", quote(rest));
      return true;
    }
    mark_seen(key);
    if (key == "problemname") {
      if (rest.empty()) fail_at("expected a name after @problemName");
      d.name = std::string(rest);
    } else if (key == "timestamps") {
      if (parse_bool("timeStamps", single("timeStamps")))
        fail_at("@timeStamps true (values as (time,value) tuples) is not supported; "
                "expected @timeStamps false");
    } else if (key == "missing") {
      missing_declared_ = parse_bool("missing", single("missing"));
    } else if (key == "univariate") {
      univariate_ = parse_bool("univariate", single("univariate")) ? 1 : 0;
    } else if (key == "dimensions") {
      dims_ = parse_count("dimensions", single("dimensions"));
    } else if (key == "equallength") {
      equal_length_ = parse_bool("equalLength", single("equalLength")) ? 1 : 0;
    } else if (key == "serieslength") {
      series_length_ = parse_count("seriesLength", single("seriesLength"));
    } else if (key == "classlabel") {
      if (words.empty()) fail_at("expected true or false after @classLabel");
      labelled_ = parse_bool("classLabel", words[0]);
      if (labelled_) {
        if (words.size() < 2)
          fail_at("expected the list of class labels after @classLabel true, found none");
        for (std::size_t i = 1; i < words.size(); ++i) {
          const std::string lab(words[i]);
          if (label_index_.count(lab)) fail_at("class label ", quote(lab), " listed twice in @classLabel");
          label_index_[lab] = Index(labels_.size());
          labels_.push_back(lab);
        }
      } else if (words.size() > 1) {
        fail_at("expected no labels after @classLabel false, found ", quote(words[1]));
      }
    } else if (key == "targetlabel") {
      fail_at("@targetLabel (regression) files are not supported; expected @classLabel");
    } else {
      fail_at("unknown header key ", quote(std::string("@") + std::string(body.substr(0, k))),
              "; expected one of @problemName @timeStamps @missing @univariate @dimensions "
              "@equalLength @seriesLength @classLabel @data");
    }
    return false;
  }

  void finish_header() {
    if (!seen_.count("classlabel"))
      fail_at("expected @classLabel before @data (salient reads classification files)");
    if (univariate_ == 1) {
      if (dims_ > 1) fail_at("@univariate true contradicts @dimensions ", dims_);
      dims_ = 1;
    }
    if (equal_length_ == 0 && series_length_ > 0) series_length_ = 0;  // ignore, lengths vary
  }

  /// Parses the values of one channel (between ':' separators) into `out`.
  void parse_channel(const char* begin, const char* end, Index channel, std::vector<double>& out) {
    out.clear();
    const char* p = begin;
    Index pos = 0;
    for (;;) {
      const char* q = p;
      while (q < end && *q != ',') ++q;
      const std::string_view tok = trim(std::string_view(p, std::size_t(q - p)));
      if (tok.empty())
        fail_at("channel ", channel + 1, ", value ", pos + 1,
                ": expected a number or '?', found an empty value");
      double v;
      if (tok == "?") {
        v = std::numeric_limits<double>::quiet_NaN();
      } else {
        // The token is followed by ',', ':' or the string's terminating '\0', none of which
        // strtod consumes, so it cannot run past the token.
        char* stop = nullptr;
        errno = 0;
        v = std::strtod(tok.data(), &stop);
        if (stop != tok.data() + tok.size())
          fail_at("channel ", channel + 1, ", value ", pos + 1, ": expected a number, found ",
                  quote(tok));
        if (std::isinf(v) || (errno == ERANGE && std::fabs(v) > 1))
          fail_at("channel ", channel + 1, ", value ", pos + 1, ": ", quote(tok),
                  " is out of range (infinite values are not allowed)");
        if (std::isinf(double(S(v))))
          fail_at("channel ", channel + 1, ", value ", pos + 1, ": ", quote(tok),
                  " overflows the scalar type");
      }
      if (std::isnan(v) && opt_.missing == MissingPolicy::error)
        fail_at("channel ", channel + 1, ", value ", pos + 1,
                ": missing value, and the missing-value policy is 'error'");
      out.push_back(v);
      ++pos;
      if (q >= end) break;
      p = q + 1;
    }
  }

  void data_line(std::string_view s, data::Dataset<S>& d) {
    // Work on a private null-terminated copy so strtod always stops inside it.
    buf_.assign(s.data(), s.size());
    const char* const b = buf_.c_str();
    const char* const e = b + buf_.size();
    std::vector<const char*> cuts{b - 1};  // positions of ':' (with sentinels)
    for (const char* p = b; p < e; ++p)
      if (*p == ':') cuts.push_back(p);
    cuts.push_back(e);
    const Index fields = Index(cuts.size()) - 1;
    const Index extra = labelled_ ? 1 : 0;
    if (dims_ == 0) {
      if (fields - extra < 1)
        fail_at("expected at least one channel", labelled_ ? " and a label" : "",
                " separated by ':', found ", fields, " field", fields == 1 ? "" : "s");
      dims_ = fields - extra;
    }
    if (fields != dims_ + extra)
      fail_at("expected ", dims_, " channel", dims_ == 1 ? "" : "s",
              labelled_ ? " and a label" : "", " separated by ':' (", dims_ + extra,
              " fields), found ", fields, " field", fields == 1 ? "" : "s");

    Index T = -1;
    for (Index c = 0; c < dims_; ++c) {
      parse_channel(cuts[std::size_t(c)] + 1, cuts[std::size_t(c) + 1], c, values_);
      if (c == 0) {
        T = Index(values_.size());
        columns_.assign(std::size_t(dims_) * std::size_t(T), 0.0);
      } else if (Index(values_.size()) != T) {
        fail_at("channel ", c + 1, " has ", values_.size(), " values but channel 1 has ", T,
                "; expected every channel of a series to have the same length");
      }
      std::copy(values_.begin(), values_.end(), columns_.begin() + std::ptrdiff_t(c * T));
    }
    if (series_length_ > 0 && T != series_length_)
      fail_at("expected ", series_length_, " values per channel (@seriesLength), found ", T);
    if (equal_length_ == 1) {
      if (first_length_ < 0)
        first_length_ = T;
      else if (T != first_length_)
        fail_at("expected ", first_length_, " values per channel (@equalLength true), found ", T);
    }

    RowMatrix<S> x(T, dims_);
    for (Index c = 0; c < dims_; ++c)
      for (Index t = 0; t < T; ++t) x(t, c) = S(columns_[std::size_t(c * T + t)]);
    if (opt_.missing == MissingPolicy::impute_series_mean && !data::impute_channel_means(x))
      fail_at("a channel has only missing values; the 'impute_series_mean' policy cannot fill it");

    if (labelled_) {
      const std::string lab(trim(std::string_view(cuts[std::size_t(dims_)] + 1,
                                                   std::size_t(e - cuts[std::size_t(dims_)] - 1))));
      const auto it = label_index_.find(lab);
      if (it == label_index_.end()) {
        std::string known;
        for (std::size_t i = 0; i < labels_.size() && i < 30; ++i) known += (i ? " " : "") + labels_[i];
        fail_at("class label ", quote(lab), " is not listed in @classLabel (", known, ")");
      }
      d.labels.push_back(it->second);
    }
    d.series.push_back(std::move(x));
  }

  std::istream& in_;
  std::string file_;
  TsReadOptions opt_;
  Index line_ = 0;
  std::map<std::string, Index> seen_;
  int univariate_ = -1, equal_length_ = -1;
  bool missing_declared_ = false, labelled_ = false;
  Index dims_ = 0, series_length_ = 0, first_length_ = -1;
  std::vector<std::string> labels_;
  std::map<std::string, Index> label_index_;
  std::string buf_;
  std::vector<double> values_, columns_;
};

}  // namespace detail

/// Read a `.ts` stream; `name` is used in error messages ("name:line: ...") and as the data
/// set's name when the file has no @problemName. Throws IoError on malformed input.
template <Scalar S = float>
data::Dataset<S> read_ts(std::istream& in, const std::string& name, const TsReadOptions& opt = {}) {
  return detail::TsParser<S>(in, name, opt).parse();
}

/// Read a `.ts` file. Throws IoError if it cannot be opened or is malformed.
template <Scalar S = float>
data::Dataset<S> read_ts(const std::string& path, const TsReadOptions& opt = {}) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail<IoError>(path, ": cannot open file for reading: ", std::strerror(errno));
  return read_ts<S>(in, path, opt);
}

/// Write a multi-class or unlabelled data set as `.ts` (NaN is written as `?`).
/// Values are written with enough digits to read back exactly. Throws ArgumentError for what the
/// format cannot represent (multi-label data, masks are dropped silently, labels with blanks).
template <Scalar S>
void write_ts(std::ostream& os, const data::Dataset<S>& d) {
  d.validate();
  require_arg(!d.multi_label, "write_ts: multi-label data sets cannot be written as .ts");
  require_arg(!d.empty(), "write_ts: data set '", d.name, "' is empty");
  for (const auto& n : d.class_names)
    require_arg(!n.empty() && n.find_first_of(" \t\r\n:") == std::string::npos && n.front() != '#',
                "write_ts: class name ", detail::quote(n),
                " cannot be written (it is empty or holds a blank or ':')");
  std::string name = d.name.empty() ? std::string("salient") : d.name;
  for (char& c : name)
    if (c == '\n' || c == '\r') c = ' ';
  const bool eq = d.equal_length();
  const Index C = d.channels();
  os << "@problemName " << name << "\n@timeStamps false\n@missing "
     << (data::has_missing(d) ? "true" : "false") << "\n@univariate " << (C == 1 ? "true" : "false")
     << "\n@dimensions " << C << "\n@equalLength " << (eq ? "true" : "false") << "\n";
  if (eq) os << "@seriesLength " << d.min_length() << "\n";
  if (d.labelled()) {
    os << "@classLabel true";
    for (const auto& n : d.class_names) os << ' ' << n;
    os << "\n";
  } else {
    os << "@classLabel false\n";
  }
  os << "@data\n";
  const auto old_prec = os.precision(std::numeric_limits<S>::max_digits10);
  for (Index i = 0; i < d.size(); ++i) {
    const auto& x = d.series[std::size_t(i)];
    for (Index c = 0; c < C; ++c) {
      if (c) os << ':';
      for (Index t = 0; t < x.rows(); ++t) {
        if (t) os << ',';
        if (std::isnan(x(t, c)))
          os << '?';
        else
          os << x(t, c);
      }
    }
    if (d.labelled()) os << ':' << d.class_names[std::size_t(d.labels[std::size_t(i)])];
    os << '\n';
  }
  os.precision(old_prec);
  if (!os) fail<IoError>("write_ts: write failed for data set '", d.name, "'");
}

template <Scalar S>
void write_ts(const std::string& path, const data::Dataset<S>& d) {
  std::ofstream os(path, std::ios::binary);
  if (!os) fail<IoError>(path, ": cannot open file for writing: ", std::strerror(errno));
  write_ts(os, d);
  os.flush();
  if (!os) fail<IoError>(path, ": write failed");
}

}  // namespace salient::io
