// salient/layers/gru.hpp — GRU with hand-written back-propagation through time.
//
//   GRU<In, Hidden, LastState>     (T, B, In) sequence -> (B, H) vector: state at step L_b - 1
//   GRU<In, Hidden, FullSequence>  (T, B, In) sequence -> (T, B, H) sequence, 0 at padded steps
//
// PyTorch's convention (gates r, z, n in that order), per step, for one sample:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)
//   z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//   h' = (1 - z) ⊙ n + z ⊙ h                                     h_{-1} = 0
//
// Parameters, in this order in the flat buffer (exactly PyTorch's nn.GRU layout):
//   W_ih (3H × In, row-major)  W_hh (3H × H, row-major)  b_ih (3H)  b_hh (3H)
// Both biases are needed: b_hn sits inside r ⊙ (·), so it cannot be merged into b_in.
// Keras: GRU(reset_after=True) (the TF2 default) is this same cell, with kernel = W_ihᵀ,
// recurrent_kernel = W_hhᵀ, bias of shape (2, 3H) = [b_ih; b_hh], gate order z, r, n — so
// the z and r blocks must be swapped when porting. Keras' reset_after=False applies r before
// the product (W_hn (r ⊙ h)) and is a different function: it cannot be ported exactly.
// Initialisation: Glorot-uniform W_ih, orthogonal W_hh, biases 0.
//
// Padding, caching and allocation behave exactly as in LSTM (see lstm.hpp).
#pragma once

#include <string>

#include "../core/init.hpp"
#include "recurrent.hpp"

