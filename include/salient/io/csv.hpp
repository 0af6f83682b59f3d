// salient/io/csv.hpp — data sets from CSV (through xtensor), and writing results as CSV.
//
// Layout read and written: one series per row; its T × C values spread over the row either
// channel-major (all of channel 1, then channel 2, ... — like .ts and the UCR CSV files) or
// time-major (step 1 of every channel, then step 2, ...). Optionally one label cell at the
// start or end of the row, or labels in a separate file.
//
//  * Cells are separated by `delimiter` (',' by default); quoted fields are not supported.
//  * Blank lines and lines starting with '#' are skipped; `header = true` skips the first
//    remaining line.
//  * Empty cells, `?`, `nan`, `NaN` and `NA` are missing values. Trailing steps missing on every
//    channel are padding: they shorten that series (so rows may hold series of unequal length).
//    Other missing values follow `missing` (data::MissingPolicy).
//  * Numbers are parsed with strtod; infinities are refused.
//  * Labels are strings. With `class_names` given, each label must be one of them (class k =
//    class_names[k]); otherwise the distinct labels, sorted (numerically if they all are
//    numbers), become classes 0..K-1. A separate labels file holds one label per line, or
//    K 0/1 cells per line for multi-label data.
// Every problem is an IoError "file:line: what was expected".
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xcsv.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../data/dataset.hpp"
#include "ts_reader.hpp"  // detail::trim, detail::quote

