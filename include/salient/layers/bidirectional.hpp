// salient/layers/bidirectional.hpp — run a recurrent layer forwards and backwards in time.
//
//   Bidirectional<LSTM<In, H, LastState>>     (T, B, In) -> (B, 2H)
//   Bidirectional<GRU<In, H, FullSequence>>   (T, B, In) -> (T, B, 2H)
//
// Two independent copies of the layer: the forward one reads x as is; the backward one reads
// each sample reversed within its own length L (step t of the reversed sample is step L-1-t
// of the original, so padding stays at the end). Outputs are concatenated as [forward,
// backward] features, like PyTorch's bidirectional=True and Keras' merge_mode="concat":
//   LastState:    y_b = [h→ after step L-1, h← after step 0 of the original order]
//   FullSequence: y_t = [h→_t, h←_t], where h←_t has read steps L-1 .. t.
// Parameters: the forward layer's, then the backward layer's, in the flat buffer. PyTorch's
// *_reverse tensors belong to the backward layer.
#pragma once

#include <string>

#include "recurrent.hpp"

namespace salient {

template <class Inner>
class Bidirectional {
  static_assert(Inner::input_shape == Shape::Sequence, "Bidirectional: the inner layer must read sequences");

 public:
  using scalar_type = typename Inner::scalar_type;
  using S = scalar_type;
  using layer_type = Inner;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Inner::output_shape;
  static constexpr int input_size = Inner::input_size;
  static constexpr int output_size = Inner::output_size == Dynamic ? Dynamic : 2 * Inner::output_size;
  template <class T>
  using rebind = Bidirectional<typename Inner::template rebind<T>>;
  using Output = data_t<output_shape, S>;
  using OutputGrad = grad_t<output_shape, S>;

  Bidirectional() requires std::is_default_constructible_v<Inner> = default;
  /// Both directions are copies of `proto` (sizes); init() gives them different weights.
  explicit Bidirectional(const Inner& proto) : fwd_(proto), bwd_(proto) {}

  Index input_features() const { return fwd_.input_features(); }
  Index output_features(Index in) const { return 2 * fwd_.output_features(in); }
  Index num_params() const { return fwd_.num_params() + bwd_.num_params(); }
  std::string name() const { return "Bidirectional<" + fwd_.name() + ">"; }

  void bind(S* params, S* grads) {
    const Index n = fwd_.num_params();
    fwd_.bind(params, grads);
    bwd_.bind(params + n, grads ? grads + n : nullptr);
  }
  void init(Rng& rng) {
    fwd_.init(rng);
    bwd_.init(rng);
  }

  Inner& forward_layer() { return fwd_; }
  const Inner& forward_layer() const { return fwd_; }
  Inner& backward_layer() { return bwd_; }
  const Inner& backward_layer() const { return bwd_; }

  void forward(const SeqBatch<S>& x, Output& y, Mode mode) {
    fwd_.forward(x, yf_, mode);
    rnn::reverse_within_lengths(x.values, x.lengths, xr_.values);
    xr_.lengths = x.lengths;
    bwd_.forward(xr_, yr_, mode);
    const Index B = x.batch(), H = fwd_.output_features(x.features());
    if constexpr (output_shape == Shape::Vector) {
      ensure_shape(y, B, 2 * H);
      y.leftCols(H) = yf_;
      y.rightCols(H) = yr_;
    } else {
      const Index T = x.steps();
      ensure_shape(y.values, T, B, 2 * H);
      y.lengths = x.lengths;
      for (Index t = 0; t < T; ++t)
        for (Index b = 0; b < B; ++b) {
          const Index L = x.length(b);
          S* dst = y.values.data() + (t * B + b) * 2 * H;
          if (t < L) {
            std::copy_n(yf_.values.data() + (t * B + b) * H, H, dst);
            std::copy_n(yr_.values.data() + ((L - 1 - t) * B + b) * H, H, dst + H);
          } else {
            std::fill_n(dst, 2 * H, S(0));
          }
        }
    }
  }

  void backward(const SeqBatch<S>& x, const Output&, const OutputGrad& dy, Tensor3<S>* dx) {
    const Index B = x.batch(), H = fwd_.output_features(x.features());
    if constexpr (output_shape == Shape::Vector) {
      if (dy.rows() != B || dy.cols() != 2 * H) fail<ShapeError>(name(), ": dy must be ", B, " x ", 2 * H);
      ensure_shape(dyf_, B, H);
      ensure_shape(dyr_, B, H);
      dyf_ = dy.leftCols(H);
      dyr_ = dy.rightCols(H);
    } else {
      const Index T = x.steps();
      if (dy.dimension(0) != T || dy.dimension(1) != B || dy.dimension(2) != 2 * H)
        fail<ShapeError>(name(), ": dy must be (", T, ", ", B, ", ", 2 * H, ")");
      ensure_shape(dyf_, T, B, H);
      ensure_shape(dyr_, T, B, H);
      for (Index t = 0; t < T; ++t)
        for (Index b = 0; b < B; ++b) {
          const Index L = x.length(b);
          S* f = dyf_.data() + (t * B + b) * H;
          S* r = dyr_.data() + (t * B + b) * H;
          if (t < L) {
            std::copy_n(dy.data() + (t * B + b) * 2 * H, H, f);
            std::copy_n(dy.data() + ((L - 1 - t) * B + b) * 2 * H + H, H, r);
          } else {
            std::fill_n(f, H, S(0));
            std::fill_n(r, H, S(0));
          }
        }
    }
    fwd_.backward(x, yf_, dyf_, dx);
    if (!dx) {
      bwd_.backward(xr_, yr_, dyr_, nullptr);
      return;
    }
    ensure_shape(dxr_, x.steps(), B, x.features());
    dxr_.setZero();
    bwd_.backward(xr_, yr_, dyr_, &dxr_);
    const Index F = x.features();
    for (Index t = 0; t < x.steps(); ++t)
      for (Index b = 0; b < B; ++b) {
        const Index L = x.length(b);
        if (t >= L) continue;
        S* d = dx->data() + (t * B + b) * F;
        const S* s = dxr_.data() + ((L - 1 - t) * B + b) * F;
        for (Index f = 0; f < F; ++f) d[f] += s[f];
      }
  }

 private:
  Inner fwd_, bwd_;
  SeqBatch<S> xr_;                 // x reversed within each sample's length
  Output yf_, yr_;                 // the two directions' outputs (yr_ in reversed time)
  OutputGrad dyf_, dyr_;           // their upstream gradients
  Tensor3<S> dxr_;                 // input gradient in reversed time
};

}  // namespace salient
