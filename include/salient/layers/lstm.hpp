// salient/layers/lstm.hpp — LSTM with hand-written back-propagation through time.
//
//   LSTM<In, Hidden, LastState>     (T, B, In) sequence -> (B, H) vector: state at step L_b - 1
//   LSTM<In, Hidden, FullSequence>  (T, B, In) sequence -> (T, B, H) sequence, 0 at padded steps
//
// Per step t, for one sample (H = Hidden; gates in PyTorch's order i, f, g, o):
//   z_t = W_ih x_t + W_hh h_{t-1} + bias           z_t: (4H)
//   i = σ(z[0:H])  f = σ(z[H:2H])  g = tanh(z[2H:3H])  o = σ(z[3H:4H])
//   c_t = f ⊙ c_{t-1} + i ⊙ g        h_t = o ⊙ tanh(c_t)         h_{-1} = c_{-1} = 0
//
// Parameters, in this order in the flat buffer (exactly PyTorch's nn.LSTM layout):
//   W_ih (4H × In, row-major)  W_hh (4H × H, row-major)  bias (4H)
// Porting: PyTorch has two biases, bias = bias_ih + bias_hh. Keras' LSTM stores
// kernel (In × 4H) = W_ihᵀ, recurrent_kernel (H × 4H) = W_hhᵀ and bias (4H), same gate order.
// Initialisation: Glorot-uniform W_ih, orthogonal W_hh, bias 0 except the forget gate's 1.
//
// Padding: a sample of length L is processed at steps 0..L-1 only; its state is frozen after.
// Padded input rows are replaced by zeros before the input GEMM, so garbage there never
// reaches an output or a gradient; padded rows of dx receive nothing.
//
// The forward pass always keeps the gate activations and the cell/hidden states, in inference
// mode too, so backward (e.g. input gradients for attribution) works after any forward.
// No heap allocation happens in forward/backward/step once the shapes are unchanged.
#pragma once

#include <string>

#include "../core/init.hpp"
#include "recurrent.hpp"

