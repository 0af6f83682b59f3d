// libFuzzer target for the .ts reader: any input must either load a valid Dataset or throw
// salient::Error (the reader documents IoError only). Anything else — a crash, a sanitizer
// report, another exception type — is a bug. Built and run by scripts/fuzz.sh.
#include <salient/io/ts_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using salient::data::MissingPolicy;
  for (MissingPolicy p : {MissingPolicy::keep_nan, MissingPolicy::impute_series_mean, MissingPolicy::error}) {
    std::istringstream in(text);
    try {
      const auto d = salient::io::read_ts<float>(in, "fuzz.ts", {p});
      d.validate();  // whatever loads must satisfy every Dataset invariant
      if (!d.labelled() || d.empty()) continue;
      std::ostringstream out;  // and must be writable again
      salient::io::write_ts(out, d);
    } catch (const salient::Error&) {
    }
  }
  return 0;
}
