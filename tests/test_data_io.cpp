// Tests of the .npy and CSV readers/writers (through xtensor).
#include <doctest/doctest.h>

#if defined(SALIENT_HAVE_XTENSOR)

#include <salient/io/csv.hpp>
#include <salient/io/npy.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

using salient::Index;
using salient::IoError;
using salient::RowMatrix;
using namespace salient::io;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  static const fs::path dir = [] {
    fs::path p = fs::temp_directory_path() / ("salient_test_data_io_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return dir;
}

/// .npy bytes with the given header dictionary text (padded the way numpy pads it).
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string h = dict;
  while ((prefix + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  out += char(h.size() & 0xff);
  out += char((h.size() >> 8) & 0xff);
  if (major != 1) out += std::string(2, '\0');
  return out + h + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::string npy_error(const std::string& bytes, const std::string& name = "x.npy") {
  try {
    (void)read_npy_bytes(bytes, name);
  } catch (const IoError& e) {
    return e.what();
  }
  return "<no error>";
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const salient::Error& e) {
    return e.what();
  }
  return "<no error>";
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream os(p, std::ios::binary);
  os << bytes;
}

}  // namespace

TEST_CASE("npy: arrays in the layouts numpy writes") {
  // C order float64, numpy's key order and padding.
  const auto a = read_npy_bytes(
      npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                raw(std::vector<double>{1, 2, 3, 4, 5, 6})),
      "a.npy");
  CHECK(a.shape == std::vector<std::size_t>{2, 3});
  CHECK(a.values == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(a.dtype == "<f8");

  // Fortran order is returned in C order.
  const auto f = read_npy_bytes(
      npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                raw(std::vector<float>{1, 4, 2, 5, 3, 6})),
      "f.npy");
  CHECK(f.values == std::vector<double>{1, 2, 3, 4, 5, 6});

  // Another key order, version 2.0, int64, 1-D.
  const auto i = read_npy_bytes(npy_bytes("{'shape': (3,), 'fortran_order': False, 'descr': '<i8'}",
                                          raw(std::vector<std::int64_t>{-1, 0, 7}), 2),
                                "i.npy");
  CHECK(i.values == std::vector<double>{-1, 0, 7});

  // Byte-sized types, a header length whose low byte is >= 128, an empty array.
  const auto u = read_npy_bytes(npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (4,)," +
                                              std::string(120, ' ') + "}",
                                          std::string("\x00\x01\x02\xff", 4)),
                                "u.npy");
  CHECK(u.values == std::vector<double>{0, 1, 2, 255});
  const auto b = read_npy_bytes(
      npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", std::string("\x01\x00", 2)), "b.npy");
  CHECK(b.values == std::vector<double>{1, 0});
  const auto e = read_npy_bytes(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", ""), "e.npy");
  CHECK(e.values.empty());
}

TEST_CASE("npy: malformed files give an IoError naming the file and the problem") {
  const std::string good_dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  const std::string data = raw(std::vector<double>(6, 1.0));
  const std::string good = npy_bytes(good_dict, data);
  CHECK(npy_error("") == "x.npy: not a .npy file: expected the magic bytes \\x93NUMPY at the start");
  CHECK(npy_error("PK\x03\x04 a zip file") ==
        "x.npy: not a .npy file: expected the magic bytes \\x93NUMPY at the start");
  CHECK(npy_error(good.substr(0, 9)) == "x.npy: not a .npy file: expected the magic bytes \\x93NUMPY at the start");
  std::string v = good;
  v[6] = 4;
  CHECK(npy_error(v) == "x.npy: unsupported .npy format version 4.0 (expected 1.0, 2.0 or 3.0)");
  CHECK(npy_error(good.substr(0, 40)) == "x.npy: truncated .npy header: header length is 118 bytes but only 30 follow");
  CHECK(npy_error(good.substr(0, good.size() - 5)) ==
        "x.npy: truncated .npy data: the shape needs 48 bytes, the file has 43");
  CHECK(npy_error(good + "xx") == "x.npy: malformed .npy file: 2 unexpected bytes after the data");
  CHECK(npy_error(npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", data)) ==
        "x.npy: big-endian dtype '>f8' is not supported; save it little-endian");
  CHECK(npy_error(npy_bytes("{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3), }", data)) ==
        "x.npy: unsupported dtype '<c16' (expected one of <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1)");
  CHECK(npy_error(npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", data)).find(
            "unsupported dtype '<f2'") != std::string::npos);
  CHECK(npy_error(npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2, 3), }", data)) ==
        "x.npy: structured dtypes are not supported; expected a numeric dtype");
  CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': maybe, 'shape': (2, 3), }", data)) ==
        "x.npy: malformed .npy header: expected True or False for 'fortran_order'");
  CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }", data)) ==
        "x.npy: malformed .npy header: expected a non-negative integer in 'shape'");
  CHECK(npy_error(npy_bytes("{'descr': '<f8', 'shape': (2, 3), }", data)) ==
        "x.npy: malformed .npy header: expected the keys 'descr', 'fortran_order' and 'shape'");
  CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", data)) ==
        "x.npy: malformed .npy header: unexpected key 'x'");
  CHECK(npy_error(npy_bytes("['descr', '<f8']", data)) == "x.npy: malformed .npy header: expected '{' at offset 0");
  CHECK(npy_error(npy_bytes("{'descr': '<f8", data)) == "x.npy: malformed .npy header: unterminated string");
  CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999, 99999999999999, 999), }",
                            data)) == "x.npy: shape is too large");
  CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", data)) ==
        "x.npy: truncated .npy data: the shape needs 8000000000000 bytes, the file has 48");
  // Found by fuzz_npy_reader: a bool array holding a byte other than 0/1 (was UB in xtensor).
  CHECK(npy_error(npy_bytes("{'shape': (2,), 'fortran_order': False, 'descr': '|b1'}", std::string("\x01\x20", 2))) ==
        "x.npy: invalid boolean byte 32 at element 1 (expected 0 or 1)");
  // Found by fuzz_npy_reader (timeout): a label of 262421 implies that many classes; checking
  // their names for duplicates used to be quadratic.
  {
    const auto lab = read_npy_bytes(
        npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                  raw(std::vector<std::int64_t>{1, 2, 0x40115})),
        "y.npy");
    NpyArray x;
    x.shape = {3, 1};
    x.values = {1, 2, 3};
    const auto d = dataset_from_arrays<float>(x, &lab, nullptr);
    CHECK(d.num_classes() == 0x40116);
  }
  CHECK(error_of([] { (void)read_npy("/nonexistent/a.npy"); }).rfind("/nonexistent/a.npy: cannot open file", 0) == 0);
}

