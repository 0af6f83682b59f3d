// salient/layers/attention.hpp — attention layers, each sample attending over its own valid steps.
//
// AttentionPool<F>: additive (Bahdanau) temporal attention pooling, sequence -> vector.
//   u_t = tanh(W h_t + b)   (A)       W: (A, F), b: (A), v: (A); A = attention size (default F)
//   e_t = vᵀ u_t
//   α_t = exp(e_t) / Σ_{s < L} exp(e_s)   for t < L,   α_t = 0 for t >= L
//   y   = Σ_t α_t h_t       (F)
//   x: (T, B, F) -> y: (B, F); weights() = α: (B, T), kept after every forward.
//
// MultiHeadSelfAttention<F, Heads>: scaled dot-product self-attention, sequence -> sequence.
//   [Q K V] = x · W_inᵀ + b_in          W_in: (3F, F), b_in: (3F)   (PyTorch's in_proj layout)
//   per sample b, head h (d = F / Heads, columns h·d … h·d+d−1 of Q, K, V):
//     P = softmax_rows(Q Kᵀ / √d)   over keys j < L_b (and j <= i with the causal option)
//     O = P V
//   y = concat_h(O) · W_outᵀ + b_out     W_out: (F, F), b_out: (F)
//   x: (T, B, F) -> y: (T, B, F); padded query rows output 0; attention(b, h) = P: (L_b, L_b).
//
// PositionalEncoding<F>: y(t, b, f) = x(t, b, f) + PE(t, f) on valid steps, sinusoidal:
//   PE(t, 2i) = sin(t / 10000^(2i/F)),   PE(t, 2i+1) = cos(t / 10000^(2i/F)).   No parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/init.hpp"
#include "../core/layer.hpp"

