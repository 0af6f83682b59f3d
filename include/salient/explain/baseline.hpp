// salient/explain/baseline.hpp — the reference input that "absence of signal" is measured against.
//
// Integrated gradients integrate from the baseline to the input; occlusion and Shapley sampling
// replace removed cells by the baseline's values; deletion curves delete towards it. The choice
// is explicit because every fixed baseline is blind somewhere: a cell whose value equals the
// baseline's gets no attribution from any method (x − x' = 0 there). Options:
//
//   zeros()                 x'(t, f) = 0
//   constant(v)             x'(t, f) = v
//   channel_mean(mean)      x'(t, f) = mean[f]   (e.g. StandardScaler::mean, or the per-channel
//                           mean of the scaled training data)
//   blurred(w)              centred moving average of the sample itself over w steps, within
//                           its valid steps (keeps slow structure, removes short events)
//   series(s)               one user-given series (T_s × F) for every sample, aligned in time
//   per_sample(batch)       one given reference per sample (same shape as the explained batch)
//   distribution(pool, n)   n draws from a pool of series (e.g. normal training series): methods
//                           average over the draws (expected-gradients style), which removes the
//                           blind spot of any single reference
//
// Series of another length are aligned by `Align::Stretch` (linear interpolation of the
// reference onto the sample's length: step t of L reads position t·(R−1)/(L−1) of R) or
// `Align::Start` (step t reads step t mod R).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/tensor.hpp"
#include "target.hpp"

namespace salient::explain {

enum class Align { Stretch, Start };

template <class S>
class Baseline {
 public:
  enum class Kind { Constant, ChannelMean, Blurred, Series, PerSample, Distribution };

  Baseline() = default;  // zeros
  static Baseline zeros() { return constant(S(0)); }
  static Baseline constant(S v) {
    Baseline b;
    b.kind_ = Kind::Constant;
    b.value_ = v;
    return b;
  }
  static Baseline channel_mean(std::vector<double> mean) {
    require_arg(!mean.empty(), "explain::Baseline::channel_mean: empty mean vector");
    Baseline b;
    b.kind_ = Kind::ChannelMean;
    b.mean_ = std::move(mean);
    return b;
  }
  static Baseline blurred(Index window) {
    require_arg(window >= 1, "explain::Baseline::blurred: window must be >= 1, got ", window);
    Baseline b;
    b.kind_ = Kind::Blurred;
    b.window_ = window;
    return b;
  }
  static Baseline series(RowMatrix<S> s, Align align = Align::Stretch) {
    require_arg(s.rows() >= 1 && s.cols() >= 1, "explain::Baseline::series: empty series");
    Baseline b;
    b.kind_ = Kind::Series;
    b.pool_ = std::make_shared<std::vector<RowMatrix<S>>>(1, std::move(s));
    b.align_ = align;
    return b;
  }
  static Baseline per_sample(SeqBatch<S> refs) {
    refs.validate();
    Baseline b;
    b.kind_ = Kind::PerSample;
    b.batch_ = std::make_shared<SeqBatch<S>>(std::move(refs));
    return b;
  }
  /// `draws` references per sample, drawn uniformly (with replacement) from `pool` by an Rng
  /// seeded with `seed` at the start of every method call.
  static Baseline distribution(std::vector<RowMatrix<S>> pool, Index draws, std::uint64_t seed = 0,
                               Align align = Align::Stretch) {
    require_arg(!pool.empty(), "explain::Baseline::distribution: empty pool");
    require_arg(draws >= 1, "explain::Baseline::distribution: draws must be >= 1, got ", draws);
    for (const auto& s : pool)
      require_arg(s.rows() >= 1 && s.cols() == pool.front().cols(),
                  "explain::Baseline::distribution: pool series must be non-empty and equally wide");
    Baseline b;
    b.kind_ = Kind::Distribution;
    b.pool_ = std::make_shared<std::vector<RowMatrix<S>>>(std::move(pool));
    b.draws_ = draws;
    b.seed_ = seed;
    b.align_ = align;
    return b;
  }

  Kind kind() const { return kind_; }
  /// References per sample (1 unless a distribution).
  Index draws() const { return kind_ == Kind::Distribution ? draws_ : 1; }
  std::uint64_t seed() const { return seed_; }
  /// The same baseline with another seed / number of draws (distributions).
  Baseline with_seed(std::uint64_t s) const {
    Baseline b = *this;
    b.seed_ = s;
    return b;
  }
  Baseline with_draws(Index n) const {
    require_arg(n >= 1, "explain::Baseline: draws must be >= 1");
    Baseline b = *this;
    b.draws_ = n;
    return b;
  }
  std::string describe() const {
    switch (kind_) {
      case Kind::Constant: return value_ == S(0) ? "zeros" : salient::detail::concat("constant ", value_);
      case Kind::ChannelMean: return "channel mean";
      case Kind::Blurred: return salient::detail::concat("blurred (", window_, " steps)");
      case Kind::Series: return "given series";
      case Kind::PerSample: return "given per-sample references";
      case Kind::Distribution: return salient::detail::concat(draws_, " draws from ", pool_->size(), " series");
    }
    return "?";
  }