TEST_CASE("npy: a data set with NaN-padded tails, lengths file, labels; attributions round trip") {
  const fs::path dir = temp_dir();
  std::vector<RowMatrix<float>> series;
  for (Index i = 0; i < 4; ++i) {
    RowMatrix<float> x(3 + i, 2);
    for (Index t = 0; t < x.rows(); ++t) x(t, 0) = float(i + t), x(t, 1) = -float(t);
    series.push_back(x);
  }
  series[1](1, 1) = NAN;  // missing inside a series: not padding
  write_npy((dir / "x.npy").string(), series);
  write_npy((dir / "y.npy").string(), std::vector<Index>{2, 0, 1, 2});

  const auto d = load_npy_dataset<float>((dir / "x.npy").string(), (dir / "y.npy").string());
  CHECK(d.name == "x");
  REQUIRE(d.size() == 4);
  CHECK(d.channels() == 2);
  for (Index i = 0; i < 4; ++i) CHECK(d.length(i) == 3 + i);
  CHECK(d.series[3] == series[3]);
  CHECK(std::isnan(d.series[1](1, 1)));
  CHECK(d.labels == std::vector<Index>{2, 0, 1, 2});
  CHECK(d.class_names == std::vector<std::string>{"0", "1", "2"});

  // Impute policy and explicit lengths.
  NpyDatasetOptions opt;
  opt.missing = salient::data::MissingPolicy::impute_series_mean;
  opt.class_names = {"a", "b", "c"};
  write_npy((dir / "len.npy").string(), std::vector<Index>{1, 2, 3, 4});
  const auto e = load_npy_dataset<double>((dir / "x.npy").string(), (dir / "y.npy").string(),
                                          (dir / "len.npy").string(), opt);
  CHECK(e.length(2) == 3);
  CHECK(e.length(3) == 4);
  CHECK(e.class_names == opt.class_names);
  CHECK(e.series[1](1, 1) == 0.0);  // channel mean of series 1 within length 2: only -0 remains

  // Error policy.
  opt.missing = salient::data::MissingPolicy::error;
  CHECK(error_of([&] {
          (void)load_npy_dataset<float>((dir / "x.npy").string(), (dir / "y.npy").string(), "", opt);
        }) == (dir / "x.npy").string() +
                  ": series 1, step 1, channel 1: missing value (NaN), and the missing-value policy is 'error'");

  // Predictions as N x K probabilities.
  RowMatrix<double> probs(2, 3);
  probs << 0.1, 0.2, 0.7, 1.0 / 3, 1.0 / 3, 1.0 / 3;
  write_npy((dir / "p.npy").string(), probs);
  const auto p = read_npy((dir / "p.npy").string());
  CHECK(p.shape == std::vector<std::size_t>{2, 3});
  CHECK(p.values[4] == probs(1, 1));
}