namespace salient {

namespace detail {
/// In-place softmax of p[0..n) (vectorised exp); masked entries are zeroed by the caller.
template <class S>
void softmax_inplace(S* p, Index n) {
  Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>> a(p, n);
  a = (a - a.maxCoeff()).exp();
  a *= S(1) / a.sum();
}
}  // namespace detail

// =============================================================================================
template <int F, class S = float>
class AttentionPool {
  static_assert(F == Dynamic || F > 0, "AttentionPool: the feature size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Vector;
  static constexpr int input_size = F;
  static constexpr int output_size = F;
  template <class T>
  using rebind = AttentionPool<F, T>;

  /// Fixed size: attention size = F.
  AttentionPool() requires(F != Dynamic) : AttentionPool(F) {}
  /// attention_size <= 0 means "same as features".
  explicit AttentionPool(Index features, Index attention_size = 0)
      : f_(features), a_(attention_size > 0 ? attention_size : features) {
    require_shape(features > 0, "AttentionPool: the feature size must be positive, got ", features);
    require_shape(F == Dynamic || features == F, "AttentionPool<", F, ">: features=", features,
                  " differs from the template size");
  }

  Index input_features() const { return f_; }
  Index output_features(Index) const { return f_; }
  Index attention_size() const { return a_; }
  Index num_params() const { return a_ * f_ + 2 * a_; }
  std::string name() const { return detail::concat("AttentionPool<", f_, ",", a_, ">"); }

  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  void init(Rng& rng) {
    init::glorot_uniform(weight(), f_, a_, rng);
    bias().setZero();
    init::glorot_uniform(score(), a_, 1, rng);
  }

  RowMatrixMap<S> weight() { return {p_, a_, f_}; }
  ConstRowMatrixMap<S> weight() const { return {p_, a_, f_}; }
  VectorMap<S> bias() { return {p_ + a_ * f_, a_}; }
  ConstVectorMap<S> bias() const { return {p_ + a_ * f_, a_}; }
  /// v as an A × 1 matrix.
  VectorMap<S> score() { return {p_ + a_ * f_ + a_, a_}; }
  ConstVectorMap<S> score() const { return {p_ + a_ * f_ + a_, a_}; }

  /// α from the last forward: B × T, each row sums to 1 over the sample's valid steps and is
  /// exactly 0 on its padded steps.
  const RowMatrix<S>& weights() const { return alpha_; }

  void forward(const SeqBatch<S>& x, RowMatrix<S>& y, Mode) {
    check_features(name(), "input", f_, x.features());
    const Index T = x.steps(), B = x.batch();
    ConstRowMatrixMap<S> H = flat_map(masked(x.values, x.lengths, scratch_x_));
    ensure_shape(u_, T * B, a_);
    u_.noalias() = H * weight().transpose();
    u_.rowwise() += bias().transpose();
    u_ = u_.array().tanh();
    ensure_shape(e_, T * B, 1);
    e_.noalias() = u_ * score();
    alpha_.setZero(B, T);
    for (Index b = 0; b < B; ++b) {
      const Index L = x.length(b);
      for (Index t = 0; t < L; ++t) alpha_(b, t) = e_(t * B + b, 0);
      detail::softmax_inplace(alpha_.data() + b * T, L);
    }
    y.setZero(B, f_);
    for_each_valid(x.lengths, T, [&](Index t, Index b, Index row) { y.row(b) += alpha_(b, t) * H.row(row); });
  }

  void backward(const SeqBatch<S>& x, const RowMatrix<S>&, const RowMatrix<S>& dy, Tensor3<S>* dx) {
    const Index T = x.steps(), B = x.batch();
    ConstRowMatrixMap<S> H = flat_map(masked(x.values, x.lengths, scratch_x_));
    // dα_t = dy · h_t;  de_t = α_t (dα_t − Σ_s α_s dα_s);  padded steps: de_t = 0.
    ensure_shape(de_, T * B, 1);
    de_.setZero();
    for (Index b = 0; b < B; ++b) {
      const Index L = x.length(b);
      S dot = 0;
      for (Index t = 0; t < L; ++t) {
        const S da = dy.row(b).dot(H.row(t * B + b));
        de_(t * B + b, 0) = da;
        dot += alpha_(b, t) * da;
      }
      for (Index t = 0; t < L; ++t) de_(t * B + b, 0) = alpha_(b, t) * (de_(t * B + b, 0) - dot);
    }
    // dz = (de vᵀ) ⊙ (1 − u²)   (T·B, A)
    ensure_shape(dz_, T * B, a_);
    dz_.noalias() = de_ * score().transpose();
    dz_.array() *= S(1) - u_.array().square();
    if (g_) {
      RowMatrixMap<S>(g_, a_, f_).noalias() += dz_.transpose() * H;
      VectorMap<S>(g_ + a_ * f_, a_).noalias() += dz_.colwise().sum().transpose();
      VectorMap<S>(g_ + a_ * f_ + a_, a_).noalias() += u_.transpose() * de_;
    }
    if (dx) {
      RowMatrixMap<S> dX = flat_map(*dx);
      for_each_valid(x.lengths, T, [&](Index t, Index b, Index row) {
        dX.row(row) += alpha_(b, t) * dy.row(b) + dz_.row(row) * weight();
      });
    }
  }

 private:
  Index f_, a_;
  S* p_ = nullptr;
  S* g_ = nullptr;
  Tensor3<S> scratch_x_;
  RowMatrix<S> u_, e_, alpha_, de_, dz_;
};

// =============================================================================================
/// Run-time options of MultiHeadSelfAttention.
struct AttentionOptions {
  bool causal = false;  // query i attends only to keys j <= i
};

template <int F, int Heads, class S = float>
class MultiHeadSelfAttention {
  static_assert(F == Dynamic || F > 0, "MultiHeadSelfAttention: the feature size must be positive or Dynamic");
  static_assert(Heads == Dynamic || Heads > 0, "MultiHeadSelfAttention: the head count must be positive or Dynamic");
  static_assert(F == Dynamic || Heads == Dynamic || F % Heads == 0,
                "MultiHeadSelfAttention: the feature size must be a multiple of the head count");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Sequence;
  static constexpr int input_size = F;
  static constexpr int output_size = F;
  template <class T>
  using rebind = MultiHeadSelfAttention<F, Heads, T>;