  /// Which pool series each (sample, draw) uses: size B·draws(), index b·draws + d. Empty for
  /// non-distribution baselines. Draws from a fresh Rng(seed()).
  std::vector<Index> picks(Index B) const {
    if (kind_ != Kind::Distribution) return {};
    Rng rng(seed_);
    std::vector<Index> p(static_cast<std::size_t>(B * draws_));
    for (auto& i : p) i = Index(rng.below(pool_->size()));
    return p;
  }

  /// Write the reference of sample b of x (draw d) over its valid steps into `out`.
  /// `picks` comes from picks(x.batch()).
  template <class V>
  void fill(const SeqBatch<S>& x, Index b, Index d, const std::vector<Index>& picks, V&& out) const {
    const Index L = x.length(b), F = x.features();
    const auto src = sample_view(x.values, b, L);
    switch (kind_) {
      case Kind::Constant:
        for (Index t = 0; t < L; ++t)
          for (Index f = 0; f < F; ++f) out(t, f) = value_;
        break;
      case Kind::ChannelMean:
        require_shape(Index(mean_.size()) == F, "explain::Baseline::channel_mean: ", mean_.size(),
                      " means for ", F, " channels");
        for (Index t = 0; t < L; ++t)
          for (Index f = 0; f < F; ++f) out(t, f) = S(mean_[std::size_t(f)]);
        break;
      case Kind::Blurred: {
        const Index lo = (window_ - 1) / 2, hi = window_ - 1 - lo;
        for (Index f = 0; f < F; ++f)
          for (Index t = 0; t < L; ++t) {
            const Index a = std::max<Index>(0, t - lo), e = std::min<Index>(L - 1, t + hi);
            double s = 0;
            for (Index u = a; u <= e; ++u) s += double(src(u, f));
            out(t, f) = S(s / double(e - a + 1));
          }
        break;
      }
      case Kind::Series:
        aligned((*pool_)[0], L, F, out);
        break;
      case Kind::PerSample: {
        const auto& r = *batch_;
        require_shape(r.batch() == x.batch() && r.features() == F && r.steps() >= L,
                      "explain::Baseline::per_sample: references do not match the explained batch");
        const auto rs = sample_view(r.values, b, r.length(b));
        for (Index t = 0; t < L; ++t)
          for (Index f = 0; f < F; ++f) out(t, f) = t < r.length(b) ? rs(t, f) : S(0);
        break;
      }
      case Kind::Distribution:
        aligned((*pool_)[std::size_t(picks[std::size_t(b * draws_ + d)])], L, F, out);
        break;
    }
  }

  /// The whole reference batch for draw d (same shape as x, zero padding).
  SeqBatch<S> materialize(const SeqBatch<S>& x, Index d, const std::vector<Index>& picks) const {
    SeqBatch<S> r(x.steps(), x.batch(), x.features());
    r.lengths = x.lengths;
    for (Index b = 0; b < x.batch(); ++b) fill(x, b, d, picks, sample_view(r.values, b, x.length(b)));
    return r;
  }

 private:
  template <class V>
  void aligned(const RowMatrix<S>& s, Index L, Index F, V&& out) const {
    require_shape(s.cols() == F, "explain::Baseline: reference series has ", s.cols(),
                  " channels, the input has ", F);
    const Index R = s.rows();
    for (Index t = 0; t < L; ++t) {
      if (align_ == Align::Start || R == 1 || L == 1) {
        const Index u = align_ == Align::Start ? t % R : std::min(t, R - 1);
        for (Index f = 0; f < F; ++f) out(t, f) = s(u, f);
      } else {
        const double pos = double(t) * double(R - 1) / double(L - 1);
        const Index u = std::min<Index>(Index(pos), R - 2);
        const double w = pos - double(u);
        for (Index f = 0; f < F; ++f) out(t, f) = S((1 - w) * double(s(u, f)) + w * double(s(u + 1, f)));
      }
    }
  }

  Kind kind_ = Kind::Constant;
  S value_ = S(0);
  std::vector<double> mean_;
  Index window_ = 1;
  std::shared_ptr<std::vector<RowMatrix<S>>> pool_;
  std::shared_ptr<SeqBatch<S>> batch_;
  Index draws_ = 1;
  std::uint64_t seed_ = 0;
  Align align_ = Align::Stretch;
};

}  // namespace salient::explain
