// salient/data/synthetic.hpp — the synthetic sensor-defect task, with known defect positions.
//
// Each series has one sine per channel, channel c spanning `radians[c]` radians over the series
// (value sin(radians[c] · t / (T - 1)) at step t of T), plus uniform noise in [0, noise).
// Each defect is present independently with its probability at a uniformly random start
// position; the labels are multi-hot (a series may have none, several or all defects) and every
// series carries one ground-truth mask per defect marking the (step, channel) cells it touched.
//
// Defaults reproduce the original task: 3 sensors with 10, 15 and 7 radians, lengths 40–59,
// noise [0, 0.2), and five defects with probability 0.25 each:
//   spike_s1       +2 on sensor 1 for 1 step       dip_s2    -2 on sensor 2 for 1 step
//   dropout_s3     sensor 3 set to 0 for 4 steps   shift_s2  +1.5 on sensor 2 for 8 steps
//   coupled_s1_s3  +1.5 on sensor 1 and -1.5 on sensor 3 for 6 steps
//
// Determinism: one Rng(seed) stream, drawn in a fixed order per series — length, noise (time
// major), then for every defect a presence draw and a start draw (the start is drawn even when
// the defect is absent). `apply_defects = false` makes the same draws without applying any
// defect, which gives the defect-free version of exactly the same series (labels and masks are
// still reported). Defects are applied in list order, so overlapping effects on one cell compose.
#pragma once

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "dataset.hpp"

namespace salient::data {

/// What a defect does to one channel over its duration.
struct DefectEffect {
  Index channel = 0;  ///< 0-based channel
  bool set = false;   ///< true: x = value; false: x += value
  double value = 0.0;
};

/// One defect (one label of the generated data set).
struct DefectSpec {
  std::string name;
  std::vector<DefectEffect> effects;
  Index duration = 1;        ///< consecutive steps touched
  double probability = -1;  ///< < 0: use SensorDefectOptions::probability
};

/// The five defects of the original task (channels 0-based: sensor 1 = channel 0).
inline std::vector<DefectSpec> default_sensor_defects() {
  return {
      {"spike_s1", {{0, false, 2.0}}, 1, -1},
      {"dip_s2", {{1, false, -2.0}}, 1, -1},
      {"dropout_s3", {{2, true, 0.0}}, 4, -1},
      {"shift_s2", {{1, false, 1.5}}, 8, -1},
      {"coupled_s1_s3", {{0, false, 1.5}, {2, false, -1.5}}, 6, -1},
  };
}

struct SensorDefectOptions {
  Index count = 1000;                       ///< number of series
  std::vector<double> radians{10, 15, 7};   ///< one entry per channel (so 3 channels)
  Index min_length = 40, max_length = 59;   ///< inclusive range of series lengths
  double noise = 0.2;                       ///< uniform noise in [0, noise)
  double probability = 0.25;                ///< default presence probability of each defect
  std::vector<DefectSpec> defects = default_sensor_defects();
  std::uint64_t seed = 0;
  bool apply_defects = true;                ///< false: same draws, clean signals
  std::string name = "sensor_defects";
};

/// Generate the multi-label sensor-defect data set (masks included). Throws ArgumentError for
/// inconsistent options (e.g. a defect longer than the shortest series).
template <Scalar S = float>
Dataset<S> make_sensor_defects(const SensorDefectOptions& o = {}) {
  const Index C = Index(o.radians.size()), K = Index(o.defects.size());
  require_arg(o.count >= 1, "make_sensor_defects: count must be >= 1, got ", o.count);
  require_arg(C >= 1, "make_sensor_defects: need at least one channel (radians is empty)");
  require_arg(o.min_length >= 2 && o.min_length <= o.max_length,
              "make_sensor_defects: need 2 <= min_length <= max_length, got [", o.min_length, ", ",
              o.max_length, "]");
  require_arg(o.noise >= 0 && std::isfinite(o.noise), "make_sensor_defects: noise must be >= 0");
  require_arg(K >= 1, "make_sensor_defects: the defect list is empty");
  std::set<std::string> names;
  for (const auto& d : o.defects) {
    require_arg(!d.name.empty() && names.insert(d.name).second,
                "make_sensor_defects: defect names must be non-empty and unique ('", d.name, "')");
    require_arg(d.duration >= 1 && d.duration <= o.min_length, "make_sensor_defects: defect '",
                d.name, "' lasts ", d.duration, " steps, expected 1..min_length (", o.min_length, ")");
    const double p = d.probability < 0 ? o.probability : d.probability;
    require_arg(p >= 0 && p <= 1, "make_sensor_defects: defect '", d.name, "' has probability ", p);
    require_arg(!d.effects.empty(), "make_sensor_defects: defect '", d.name, "' has no effect");
    for (const auto& e : d.effects)
      require_arg(e.channel >= 0 && e.channel < C, "make_sensor_defects: defect '", d.name,
                  "' touches channel ", e.channel, ", outside [0, ", C, ")");
  }

  Rng rng(o.seed);
  Dataset<S> ds;
  ds.name = o.name;
  ds.multi_label = true;
  for (const auto& d : o.defects) ds.class_names.push_back(d.name);
  ds.targets = RowMatrix<S>::Zero(o.count, K);
  ds.series.reserve(std::size_t(o.count));
  ds.masks.resize(std::size_t(o.count));
  for (Index i = 0; i < o.count; ++i) {
    const Index T = o.min_length + Index(rng.below(std::uint64_t(o.max_length - o.min_length + 1)));
    RowMatrix<double> x(T, C);
    for (Index t = 0; t < T; ++t)
      for (Index c = 0; c < C; ++c)
        x(t, c) = std::sin(o.radians[std::size_t(c)] * double(t) / double(T - 1)) + rng.uniform() * o.noise;
    auto& masks = ds.masks[std::size_t(i)];
    for (Index k = 0; k < K; ++k) {
      const auto& d = o.defects[std::size_t(k)];
      const double p = d.probability < 0 ? o.probability : d.probability;
      const bool present = rng.bernoulli(p);
      const Index start = Index(rng.below(std::uint64_t(T - d.duration + 1)));
      masks.push_back(RowMatrix<S>::Zero(T, C));
      if (!present) continue;
      ds.targets(i, k) = S(1);
      for (const auto& e : d.effects)
        for (Index t = start; t < start + d.duration; ++t) {
          masks.back()(t, e.channel) = S(1);
          if (!o.apply_defects) continue;
          x(t, e.channel) = e.set ? e.value : x(t, e.channel) + e.value;
        }
    }
    ds.series.push_back(x.cast<S>());
  }
  return ds;
}

}  // namespace salient::data