  MultiHeadSelfAttention() requires(F != Dynamic && Heads != Dynamic) : MultiHeadSelfAttention(F, Heads) {}
  explicit MultiHeadSelfAttention(AttentionOptions opt) requires(F != Dynamic && Heads != Dynamic)
      : MultiHeadSelfAttention(F, Heads, opt) {}
  MultiHeadSelfAttention(Index features, Index heads, AttentionOptions opt = {})
      : f_(features), h_(heads), opt_(opt) {
    require_shape(features > 0 && heads > 0, "MultiHeadSelfAttention: sizes must be positive, got features=",
                  features, " heads=", heads);
    require_shape(F == Dynamic || features == F, "MultiHeadSelfAttention<", F, ",", Heads, ">: features=",
                  features, " differs from the template size");
    require_shape(Heads == Dynamic || heads == Heads, "MultiHeadSelfAttention<", F, ",", Heads, ">: heads=",
                  heads, " differs from the template size");
    require_shape(features % heads == 0, "MultiHeadSelfAttention: features (", features,
                  ") must be a multiple of heads (", heads, ")");
  }

  Index input_features() const { return f_; }
  Index output_features(Index) const { return f_; }
  Index heads() const { return h_; }
  Index head_size() const { return f_ / h_; }
  const AttentionOptions& options() const { return opt_; }
  Index num_params() const { return 4 * f_ * f_ + 4 * f_; }
  std::string name() const {
    return detail::concat("MultiHeadSelfAttention<", f_, ",", h_, opt_.causal ? ",causal>" : ">");
  }

  void bind(S* params, S* grads) { p_ = params; g_ = grads; }
  void init(Rng& rng) {
    init::glorot_uniform(in_weight(), f_, 3 * f_, rng);
    in_bias().setZero();
    init::glorot_uniform(out_weight(), f_, f_, rng);
    out_bias().setZero();
  }

  /// Parameter layout: in_proj_weight (3F, F) = [W_q; W_k; W_v], in_proj_bias (3F),
  /// out_proj.weight (F, F), out_proj.bias (F) — as PyTorch's nn.MultiheadAttention.
  RowMatrixMap<S> in_weight() { return {p_, 3 * f_, f_}; }
  ConstRowMatrixMap<S> in_weight() const { return {p_, 3 * f_, f_}; }
  VectorMap<S> in_bias() { return {p_ + 3 * f_ * f_, 3 * f_}; }
  ConstVectorMap<S> in_bias() const { return {p_ + 3 * f_ * f_, 3 * f_}; }
  RowMatrixMap<S> out_weight() { return {p_ + 3 * f_ * f_ + 3 * f_, f_, f_}; }
  ConstRowMatrixMap<S> out_weight() const { return {p_ + 3 * f_ * f_ + 3 * f_, f_, f_}; }
  VectorMap<S> out_bias() { return {p_ + 4 * f_ * f_ + 3 * f_, f_}; }
  ConstVectorMap<S> out_bias() const { return {p_ + 4 * f_ * f_ + 3 * f_, f_}; }

