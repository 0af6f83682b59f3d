// salient/layers/activation.hpp — element-wise activations (shape-preserving, parameter-free).
//
//   y = f(x)        dx += dy ⊙ f'(x)        any shape; padded steps: y = 0, dx += 0
#pragma once

#include <cmath>
#include <numbers>
#include <string>

#include "../core/layer.hpp"

namespace salient {

namespace fn {
struct ReLU {
  static constexpr const char* name = "ReLU";
  template <class S> static S f(S x) { return x > S(0) ? x : S(0); }
  template <class S> static S df(S x) { return x > S(0) ? S(1) : S(0); }
};
struct Tanh {
  static constexpr const char* name = "Tanh";
  template <class S> static S f(S x) { return std::tanh(x); }
  template <class S> static S df(S x) { const S t = std::tanh(x); return S(1) - t * t; }
};
struct Sigmoid {
  static constexpr const char* name = "Sigmoid";
  // Stable for large |x|: never evaluates exp of a large positive number.
  template <class S> static S f(S x) {
    if (x >= S(0)) return S(1) / (S(1) + std::exp(-x));
    const S e = std::exp(x);
    return e / (S(1) + e);
  }
  template <class S> static S df(S x) { const S s = f(x); return s * (S(1) - s); }
};
/// GELU, exact form x·Φ(x) (PyTorch's default, approximate='none').
struct GELU {
  static constexpr const char* name = "GELU";
  template <class S> static S f(S x) { return S(0.5) * x * (S(1) + std::erf(x / std::numbers::sqrt2_v<S>)); }
  template <class S> static S df(S x) {
    const S cdf = S(0.5) * (S(1) + std::erf(x / std::numbers::sqrt2_v<S>));
    const S pdf = std::exp(S(-0.5) * x * x) / std::sqrt(S(2) * std::numbers::pi_v<S>);
    return cdf + x * pdf;
  }
};
struct Identity {
  static constexpr const char* name = "Identity";
  template <class S> static S f(S x) { return x; }
  template <class S> static S df(S) { return S(1); }
};
}  // namespace fn

template <class Fn, class S = float>
class Activation {
 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Any;
  static constexpr Shape output_shape = Shape::Any;
  static constexpr int input_size = SameAsInput;
  static constexpr int output_size = SameAsInput;
  template <class T>
  using rebind = Activation<Fn, T>;

  Index input_features() const { return -1; }
  Index output_features(Index in) const { return in; }
  Index num_params() const { return 0; }
  std::string name() const { return Fn::name; }
  void bind(S*, S*) {}
  void init(Rng&) {}

  void forward(const RowMatrix<S>& x, RowMatrix<S>& y, Mode) const {
    y = x.unaryExpr([](S v) { return Fn::f(v); });
  }
  void backward(const RowMatrix<S>& x, const RowMatrix<S>&, const RowMatrix<S>& dy,
                RowMatrix<S>* dx) const {
    if (dx) dx->array() += dy.array() * x.unaryExpr([](S v) { return Fn::df(v); }).array();
  }

  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode) const {
    const Index T = x.steps(), B = x.batch(), F = x.features();
    ensure_shape(y.values, T, B, F);
    y.lengths = x.lengths;
    const S* xs = x.values.data();
    S* ys = y.values.data();
    for (Index t = 0; t < T; ++t)
      for (Index b = 0; b < B; ++b) {
        const Index o = (t * B + b) * F;
        const bool valid = t < x.length(b);
        for (Index f = 0; f < F; ++f) ys[o + f] = valid ? Fn::f(xs[o + f]) : S(0);
      }
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>&, const Tensor3<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    const Index F = x.features();
    const S* xs = x.values.data();
    const S* dys = dy.data();
    S* dxs = dx->data();
    for_each_valid(x.lengths, x.steps(), [&](Index, Index, Index row) {
      for (Index f = 0; f < F; ++f) dxs[row * F + f] += dys[row * F + f] * Fn::df(xs[row * F + f]);
    });
  }
};

template <class S = float> using ReLU = Activation<fn::ReLU, S>;
template <class S = float> using Tanh = Activation<fn::Tanh, S>;
template <class S = float> using Sigmoid = Activation<fn::Sigmoid, S>;
template <class S = float> using GELU = Activation<fn::GELU, S>;
template <class S = float> using Identity = Activation<fn::Identity, S>;

}  // namespace salient