namespace salient::io {

enum class CsvLayout { channel_major, time_major };
enum class LabelColumn { none, first, last };

struct CsvReadOptions {
  Index channels = 1;                               ///< C; each row holds T · C values
  CsvLayout layout = CsvLayout::channel_major;
  LabelColumn label_column = LabelColumn::none;     ///< where the label cell is, if any
  bool header = false;                              ///< skip the first (non-comment) line
  char delimiter = ',';
  std::vector<std::string> class_names;             ///< optional fixed class order
  data::MissingPolicy missing = data::MissingPolicy::keep_nan;
  std::string name;                                 ///< data-set name (default: file stem)
};

namespace detail {

struct CsvRow {
  Index line;
  std::vector<std::string_view> cells;
};

/// Split a line into cells (string_views into `line`).
inline std::vector<std::string_view> split_cells(std::string_view line, char delim) {
  std::vector<std::string_view> out;
  std::size_t s = 0;
  for (;;) {
    const std::size_t e = line.find(delim, s);
    out.push_back(trim(line.substr(s, e == std::string_view::npos ? std::string_view::npos : e - s)));
    if (e == std::string_view::npos) break;
    s = e + 1;
  }
  return out;
}

inline bool is_missing_cell(std::string_view c) {
  return c.empty() || c == "?" || c == "nan" || c == "NaN" || c == "NAN" || c == "NA" || c == "-nan";
}

/// Parse a numeric cell (already trimmed); false if it is not entirely a number.
inline bool parse_number(std::string_view c, double& v) {
  if (c.empty() || c.size() > 64) return false;
  char buf[72];
  std::memcpy(buf, c.data(), c.size());
  buf[c.size()] = '\0';
  char* stop = nullptr;
  v = std::strtod(buf, &stop);
  return stop == buf + c.size();
}

/// Reads the lines of a CSV stream that carry data: (line number, text).
inline std::vector<std::pair<Index, std::string>> csv_lines(std::istream& in, const std::string& name,
                                                            bool header) {
  std::vector<std::pair<Index, std::string>> out;
  std::string raw;
  Index line = 0;
  bool skipped_header = !header;
  while (std::getline(in, raw)) {
    ++line;
    if (line == 1 && raw.size() >= 3 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
    const std::string_view s = trim(raw);
    if (s.empty() || s.front() == '#') continue;
    if (!skipped_header) {
      skipped_header = true;
      continue;
    }
    if (s.find('"') != std::string_view::npos)
      fail<IoError>(name, ":", line, ": quoted fields are not supported; expected plain cells");
    out.emplace_back(line, std::string(s));
  }
  if (in.bad()) fail<IoError>(name, ": read error after line ", line);
  return out;
}

/// Map label tokens to class indices (rules in the file comment).
template <class S>
void map_label_tokens(data::Dataset<S>& d, const std::vector<std::string>& tokens,
                      const std::vector<Index>& lines, std::vector<std::string> names,
                      const std::string& file) {
  d.labels.assign(tokens.size(), 0);
  if (!names.empty()) {
    std::map<std::string, Index> index;
    for (std::size_t k = 0; k < names.size(); ++k) index[names[k]] = Index(k);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const auto it = index.find(tokens[i]);
      if (it == index.end())
        fail<IoError>(file, ":", lines[i], ": label ", quote(tokens[i]),
                      " is not one of the given class names");
      d.labels[i] = it->second;
    }
  } else {
    bool numeric = true;
    for (const auto& t : tokens) {
      double v;
      if (t.empty())
        fail<IoError>(file, ":", lines[&t - tokens.data()], ": expected a label, found an empty cell");
      numeric = numeric && parse_number(t, v) && std::isfinite(v);
    }
    std::vector<std::string> distinct(tokens.begin(), tokens.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    if (numeric)
      std::stable_sort(distinct.begin(), distinct.end(), [](const std::string& a, const std::string& b) {
        return std::strtod(a.c_str(), nullptr) < std::strtod(b.c_str(), nullptr);
      });
    std::map<std::string, Index> index;
    for (std::size_t k = 0; k < distinct.size(); ++k) index[distinct[k]] = Index(k);
    for (std::size_t i = 0; i < tokens.size(); ++i) d.labels[i] = index[tokens[i]];
    names = std::move(distinct);
  }
  d.class_names = std::move(names);
}

}  // namespace detail

/// Read a CSV data set from a stream; `name` appears in error messages.
template <Scalar S = float>
data::Dataset<S> read_csv(std::istream& in, const std::string& name, const CsvReadOptions& opt = {}) {
  require_arg(opt.channels >= 1, "read_csv: channels must be >= 1, got ", opt.channels);
  require_arg(opt.delimiter != '"' && opt.delimiter != '\n' && opt.delimiter != '#',
              "read_csv: invalid delimiter");
  const auto lines = detail::csv_lines(in, name, opt.header);
  if (lines.empty()) fail<IoError>(name, ": expected at least one data row, found none");
  const Index C = opt.channels;
  const bool labelled = opt.label_column != LabelColumn::none;

  // Pass 1 (ours): check every cell so errors can name the line; normalise missing cells.
  std::string normal;
  std::vector<std::string> tokens;
  std::vector<Index> line_of;
  Index width = -1;
  for (const auto& [line, text] : lines) {
    auto cells = detail::split_cells(text, opt.delimiter);
    if (labelled) {
      if (cells.size() < 2)
        fail<IoError>(name, ":", line, ": expected a label and at least one value, found ",
                      cells.size(), " cell");
      if (opt.label_column == LabelColumn::first) {
        tokens.emplace_back(cells.front());
        cells.erase(cells.begin());
      } else {
        tokens.emplace_back(cells.back());
        cells.pop_back();
      }
    }
    const Index M = Index(cells.size());
    if (width < 0) {
      if (M % C != 0)
        fail<IoError>(name, ":", line, ": expected a multiple of ", C, " values (T steps x ", C,
                      " channels), found ", M);
      width = M;
    } else if (M != width) {
      fail<IoError>(name, ":", line, ": expected ", width, " value cells (as on line ",
                    lines.front().first, "), found ", M);
    }
    for (Index j = 0; j < M; ++j) {
      const std::string_view c = cells[std::size_t(j)];
      if (j) normal += ',';
      if (detail::is_missing_cell(c)) {
        normal += "nan";
        continue;
      }
      double v;
      if (!detail::parse_number(c, v))
        fail<IoError>(name, ":", line, ": cell ", j + 1 + (opt.label_column == LabelColumn::first),
                      ": expected a number, found ", detail::quote(c));
      if (std::isinf(v) || std::isinf(double(S(v))))
        fail<IoError>(name, ":", line, ": cell ", j + 1 + (opt.label_column == LabelColumn::first),
                      ": value ", detail::quote(c), " is not finite");
      if (std::isnan(v)) {
        normal += "nan";
        continue;
      }
      normal.append(c.data(), c.size());
    }
    normal += '\n';
    line_of.push_back(line);
  }

  // Pass 2: xtensor turns the checked text into an N × M array.
  std::istringstream ns(normal);
  xt::xtensor<double, 2> a;
  try {
    a = xt::load_csv<double>(ns);
  } catch (const std::exception& e) {
    fail<IoError>(name, ": cannot parse the CSV values: ", e.what());
  }
  const Index N = Index(lines.size()), T = width / C;
  if (Index(a.shape()[0]) != N || Index(a.shape()[1]) != width)
    fail<IoError>(name, ": parsed ", a.shape()[0], " x ", a.shape()[1], " values, expected ", N, " x ", width);

  data::Dataset<S> d;
  d.name = opt.name.empty() ? detail::file_stem(name) : opt.name;
  d.series.reserve(std::size_t(N));
  for (Index i = 0; i < N; ++i) {
    const auto at = [&](Index t, Index c) {
      return a(std::size_t(i), std::size_t(opt.layout == CsvLayout::channel_major ? c * T + t : t * C + c));
    };
    Index L = T;
    const auto step_missing = [&](Index t) {
      for (Index c = 0; c < C; ++c)
        if (!std::isnan(at(t, c))) return false;
      return true;
    };
    while (L > 0 && step_missing(L - 1)) --L;
    const Index line = line_of[std::size_t(i)];
    if (L == 0) fail<IoError>(name, ":", line, ": expected at least one value, the row is all missing");
    RowMatrix<S> m(L, C);
    for (Index t = 0; t < L; ++t)
      for (Index c = 0; c < C; ++c) {
        m(t, c) = S(at(t, c));
        if (std::isnan(at(t, c)) && opt.missing == data::MissingPolicy::error)
          fail<IoError>(name, ":", line, ": missing value at step ", t + 1, ", channel ", c + 1,
                        ", and the missing-value policy is 'error'");
      }
    if (opt.missing == data::MissingPolicy::impute_series_mean && !data::impute_channel_means(m))
      fail<IoError>(name, ":", line, ": a channel has only missing values; cannot impute it");
    d.series.push_back(std::move(m));
  }
  if (labelled) detail::map_label_tokens(d, tokens, line_of, opt.class_names, name);
  d.validate();
  return d;
}

/// Read a CSV data set from a file.
template <Scalar S = float>
data::Dataset<S> read_csv(const std::string& path, const CsvReadOptions& opt = {}) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail<IoError>(path, ": cannot open file for reading: ", std::strerror(errno));
  return read_csv<S>(in, path, opt);
}

/// Attach labels from a separate CSV stream (one label per line, or K 0/1 cells per line for
/// multi-label) to `d`, replacing its labels. `opt.header`, `delimiter` and `class_names` apply.
template <Scalar S>
void read_csv_labels(data::Dataset<S>& d, std::istream& in, const std::string& name,
                     const CsvReadOptions& opt = {}) {
  const auto lines = detail::csv_lines(in, name, opt.header);
  if (Index(lines.size()) != d.size())
    fail<IoError>(name, ": expected ", d.size(), " label lines (one per series), found ", lines.size());
  std::vector<std::string> tokens;
  std::vector<Index> line_of;
  std::size_t K = 0;
  std::vector<std::vector<std::string_view>> rows;
  for (const auto& [line, text] : lines) {
    rows.push_back(detail::split_cells(text, opt.delimiter));
    if (K == 0) K = rows.back().size();
    if (rows.back().size() != K)
      fail<IoError>(name, ":", line, ": expected ", K, " label cells (as on line ",
                    lines.front().first, "), found ", rows.back().size());
    line_of.push_back(line);
  }
  d.labels.clear();
  d.targets.resize(0, 0);
  if (K == 1) {
    d.multi_label = false;
    for (const auto& r : rows) tokens.emplace_back(r[0]);
    detail::map_label_tokens(d, tokens, line_of, opt.class_names, name);
  } else {
    if (!opt.class_names.empty() && opt.class_names.size() != K)
      fail<IoError>(name, ": ", K, " label columns but ", opt.class_names.size(), " class names given");
    d.multi_label = true;
    d.targets.resize(d.size(), Index(K));
    for (std::size_t i = 0; i < rows.size(); ++i)
      for (std::size_t k = 0; k < K; ++k) {
        const auto c = rows[i][k];
        if (c != "0" && c != "1")
          fail<IoError>(name, ":", line_of[i], ": cell ", k + 1, ": expected 0 or 1 (multi-hot), found ",
                        detail::quote(c));
        d.targets(Index(i), Index(k)) = S(c == "1" ? 1 : 0);
      }
    d.class_names = opt.class_names;
    if (d.class_names.empty())
      for (std::size_t k = 0; k < K; ++k) d.class_names.push_back(std::to_string(k));
  }
  d.validate();
}

/// Read values and a separate labels file.
template <Scalar S = float>
data::Dataset<S> read_csv(const std::string& values_path, const std::string& labels_path,
                          const CsvReadOptions& opt = {}) {
  CsvReadOptions vopt = opt;
  vopt.label_column = LabelColumn::none;
  auto d = read_csv<S>(values_path, vopt);
  std::ifstream in(labels_path, std::ios::binary);
  if (!in) fail<IoError>(labels_path, ": cannot open file for reading: ", std::strerror(errno));
  read_csv_labels(d, in, labels_path, opt);
  return d;
}

namespace detail {
template <class S>
void dump_rows(std::ostream& os, const std::vector<S>& buf, std::size_t rows, std::size_t cols) {
  const auto old = os.precision(std::numeric_limits<S>::max_digits10);
  if (rows * cols > 0) {
    const std::vector<std::size_t> shape{rows, cols};
    xt::dump_csv(os, xt::adapt(buf, shape));
  }
  os.precision(old);
}
}  // namespace detail

/// Write per-series matrices (e.g. attributions T_i × C) one series per row, in `layout`; cells
/// after a series' end are written as `nan`, which read_csv treats as padding.
template <Scalar S>
void write_csv(std::ostream& os, const std::vector<RowMatrix<S>>& series,
               CsvLayout layout = CsvLayout::channel_major) {
  require_arg(!series.empty(), "write_csv: no series given");
  const Index C = series.front().cols();
  Index T = 0;
  for (const auto& s : series) {
    require_shape(s.cols() == C, "write_csv: series with ", s.cols(), " channels, expected ", C);
    T = std::max(T, s.rows());
  }
  std::vector<S> buf(series.size() * std::size_t(T * C), std::numeric_limits<S>::quiet_NaN());
  for (std::size_t i = 0; i < series.size(); ++i)
    for (Index t = 0; t < series[i].rows(); ++t)
      for (Index c = 0; c < C; ++c)
        buf[i * std::size_t(T * C) + std::size_t(layout == CsvLayout::channel_major ? c * T + t : t * C + c)] =
            series[i](t, c);
  detail::dump_rows(os, buf, series.size(), std::size_t(T * C));
  if (!os) fail<IoError>("write_csv: write failed");
}

/// Write a matrix (e.g. predicted probabilities N × K), with an optional header row.
template <Scalar S>
void write_csv(std::ostream& os, const RowMatrix<S>& m, const std::vector<std::string>& header = {}) {
  require_arg(header.empty() || Index(header.size()) == m.cols(), "write_csv: ", header.size(),
              " header names for ", m.cols(), " columns");
  if (!header.empty()) {
    for (std::size_t k = 0; k < header.size(); ++k) os << (k ? "," : "") << header[k];
    os << '\n';
  }
  detail::dump_rows(os, std::vector<S>(m.data(), m.data() + m.size()), std::size_t(m.rows()), std::size_t(m.cols()));
  if (!os) fail<IoError>("write_csv: write failed");
}

/// Write class indices as their names (one per line), e.g. predicted classes.
inline void write_labels_csv(std::ostream& os, const std::vector<Index>& classes,
                             const std::vector<std::string>& class_names) {
  for (Index y : classes) {
    require_arg(y >= 0 && y < Index(class_names.size()), "write_labels_csv: class ", y,
                " outside [0, ", class_names.size(), ")");
    os << class_names[std::size_t(y)] << '\n';
  }
  if (!os) fail<IoError>("write_labels_csv: write failed");
}

/// File versions of the writers.
template <class... Args>
void write_csv_file(const std::string& path, Args&&... args) {
  std::ofstream os(path, std::ios::binary);
  if (!os) fail<IoError>(path, ": cannot open file for writing: ", std::strerror(errno));
  write_csv(os, std::forward<Args>(args)...);
  os.flush();
  if (!os) fail<IoError>(path, ": write failed");
}

}  // namespace salient::io
