// salient/core/random.hpp — a small, portable, seedable random generator.
//
// Why not <random>'s distributions: their output differs between standard libraries, and we
// promise the same weights for the same seed everywhere. xoshiro256** plus our own
// uniform/normal transforms are fully specified here.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace salient {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0x5a11e47ULL) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    // splitmix64 expands the seed into the 256-bit state.
    for (auto& s : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
    has_spare_ = false;
  }

  /// Next raw 64-bit value (xoshiro256**).
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  /// Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n) (n > 0), without modulo bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = next_u64();
    while (x >= limit);
    return x % n;
  }
  /// Standard normal (Box–Muller, the spare value is kept).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1;
    do u1 = uniform();
    while (u1 <= 0.0);
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * std::numbers::pi * u2);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  /// Bernoulli trial with probability p.
  bool bernoulli(double p) { return uniform() < p; }

  /// A generator for an independent stream (e.g. one per worker or per layer).
  Rng split() { return Rng(next_u64()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4]{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// Fisher–Yates shuffle with salient's portable generator.
template <class It>
void shuffle(It first, It last, Rng& rng) {
  const auto n = last - first;
  for (auto i = n - 1; i > 0; --i) {
    const auto j = static_cast<decltype(i)>(rng.below(std::uint64_t(i) + 1));
    using std::swap;
    swap(first[i], first[j]);
  }
}

}  // namespace salient
