// Tests of the .ts reader/writer: every reference data set, and malformed input.
#include <doctest/doctest.h>

#include <salient/io/ts_reader.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using salient::Index;
using salient::IoError;
using salient::io::read_ts;
namespace fs = std::filesystem;

namespace {

struct Reference {
  const char* name;
  Index train, test;  // test 0: TEST file not in the snapshot
  Index channels;
  Index train_min, train_max, test_min, test_max;
  std::vector<std::string> classes;
};

std::vector<std::string> numbered(int from, int to, const char* suffix = "") {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(std::to_string(i) + suffix);
  return out;
}

// Counts, channels, lengths and classes as listed in the data README.
const std::vector<Reference>& references() {
  static const std::vector<Reference> r = {
      {"BasicMotions", 40, 40, 6, 100, 100, 100, 100, {"Standing", "Running", "Walking", "Badminton"}},
      {"JapaneseVowels", 270, 370, 12, 7, 26, 7, 29, numbered(1, 9)},
      {"ERing", 30, 270, 4, 65, 65, 65, 65, numbered(1, 6)},
      {"Epilepsy", 137, 138, 3, 206, 206, 206, 206, {"EPILEPSY", "WALKING", "RUNNING", "SAWING"}},
      {"Libras", 180, 180, 2, 45, 45, 45, 45, numbered(1, 15)},
      {"ArticularyWordRecognition", 275, 300, 9, 144, 144, 144, 144, numbered(1, 25, ".0")},
      {"NATOPS", 180, 180, 24, 51, 51, 51, 51, numbered(1, 6, ".0")},
      {"AtrialFibrillation", 15, 15, 2, 640, 640, 640, 640, {"n", "s", "t"}},
      {"PenDigits", 7494, 3498, 2, 8, 8, 8, 8, numbered(0, 9)},
      {"UWaveGestureLibrary", 120, 320, 3, 315, 315, 315, 315, numbered(1, 8, ".0")},
      {"RacketSports", 151, 152, 6, 30, 30, 30, 30,
       {"Badminton_Smash", "Badminton_Clear", "Squash_ForehandBoast", "Squash_BackhandBoast"}},
      {"ECG200", 100, 100, 1, 96, 96, 96, 96, {"-1", "1"}},
      {"GunPoint", 50, 150, 1, 150, 150, 150, 150, {"1", "2"}},
      {"ItalyPowerDemand", 67, 1029, 1, 24, 24, 24, 24, {"1", "2"}},
      {"TwoLeadECG", 23, 1139, 1, 82, 82, 82, 82, {"1", "2"}},
      {"ECG5000", 500, 0, 1, 140, 140, 0, 0, numbered(1, 5)},
      {"Wafer", 1000, 0, 1, 152, 152, 0, 0, {"-1", "1"}},
  };
  return r;
}

void check_split(const Reference& r, const std::string& split, Index count, Index lmin, Index lmax) {
  const fs::path p = fs::path(SALIENT_DATA_DIR) / r.name / (std::string(r.name) + "_" + split + ".ts");
  INFO("file: ", p.string());
  REQUIRE(fs::exists(p));
  const auto d = read_ts<float>(p.string());
  CHECK(d.name == r.name);
  CHECK(d.size() == count);
  CHECK(d.channels() == r.channels);
  CHECK(d.min_length() == lmin);
  CHECK(d.max_length() == lmax);
  CHECK(d.class_names == r.classes);
  CHECK_FALSE(d.multi_label);
  CHECK_FALSE(salient::data::has_missing(d));
  CHECK_NOTHROW(d.validate());
  for (Index c : d.class_counts()) CHECK(c >= 1);
}

std::string error_of(const std::string& text, const std::string& name = "bad.ts",
                     salient::io::TsReadOptions opt = {}) {
  std::istringstream in(text);
  try {
    (void)read_ts<float>(in, name, opt);
  } catch (const IoError& e) {
    return e.what();
  }
  return "<no error>";
}

const std::string kHeader =
    "#comment\n@problemName Toy\n@timeStamps false\n@missing false\n@univariate false\n"
    "@dimensions 2\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n";

}  // namespace

TEST_CASE("every reference data set loads with the README's counts, channels, lengths, classes") {
  if (!fs::is_directory(SALIENT_DATA_DIR)) {
    MESSAGE("skipped: data folder " SALIENT_DATA_DIR " not found");
    return;
  }
  for (const auto& r : references()) {
    SUBCASE(r.name) {
      check_split(r, "TRAIN", r.train, r.train_min, r.train_max);
      if (r.test > 0) check_split(r, "TEST", r.test, r.test_min, r.test_max);
    }
  }
}

