// libFuzzer target for the checkpoint loader (salient/io/checkpoint.hpp).
//
//   scripts/fuzz.sh (all targets; seeds include a model it trains and saves, fuzz/make_seeds.cpp)
//   scripts/fuzz_checkpoint.sh [seconds]      (this target alone, Dense seeds)
//
// The first input byte selects a mode; the rest is the file:
//   bit 0 set: before parsing, rewrite the declared file size and the trailing CRC so that they
//              are right — otherwise almost every mutation stops at the checksum and the section
//              parser would never be explored;
//   bit 1 set: parse as f64 parameters instead of f32.
// The loader may only ever throw salient::IoError; anything else (another exception, a crash,
// a leak, undefined behaviour, an allocation beyond -rss_limit_mb) is a finding. What parses is
// applied to a Dense model and to the LSTM classifier scripts/fuzz.sh trains and saves as a
// seed (fuzz/make_seeds.cpp); a model that accepted the parameters runs one forward pass.
// The body is salient::fuzz::checkpoint (harness.hpp, shared with the regression test).
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  salient::fuzz::checkpoint(data, size);
  return 0;
}

#ifdef SALIENT_FUZZ_MAKE_SEEDS
// Built without -fsanitize=fuzzer: `fuzz_checkpoint_seeds DIR` writes a seed corpus of real
// checkpoints (each prefixed with its mode byte).
#include <fstream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  auto put = [&](const std::string& name, std::uint8_t mode, const std::vector<unsigned char>& bytes) {
    std::ofstream os(dir + "/" + name, std::ios::binary);
    os.put(char(mode));
    os.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  };
  salient::Sequential<salient::Dense<2, 3, float>> mf;
  mf.init(1);
  salient::io::SaveOptions<float> extra;
  extra.class_names = {"a", "b", "c"};
  extra.scaler_state = "SLNSCALE-ish bytes";
  extra.extra_state = std::string(5, '\x7f');
  salient::io::OptimizerState<float> opt;
  opt.name = "Adam";
  opt.steps = 3;
  opt.vectors = {mf.params(), mf.params()};
  extra.optimizer = opt;
  salient::io::TrainingProgress<float> prog;
  prog.epoch = 2;
  prog.seed = 9;
  prog.trainer_state = {1, 1, 0.001, 0.5, 1, 0, 0.001, 10, 0.001, 0.5, 0, 0};
  prog.best_params = mf.params();
  extra.progress = prog;
  const auto full = salient::io::serialize_checkpoint(salient::io::make_checkpoint(mf, extra));
  const auto bare = salient::io::serialize_checkpoint(salient::io::make_checkpoint(mf));
  salient::Sequential<salient::Dense<2, 3, double>> md;
  md.init(2);
  const auto dbl = salient::io::serialize_checkpoint(salient::io::make_checkpoint(md));
  put("full_f32", 0, full);
  put("full_f32_fixed", 1, full);
  put("bare_f32", 1, bare);
  put("bare_f64", 3, dbl);
  put("empty", 0, {});
  return 0;
}
#endif
