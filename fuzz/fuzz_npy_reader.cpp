// libFuzzer target for the .npy reader (header validation, xtensor decoding, and building a
// Dataset from the array as values, labels or lengths). Only salient::Error may escape the
// readers (xtensor's std::runtime_error is converted to IoError). Built by scripts/fuzz.sh.
#include <salient/io/npy.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  salient::io::NpyArray a;
  try {
    a = salient::io::read_npy_bytes(bytes, "fuzz.npy");
  } catch (const salient::Error&) {
    return 0;
  }
  try {
    const auto d = salient::io::dataset_from_arrays<float>(a, nullptr, nullptr);
    d.validate();
  } catch (const salient::Error&) {
  }
  // The same array as labels / lengths of a small fixed data set.
  if (a.ndim() >= 1 && a.shape[0] >= 1 && a.shape[0] <= 64) {
    salient::io::NpyArray v;
    v.shape = {a.shape[0], 4, 2};
    v.values.assign(a.shape[0] * 8, 1.0);
    try {
      (void)salient::io::dataset_from_arrays<float>(v, &a, nullptr);
    } catch (const salient::Error&) {
    }
    try {
      (void)salient::io::dataset_from_arrays<float>(v, nullptr, &a);
    } catch (const salient::Error&) {
    }
  }
  return 0;
}
