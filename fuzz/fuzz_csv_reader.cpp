// libFuzzer target for the CSV reader (salient/io/csv.hpp): read_csv (our line-by-line checks,
// then xtensor's load_csv) and read_csv_labels. The first two input bytes choose the reader
// options (salient::fuzz::csv_options in harness.hpp); the rest is the file. Whatever loads must
// satisfy every Dataset invariant and be writable again; the readers may only throw
// salient::Error. Built by scripts/fuzz.sh.
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  salient::fuzz::csv_reader(data, size);
  return 0;
}
