// tests/gradcheck.hpp — the generic layer test harness (used by every layer's tests).
//
// check_layer(): random parameters, random input (sequences with uneven lengths), random
// upstream gradient dy; loss = Σ y ⊙ dy. Central finite differences in double precision over
// EVERY parameter and EVERY input element (padded ones included: their gradient must be 0) are
// compared with the hand-written backward, which must ADD into pre-filled gradient buffers.
// check_mask_invariance(): garbage (huge values, NaN) in padded input steps must change no
// valid output, no input gradient and no parameter gradient.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include <salient/core/layer.hpp>

namespace salient::test {

struct GradCheckOptions {
  Index T = 7, B = 3;         // sequence steps and batch size
  Lengths lengths = {7, 4, 1};  // per-sample lengths (size B); empty = all T
  double h = 1e-6;            // finite-difference step
  double tol = 1e-6;          // |analytic - numeric| <= tol · max(1, |analytic|, |numeric|)
  double input_scale = 1.0;   // inputs ~ U(-scale, scale)
  std::uint64_t seed = 1;
  Mode mode = Mode::Training;
  std::function<void()> before_forward;  // e.g. reseed dropout so every pass draws the same mask
};

template <class S>
const S* data_of_any(const SeqBatch<S>& x) { return x.values.data(); }
template <class S>
const S* data_of_any(const RowMatrix<S>& x) { return x.data(); }
template <class S>
Index size_any(const SeqBatch<S>& x) { return x.values.size(); }
template <class S>
Index size_any(const RowMatrix<S>& x) { return x.size(); }

inline bool close(double a, double n, double tol) {
  return std::abs(a - n) <= tol * std::max({1.0, std::abs(a), std::abs(n)});
}

template <class L>
struct Bound {
  L layer;
  Vector<double> params, grads;
  explicit Bound(L l, Rng& rng) : layer(std::move(l)) {
    params.setZero(layer.num_params());
    grads.setZero(layer.num_params());
    layer.bind(params.data(), grads.data());
    layer.init(rng);
    // Perturb so no parameter sits at a special value (zero biases, ones in norms).
    for (Index i = 0; i < params.size(); ++i) params[i] += 0.1 * rng.uniform(-1.0, 1.0);
  }
};

inline void fill_uniform(double* p, Index n, Rng& rng, double scale) {
  for (Index i = 0; i < n; ++i) p[i] = rng.uniform(-scale, scale);
}

template <Shape K>
auto make_input(Index features, const GradCheckOptions& o, Rng& rng) {
  if constexpr (K == Shape::Sequence) {
    SeqBatch<double> x(o.T, o.B, features);
    if (!o.lengths.empty()) x.lengths = o.lengths;
    fill_uniform(x.values.data(), x.values.size(), rng, o.input_scale);
    zero_padding(x.values, x.lengths);
    return x;
  } else {
    RowMatrix<double> x(o.B, features);
    fill_uniform(x.data(), x.size(), rng, o.input_scale);
    return x;
  }
}

inline double* data_of(SeqBatch<double>& x) { return x.values.data(); }
inline Index size_of(const SeqBatch<double>& x) { return x.values.size(); }
inline double* data_of(RowMatrix<double>& x) { return x.data(); }
inline Index size_of(const RowMatrix<double>& x) { return x.size(); }
inline double* data_of(Tensor3<double>& x) { return x.data(); }
inline const double* data_of(const Tensor3<double>& x) { return x.data(); }
inline const double* data_of(const SeqBatch<double>& x) { return x.values.data(); }
inline const double* data_of(const RowMatrix<double>& x) { return x.data(); }

template <class Out>
auto make_grad_like(const Out& y) {
  if constexpr (requires { y.values; }) {
    Tensor3<double> g(y.values.dimension(0), y.values.dimension(1), y.values.dimension(2));
    g.setZero();
    return g;
  } else {
    RowMatrix<double> g = RowMatrix<double>::Zero(y.rows(), y.cols());
    return g;
  }
}

template <class Out, class G>
double dot_loss(const Out& y, const G& dy) {
  double s = 0.0;
  const double* a = data_of(y);
  const double* b = data_of(dy);
  const Index n = size_of(y);
  for (Index i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

/// Padded steps of a sequence output must be exactly zero.
template <class Out>
void check_padded_zero(const Out& y) {
  if constexpr (requires { y.lengths; }) {
    const Index T = y.steps(), B = y.batch(), F = y.features();
    for (Index t = 0; t < T; ++t)
      for (Index b = 0; b < B; ++b)
        if (t >= y.length(b))
          for (Index f = 0; f < F; ++f) REQUIRE(y(t, b, f) == 0.0);
  }
}

/// Run the full gradient check for a layer (scalar double) on input kind K.
template <Shape K, class L>
void check_layer(L layer_proto, Index in_features, const GradCheckOptions& o = {}) {
  static_assert(std::is_same_v<typename L::scalar_type, double>, "gradient checks run in double");
  constexpr Shape OutK = L::output_shape == Shape::Any ? K : L::output_shape;
  Rng rng(o.seed);
  Bound<L> m(std::move(layer_proto), rng);
  auto x = make_input<K>(in_features, o, rng);
  data_t<OutK, double> y;
  auto fwd = [&] {
    if (o.before_forward) o.before_forward();
    m.layer.forward(x, y, o.mode);
  };
  fwd();
  check_padded_zero(y);
  auto dy = make_grad_like(y);
  fill_uniform(data_of(dy), size_of(y), rng, 1.0);  // padded entries too: they must be ignored

  // Pre-filled buffers: backward must add into them.
  auto dx = make_grad_like(x);
  fill_uniform(data_of(dx), size_of(x), rng, 1.0);
  const auto dx0 = dx;
  Vector<double> g0(m.grads.size());
  fill_uniform(g0.data(), g0.size(), rng, 1.0);
  m.grads = g0;
  m.layer.backward(x, y, dy, &dx);
  const Vector<double> dparams = m.grads - g0;

  auto loss = [&] {
    fwd();
    double s = 0.0;
    // Only valid steps count: padded outputs are zero, but dy there is garbage.
    if constexpr (requires { y.lengths; }) {
      const Index F = y.features();
      for_each_valid(y.lengths, y.steps(), [&](Index, Index, Index row) {
        for (Index f = 0; f < F; ++f) s += y.values.data()[row * F + f] * dy.data()[row * F + f];
      });
    } else {
      s = dot_loss(y, dy);
    }
    return s;
  };
  // Parameters.
  int bad = 0;
  for (Index i = 0; i < m.params.size(); ++i) {
    const double keep = m.params[i];
    m.params[i] = keep + o.h;
    const double lp = loss();
    m.params[i] = keep - o.h;
    const double lm = loss();
    m.params[i] = keep;
    const double num = (lp - lm) / (2 * o.h);
    if (!close(dparams[i], num, o.tol) && bad++ < 5)
      FAIL_CHECK(m.layer.name() << ": parameter " << i << " analytic " << dparams[i] << " numeric " << num);
  }
  // Inputs (every element, padded included).
  double* xs = data_of(x);
  const double* dxs = data_of(dx);
  const double* dx0s = data_of(dx0);
  for (Index i = 0; i < size_of(x); ++i) {
    const double keep = xs[i];
    xs[i] = keep + o.h;
    const double lp = loss();
    xs[i] = keep - o.h;
    const double lm = loss();
    xs[i] = keep;
    const double num = (lp - lm) / (2 * o.h);
    const double ana = dxs[i] - dx0s[i];
    if (!close(ana, num, o.tol) && bad++ < 10)
      FAIL_CHECK(m.layer.name() << ": input element " << i << " analytic " << ana << " numeric " << num);
  }
  CHECK(bad == 0);
  // The gradient really is non-trivial (a test that could fail).
  double norm = 0;
  for (Index i = 0; i < size_of(x); ++i) norm += std::abs(dxs[i] - dx0s[i]);
  CHECK(norm + dparams.cwiseAbs().sum() > 0.0);
}

/// Garbage in padded steps changes no valid output and no gradient (bit-identical).
template <class L>
void check_mask_invariance(L layer_proto, Index in_features, GradCheckOptions o = {}) {
  constexpr Shape OutK = L::output_shape == Shape::Any ? Shape::Sequence : L::output_shape;
  using S = typename L::scalar_type;
  Rng rng(o.seed);
  L layer = std::move(layer_proto);
  Vector<S> params(layer.num_params()), grads(layer.num_params());
  layer.bind(params.data(), grads.data());
  layer.init(rng);
  SeqBatch<S> clean(o.T, o.B, in_features);
  if (!o.lengths.empty()) clean.lengths = o.lengths;
  for (Index i = 0; i < clean.values.size(); ++i) clean.values.data()[i] = S(rng.uniform(-1, 1));
  zero_padding(clean.values, clean.lengths);
  SeqBatch<S> dirty = clean;
  Index n_padded = 0;
  for (Index t = 0; t < o.T; ++t)
    for (Index b = 0; b < o.B; ++b)
      if (t >= dirty.length(b))
        for (Index f = 0; f < in_features; ++f, ++n_padded)
          dirty(t, b, f) = (f + t) % 3 == 0 ? std::numeric_limits<S>::quiet_NaN() : S(1e30 * (f % 2 ? -1 : 1));
  REQUIRE(n_padded > 0);

  auto run = [&](const SeqBatch<S>& x, data_t<OutK, S>& y, Tensor3<S>& dx, Vector<S>& g) {
    grads.setZero();
    if (o.before_forward) o.before_forward();
    layer.forward(x, y, o.mode);
    Rng r2(o.seed + 7);
    auto dy = [&] {
      if constexpr (OutK == Shape::Sequence) {
        Tensor3<S> d(y.values.dimension(0), y.values.dimension(1), y.values.dimension(2));
        for (Index i = 0; i < d.size(); ++i) d.data()[i] = S(r2.uniform(-1, 1));
        return d;
      } else {
        RowMatrix<S> d(y.rows(), y.cols());
        for (Index i = 0; i < d.size(); ++i) d.data()[i] = S(r2.uniform(-1, 1));
        return d;
      }
    }();
    dx.resize(x.steps(), x.batch(), x.features());
    dx.setZero();
    layer.backward(x, y, dy, &dx);
    g = grads;
  };
  data_t<OutK, S> y1, y2;
  Tensor3<S> dx1, dx2;
  Vector<S> g1, g2;
  run(clean, y1, dx1, g1);
  run(dirty, y2, dx2, g2);
  const S* a = data_of_any(y1);
  const S* b = data_of_any(y2);
  const Index n = size_any(y1);
  for (Index i = 0; i < n; ++i) REQUIRE(a[i] == b[i]);
  for (Index i = 0; i < dx1.size(); ++i) REQUIRE(dx1.data()[i] == dx2.data()[i]);
  for (Index i = 0; i < g1.size(); ++i) REQUIRE(g1[i] == g2[i]);
  // Padded steps of the input gradient receive nothing.
  for (Index t = 0; t < o.T; ++t)
    for (Index bb = 0; bb < o.B; ++bb)
      if (t >= clean.length(bb))
        for (Index f = 0; f < in_features; ++f) REQUIRE(dx2(t, bb, f) == S(0));
}

}  // namespace salient::test

namespace salient::test {

/// Finite-difference check of a whole model (double): parameters through the flat buffer,
/// inputs element by element. loss = Σ output ⊙ dy over valid entries.
template <class Model>
void check_model(Model& model, typename Model::Input x, double tol = 1e-6, std::uint64_t seed = 3,
                 Mode mode = Mode::Training, double h = 1e-6) {
  Rng rng(seed);
  const auto& y0 = model.forward(x, mode);
  auto dy = make_grad_like(y0);
  fill_uniform(data_of(dy), size_of(y0), rng, 1.0);
  auto valid_loss = [&](const auto& y) {
    if constexpr (requires { y.lengths; }) {
      double s = 0.0;
      const Index F = y.features();
      for_each_valid(y.lengths, y.steps(), [&](Index, Index, Index row) {
        for (Index f = 0; f < F; ++f) s += y.values.data()[row * F + f] * dy.data()[row * F + f];
      });
      return s;
    } else {
      return dot_loss(y, dy);
    }
  };
  model.zero_grad();
  typename Model::InputGrad dx;
  model.backward(dy, &dx);
  const Vector<double> g = model.grads();
  auto loss = [&] { return valid_loss(model.forward(x, mode)); };
  int bad = 0;
  auto p = model.params();
  for (Index i = 0; i < p.size(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    const double lp = loss();
    p[i] = keep - h;
    const double lm = loss();
    p[i] = keep;
    const double num = (lp - lm) / (2 * h);
    if (!close(g[i], num, tol) && bad++ < 5)
      FAIL_CHECK(model.name() << ": parameter " << i << " analytic " << g[i] << " numeric " << num);
  }
  double* xs = data_of(x);
  for (Index i = 0; i < size_of(x); ++i) {
    const double keep = xs[i];
    xs[i] = keep + h;
    const double lp = loss();
    xs[i] = keep - h;
    const double lm = loss();
    xs[i] = keep;
    const double num = (lp - lm) / (2 * h);
    if (!close(data_of(dx)[i], num, tol) && bad++ < 10)
      FAIL_CHECK(model.name() << ": input " << i << " analytic " << data_of(dx)[i] << " numeric " << num);
  }
  CHECK(bad == 0);
}

}  // namespace salient::test