TEST_CASE("class balance facts from the README") {
  const fs::path dir(SALIENT_DATA_DIR);
  if (!fs::exists(dir / "ECG5000/ECG5000_TRAIN.ts")) {
    MESSAGE("skipped: data folder not found");
    return;
  }
  CHECK(read_ts<float>((dir / "ECG5000/ECG5000_TRAIN.ts").string()).class_counts() ==
        std::vector<Index>{292, 177, 10, 19, 2});
  CHECK(read_ts<float>((dir / "Wafer/Wafer_TRAIN.ts").string()).class_counts() == std::vector<Index>{97, 903});
  CHECK(read_ts<float>((dir / "ECG200/ECG200_TRAIN.ts").string()).class_counts() == std::vector<Index>{31, 69});
  // Values survive parsing: the first value of GunPoint's first training series.
  const auto g = read_ts<double>((dir / "GunPoint/GunPoint_TRAIN.ts").string());
  std::ifstream in(dir / "GunPoint/GunPoint_TRAIN.ts");
  std::string line;
  while (std::getline(in, line) && line.rfind("@data", 0) != 0) {
  }
  std::getline(in, line);
  CHECK(g.series[0](0, 0) == std::strtod(line.c_str(), nullptr));
}

TEST_CASE("ts: a well-formed toy file, with the format's variations") {
  const std::string text =
      "\xEF\xBB\xBF# BOM, comments and blank lines are fine\r\n"
      "@ProblemName Toy\r\n@TIMESTAMPS false\n@missing true\n@univariate false\n\n"
      "@dimensions 2\n@equalLength false\n@classLabel true yes no\n# comment before data\n@data\n"
      "1.5,-2E-3,3e2:4,5,6:no\n"
      "  ?, 1 ,2:3,?,4 : yes \n"
      "\n# comment inside the data\n"
      "7:8:yes\n";
  std::istringstream in(text);
  const auto d = read_ts<double>(in, "toy.ts");
  CHECK(d.name == "Toy");
  REQUIRE(d.size() == 3);
  CHECK(d.channels() == 2);
  CHECK(d.class_names == std::vector<std::string>{"yes", "no"});
  CHECK(d.labels == std::vector<Index>{1, 0, 0});
  CHECK(d.series[0](1, 0) == doctest::Approx(-2e-3));
  CHECK(d.series[0](2, 0) == 300.0);
  CHECK(d.series[0](2, 1) == 6.0);
  CHECK(std::isnan(d.series[1](0, 0)));
  CHECK(std::isnan(d.series[1](1, 1)));
  CHECK(d.length(2) == 1);
  CHECK(d.min_length() == 1);
  CHECK(d.max_length() == 3);
}

TEST_CASE("ts: missing-value policies") {
  const std::string text = kHeader + "1,?,3:4,5,6:a\n1,2,3:?,?,?:b\n";
  SUBCASE("keep NaN") {
    std::istringstream in(kHeader + "1,?,3:4,5,6:a\n");
    const auto d = read_ts<float>(in, "m.ts");
    CHECK(std::isnan(d.series[0](1, 0)));
  }
  SUBCASE("impute the series' channel mean") {
    std::istringstream in(kHeader + "1,?,3:4,5,6:a\n");
    const auto d = read_ts<float>(in, "m.ts", {salient::data::MissingPolicy::impute_series_mean});
    CHECK(d.series[0](1, 0) == doctest::Approx(2.0));
    CHECK(d.series[0](1, 1) == 5.0f);
  }
  SUBCASE("impute fails on an all-missing channel") {
    CHECK(error_of(text, "m.ts", {salient::data::MissingPolicy::impute_series_mean}) ==
          "m.ts:12: a channel has only missing values; the 'impute_series_mean' policy cannot fill it");
  }
  SUBCASE("error policy") {
    CHECK(error_of(text, "m.ts", {salient::data::MissingPolicy::error}) ==
          "m.ts:11: channel 1, value 2: missing value, and the missing-value policy is 'error'");
  }
}

TEST_CASE("ts: unlabelled files (@classLabel false)") {
  std::istringstream in("@problemName U\n@univariate true\n@classLabel false\n@data\n1,2,3\n4,5\n");
  const auto d = read_ts<float>(in, "u.ts");
  CHECK_FALSE(d.labelled());
  CHECK(d.labels.empty());
  CHECK(d.size() == 2);
  CHECK(d.channels() == 1);
  CHECK_NOTHROW(d.validate());
}