TEST_CASE("npy: label rules and shape errors") {
  NpyArray x;
  x.shape = {3, 2};
  x.values = {1, 2, 3, 4, 5, 6};
  NpyArray y;
  y.shape = {3};
  y.values = {1, -1, 1};
  const auto d = dataset_from_arrays<float>(x, &y, nullptr);
  CHECK(d.channels() == 1);
  CHECK(d.length(0) == 2);
  CHECK(d.class_names == std::vector<std::string>{"-1", "1"});
  CHECK(d.labels == std::vector<Index>{1, 0, 1});

  NpyArray mh;
  mh.shape = {3, 2};
  mh.values = {1, 0, 1, 1, 0, 0};
  const auto m = dataset_from_arrays<float>(x, &mh, nullptr);
  CHECK(m.multi_label);
  CHECK(m.class_counts() == std::vector<Index>{2, 1});

  y.values = {0.5, 1, 1};
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(x, &y, nullptr); }) ==
        "labels: label of series 0 is 0.5, expected an integer");
  y.shape = {2};
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(x, &y, nullptr); }) ==
        "labels: expected labels of shape (3) or (3, K) to match the 3 series, found 1 dimensions with 2 rows");
  mh.values[3] = 2;
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(x, &mh, nullptr); }) ==
        "labels: multi-hot label (1, 1) is 2, expected 0 or 1");
  NpyDatasetOptions opt;
  opt.class_names = {"a", "b"};
  y.shape = {3};
  y.values = {0, 1, 2};
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(x, &y, nullptr, opt); }) ==
        "labels: label of series 2 is 2, expected a class index in [0, 2)");
  NpyArray len;
  len.shape = {3};
  len.values = {1, 3, 1};
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(x, nullptr, &len); }) ==
        "lengths: length of series 1 is 3, expected an integer in [1, 2]");
  NpyArray nan_row = x;
  nan_row.values[2] = nan_row.values[3] = NAN;
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(nan_row, nullptr, nullptr); }) ==
        "values: series 1 has only NaN values (no length can be inferred)");
  NpyArray flat;
  flat.shape = {6};
  flat.values = x.values;
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(flat, nullptr, nullptr); }) ==
        "values: expected values of shape (N, T, C) or (N, T), found 1 dimensions");
  NpyArray big = x;
  big.values[0] = 1e300;
  CHECK(error_of([&] { (void)dataset_from_arrays<float>(big, nullptr, nullptr); }) ==
        "values: series 0, step 0, channel 0: value 1e+300 is not finite");
}

TEST_CASE("csv: UCR-style rows with a label column, channel- and time-major") {
  const std::string text =
      "# a comment\n"
      "b,1,2,3,10,20,30\n"
      "\n"
      "a,4,5,,40,50,\n"  // NaN-padded tail: length 2
      "b,7,?,9,70,80,90\n";
  CsvReadOptions opt;
  opt.channels = 2;
  opt.label_column = LabelColumn::first;
  std::istringstream in(text);
  const auto d = read_csv<double>(in, "u.csv", opt);
  REQUIRE(d.size() == 3);
  CHECK(d.channels() == 2);
  CHECK(d.length(0) == 3);
  CHECK(d.length(1) == 2);
  CHECK(d.series[0](2, 1) == 30.0);
  CHECK(d.series[1](1, 1) == 50.0);
  CHECK(std::isnan(d.series[2](1, 0)));
  CHECK(d.class_names == std::vector<std::string>{"a", "b"});
  CHECK(d.labels == std::vector<Index>{1, 0, 1});

  opt.layout = CsvLayout::time_major;
  opt.label_column = LabelColumn::last;
  std::istringstream tm("1,10,2,20,3,30,-1\n4,40,5,50,nan,nan,10\n6,60,7,70,8,80,2\n");
  const auto t = read_csv<float>(tm, "t.csv", opt);
  CHECK(t.series[0](2, 0) == 3.0f);
  CHECK(t.series[0](2, 1) == 30.0f);
  CHECK(t.length(1) == 2);
  CHECK(t.class_names == std::vector<std::string>{"-1", "2", "10"});  // numeric order
  CHECK(t.labels == std::vector<Index>{0, 2, 1});
}

