// salient/layers/dense.hpp — fully connected layer, on vectors or time-distributed on sequences.
//
//   y = x · Wᵀ + b        x: (N, In)   W: (Out, In) row-major, as PyTorch's Linear.weight
//                         b: (Out)     y: (N, Out)
// On a sequence batch (T, B, In) the same product runs once over all T·B rows; padded rows
// are masked to zero in the input and the output.
#pragma once

#include <string>

#include "../core/init.hpp"
#include "../core/layer.hpp"

namespace salient {

template <int In, int Out, class S = float>
class Dense {
  static_assert(In == Dynamic || In > 0, "Dense: the input size must be positive or Dynamic");
  static_assert(Out == Dynamic || Out > 0, "Dense: the output size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Any;
  static constexpr Shape output_shape = Shape::Any;
  static constexpr int input_size = In;
  static constexpr int output_size = Out;
  template <class T>
  using rebind = Dense<In, Out, T>;

  /// Fixed sizes: default-constructible. Dynamic sizes: give them here.
  Dense() requires(In != Dynamic && Out != Dynamic) : in_(In), out_(Out) {}
  Dense(Index in, Index out, bool use_bias = true) : in_(in), out_(out), bias_(use_bias) {
    require_shape(in > 0 && out > 0, "Dense: sizes must be positive, got in=", in, " out=", out);
    require_shape(In == Dynamic || in == In, "Dense<", In, ",", Out, ">: in=", in, " differs from the template size");
    require_shape(Out == Dynamic || out == Out, "Dense<", In, ",", Out, ">: out=", out, " differs from the template size");
  }

  Index input_features() const { return in_; }
  Index output_features(Index) const { return out_; }
  Index num_params() const { return out_ * in_ + (bias_ ? out_ : 0); }
  std::string name() const { return detail::concat("Dense<", in_, ",", out_, bias_ ? "" : ",nobias", ">"); }

  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  void init(Rng& rng) {
    init::glorot_uniform(weight(), in_, out_, rng);
    if (bias_) bias().setZero();
  }

  RowMatrixMap<S> weight() { return {p_, out_, in_}; }
  ConstRowMatrixMap<S> weight() const { return {p_, out_, in_}; }
  VectorMap<S> bias() { return {p_ + out_ * in_, bias_ ? out_ : 0}; }
  ConstVectorMap<S> bias() const { return {p_ + out_ * in_, bias_ ? out_ : 0}; }

  // ---- vectors: x (B, In) -> y (B, Out) ----
  void forward(const RowMatrix<S>& x, RowMatrix<S>& y, Mode) const {
    check_features(name(), "input", in_, x.cols());
    affine(x, y);
  }
  void backward(const RowMatrix<S>& x, const RowMatrix<S>&, const RowMatrix<S>& dy,
                RowMatrix<S>* dx) {
    accumulate(x, dy, dx);
  }

  // ---- sequences: x (T, B, In) -> y (T, B, Out), time-distributed ----
  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode) {
    check_features(name(), "input", in_, x.features());
    const Index T = x.steps(), B = x.batch();
    ensure_shape(y.values, T, B, out_);
    y.lengths = x.lengths;
    RowMatrixMap<S> yf = flat_map(y.values);
    affine(flat_map(masked(x.values, x.lengths, scratch_x_)), yf);
    zero_padding(y.values, y.lengths);
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>& y, const Tensor3<S>& dy, Tensor3<S>* dx) {
    const auto& xc = masked(x.values, x.lengths, scratch_x_);
    const auto& dyc = masked(dy, y.lengths, scratch_dy_);
    if (dx) {
      RowMatrixMap<S> dxf = flat_map(*dx);
      accumulate(flat_map(xc), flat_map(dyc), &dxf);
    } else {
      accumulate(flat_map(xc), flat_map(dyc), static_cast<RowMatrixMap<S>*>(nullptr));
    }
  }

 private:
  template <class X, class Y>
  void affine(const X& x, Y& y) const {
    if constexpr (requires { y.resize(x.rows(), out_); })
      if (y.rows() != x.rows() || y.cols() != out_) y.resize(x.rows(), out_);
    y.noalias() = x * weight().transpose();
    if (bias_) y.rowwise() += bias().transpose();
  }
  // dW += dyᵀ·x (Out, In);  db += Σ_rows dy (Out);  dx += dy·W (N, In)
  template <class X, class DY, class DX>
  void accumulate(const X& x, const DY& dy, DX* dx) {
    if (g_) {
      RowMatrixMap<S> dW(g_, out_, in_);
      dW.noalias() += dy.transpose() * x;
      if (bias_) VectorMap<S>(g_ + out_ * in_, out_).noalias() += dy.colwise().sum().transpose();
    }
    if (dx) dx->noalias() += dy * weight();
  }

  Index in_, out_;
  bool bias_ = true;
  S* p_ = nullptr;
  S* g_ = nullptr;
  Tensor3<S> scratch_x_, scratch_dy_;
};

}  // namespace salient