namespace salient {

template <int In, int Hidden, RnnOutput Out = LastState, class S = float>
class LSTM {
  static_assert(In == Dynamic || In > 0, "LSTM: the input size must be positive or Dynamic");
  static_assert(Hidden == Dynamic || Hidden > 0, "LSTM: the hidden size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = rnn::output_shape<Out>;
  static constexpr int input_size = In;
  static constexpr int output_size = Hidden;
  static constexpr RnnOutput output_mode = Out;
  static constexpr int gates = 4;
  template <class T>
  using rebind = LSTM<In, Hidden, Out, T>;
  using Output = data_t<output_shape, S>;
  using OutputGrad = grad_t<output_shape, S>;

  /// Gate blocks of W_ih, W_hh and bias, in storage order.
  enum Gate { InputGate = 0, ForgetGate = 1, CellGate = 2, OutputGate = 3 };

  LSTM() requires(In != Dynamic && Hidden != Dynamic) : in_(In), h_(Hidden) {}
  LSTM(Index in, Index hidden) : in_(in), h_(hidden) {
    require_shape(in > 0 && hidden > 0, "LSTM: sizes must be positive, got in=", in, " hidden=", hidden);
    require_shape(In == Dynamic || in == In, "LSTM<", In, ",", Hidden, ">: in=", in, " differs from the template size");
    require_shape(Hidden == Dynamic || hidden == Hidden, "LSTM<", In, ",", Hidden, ">: hidden=", hidden,
                  " differs from the template size");
  }

  Index input_features() const { return in_; }
  Index output_features(Index) const { return h_; }
  Index hidden_size() const { return h_; }
  Index num_params() const { return 4 * h_ * (in_ + h_ + 1); }
  std::string name() const {
    return detail::concat("LSTM<", in_, ",", h_, Out == LastState ? ",LastState>" : ",FullSequence>");
  }

  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  void init(Rng& rng) {
    init::glorot_uniform(weight_ih(), in_, 4 * h_, rng);
    init::orthogonal(weight_hh(), rng);
    bias().setZero();
    bias().segment(ForgetGate * h_, h_).setOnes();
  }

  // ---- parameter views (rows g·H .. g·H+H-1 of each block belong to gate g) ----
  RowMatrixMap<S> weight_ih() { return {p_, 4 * h_, in_}; }
  ConstRowMatrixMap<S> weight_ih() const { return {p_, 4 * h_, in_}; }
  RowMatrixMap<S> weight_hh() { return {p_ + 4 * h_ * in_, 4 * h_, h_}; }
  ConstRowMatrixMap<S> weight_hh() const { return {p_ + 4 * h_ * in_, 4 * h_, h_}; }
  VectorMap<S> bias() { return {p_ + 4 * h_ * (in_ + h_), 4 * h_}; }
  ConstVectorMap<S> bias() const { return {p_ + 4 * h_ * (in_ + h_), 4 * h_}; }
  auto weight_ih(Gate g) { return weight_ih().middleRows(g * h_, h_); }
  auto weight_hh(Gate g) { return weight_hh().middleRows(g * h_, h_); }
  auto bias(Gate g) { return bias().segment(g * h_, h_); }
  /// Gradient views (same layout); only valid when bound with a gradient buffer.
  RowMatrixMap<S> grad_weight_ih() { return {g_, 4 * h_, in_}; }
  RowMatrixMap<S> grad_weight_hh() { return {g_ + 4 * h_ * in_, 4 * h_, h_}; }
  VectorMap<S> grad_bias() { return {g_ + 4 * h_ * (in_ + h_), 4 * h_}; }

  // ---- what the last forward kept (for attribution / inspection) ----
  /// Gate activations [i f g o], ((steps·B) × 4H), row t·B + b; steps = longest length.
  const RowMatrix<S>& gate_activations() const { return z_; }
  /// Cell / hidden states, (((steps+1)·B) × H): row block 0 is the zero initial state,
  /// row (t+1)·B + b the state after step t (frozen at padded steps).
  const RowMatrix<S>& cell_states() const { return cs_; }
  const RowMatrix<S>& hidden_states() const { return hs_; }

  // ---- forward ----
  void forward(const SeqBatch<S>& x, Output& y, Mode) {
    rnn::check_input(*this, x, in_);
    const Index B = x.batch(), H = h_, G = 4 * H;
    const Index Tm = rnn::max_length(x.lengths);
    tm_ = Tm;
    ensure_shape(z_, Tm * B, G);
    ensure_shape(hs_, (Tm + 1) * B, H);
    ensure_shape(cs_, (Tm + 1) * B, H);
    hs_.topRows(B).setZero();
    cs_.topRows(B).setZero();

    // Input projection for every step and sample at once: Z = X·W_ihᵀ + 1·biasᵀ  ((Tm·B) × 4H).
    ConstRowMatrixMap<S> xm(rnn::masked_rows(x, Tm, xs_), Tm * B, in_);
    z_.noalias() = xm * weight_ih().transpose();
    z_.rowwise() += bias().transpose();

    // Small batches: the per-step product runs in rnn::small_rows_gemm on a row-major copy of
    // W_hhᵀ (H × 4H, refreshed here since the weights may have changed): W_hh is streamed once
    // per step with no packing. Larger batches use Eigen's GEMM.
    if (B < rnn::small_batch) {
      ensure_shape(whh_t_, H, G);
      rnn::transpose_into(weight_hh().data(), G, H, whh_t_.data());
    }
    const auto Whh_t = weight_hh().transpose();
    for (Index t = 0; t < Tm; ++t) {
      RowMatrixMap<S> zt(z_.data() + t * B * G, B, G);
      // Z_t += H_{t-1}·W_hhᵀ   (B × H)·(H × 4H); H_{-1} = 0.
      if (t > 0) {
        if (B < rnn::small_batch)
          rnn::small_rows_gemm(B, hs_.data() + t * B * H, H, whh_t_.data(), H, G, zt.data(), G);
        else
          zt.noalias() += ConstRowMatrixMap<S>(hs_.data() + t * B * H, B, H) * Whh_t;
      }
      for (Index b = 0; b < B; ++b) {
        const S* cp = cs_.data() + (t * B + b) * H;
        const S* hp = hs_.data() + (t * B + b) * H;
        S* c = cs_.data() + ((t + 1) * B + b) * H;
        S* h = hs_.data() + ((t + 1) * B + b) * H;
        if (t < x.length(b)) {
          cell(zt.data() + b * G, cp, c, h, H);
        } else {  // padded: state frozen
          std::copy_n(cp, H, c);
          std::copy_n(hp, H, h);
        }
      }
    }
    write_output(x, y);
  }

  // ---- backward (BPTT) ----
  //
  // Shapes: B batch, H hidden, G = 4H, Tm = longest length; one sample row shown, all rows
  // of a step are processed together. δh, δc: (B × H) carries, δh starts as dy (LastState) or
  // 0 and gets dy_t added at every valid step (FullSequence).
  //   for t = Tm-1 .. 0, valid rows (t < L_b):
  //     τ   = tanh(c_t)
  //     δo  = δh ⊙ τ                         δc += δh ⊙ o ⊙ (1 - τ²)
  //     δi  = δc ⊙ g      δf = δc ⊙ c_{t-1}   δg = δc ⊙ i
  //     dZ_t = [δi ⊙ i(1-i), δf ⊙ f(1-f), δg ⊙ (1-g²), δo ⊙ o(1-o)]       (B × 4H)
  //     δc ← δc ⊙ f
  //     δh ← dZ_t · W_hh                                                 (B × 4H)·(4H × H)
  //   padded rows (t >= L_b): dZ_t row = 0, δh and δc pass through unchanged (frozen state).
  // Then, one GEMM each over all steps (dZ: (Tm·B) × 4H; padded rows are 0):
  //     dW_ih += dZᵀ · X           (4H × Tm·B)·(Tm·B × In),  X with padded rows zeroed
  //     dW_hh += dZᵀ · H_prev      (4H × Tm·B)·(Tm·B × H),   H_prev rows = h_{t-1}
  //     dbias += Σ_rows dZ         (4H)
  //     dX    += dZ · W_ih         (Tm·B × 4H)·(4H × In)
  void backward(const SeqBatch<S>& x, const Output&, const OutputGrad& dy, Tensor3<S>* dx) {
    const Index B = x.batch(), H = h_, G = 4 * H, Tm = tm_;
    if (z_.rows() != Tm * B || x.steps() < Tm)
      fail<ShapeError>(name(), ": backward called without a matching forward");
    ensure_shape(dz_, Tm * B, G);
    ensure_shape(dh_, B, H);
    ensure_shape(dc_, B, H);
    ensure_shape(dtmp_, B, H);
    if (tc_.size() != H) tc_.resize(H);
    dc_.setZero();
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
      bool all_valid = true;
      for (Index b = 0; b < B; ++b) {
        S* dzr = dz_.data() + (t * B + b) * G;
        if (t >= x.length(b)) {
          std::fill_n(dzr, G, S(0));
          all_valid = false;
          continue;
        }
        S* dh = dh_.data() + b * H;
        if constexpr (Out == FullSequence) {
          const S* dyr = dy.data() + (t * B + b) * H;
          for (Index k = 0; k < H; ++k) dh[k] += dyr[k];
        }
        cell_backward(z_.data() + (t * B + b) * G, cs_.data() + (t * B + b) * H,
                      cs_.data() + ((t + 1) * B + b) * H, dh, dc_.data() + b * H, dzr, H);
      }
      if (t == 0) break;  // δh_{-1} is not needed (the initial state is a constant 0)
      ConstRowMatrixMap<S> dzt(dz_.data() + t * B * G, B, G);
      if (all_valid) {
        dh_.noalias() = dzt * Whh;
      } else {
        dtmp_.noalias() = dzt * Whh;
        for (Index b = 0; b < B; ++b)
          if (t < x.length(b)) dh_.row(b) = dtmp_.row(b);
      }
    }
    if (g_) {
      ConstRowMatrixMap<S> xm(rnn::masked_rows(x, Tm, xs_), Tm * B, in_);
      ConstRowMatrixMap<S> hprev(hs_.data(), Tm * B, H);
      grad_weight_ih().noalias() += dz_.transpose() * xm;
      grad_weight_hh().noalias() += dz_.transpose() * hprev;
      grad_bias().noalias() += dz_.colwise().sum().transpose();
    }
    if (dx) {
      RowMatrixMap<S> dxm(dx->data(), Tm * B, in_);
      dxm.noalias() += dz_ * weight_ih();
    }
  }

