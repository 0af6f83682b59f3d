// Checkpoint format: round trip, every failure mode (with its message), resume == uninterrupted.
#include <doctest/doctest.h>

#include <salient/data/scaler.hpp>
#include <salient/io/checkpoint.hpp>
#include <salient/salient.hpp>
#include <salient/train/fit.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "toy_data.hpp"

using namespace salient;
namespace fs = std::filesystem;
using doctest::Contains;

namespace {

using Model = Sequential<Dense<8, 12>, ReLU<>, Dense<12, 3>>;

std::string temp_path(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "salient_test_checkpoint";
  fs::create_directories(dir);
  return (dir / name).string();
}

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream is(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(is), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream os(path, std::ios::binary | std::ios::trunc);
  os.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
/// Recompute the trailing CRC (to reach the section parser with crafted bytes).
void fix_crc(std::vector<unsigned char>& b) {
  const std::uint32_t c = io::crc32(std::span<const unsigned char>(b.data(), b.size() - 4));
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + std::size_t(i)] = static_cast<unsigned char>(c >> (8 * i));
}

RowMatrix<float> some_input(Index rows) {
  RowMatrix<float> x(rows, 8);
  Rng rng(99);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.normal());
  return x;
}

}  // namespace

TEST_CASE("crc32 matches the IEEE check value") {
  const std::string s = "123456789";
  CHECK(io::crc32(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(s.data()), s.size())) ==
        0xCBF43926u);
}

TEST_CASE("checkpoint: round trip of parameters, class names, scaler and extra state; predictions bit-identical") {
  Model a;
  a.init(3);
  auto train = test::toy_multiclass(60, 1, 4);
  data::StandardScaler scaler;
  scaler.fit(train);
  std::ostringstream scaler_bytes;
  scaler.save(scaler_bytes);

  const std::string path = temp_path("roundtrip.slnt");
  io::SaveOptions<float> extra;
  extra.class_names = train.class_names;
  extra.scaler_state = scaler_bytes.str();
  extra.extra_state = std::string("\x01\x00\x02", 3);
  io::save_model(path, a, extra);
  CHECK_FALSE(fs::exists(path + ".tmp"));

  Model b;
  b.init(4);
  CHECK(a.params() != b.params());
  const auto c = io::load_model(path, b);
  CHECK(a.params() == b.params());
  CHECK(c.class_names == train.class_names);
  CHECK(c.extra_state == std::string("\x01\x00\x02", 3));
  CHECK(c.architecture == a.name());
  CHECK_FALSE(c.optimizer.has_value());
  CHECK_FALSE(c.progress.has_value());

  data::StandardScaler scaler2;
  std::istringstream is(c.scaler_state);
  scaler2.load(is);
  std::ostringstream again;
  scaler2.save(again);
  CHECK(again.str() == scaler_bytes.str());

  const auto x = some_input(5);
  const RowMatrix<float> ya = a.forward(x);
  const RowMatrix<float> yb = b.forward(x);
  CHECK(std::memcmp(ya.data(), yb.data(), sizeof(float) * std::size_t(ya.size())) == 0);
  const RowMatrix<float> pa = predict_proba(a, train), pb = predict_proba(b, train);
  CHECK(pa == pb);

  // The in-memory serialisation is stable: same bytes twice.
  CHECK(io::serialize_checkpoint(io::make_checkpoint(a, extra)) == read_bytes(path));
}

TEST_CASE("checkpoint: optimizer state and progress survive the round trip (double model)") {
  using M = Sequential<Dense<8, 4, double>, Tanh<double>, Dense<4, 3, double>>;
  M m;
  m.init(1);
  io::Checkpoint<double> c = io::make_checkpoint(m);
  io::OptimizerState<double> o;
  o.name = "Adam";
  o.steps = 17;
  o.vectors = {Vector<double>::Constant(m.num_params(), 0.25), Vector<double>::Constant(m.num_params(), 2.0)};
  c.optimizer = o;
  io::TrainingProgress<double> p;
  p.epoch = 5;
  p.seed = 1234;
  p.trainer_state = {1, 2, 3.5};
  p.best_params = m.params();
  c.progress = p;
  const auto bytes = io::serialize_checkpoint(c);
  const auto d = io::parse_checkpoint<double>(bytes, "mem");
  REQUIRE(d.optimizer);
  CHECK(d.optimizer->name == "Adam");
  CHECK(d.optimizer->steps == 17);
  REQUIRE(d.optimizer->vectors.size() == 2);
  CHECK(d.optimizer->vectors[1] == o.vectors[1]);
  REQUIRE(d.progress);
  CHECK(d.progress->epoch == 5);
  CHECK(d.progress->seed == 1234);
  CHECK(d.progress->trainer_state == std::vector<double>{1, 2, 3.5});
  CHECK(d.progress->best_params == m.params());
  CHECK(d.params == m.params());
  // A double checkpoint does not load as float.
  CHECK_THROWS_WITH_AS(io::parse_checkpoint<float>(bytes, "mem"),
                       "mem: the checkpoint holds f64 parameters, the model uses f32", IoError);
}