TEST_CASE("ts: malformed input gives IoError naming file, line and what was expected") {
  // Wrong number of channels (the brief's example).
  CHECK(error_of("@problemName GunPoint\n@univariate true\n@equalLength true\n@seriesLength 2\n"
                 "@classLabel true 1 2\n@data\n1,2:1\n1,2:3:1\n",
                 "GunPoint_TRAIN.ts") ==
        "GunPoint_TRAIN.ts:8: expected 1 channel and a label separated by ':' (2 fields), found 3 fields");
  CHECK(error_of(kHeader + "1,2,3:1\n") ==
        "bad.ts:11: expected 2 channels and a label separated by ':' (3 fields), found 2 fields");
  CHECK(error_of(kHeader + "1,2,3:4,5,6:c\n") ==
        "bad.ts:11: class label 'c' is not listed in @classLabel (a b)");
  CHECK(error_of(kHeader + "1,x,3:4,5,6:a\n") == "bad.ts:11: channel 1, value 2: expected a number, found 'x'");
  CHECK(error_of(kHeader + "1,2e,3:4,5,6:a\n") == "bad.ts:11: channel 1, value 2: expected a number, found '2e'");
  CHECK(error_of(kHeader + "1,,3:4,5,6:a\n") ==
        "bad.ts:11: channel 1, value 2: expected a number or '?', found an empty value");
  CHECK(error_of(kHeader + "1,2,3:4,5,:a\n") ==
        "bad.ts:11: channel 2, value 3: expected a number or '?', found an empty value");
  CHECK(error_of(kHeader + "1,2,3:4,5:a\n") ==
        "bad.ts:11: channel 2 has 2 values but channel 1 has 3; expected every channel of a series "
        "to have the same length");
  CHECK(error_of(kHeader + "1,2:4,5:a\n") ==
        "bad.ts:11: expected 3 values per channel (@seriesLength), found 2");
  CHECK(error_of(kHeader + "1,inf,3:4,5,6:a\n") ==
        "bad.ts:11: channel 1, value 2: 'inf' is out of range (infinite values are not allowed)");
  CHECK(error_of(kHeader + "1,1e999,3:4,5,6:a\n") ==
        "bad.ts:11: channel 1, value 2: '1e999' is out of range (infinite values are not allowed)");
  CHECK(error_of(kHeader + "1,1e300,3:4,5,6:a\n") ==
        "bad.ts:11: channel 1, value 2: '1e300' overflows the scalar type");
  CHECK(error_of(kHeader) == "bad.ts:10: expected at least one series after @data, found none");
  CHECK(error_of("@problemName X\n@classLabel true a\n") ==
        "bad.ts:2: unexpected end of file: expected @data");
  CHECK(error_of("") == "bad.ts:0: unexpected end of file: expected @data");
  CHECK(error_of("1,2,3:a\n") ==
        "bad.ts:1: expected a header line '@key value' or '@data' before the data, found '1,2,3:a'");
  CHECK(error_of("@dimensions two\n") == "bad.ts:1: expected a positive integer after @dimensions, found 'two'");
  CHECK(error_of("@dimensions 0\n") == "bad.ts:1: expected a positive integer after @dimensions, found '0'");
  CHECK(error_of("@seriesLength 99999999999999999999\n") ==
        "bad.ts:1: expected a positive integer after @seriesLength, found '99999999999999999999'");
  CHECK(error_of("@univariate maybe\n") == "bad.ts:1: expected true or false after @univariate, found 'maybe'");
  CHECK(error_of("@univariate\n") == "bad.ts:1: expected exactly one value after @univariate, found 0");
  CHECK(error_of("@univariate true\n@dimensions 3\n@classLabel true a\n@data\n1:a\n") ==
        "bad.ts:4: @univariate true contradicts @dimensions 3");
  CHECK(error_of("@timeStamps true\n") ==
        "bad.ts:1: @timeStamps true (values as (time,value) tuples) is not supported; expected "
        "@timeStamps false");
  CHECK(error_of("@targetLabel true\n") ==
        "bad.ts:1: @targetLabel (regression) files are not supported; expected @classLabel");
  CHECK(error_of("@colour blue\n") ==
        "bad.ts:1: unknown header key '@colour'; expected one of @problemName @timeStamps @missing "
        "@univariate @dimensions @equalLength @seriesLength @classLabel @data");
  CHECK(error_of("@dimensions 2\n@DIMENSIONS 2\n") == "bad.ts:2: duplicate @dimensions (first given on line 1)");
  CHECK(error_of("@classLabel true\n") ==
        "bad.ts:1: expected the list of class labels after @classLabel true, found none");
  CHECK(error_of("@classLabel true a b a\n") == "bad.ts:1: class label 'a' listed twice in @classLabel");
  CHECK(error_of("@classLabel false a\n") == "bad.ts:1: expected no labels after @classLabel false, found 'a'");
  CHECK(error_of("@problemName x\n@data\n1:a\n") ==
        "bad.ts:2: expected @classLabel before @data (salient reads classification files)");
  CHECK(error_of("@classLabel true a\n@data extra\n") == "bad.ts:2: expected nothing after @data, found 'extra'");
  CHECK(error_of("@classLabel true a\n@data\n1:a\n@dimensions 1\n") ==
        "bad.ts:4: header line '@dimensions 1' after @data (header keys must come before @data)");
  CHECK(error_of("@classLabel true a\n@data\n:a\n") ==
        "bad.ts:3: channel 1, value 1: expected a number or '?', found an empty value");
  CHECK(error_of("@classLabel true a\n@data\na\n") ==
        "bad.ts:3: expected at least one channel and a label separated by ':', found 1 field");
  CHECK(error_of("@classLabel true a\n@data\n1,2:a\n1,2,3:4,5,6:a\n") ==
        "bad.ts:4: expected 1 channel and a label separated by ':' (2 fields), found 3 fields");
  CHECK(error_of("@equalLength true\n@classLabel true a\n@data\n1,2:a\n1,2,3:a\n") ==
        "bad.ts:5: expected 2 values per channel (@equalLength true), found 3");
  // Binary garbage and embedded NUL bytes never crash and are quoted safely.
  static const char with_nul[] = "@classLabel true a\n@data\n1,\0,2:a\n";
  CHECK(error_of(std::string(with_nul, sizeof with_nul - 1)) ==
        "bad.ts:3: channel 1, value 2: expected a number, found '\\x00'");
  CHECK(error_of("\x93NUMPY\x01\x00garbage") ==
        "bad.ts:1: expected a header line '@key value' or '@data' before the data, found '\x93NUMPY\\x01'");
}

