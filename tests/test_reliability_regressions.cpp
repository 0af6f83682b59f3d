// Replays every input kept under tests/regressions/ (fuzzer findings and hand-made hostile
// files) through the fuzz harnesses (fuzz/harness.hpp): each reader must accept the input or
// throw salient::Error — no crash, no sanitizer report, no other exception. See
// tests/regressions/README.md for the file formats.
#include <doctest/doctest.h>

#ifdef SALIENT_HAVE_XTENSOR
#include "../fuzz/harness.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path regressions = fs::path(__FILE__).parent_path() / "regressions";

std::vector<fs::path> inputs(const char* folder) {
  std::vector<fs::path> out;
  const fs::path dir = regressions / folder;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class Harness>
void replay(const char* folder, Harness&& h) {
  const auto files = inputs(folder);
  CHECK(!files.empty());  // every reader keeps at least its hand-made cases
  for (const auto& f : files) {
    INFO("regression input ", f.string());
    const auto b = bytes_of(f);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_NOTHROW(h(b.data(), b.size()));
    // A replayed timeout must now be fast (the fuzzers' limit is 10 s per input under ASan).
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 5.0);
  }
}

}  // namespace

TEST_CASE("regressions: .ts inputs") { replay("ts", salient::fuzz::ts_reader); }
TEST_CASE("regressions: .npy inputs") { replay("npy", salient::fuzz::npy_reader); }
TEST_CASE("regressions: CSV inputs") { replay("csv", salient::fuzz::csv_reader); }
TEST_CASE("regressions: checkpoint inputs") { replay("checkpoint", salient::fuzz::checkpoint); }

TEST_CASE("regressions: fuzz finding - a label of 655376 without class names is read quickly") {
  // fuzz_npy_reader timeout (> 10 s under ASan): 12 int64 labels, one of them 655376, so the
  // reader names 655377 classes, and validate() sorted a copy of the names to find duplicates.
  // It now uses a hash set (one pass, no copies).
  auto raw = bytes_of(regressions / "npy" / "fuzz-timeout-label-655376-implies-655k-class-names.npy");
  const auto a = salient::io::read_npy_bytes(std::string(raw.begin(), raw.end()), "y.npy");
  salient::io::NpyArray v;
  v.shape = {a.shape[0], 4, 2};
  v.values.assign(a.shape[0] * 8, 1.0);
  const auto t0 = std::chrono::steady_clock::now();
  const auto d = salient::io::dataset_from_arrays<float>(v, &a, nullptr);
  CHECK(d.num_classes() == 655377);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 5.0);
}

TEST_CASE("regressions: the hand-made hostile inputs are refused with a message naming the file") {
  // Spot checks that the harness is not trivially passing: these inputs must be errors.
  auto ts = bytes_of(regressions / "ts" / "hand-huge-dimensions.ts");
  std::istringstream in(std::string(ts.begin(), ts.end()));
  CHECK_THROWS_WITH_AS(salient::io::read_ts<float>(in, "h.ts"), doctest::Contains("h.ts:"), salient::IoError);
  auto npy = bytes_of(regressions / "npy" / "hand-shape-product-overflows.npy");
  CHECK_THROWS_WITH_AS(salient::io::read_npy_bytes(std::string(npy.begin(), npy.end()), "o.npy"),
                       doctest::Contains("o.npy"), salient::IoError);
  auto ck = bytes_of(regressions / "checkpoint" / "hand-nan-weights.slnt");
  std::vector<unsigned char> b(ck.begin() + 1, ck.end());
  // fix size and CRC as the harness does, then the loader must refuse the NaN weights
  const std::uint64_t n = b.size();
  for (int i = 0; i < 8; ++i) b[16 + std::size_t(i)] = static_cast<unsigned char>(n >> (8 * i));
  const std::uint32_t crc = salient::io::crc32(std::span<const unsigned char>(b.data(), b.size() - 4));
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + std::size_t(i)] = static_cast<unsigned char>(crc >> (8 * i));
  const auto c = salient::io::parse_checkpoint<float>(b, "nan.slnt");
  salient::Sequential<salient::Dense<2, 3>> m;
  CHECK_THROWS_WITH_AS(salient::io::apply_checkpoint(c, m, "nan.slnt"), doctest::Contains("nan.slnt: parameter 0 of 9 is nan"),
                       salient::IoError);
}
#else
TEST_CASE("regressions: skipped (xtensor not found)") {}
#endif