TEST_CASE("checkpoint: every failure mode is an IoError naming the file") {
  Model a;
  a.init(3);
  const std::string path = temp_path("good.slnt");
  io::save_model(path, a, {.class_names = {"up0", "up1", "down"}});
  const auto good = read_bytes(path);
  const std::string bad = temp_path("bad.slnt");
  Model m;

  SUBCASE("missing file") {
    const std::string p = temp_path("does_not_exist.slnt");
    CHECK_THROWS_WITH_AS(io::load_model(p, m), (p + ": cannot open the checkpoint for reading").c_str(), IoError);
  }
  SUBCASE("different architecture") {
    Sequential<Dense<8, 12>, Tanh<>, Dense<12, 3>> other;  // same sizes, other activation
    CHECK_THROWS_WITH_AS(io::load_model(path, other),
                         (path + ": architecture mismatch: the checkpoint holds 'Sequential[Dense<8,12>, ReLU, "
                                 "Dense<12,3>]' (147 parameters), the model is 'Sequential[Dense<8,12>, Tanh, "
                                 "Dense<12,3>]' (147 parameters)")
                             .c_str(),
                         IoError);
    Sequential<Dense<8, 16>, ReLU<>, Dense<16, 3>> wider;
    CHECK_THROWS_WITH_AS(io::load_model(path, wider), Contains("(147 parameters), the model is"), IoError);
  }
  SUBCASE("not a checkpoint") {
    write_bytes(bad, {'h', 'e', 'l', 'l', 'o'});
    CHECK_THROWS_WITH_AS(io::load_model(bad, m),
                         (bad + ": not a salient checkpoint (the file does not start with \"SALIENT\\0\")").c_str(),
                         IoError);
    write_bytes(bad, {});
    CHECK_THROWS_WITH_AS(io::load_model(bad, m), Contains("not a salient checkpoint"), IoError);
  }
  SUBCASE("truncated") {
    for (std::size_t keep : {good.size() - 1, good.size() / 2, std::size_t(40), std::size_t(20)}) {
      write_bytes(bad, std::vector<unsigned char>(good.begin(), good.begin() + std::ptrdiff_t(keep)));
      CHECK_THROWS_WITH_AS(io::load_model(bad, m), Contains((bad + ": truncated checkpoint: ").c_str()), IoError);
    }
    write_bytes(bad, std::vector<unsigned char>(good.begin(), good.begin() + 100));
    CHECK_THROWS_WITH_AS(io::load_model(bad, m),
                         (bad + ": truncated checkpoint: 100 bytes, the header says " + std::to_string(good.size())).c_str(),
                         IoError);
  }
  SUBCASE("extra bytes") {
    auto b = good;
    b.push_back(0);
    write_bytes(bad, b);
    CHECK_THROWS_WITH_AS(io::load_model(bad, m), Contains("(extra bytes at the end)"), IoError);
  }
  SUBCASE("a flipped byte in the payload fails the checksum") {
    auto b = good;
    b[b.size() / 2] ^= 0x10;
    write_bytes(bad, b);
    CHECK_THROWS_WITH_AS(io::load_model(bad, m), Contains((bad + ": checksum mismatch (stored ").c_str()), IoError);
    CHECK_THROWS_WITH_AS(io::load_model(bad, m), Contains("): the file is corrupt"), IoError);
  }
  SUBCASE("every single flipped bit is detected") {
    for (std::size_t i = 0; i < good.size(); ++i)
      for (int bit : {0, 7}) {
        auto b = good;
        b[i] ^= static_cast<unsigned char>(1u << bit);
        CHECK_THROWS_AS(io::parse_checkpoint<float>(b, "x"), IoError);
      }
  }
  SUBCASE("future version") {
    auto b = good;
    b[8] = 2;
    write_bytes(bad, b);
    CHECK_THROWS_WITH_AS(io::load_model(bad, m),
                         (bad + ": checkpoint format version 2 is newer than this build of salient reads (1); "
                                "upgrade salient to load it")
                             .c_str(),
                         IoError);
    b[8] = 0;
    write_bytes(bad, b);
    CHECK_THROWS_WITH_AS(io::load_model(bad, m), Contains("format version 0 is invalid"), IoError);
  }
  SUBCASE("lengths that lie are caught before allocating (valid checksum)") {
    // The first section (ARCH) starts at byte 28: tag, then its u64 length at 32.
    auto b = good;
    for (int i = 0; i < 8; ++i) b[32 + std::size_t(i)] = 0xff;
    fix_crc(b);
    CHECK_THROWS_WITH_AS(io::parse_checkpoint<float>(b, "f"),
                         Contains("f: corrupt checkpoint: sections: section payload needs 18446744073709551615 bytes"),
                         IoError);
    // Signature length inside ARCH (after u32 scalar size and u64 count: offset 28+12+12).
    b = good;
    for (int i = 0; i < 4; ++i) b[52 + std::size_t(i)] = 0xff;
    fix_crc(b);
    CHECK_THROWS_WITH_AS(io::parse_checkpoint<float>(b, "f"),
                         Contains("f: corrupt checkpoint: section ARCH: architecture signature has length 4294967295"),
                         IoError);
    // Unknown tag.
    b = good;
    b[28] = 'Z';
    fix_crc(b);
    CHECK_THROWS_WITH_AS(io::parse_checkpoint<float>(b, "f"), Contains("unknown section tag 'ZRCH'"), IoError);
    // Section count larger than the sections present.
    b = good;
    b[24] += 1;
    fix_crc(b);
    CHECK_THROWS_WITH_AS(io::parse_checkpoint<float>(b, "f"), Contains("section tag needs 4 bytes but only 0 remain"),
                         IoError);
  }
}