TEST_CASE("ts: a file that cannot be opened") {
  try {
    (void)read_ts<float>("/nonexistent/dir/X_TRAIN.ts");
    FAIL("expected IoError");
  } catch (const IoError& e) {
    CHECK(std::string(e.what()).find("/nonexistent/dir/X_TRAIN.ts: cannot open file for reading") == 0);
  }
}

TEST_CASE("ts: truncated copies of a real file fail cleanly or load a prefix") {
  const fs::path p = fs::path(SALIENT_DATA_DIR) / "BasicMotions/BasicMotions_TRAIN.ts";
  if (!fs::exists(p)) {
    MESSAGE("skipped: data folder not found");
    return;
  }
  std::ifstream in(p, std::ios::binary);
  const std::string full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t cut : {std::size_t(0), std::size_t(100), std::size_t(400), full.size() / 3, full.size() / 2,
                          full.size() - 2}) {
    std::istringstream s(full.substr(0, cut));
    try {
      const auto d = read_ts<float>(s, "cut.ts");
      CHECK(d.size() < 40);  // only if the cut fell exactly at a line end
    } catch (const IoError& e) {
      CHECK(std::string(e.what()).rfind("cut.ts:", 0) == 0);
    }
  }
}

TEST_CASE("ts: write_ts round-trips values, NaN, lengths and labels") {
  salient::data::Dataset<double> d;
  d.name = "RoundTrip";
  d.class_names = {"low", "high"};
  d.series.push_back(salient::RowMatrix<double>(3, 2));
  d.series.back() << 0.1, -1e-7, 1.0 / 3.0, NAN, 12345.678, 2;
  d.series.push_back(salient::RowMatrix<double>(1, 2));
  d.series.back() << 5, 6;
  d.labels = {1, 0};
  std::stringstream ss;
  salient::io::write_ts(ss, d);
  const auto back = read_ts<double>(ss, "rt.ts");
  CHECK(back.name == "RoundTrip");
  CHECK(back.class_names == d.class_names);
  CHECK(back.labels == d.labels);
  REQUIRE(back.size() == 2);
  CHECK(back.series[0](2, 0) == d.series[0](2, 0));
  CHECK(back.series[0](0, 1) == d.series[0](0, 1));
  CHECK(std::isnan(back.series[0](1, 1)));
  CHECK(back.series[0](1, 0) == d.series[0](1, 0));
  CHECK(back.series[1] == d.series[1]);

  d.class_names = {"has space", "b"};
  CHECK_THROWS_AS(salient::io::write_ts(ss, d), salient::ArgumentError);
}