namespace salient {

template <int In, int Hidden, RnnOutput Out = LastState, class S = float>
class GRU {
  static_assert(In == Dynamic || In > 0, "GRU: the input size must be positive or Dynamic");
  static_assert(Hidden == Dynamic || Hidden > 0, "GRU: the hidden size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = rnn::output_shape<Out>;
  static constexpr int input_size = In;
  static constexpr int output_size = Hidden;
  static constexpr RnnOutput output_mode = Out;
  static constexpr int gates = 3;
  template <class T>
  using rebind = GRU<In, Hidden, Out, T>;
  using Output = data_t<output_shape, S>;
  using OutputGrad = grad_t<output_shape, S>;

  /// Gate blocks of W_ih, W_hh, b_ih and b_hh, in storage order.
  enum Gate { ResetGate = 0, UpdateGate = 1, NewGate = 2 };

  GRU() requires(In != Dynamic && Hidden != Dynamic) : in_(In), h_(Hidden) {}
  GRU(Index in, Index hidden) : in_(in), h_(hidden) {
    require_shape(in > 0 && hidden > 0, "GRU: sizes must be positive, got in=", in, " hidden=", hidden);
    require_shape(In == Dynamic || in == In, "GRU<", In, ",", Hidden, ">: in=", in, " differs from the template size");
    require_shape(Hidden == Dynamic || hidden == Hidden, "GRU<", In, ",", Hidden, ">: hidden=", hidden,
                  " differs from the template size");
  }

  Index input_features() const { return in_; }
  Index output_features(Index) const { return h_; }
  Index hidden_size() const { return h_; }
  Index num_params() const { return 3 * h_ * (in_ + h_ + 2); }
  std::string name() const {
    return detail::concat("GRU<", in_, ",", h_, Out == LastState ? ",LastState>" : ",FullSequence>");
  }

  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  void init(Rng& rng) {
    init::glorot_uniform(weight_ih(), in_, 3 * h_, rng);
    init::orthogonal(weight_hh(), rng);
    bias_ih().setZero();
    bias_hh().setZero();
  }

  // ---- parameter views (rows g·H .. g·H+H-1 of each block belong to gate g) ----
  RowMatrixMap<S> weight_ih() { return {p_ + off_wih(), 3 * h_, in_}; }
  ConstRowMatrixMap<S> weight_ih() const { return {p_ + off_wih(), 3 * h_, in_}; }
  RowMatrixMap<S> weight_hh() { return {p_ + off_whh(), 3 * h_, h_}; }
  ConstRowMatrixMap<S> weight_hh() const { return {p_ + off_whh(), 3 * h_, h_}; }
  VectorMap<S> bias_ih() { return {p_ + off_bih(), 3 * h_}; }
  ConstVectorMap<S> bias_ih() const { return {p_ + off_bih(), 3 * h_}; }
  VectorMap<S> bias_hh() { return {p_ + off_bhh(), 3 * h_}; }
  ConstVectorMap<S> bias_hh() const { return {p_ + off_bhh(), 3 * h_}; }
  auto weight_ih(Gate g) { return weight_ih().middleRows(g * h_, h_); }
  auto weight_hh(Gate g) { return weight_hh().middleRows(g * h_, h_); }
  auto bias_ih(Gate g) { return bias_ih().segment(g * h_, h_); }
  auto bias_hh(Gate g) { return bias_hh().segment(g * h_, h_); }
  RowMatrixMap<S> grad_weight_ih() { return {g_ + off_wih(), 3 * h_, in_}; }
  RowMatrixMap<S> grad_weight_hh() { return {g_ + off_whh(), 3 * h_, h_}; }
  VectorMap<S> grad_bias_ih() { return {g_ + off_bih(), 3 * h_}; }
  VectorMap<S> grad_bias_hh() { return {g_ + off_bhh(), 3 * h_}; }

  // ---- what the last forward kept ----
  /// Gate activations [r z n], ((steps·B) × 3H), row t·B + b.
  const RowMatrix<S>& gate_activations() const { return zx_; }
  /// Hidden states (((steps+1)·B) × H): block 0 is the zero initial state.
  const RowMatrix<S>& hidden_states() const { return hs_; }

  // ---- forward ----
  void forward(const SeqBatch<S>& x, Output& y, Mode) {
    rnn::check_input(*this, x, in_);
    const Index B = x.batch(), H = h_, G = 3 * H;
    const Index Tm = rnn::max_length(x.lengths);
    tm_ = Tm;
    ensure_shape(zx_, Tm * B, G);
    ensure_shape(hn_, Tm * B, H);
    ensure_shape(hs_, (Tm + 1) * B, H);
    ensure_shape(zh_, B, G);
    hs_.topRows(B).setZero();

    // Input projection for every step and sample at once: Zx = X·W_ihᵀ + 1·b_ihᵀ ((Tm·B) × 3H).
    ConstRowMatrixMap<S> xm(rnn::masked_rows(x, Tm, xs_), Tm * B, in_);
    zx_.noalias() = xm * weight_ih().transpose();
    zx_.rowwise() += bias_ih().transpose();

    const bool small = B < rnn::small_batch;
    if (small) {
      ensure_shape(whh_t_, H, G);
      rnn::transpose_into(weight_hh().data(), G, H, whh_t_.data());
    }
    for (Index t = 0; t < Tm; ++t) {
      // Zh = H_{t-1}·W_hhᵀ + 1·b_hhᵀ   (B × H)·(H × 3H)
      zh_.rowwise() = bias_hh().transpose();
      if (t > 0) {
        const S* hp = hs_.data() + t * B * H;
        if (small)
          rnn::small_rows_gemm(B, hp, H, whh_t_.data(), H, G, zh_.data(), G);
        else
          zh_.noalias() += ConstRowMatrixMap<S>(hp, B, H) * weight_hh().transpose();
      }
      for (Index b = 0; b < B; ++b) {
        const S* hp = hs_.data() + (t * B + b) * H;
        S* h = hs_.data() + ((t + 1) * B + b) * H;
        if (t < x.length(b))
          cell(zx_.data() + (t * B + b) * G, zh_.data() + b * G, hp, hn_.data() + (t * B + b) * H, h, H);
        else
          std::copy_n(hp, H, h);
      }
    }
    write_output(x, y);
  }

  // ---- backward (BPTT) ----
  //
  // Shapes: B batch, H hidden, G = 3H, Tm = longest length; δh (B × H) carry, starting as dy
  // (LastState) or 0 with dy_t added at every valid step (FullSequence). hn = W_hn h + b_hn.
  //   for t = Tm-1 .. 0, valid rows (t < L_b):
  //     δn = δh ⊙ (1 - z)          δz = δh ⊙ (h_{t-1} - n)
  //     δan = δn ⊙ (1 - n²)        δar = δan ⊙ hn ⊙ r(1-r)        δaz = δz ⊙ z(1-z)
  //     dZx_t = [δar, δaz, δan]            (B × 3H)  gradient of the input-side pre-activations
  //     dZh_t = [δar, δaz, δan ⊙ r]        (B × 3H)  gradient of W_hh h + b_hh
  //     δh ← δh ⊙ z + dZh_t · W_hh          (B × 3H)·(3H × H)
  //   padded rows: dZx_t, dZh_t rows = 0 and δh passes through unchanged.
  // Then, one GEMM each over all steps:
  //     dW_ih += dZxᵀ · X   dW_hh += dZhᵀ · H_prev   db_ih += Σ dZx   db_hh += Σ dZh
  //     dX += dZx · W_ih
  void backward(const SeqBatch<S>& x, const Output&, const OutputGrad& dy, Tensor3<S>* dx) {
    const Index B = x.batch(), H = h_, G = 3 * H, Tm = tm_;
    if (zx_.rows() != Tm * B || x.steps() < Tm)
      fail<ShapeError>(name(), ": backward called without a matching forward");
    ensure_shape(dzx_, Tm * B, G);
    ensure_shape(dzh_, Tm * B, G);
    ensure_shape(dh_, B, H);
    if constexpr (Out == LastState) {
      if (dy.rows() != B || dy.cols() != H) fail<ShapeError>(name(), ": dy must be ", B, " x ", H);
      dh_ = dy;
    } else {
      if (dy.dimension(0) != x.steps() || dy.dimension(1) != B || dy.dimension(2) != H)
        fail<ShapeError>(name(), ": dy must be (", x.steps(), ", ", B, ", ", H, ")");
      dh_.setZero();
    }
    if (dx && (dx->dimension(0) != x.steps() || dx->dimension(1) != B || dx->dimension(2) != in_))
      fail<ShapeError>(name(), ": dx must be (", x.steps(), ", ", B, ", ", in_, ")");
    const auto Whh = weight_hh();
    for (Index t = Tm - 1; t >= 0; --t) {
      for (Index b = 0; b < B; ++b) {
        const Index row = t * B + b;
        S* dzx = dzx_.data() + row * G;
        S* dzh = dzh_.data() + row * G;
        if (t >= x.length(b)) {
          std::fill_n(dzx, G, S(0));
          std::fill_n(dzh, G, S(0));
          continue;
        }
        S* dh = dh_.data() + b * H;
        if constexpr (Out == FullSequence) {
          const S* dyr = dy.data() + row * H;
          for (Index k = 0; k < H; ++k) dh[k] += dyr[k];
        }
        cell_backward(zx_.data() + row * G, hn_.data() + row * H, hs_.data() + row * H, dh, dzx, dzh, H);
      }
      if (t > 0) dh_.noalias() += ConstRowMatrixMap<S>(dzh_.data() + t * B * G, B, G) * Whh;
    }
    if (g_) {
      ConstRowMatrixMap<S> xm(rnn::masked_rows(x, Tm, xs_), Tm * B, in_);
      ConstRowMatrixMap<S> hprev(hs_.data(), Tm * B, H);
      grad_weight_ih().noalias() += dzx_.transpose() * xm;
      grad_weight_hh().noalias() += dzh_.transpose() * hprev;
      grad_bias_ih().noalias() += dzx_.colwise().sum().transpose();
      grad_bias_hh().noalias() += dzh_.colwise().sum().transpose();
    }
    if (dx) {
      RowMatrixMap<S> dxm(dx->data(), Tm * B, in_);
      dxm.noalias() += dzx_ * weight_ih();
    }
  }

  // ---- streaming inference ----
  struct State {
    RowMatrix<S> h;       // (batch × H)
    RowMatrix<S> zx, zh;  // (batch × 3H) workspaces
    RowMatrix<S> hn;      // (batch × H) workspace
    Index batch() const { return h.rows(); }
  };
  State make_state(Index batch = 1) const {
    State s;
    s.h.setZero(batch, h_);
    s.zx.setZero(batch, 3 * h_);
    s.zh.setZero(batch, 3 * h_);
    s.hn.setZero(batch, h_);
    return s;
  }
  void reset(State& s) const { s.h.setZero(); }
  /// Advance every series of `s` by one step; x is (batch × In). Returns the new hidden state.
  template <class Derived>
  const RowMatrix<S>& step(const Eigen::MatrixBase<Derived>& x, State& s) const {
    if (x.rows() != s.batch() || x.cols() != in_)
      fail<ShapeError>(name(), ": step input must be ", s.batch(), " x ", in_, ", got ", x.rows(), " x ",
                       x.cols());
    s.zx.noalias() = x * weight_ih().transpose();
    s.zx.rowwise() += bias_ih().transpose();
    s.zh.noalias() = s.h * weight_hh().transpose();
    s.zh.rowwise() += bias_hh().transpose();
    const Index G = 3 * h_;
    for (Index b = 0; b < s.batch(); ++b) {
      S* h = s.h.data() + b * h_;
      cell(s.zx.data() + b * G, s.zh.data() + b * G, h, s.hn.data() + b * h_, h, h_);
    }
    return s.h;
  }
  const RowMatrix<S>& step(const S* x, State& s) const { return step(ConstRowMatrixMap<S>(x, 1, in_), s); }

 private:
  using Arr = Eigen::Array<S, Hidden, 1>;
  using ArrMap = Eigen::Map<Arr>;
  using CArrMap = Eigen::Map<const Arr>;
  using Arr2 = Eigen::Array<S, Hidden == Dynamic ? Dynamic : 2 * Hidden, 1>;  // the r and z blocks

  Index off_wih() const { return 0; }
  Index off_whh() const { return 3 * h_ * in_; }
  Index off_bih() const { return 3 * h_ * (in_ + h_); }
  Index off_bhh() const { return 3 * h_ * (in_ + h_ + 1); }

  // One sample, one step: zx (3H input pre-activations, replaced by [r z n]), zh (3H recurrent
  // pre-activations), h_prev -> h; hn receives W_hn h + b_hn. h may alias h_prev.
  static void cell(S* zx, const S* zh, const S* h_prev, S* hn, S* h, Index H) {
    Eigen::Map<Arr2> rz(zx, 2 * H);
    rz = (rz + Eigen::Map<const Arr2>(zh, 2 * H)).logistic();
    ArrMap r(zx, H), z(zx + H, H), n(zx + 2 * H, H), hnm(hn, H);
    hnm = CArrMap(zh + 2 * H, H);
    n = (n + r * hnm).tanh();
    ArrMap(h, H) = (S(1) - z) * n + z * CArrMap(h_prev, H);
  }

  static void cell_backward(const S* a, const S* hn_p, const S* h_prev, S* dh_p, S* dzx, S* dzh, Index H) {
    CArrMap r(a, H), z(a + H, H), n(a + 2 * H, H), hn(hn_p, H), hp(h_prev, H);
    ArrMap dh(dh_p, H);
    ArrMap dan(dzx + 2 * H, H);
    dan = dh * (S(1) - z) * (S(1) - n.square());
    ArrMap(dzx, H) = dan * hn * r * (S(1) - r);
    ArrMap(dzx + H, H) = dh * (hp - n) * z * (S(1) - z);
    Eigen::Map<Arr2>(dzh, 2 * H) = Eigen::Map<const Arr2>(dzx, 2 * H);  // r, z blocks
    ArrMap(dzh + 2 * H, H) = dan * r;
    dh *= z;
  }

  void write_output(const SeqBatch<S>& x, Output& y) const {
    const Index T = x.steps(), B = x.batch(), H = h_, Tm = tm_;
    if constexpr (Out == LastState) {
      ensure_shape(y, B, H);
      y = hs_.middleRows(Tm * B, B);
    } else {
      ensure_shape(y.values, T, B, H);
      y.lengths = x.lengths;
      for (Index t = 0; t < T; ++t)
        for (Index b = 0; b < B; ++b) {
          S* dst = y.values.data() + (t * B + b) * H;
          if (t < x.length(b))
            std::copy_n(hs_.data() + ((t + 1) * B + b) * H, H, dst);
          else
            std::fill_n(dst, H, S(0));
        }
    }
  }

  Index in_, h_;
  S* p_ = nullptr;
  S* g_ = nullptr;
  Index tm_ = 0;
  RowMatrix<S> xs_;          // masked input copy, only when padding exists
  RowMatrix<S> zx_;          // [r z n] activations ((Tm·B) × 3H)
  RowMatrix<S> hn_;          // W_hn h + b_hn ((Tm·B) × H)
  RowMatrix<S> hs_;          // hidden states (((Tm+1)·B) × H)
  RowMatrix<S> zh_;          // per-step recurrent pre-activations (B × 3H)
  RowMatrix<S> whh_t_;       // W_hhᵀ (H × 3H) for small batches
  RowMatrix<S> dzx_, dzh_;   // ((Tm·B) × 3H)
  RowMatrix<S> dh_;          // (B × H)
};

}  // namespace salient