  // ---- streaming inference ----
  /// The recurrent state of `batch` independent series plus the workspace one step needs;
  /// create it once (make_state), then step() never allocates.
  struct State {
    RowMatrix<S> h, c;  // (batch × H) hidden and cell state
    RowMatrix<S> z;     // (batch × 4H) workspace
    Index batch() const { return h.rows(); }
  };
  State make_state(Index batch = 1) const {
    State s;
    s.h.setZero(batch, h_);
    s.c.setZero(batch, h_);
    s.z.setZero(batch, 4 * h_);
    return s;
  }
  void reset(State& s) const {
    s.h.setZero();
    s.c.setZero();
  }
  /// Advance every series of `s` by one step; x is (batch × In). Returns the new hidden state
  /// (batch × H), a reference into s. Same arithmetic as forward().
  template <class Derived>
  const RowMatrix<S>& step(const Eigen::MatrixBase<Derived>& x, State& s) const {
    if (x.rows() != s.batch() || x.cols() != in_)
      fail<ShapeError>(name(), ": step input must be ", s.batch(), " x ", in_, ", got ", x.rows(), " x ",
                       x.cols());
    s.z.noalias() = x * weight_ih().transpose();
    s.z.rowwise() += bias().transpose();
    s.z.noalias() += s.h * weight_hh().transpose();
    for (Index b = 0; b < s.batch(); ++b) {
      S* c = s.c.data() + b * h_;
      cell(s.z.data() + b * 4 * h_, c, c, s.h.data() + b * h_, h_);
    }
    return s.h;
  }
  /// One step of a single series (s.batch() == 1): x points to In values.
  const RowMatrix<S>& step(const S* x, State& s) const {
    return step(ConstRowMatrixMap<S>(x, 1, in_), s);
  }

