// libFuzzer target for the .npy reader (header validation, xtensor decoding, and building a
// Dataset from the array as values, labels or lengths). Only salient::Error may escape the
// readers (xtensor's std::runtime_error is converted to IoError). The body is
// salient::fuzz::npy_reader (harness.hpp). Built by scripts/fuzz.sh.
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  salient::fuzz::npy_reader(data, size);
  return 0;
}
