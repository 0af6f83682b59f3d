// salient/layers/conv1d.hpp — 1-D convolution over time, mask-aware, computed as one GEMM.
//
//   y(o, b, c) = bias(c) + Σ_{i,k} W(c, i, k) · x(o·stride − left + k·dilation, b, i)
//
//   x: (T, B, In) sequence batch      W: (Out, In, K) row-major, as PyTorch's Conv1d.weight
//   y: (T_out, B, Out)                bias: (Out)
//
// Padding (left = number of implicit zeros before step 0; span = dilation·(K−1) + 1):
//   Valid : left = 0,                 L_out = (L − span) / stride + 1  (L >= span required)
//   Same  : left = dilation·(K−1)/2,  L_out = ceil(L / stride)          (PyTorch 'same' at stride 1)
//   Causal: left = dilation·(K−1),    L_out = ceil(L / stride)          (y_o sees x_{<= o·stride})
// Each sample's output length follows from its own length L. Input positions outside [0, L)
// read as zero — for a short sample that includes the batch's padded tail, whatever it holds.
//
// Computation: im2col over the (T_out·B) output rows into a (T_out·B) × (K·In) matrix (zeros
// where the input position is out of range), then one GEMM with the weights repacked as
// (K·In) × Out. Backward: dW = dYᵀ·cols (one GEMM), dcols = dY·Wᵀ (one GEMM) scattered back
// (col2im) into the valid input steps only.
#pragma once

#include <algorithm>
#include <string>

#include "../core/init.hpp"
#include "../core/layer.hpp"

namespace salient {

enum class Padding { Valid, Same, Causal };

constexpr const char* padding_name(Padding p) {
  return p == Padding::Valid ? "valid" : p == Padding::Same ? "same" : "causal";
}

/// Run-time options of Conv1D.
struct Conv1DOptions {
  Index stride = 1;
  Index dilation = 1;
  Padding padding = Padding::Same;
  bool bias = true;
};

template <int In, int Out, int Kernel, class S = float>
class Conv1D {
  static_assert(In == Dynamic || In > 0, "Conv1D: the input size must be positive or Dynamic");
  static_assert(Out == Dynamic || Out > 0, "Conv1D: the output size must be positive or Dynamic");
  static_assert(Kernel == Dynamic || Kernel > 0, "Conv1D: the kernel size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Sequence;
  static constexpr int input_size = In;
  static constexpr int output_size = Out;
  template <class T>
  using rebind = Conv1D<In, Out, Kernel, T>;

  /// Fixed sizes: default-constructible (Same padding, stride 1, dilation 1, bias).
  Conv1D() requires(In != Dynamic && Out != Dynamic && Kernel != Dynamic) : Conv1D(In, Out, Kernel) {}
  explicit Conv1D(Conv1DOptions opt) requires(In != Dynamic && Out != Dynamic && Kernel != Dynamic)
      : Conv1D(In, Out, Kernel, opt) {}
  Conv1D(Index in, Index out, Index kernel, Conv1DOptions opt = {})
      : in_(in), out_(out), k_(kernel), opt_(opt) {
    require_shape(in > 0 && out > 0 && kernel > 0, "Conv1D: sizes must be positive, got in=", in,
                  " out=", out, " kernel=", kernel);
    require_shape(In == Dynamic || in == In, "Conv1D<", In, ",", Out, ",", Kernel, ">: in=", in,
                  " differs from the template size");
    require_shape(Out == Dynamic || out == Out, "Conv1D<", In, ",", Out, ",", Kernel, ">: out=", out,
                  " differs from the template size");
    require_shape(Kernel == Dynamic || kernel == Kernel, "Conv1D<", In, ",", Out, ",", Kernel,
                  ">: kernel=", kernel, " differs from the template size");
    require_arg(opt.stride >= 1 && opt.dilation >= 1, "Conv1D: stride and dilation must be >= 1, got ",
                opt.stride, " and ", opt.dilation);
  }

  Index input_features() const { return in_; }
  Index output_features(Index) const { return out_; }
  Index kernel_size() const { return k_; }
  const Conv1DOptions& options() const { return opt_; }
  Index num_params() const { return out_ * in_ * k_ + (opt_.bias ? out_ : 0); }
  std::string name() const {
    std::string s = detail::concat("Conv1D<", in_, ",", out_, ",", k_, ",", padding_name(opt_.padding));
    if (opt_.stride != 1) s += detail::concat(",s", opt_.stride);
    if (opt_.dilation != 1) s += detail::concat(",d", opt_.dilation);
    if (!opt_.bias) s += ",nobias";
    return s + ">";
  }

  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  void init(Rng& rng) {
    init::glorot_uniform(weight(), in_ * k_, out_ * k_, rng);
    if (opt_.bias) bias().setZero();
  }

  /// The weight as an Out × (In·K) matrix: element (c, i·K + k) = W(c, i, k).
  RowMatrixMap<S> weight() { return {p_, out_, in_ * k_}; }
  ConstRowMatrixMap<S> weight() const { return {p_, out_, in_ * k_}; }
  S& weight(Index c, Index i, Index k) { return p_[(c * in_ + i) * k_ + k]; }
  S weight(Index c, Index i, Index k) const { return p_[(c * in_ + i) * k_ + k]; }
  VectorMap<S> bias() { return {p_ + out_ * in_ * k_, opt_.bias ? out_ : 0}; }
  ConstVectorMap<S> bias() const { return {p_ + out_ * in_ * k_, opt_.bias ? out_ : 0}; }

  /// Implicit zeros before step 0.
  Index left_padding() const {
    const Index reach = opt_.dilation * (k_ - 1);
    return opt_.padding == Padding::Valid ? 0 : opt_.padding == Padding::Same ? reach / 2 : reach;
  }
  /// Output length for an input of length L (throws ShapeError if L is too short for Valid).
  Index output_length(Index L) const {
    if (opt_.padding != Padding::Valid) return (L + opt_.stride - 1) / opt_.stride;
    const Index span = opt_.dilation * (k_ - 1) + 1;
    if (L < span)
      fail<ShapeError>(name(), ": a sequence of length ", L, " is shorter than the receptive field (",
                       span, ") of a 'valid' convolution");
    return (L - span) / opt_.stride + 1;
  }

  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode) {
    check_features(name(), "input", in_, x.features());
    const Index B = x.batch(), To = output_length(x.steps());
    y.lengths = map_lengths(x.lengths, [&](Index L) { return output_length(L); });
    ensure_shape(y.values, To, B, out_);
    build_columns(x, y.lengths, To);
    pack_weights();
    RowMatrixMap<S> Y = flat_map(y.values);
    Y.noalias() = cols_ * wt_;
    if (opt_.bias) Y.rowwise() += bias().transpose();
    zero_padding(y.values, y.lengths);
  }