 private:
  using Arr = Eigen::Array<S, Hidden, 1>;
  using ArrMap = Eigen::Map<Arr>;
  using CArrMap = Eigen::Map<const Arr>;

  // One sample, one step: z (4H pre-activations, replaced by the activations), c_prev -> c, h.
  // c may alias c_prev (streaming): every operation is element-wise.
  static void cell(S* z, const S* c_prev, S* c, S* h, Index H) {
    Eigen::Map<Eigen::Array<S, Hidden == Dynamic ? Dynamic : 2 * Hidden, 1>> if_(z, 2 * H);
    ArrMap i(z, H), f(z + H, H), g(z + 2 * H, H), o(z + 3 * H, H);
    if_ = if_.logistic();
    g = g.tanh();
    o = o.logistic();
    ArrMap cm(c, H);
    cm = f * CArrMap(c_prev, H) + i * g;
    ArrMap(h, H) = o * cm.tanh();
  }

  // One sample, one step of BPTT (see the equations above backward()).
  void cell_backward(const S* a, const S* c_prev, const S* c, const S* dh_p, S* dc_p, S* dz,
                     Index H) {
    CArrMap i(a, H), f(a + H, H), g(a + 2 * H, H), o(a + 3 * H, H), dh(dh_p, H);
    ArrMap tau(tc_.data(), H), dc(dc_p, H);
    tau = CArrMap(c, H).tanh();
    dc += dh * o * (S(1) - tau.square());
    ArrMap(dz, H) = dc * g * i * (S(1) - i);
    ArrMap(dz + H, H) = dc * CArrMap(c_prev, H) * f * (S(1) - f);
    ArrMap(dz + 2 * H, H) = dc * i * (S(1) - g.square());
    ArrMap(dz + 3 * H, H) = dh * tau * o * (S(1) - o);
    dc *= f;
  }

  void write_output(const SeqBatch<S>& x, Output& y) const {
    const Index T = x.steps(), B = x.batch(), H = h_, Tm = tm_;
    if constexpr (Out == LastState) {
      ensure_shape(y, B, H);
      // With frozen states, the state after step Tm-1 is each sample's state at L_b - 1.
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
  // Workspaces, kept across calls (resized only when a shape changes).
  RowMatrix<S> xs_;       // masked input copy ((Tm·B) × In), only when padding exists
  RowMatrix<S> z_;        // gate activations ((Tm·B) × 4H)
  RowMatrix<S> hs_, cs_;  // states (((Tm+1)·B) × H)
  RowMatrix<S> dz_;       // gate pre-activation gradients ((Tm·B) × 4H)
  RowMatrix<S> whh_t_;    // W_hhᵀ (H × 4H), refreshed by every forward
  RowMatrix<S> dh_, dc_, dtmp_;  // (B × H)
  Vector<S> tc_;                 // (H)
};

}  // namespace salient
