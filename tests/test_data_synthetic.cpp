// Tests of the synthetic sensor-defect generator.
#include <doctest/doctest.h>

#include <salient/data.hpp>  // the umbrella header must compile on its own
#include <salient/data/synthetic.hpp>

#include <cmath>

using salient::Index;
using salient::RowMatrix;
using namespace salient::data;

TEST_CASE("generator: shape, names, lengths, validity") {
  SensorDefectOptions o;
  o.count = 500;
  o.seed = 1;
  const auto d = make_sensor_defects<float>(o);
  CHECK_NOTHROW(d.validate());
  CHECK(d.multi_label);
  CHECK(d.size() == 500);
  CHECK(d.channels() == 3);
  CHECK(d.class_names ==
        std::vector<std::string>{"spike_s1", "dip_s2", "dropout_s3", "shift_s2", "coupled_s1_s3"});
  CHECK(d.min_length() >= 40);
  CHECK(d.max_length() <= 59);
  CHECK(d.min_length() == 40);  // 500 draws cover the whole range
  CHECK(d.max_length() == 59);
  REQUIRE(d.has_masks());
  CHECK(d.masks[0].size() == 5);
}

TEST_CASE("generator: label frequencies are about the probability") {
  SensorDefectOptions o;
  o.count = 4000;
  o.seed = 2;
  const auto d = make_sensor_defects<float>(o);
  const double n = double(d.size());
  // 4000 Bernoulli(0.25) draws: std of the frequency ~ 0.0068; allow ~4.5 sigma.
  for (Index c : d.class_counts()) CHECK(std::abs(double(c) / n - 0.25) < 0.03);
  Index none = 0;
  for (Index i = 0; i < d.size(); ++i) none += d.targets.row(i).sum() == 0.0f;
  CHECK(std::abs(double(none) / n - std::pow(0.75, 5)) < 0.03);  // ≈ 0.237 with no defect
}

TEST_CASE("generator: masks are non-zero exactly where the signal differs from the clean version") {
  SensorDefectOptions o;
  o.count = 300;
  o.seed = 9;
  const auto d = make_sensor_defects<float>(o);
  o.apply_defects = false;
  const auto clean = make_sensor_defects<float>(o);
  REQUIRE(clean.size() == d.size());
  CHECK(clean.targets == d.targets);  // the same draws
  for (Index i = 0; i < d.size(); ++i) {
    const auto& x = d.series[std::size_t(i)];
    const auto& y = clean.series[std::size_t(i)];
    REQUIRE(x.rows() == y.rows());
    RowMatrix<float> any = RowMatrix<float>::Zero(x.rows(), x.cols());
    for (Index k = 0; k < d.num_classes(); ++k) {
      const auto& m = d.mask(i, k);
      CHECK((m.array() != 0).any() == d.has_label(i, k));
      any = any.cwiseMax(m);
      // A present defect's mask is one block of `duration` steps on its channels.
      if (d.has_label(i, k)) {
        const auto& spec = o.defects[std::size_t(k)];
        for (const auto& e : spec.effects) CHECK(m.col(e.channel).sum() == float(spec.duration));
      }
    }
    for (Index t = 0; t < x.rows(); ++t)
      for (Index c = 0; c < x.cols(); ++c) {
        INFO("series ", i, " step ", t, " channel ", c);
        CHECK((any(t, c) != 0) == (x(t, c) != y(t, c)));
      }
  }
}

TEST_CASE("generator: the clean signal is sines plus noise in [0, noise)") {
  SensorDefectOptions o;
  o.count = 20;
  o.apply_defects = false;
  const auto d = make_sensor_defects<double>(o);
  for (const auto& x : d.series) {
    const Index T = x.rows();
    for (Index t = 0; t < T; ++t)
      for (Index c = 0; c < 3; ++c) {
        const double noise = x(t, c) - std::sin(o.radians[std::size_t(c)] * double(t) / double(T - 1));
        CHECK(noise >= 0.0);
        CHECK(noise < 0.2);
      }
  }
}

TEST_CASE("generator: defect effects follow the spec") {
  SensorDefectOptions o;
  o.count = 200;
  o.seed = 4;
  o.noise = 0;
  const auto d = make_sensor_defects<double>(o);
  o.apply_defects = false;
  const auto clean = make_sensor_defects<double>(o);
  for (Index i = 0; i < d.size(); ++i) {
    // Only series with exactly one defect, so effects do not overlap.
    if (d.targets.row(i).sum() != 1.0) continue;
    Index k = 0;
    while (!d.has_label(i, k)) ++k;
    const auto diff = (d.series[std::size_t(i)] - clean.series[std::size_t(i)]).eval();
    const auto& m = d.mask(i, k);
    for (Index t = 0; t < diff.rows(); ++t) {
      if (m.row(t).sum() == 0) continue;
      switch (k) {
        case 0: CHECK(diff(t, 0) == doctest::Approx(2.0)); break;
        case 1: CHECK(diff(t, 1) == doctest::Approx(-2.0)); break;
        case 2: CHECK(d.series[std::size_t(i)](t, 2) == 0.0); break;
        case 3: CHECK(diff(t, 1) == doctest::Approx(1.5)); break;
        case 4:
          CHECK(diff(t, 0) == doctest::Approx(1.5));
          CHECK(diff(t, 2) == doctest::Approx(-1.5));
          break;
      }
    }
  }
}

TEST_CASE("generator: deterministic for a seed, configurable") {
  SensorDefectOptions o;
  o.count = 50;
  o.seed = 77;
  const auto a = make_sensor_defects<float>(o), b = make_sensor_defects<float>(o);
  CHECK(a.targets == b.targets);
  for (Index i = 0; i < a.size(); ++i) CHECK(a.series[std::size_t(i)] == b.series[std::size_t(i)]);
  o.seed = 78;
  const auto c = make_sensor_defects<float>(o);
  CHECK_FALSE(c.targets == a.targets);

  SensorDefectOptions custom;
  custom.count = 30;
  custom.radians = {3, 4};
  custom.min_length = 10;
  custom.max_length = 10;
  custom.probability = 1.0;
  custom.defects = {{"flat", {{1, true, -7.0}}, 3, -1}, {"never", {{0, false, 1.0}}, 2, 0.0}};
  const auto e = make_sensor_defects<float>(custom);
  CHECK(e.channels() == 2);
  CHECK(e.min_length() == 10);
  CHECK(e.max_length() == 10);
  CHECK(e.class_counts() == std::vector<Index>{30, 0});
  for (const auto& x : e.series) CHECK((x.col(1).array() == -7.0f).count() == 3);

  custom.defects[0].duration = 11;
  CHECK_THROWS_WITH_AS((void)make_sensor_defects<float>(custom),
                       "make_sensor_defects: defect 'flat' lasts 11 steps, expected 1..min_length (10)",
                       salient::ArgumentError);
  custom.defects[0].duration = 3;
  custom.defects[0].effects[0].channel = 2;
  CHECK_THROWS_WITH_AS((void)make_sensor_defects<float>(custom),
                       "make_sensor_defects: defect 'flat' touches channel 2, outside [0, 2)",
                       salient::ArgumentError);
}