  void backward(const SeqBatch<S>& x, const SeqBatch<S>& y, const Tensor3<S>& dy, Tensor3<S>* dx) {
    const Index B = x.batch(), To = y.steps(), KI = k_ * in_;
    if (cols_.rows() != To * B || cols_.cols() != KI) build_columns(x, y.lengths, To);
    const auto& dyc = masked(dy, y.lengths, scratch_dy_);
    ConstRowMatrixMap<S> dY = flat_map(dyc);
    if (g_) {
      ensure_shape(dw_, out_, KI);
      dw_.noalias() = dY.transpose() * cols_;  // (Out, K·In), column k·In + i
      for (Index c = 0; c < out_; ++c)
        for (Index k = 0; k < k_; ++k)
          for (Index i = 0; i < in_; ++i) g_[(c * in_ + i) * k_ + k] += dw_(c, k * in_ + i);
      if (opt_.bias) VectorMap<S>(g_ + out_ * in_ * k_, out_).noalias() += dY.colwise().sum().transpose();
    }
    if (dx) {
      pack_weights();
      ensure_shape(dcols_, To * B, KI);
      dcols_.noalias() = dY * wt_.transpose();
      // col2im: scatter each valid output row's K slices onto the input steps they came from.
      const Index left = left_padding();
      S* dxs = dx->data();
      for (Index o = 0; o < To; ++o)
        for (Index b = 0; b < B; ++b) {
          if (o >= y.length(b)) continue;
          const Index L = x.length(b);
          const S* src = dcols_.data() + (o * B + b) * KI;
          for (Index k = 0; k < k_; ++k) {
            const Index t = o * opt_.stride - left + k * opt_.dilation;
            if (t < 0 || t >= L) continue;
            S* dst = dxs + (t * B + b) * in_;
            for (Index i = 0; i < in_; ++i) dst[i] += src[k * in_ + i];
          }
        }
    }
  }

 private:
  // cols_ row (o·B + b) = [x(t_0, b, :), …, x(t_{K−1}, b, :)], t_k = o·stride − left + k·dilation,
  // zeros where t_k is outside [0, L_b) or the output row is padded.
  void build_columns(const SeqBatch<S>& x, const Lengths& out_lengths, Index To) {
    const Index B = x.batch(), KI = k_ * in_, left = left_padding();
    ensure_shape(cols_, To * B, KI);
    const S* xs = x.values.data();
    for (Index o = 0; o < To; ++o)
      for (Index b = 0; b < B; ++b) {
        S* dst = cols_.data() + (o * B + b) * KI;
        if (o >= out_lengths[std::size_t(b)]) {
          std::fill_n(dst, KI, S(0));
          continue;
        }
        const Index L = x.length(b);
        for (Index k = 0; k < k_; ++k) {
          const Index t = o * opt_.stride - left + k * opt_.dilation;
          if (t >= 0 && t < L)
            std::copy_n(xs + (t * B + b) * in_, in_, dst + k * in_);
          else
            std::fill_n(dst + k * in_, in_, S(0));
        }
      }
  }
  // wt_ (K·In, Out): wt_(k·In + i, c) = W(c, i, k).
  void pack_weights() {
    ensure_shape(wt_, k_ * in_, out_);
    for (Index c = 0; c < out_; ++c)
      for (Index i = 0; i < in_; ++i)
        for (Index k = 0; k < k_; ++k) wt_(k * in_ + i, c) = p_[(c * in_ + i) * k_ + k];
  }

  Index in_, out_, k_;
  Conv1DOptions opt_;
  S* p_ = nullptr;
  S* g_ = nullptr;
  RowMatrix<S> cols_, wt_, dw_, dcols_;
  Tensor3<S> scratch_dy_;
};

}  // namespace salient