  /// Attention probabilities of sample b, head h from the last forward: (L_b, L_b), row i =
  /// query step i, column j = key step j; each row sums to 1 (causal: zeros above the diagonal).
  ConstRowMatrixMap<S> attention(Index b, Index head) const {
    const Index L = lengths_[std::size_t(b)];
    return {probs_.data() + offsets_[std::size_t(b)] + head * L * L, L, L};
  }

  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode) {
    check_features(name(), "input", f_, x.features());
    const Index T = x.steps(), B = x.batch(), N = T * B, d = head_size();
    const S scale = S(1) / std::sqrt(S(d));
    ConstRowMatrixMap<S> X = flat_map(masked(x.values, x.lengths, scratch_x_));
    ensure_shape(qkv_, N, 3 * f_);
    qkv_.noalias() = X * in_weight().transpose();
    qkv_.rowwise() += in_bias().transpose();
    lengths_ = x.lengths;
    offsets_.assign(std::size_t(B) + 1, 0);
    for (Index b = 0; b < B; ++b)
      offsets_[std::size_t(b) + 1] = offsets_[std::size_t(b)] + h_ * x.length(b) * x.length(b);
    probs_.resize(offsets_.back());
    ensure_shape(ctx_, N, f_);
    ctx_.setZero();
    for (Index b = 0; b < B; ++b) {
      const Index L = x.length(b);
      for (Index h = 0; h < h_; ++h) {
        RowMatrixMap<S> P(probs_.data() + offsets_[std::size_t(b)] + h * L * L, L, L);
        P.noalias() = scale * (head_map(qkv_, b, B, h * d, L) * head_map(qkv_, b, B, f_ + h * d, L).transpose());
        for (Index i = 0; i < L; ++i) {
          const Index n = opt_.causal ? i + 1 : L;
          detail::softmax_inplace(P.data() + i * L, n);
          std::fill(P.data() + i * L + n, P.data() + (i + 1) * L, S(0));
        }
        head_map(ctx_, b, B, h * d, L).noalias() = P * head_map(qkv_, b, B, 2 * f_ + h * d, L);
      }
    }
    ensure_shape(y.values, T, B, f_);
    y.lengths = x.lengths;
    RowMatrixMap<S> Y = flat_map(y.values);
    Y.noalias() = ctx_ * out_weight().transpose();
    Y.rowwise() += out_bias().transpose();
    zero_padding(y.values, y.lengths);
  }

  void backward(const SeqBatch<S>& x, const SeqBatch<S>& y, const Tensor3<S>& dy, Tensor3<S>* dx) {
    const Index T = x.steps(), B = x.batch(), N = T * B, d = head_size();
    const S scale = S(1) / std::sqrt(S(d));
    ConstRowMatrixMap<S> dY = flat_map(masked(dy, y.lengths, scratch_dy_));
    if (g_) {
      RowMatrixMap<S>(g_ + 3 * f_ * f_ + 3 * f_, f_, f_).noalias() += dY.transpose() * ctx_;
      VectorMap<S>(g_ + 4 * f_ * f_ + 3 * f_, f_).noalias() += dY.colwise().sum().transpose();
    }
    ensure_shape(dctx_, N, f_);
    dctx_.noalias() = dY * out_weight();
    ensure_shape(dqkv_, N, 3 * f_);
    dqkv_.setZero();
    for (Index b = 0; b < B; ++b) {
      const Index L = x.length(b);
      for (Index h = 0; h < h_; ++h) {
        ConstRowMatrixMap<S> P = attention(b, h);
        const auto dO = head_map(dctx_, b, B, h * d, L);
        // dP = dO Vᵀ;  dV = Pᵀ dO;  dS = P ⊙ (dP − rowsum(P ⊙ dP));  dQ = s·dS K;  dK = s·dSᵀ Q
        ensure_shape(ds_, L, L);
        ds_.noalias() = dO * head_map(qkv_, b, B, 2 * f_ + h * d, L).transpose();
        head_map(dqkv_, b, B, 2 * f_ + h * d, L).noalias() = P.transpose() * dO;
        for (Index i = 0; i < L; ++i) {
          const S r = P.row(i).dot(ds_.row(i));
          ds_.row(i) = (P.row(i).array() * (ds_.row(i).array() - r)).matrix() * scale;
        }
        head_map(dqkv_, b, B, h * d, L).noalias() = ds_ * head_map(qkv_, b, B, f_ + h * d, L);
        head_map(dqkv_, b, B, f_ + h * d, L).noalias() = ds_.transpose() * head_map(qkv_, b, B, h * d, L);
      }
    }
    if (g_) {
      ConstRowMatrixMap<S> X = flat_map(masked(x.values, x.lengths, scratch_x_));
      RowMatrixMap<S>(g_, 3 * f_, f_).noalias() += dqkv_.transpose() * X;
      VectorMap<S>(g_ + 3 * f_ * f_, 3 * f_).noalias() += dqkv_.colwise().sum().transpose();
    }
    if (dx) {
      // Padded rows of dqkv are zero, so padded steps of dx receive only zeros.
      RowMatrixMap<S> dX = flat_map(*dx);
      dX.noalias() += dqkv_ * in_weight();
    }
  }