// ---- resume == uninterrupted ------------------------------------------------------------

namespace {

FitOptions<float> resume_options() {
  FitOptions<float> o;
  o.epochs = 6;
  o.batch_size = 16;
  o.seed = 77;
  o.threads = 2;
  o.verbose = 0;
  Adam<float> adam;
  adam.lr = 0.01;
  o.optimizer = adam;
  o.schedule = LrSchedule::plateau("loss", 0.5, 1);
  o.early_stopping = EarlyStopping{.monitor = "val_accuracy", .patience = 10};
  return o;
}

}  // namespace

TEST_CASE("checkpoint: resuming training gives the same weights as not stopping") {
  const auto train = test::toy_multiclass(90, 5, 4, 1.2);
  const auto val = test::toy_multiclass(30, 6, 4, 1.2);

  Model full;
  full.init(11);
  auto o = resume_options();
  o.validation = &val;
  const History hf = fit(full, train, o);
  REQUIRE(hf.size() == 6);

  // Same run, killed after epoch 3 (a checkpoint was written at each epoch end).
  const std::string path = temp_path("resume.slnt");
  Model first;
  first.init(11);
  Trainer<Model> t1(first, o);
  t1.options().on_epoch_end = [&](const EpochRecord& r) {
    t1.save(path);
    return r.epoch == 2;
  };
  const History h1 = t1.fit(train);
  CHECK(h1.size() == 3);
  CHECK(h1.stop_reason == "on_epoch_end callback after epoch 3");

  Model second;
  second.init(999);  // overwritten by the checkpoint
  Trainer<Model> t2(second, o);
  t2.resume(path);
  CHECK(t2.epoch() == 3);
  const History h2 = t2.fit(train);
  REQUIRE(h2.size() == 3);
  CHECK(h2.epochs[0].epoch == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(h2.epochs[std::size_t(i)].lr == hf.epochs[std::size_t(i) + 3].lr);
    CHECK(h2.epochs[std::size_t(i)].loss == hf.epochs[std::size_t(i) + 3].loss);
  }
  CHECK(h2.best_epoch == hf.best_epoch);
  CHECK(second.params() == full.params());

  // A checkpoint of another optimizer kind is refused.
  Model third;
  auto o3 = o;
  o3.optimizer = SGD<float>{};
  Trainer<Model> t3(third, o3);
  CHECK_THROWS_WITH_AS(t3.resume(path), (path + ": the checkpoint holds Adam state, training uses SGD").c_str(), IoError);
}
