// tests/toy_data.hpp — tiny synthetic data sets for the training and checkpoint tests.
#pragma once

#include <salient/data/dataset.hpp>

#include <cstdint>
#include <string>

namespace salient::test {

/// Multi-class: K = 3 classes, series of T steps × 2 channels. Class 0 raises channel 0,
/// class 1 raises channel 1, class 2 lowers both; Gaussian noise `noise`.
template <class S = float>
data::Dataset<S> toy_multiclass(Index n, std::uint64_t seed, Index T = 4, double noise = 0.7) {
  data::Dataset<S> d;
  d.name = "toy3";
  d.class_names = {"up0", "up1", "down"};
  Rng rng(seed);
  for (Index i = 0; i < n; ++i) {
    const Index y = i % 3;
    RowMatrix<S> s(T, 2);
    for (Index t = 0; t < T; ++t)
      for (Index c = 0; c < 2; ++c) {
        const double mean = y == 2 ? -1.0 : (y == c ? 1.0 : 0.0);
        s(t, c) = S(rng.normal(mean, noise));
      }
    d.series.push_back(std::move(s));
    d.labels.push_back(y);
  }
  d.validate();
  return d;
}

/// Multi-label: K = 2 labels; label k adds +1.5 to channel k. Labels drawn with p = 0.5.
template <class S = float>
data::Dataset<S> toy_multilabel(Index n, std::uint64_t seed, Index T = 4, double noise = 0.5) {
  data::Dataset<S> d;
  d.name = "toy_ml";
  d.multi_label = true;
  d.class_names = {"bump0", "bump1"};
  d.targets.setZero(n, 2);
  Rng rng(seed);
  for (Index i = 0; i < n; ++i) {
    RowMatrix<S> s(T, 2);
    for (Index k = 0; k < 2; ++k) d.targets(i, k) = rng.bernoulli(0.5) ? S(1) : S(0);
    for (Index t = 0; t < T; ++t)
      for (Index c = 0; c < 2; ++c) s(t, c) = S(rng.normal(1.5 * double(d.targets(i, c)), noise));
    d.series.push_back(std::move(s));
  }
  d.validate();
  return d;
}

}  // namespace salient::test