 private:
  using Strided = Eigen::Map<RowMatrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
  // Rows t·B + b (t < L) and columns [col, col + d) of an (N, C) matrix, as an (L, d) view.
  Strided head_map(RowMatrix<S>& m, Index b, Index B, Index col, Index L) const {
    return Strided(m.data() + b * m.cols() + col, L, head_size(), Eigen::OuterStride<>(B * m.cols()));
  }

  Index f_, h_;
  AttentionOptions opt_;
  S* p_ = nullptr;
  S* g_ = nullptr;
  Tensor3<S> scratch_x_, scratch_dy_;
  RowMatrix<S> qkv_, ctx_, dctx_, dqkv_, ds_;
  Vector<S> probs_;
  std::vector<Index> offsets_;
  Lengths lengths_;
};

// =============================================================================================
/// Adds the sinusoidal position code to each valid step. F = Dynamic: works on any width.
template <int F = Dynamic, class S = float>
class PositionalEncoding {
  static_assert(F == Dynamic || F > 0, "PositionalEncoding: the feature size must be positive or Dynamic");

 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Sequence;
  static constexpr int input_size = F == Dynamic ? SameAsInput : F;
  static constexpr int output_size = F == Dynamic ? SameAsInput : F;
  template <class T>
  using rebind = PositionalEncoding<F, T>;

  Index input_features() const { return F == Dynamic ? -1 : Index(F); }
  Index output_features(Index in) const { return in; }
  Index num_params() const { return 0; }
  std::string name() const { return F == Dynamic ? "PositionalEncoding" : detail::concat("PositionalEncoding<", F, ">"); }
  void bind(S*, S*) {}
  void init(Rng&) {}

  /// PE(t, f) for width `features`.
  static S value(Index t, Index f, Index features) {
    const double freq = std::pow(10000.0, -double(2 * (f / 2)) / double(features));
    return S(f % 2 == 0 ? std::sin(double(t) * freq) : std::cos(double(t) * freq));
  }

  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode) {
    check_features(name(), "input", input_features(), x.features());
    const Index T = x.steps(), B = x.batch(), Fx = x.features();
    if (table_.rows() < T || table_.cols() != Fx) {
      table_.resize(T, Fx);
      for (Index t = 0; t < T; ++t)
        for (Index f = 0; f < Fx; ++f) table_(t, f) = value(t, f, Fx);
    }
    ensure_shape(y.values, T, B, Fx);
    y.lengths = x.lengths;
    const S* xs = x.values.data();
    S* ys = y.values.data();
    for (Index t = 0; t < T; ++t)
      for (Index b = 0; b < B; ++b) {
        const Index o = (t * B + b) * Fx;
        if (t < x.length(b))
          for (Index f = 0; f < Fx; ++f) ys[o + f] = xs[o + f] + table_(t, f);
        else
          std::fill_n(ys + o, Fx, S(0));
      }
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>&, const Tensor3<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    const Index Fx = x.features();
    for_each_valid(x.lengths, x.steps(), [&](Index, Index, Index row) {
      for (Index f = 0; f < Fx; ++f) dx->data()[row * Fx + f] += dy.data()[row * Fx + f];
    });
  }

 private:
  RowMatrix<S> table_;
};

}  // namespace salient