TEST_CASE("csv: malformed input names file and line") {
  const auto err = [](const std::string& text, CsvReadOptions opt = {}) {
    std::istringstream in(text);
    return error_of([&] { (void)read_csv<float>(in, "v.csv", opt); });
  };
  CsvReadOptions two;
  two.channels = 2;
  CHECK(err("1,2,3\n", two) == "v.csv:1: expected a multiple of 2 values (T steps x 2 channels), found 3");
  CHECK(err("1,2\n3,4,5\n") == "v.csv:2: expected 2 value cells (as on line 1), found 3");
  CHECK(err("1,2\n3,abc\n") == "v.csv:2: cell 2: expected a number, found 'abc'");
  CHECK(err("1,2\n3,1e999\n") == "v.csv:2: cell 2: value '1e999' is not finite");
  CHECK(err("1,\"2\"\n") == "v.csv:1: quoted fields are not supported; expected plain cells");
  CHECK(err("# only a comment\n") == "v.csv: expected at least one data row, found none");
  CHECK(err("1,2\n,\n") == "v.csv:2: expected at least one value, the row is all missing");
  CsvReadOptions lab;
  lab.label_column = LabelColumn::first;
  CHECK(err("a\n", lab) == "v.csv:1: expected a label and at least one value, found 1 cell");
  lab.class_names = {"a", "b"};
  CHECK(err("a,1\nc,2\n", lab) == "v.csv:2: label 'c' is not one of the given class names");
  CsvReadOptions strict;
  strict.missing = salient::data::MissingPolicy::error;
  CHECK(err("1,?,3\n", strict) == "v.csv:1: missing value at step 2, channel 1, and the missing-value policy is 'error'");
  CsvReadOptions hdr;
  hdr.header = true;
  std::istringstream in("t0,t1\n1,2\n");
  CHECK(read_csv<float>(in, "h.csv", hdr).size() == 1);
}

TEST_CASE("csv: separate labels file (multi-class and multi-hot) and writers round trip") {
  const fs::path dir = temp_dir();
  std::vector<RowMatrix<double>> attributions;
  for (Index i = 0; i < 3; ++i) {
    RowMatrix<double> a(2 + i, 3);
    for (Index t = 0; t < a.rows(); ++t)
      for (Index c = 0; c < 3; ++c) a(t, c) = 1.0 / double(1 + i + t + c) - 0.25;
    attributions.push_back(a);
  }
  write_csv_file((dir / "attr.csv").string(), attributions, CsvLayout::channel_major);
  write_file(dir / "labels.csv", "dog\ncat\ndog\n");
  CsvReadOptions opt;
  opt.channels = 3;
  const auto d = read_csv<double>((dir / "attr.csv").string(), (dir / "labels.csv").string(), opt);
  REQUIRE(d.size() == 3);
  for (Index i = 0; i < 3; ++i) CHECK(d.series[std::size_t(i)] == attributions[std::size_t(i)]);  // exact
  CHECK(d.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(d.labels == std::vector<Index>{1, 0, 1});

  write_file(dir / "multi.csv", "1,0\n1,1\n0,0\n");
  const auto m = read_csv<double>((dir / "attr.csv").string(), (dir / "multi.csv").string(), opt);
  CHECK(m.multi_label);
  CHECK(m.class_counts() == std::vector<Index>{2, 1});
  write_file(dir / "bad.csv", "1,0\n1,2\n0,0\n");
  CHECK(error_of([&] { (void)read_csv<double>((dir / "attr.csv").string(), (dir / "bad.csv").string(), opt); }) ==
        (dir / "bad.csv").string() + ":2: cell 2: expected 0 or 1 (multi-hot), found '2'");
  write_file(dir / "short.csv", "1\n2\n");
  CHECK(error_of([&] { (void)read_csv<double>((dir / "attr.csv").string(), (dir / "short.csv").string(), opt); }) ==
        (dir / "short.csv").string() + ": expected 3 label lines (one per series), found 2");

  // Predictions: probabilities with a header, and class names.
  RowMatrix<float> probs(2, 2);
  probs << 0.25f, 0.75f, 0.5f, 0.5f;
  std::ostringstream os;
  write_csv(os, probs, {"cat", "dog"});
  CHECK(os.str() == "cat,dog\n0.25,0.75\n0.5,0.5\n");
  std::ostringstream ls;
  write_labels_csv(ls, {1, 0}, {"cat", "dog"});
  CHECK(ls.str() == "dog\ncat\n");
}

#else
TEST_CASE("io: xtensor not found, .npy/CSV tests skipped") { MESSAGE("xtensor not available"); }
#endif
