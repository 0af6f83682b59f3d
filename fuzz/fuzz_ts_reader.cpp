// libFuzzer target for the .ts reader: any input must either load a valid Dataset or throw
// salient::Error (the reader documents IoError only). Anything else — a crash, a sanitizer
// report, another exception type — is a bug. The body is salient::fuzz::ts_reader
// (harness.hpp, shared with tests/test_reliability_regressions.cpp). Built by scripts/fuzz.sh.
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  salient::fuzz::ts_reader(data, size);
  return 0;
}
