// salient/layers/dropout.hpp — inverted dropout, seeded.
//
//   Training : m_i = 1/(1−rate) with probability 1−rate, else 0;  y = m ⊙ x;  dx += m ⊙ dy
//   Inference: y = x;  dx += dy
// Any shape, any width. The layer owns its generator (seeded at construction; reseed() gives
// data-parallel replicas distinct, deterministic streams); one draw per element of the whole
// (T, B, F) tensor in storage order, so the mask does not depend on the lengths. The mask of the
// last training forward is kept for backward. Padded steps: y = 0, dx receives nothing.
#pragma once

#include <algorithm>
#include <string>

#include "../core/layer.hpp"

namespace salient {

template <class S = float>
class Dropout {
 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Any;
  static constexpr Shape output_shape = Shape::Any;
  static constexpr int input_size = SameAsInput;
  static constexpr int output_size = SameAsInput;
  template <class T>
  using rebind = Dropout<T>;

  explicit Dropout(double rate = 0.5, std::uint64_t seed = 0xd409) : rate_(rate), rng_(seed) {
    require_arg(rate >= 0.0 && rate < 1.0, "Dropout: the rate must be in [0, 1), got ", rate);
  }

  Index input_features() const { return -1; }
  Index output_features(Index in) const { return in; }
  Index num_params() const { return 0; }
  double rate() const { return rate_; }
  std::string name() const { return detail::concat("Dropout<", rate_, ">"); }
  void bind(S*, S*) {}
  void init(Rng&) {}
  /// Restart the mask stream (e.g. seed + replica index in data-parallel training).
  void reseed(std::uint64_t seed) { rng_.reseed(seed); }
  /// The mask of the last training forward (values 0 or 1/(1−rate)), in storage order.
  const Vector<S>& mask() const { return mask_; }

  void forward(const RowMatrix<S>& x, RowMatrix<S>& y, Mode mode) {
    ensure_shape(y, x.rows(), x.cols());
    apply(x.data(), y.data(), x.size(), mode);
  }
  void backward(const RowMatrix<S>&, const RowMatrix<S>&, const RowMatrix<S>& dy, RowMatrix<S>* dx) const {
    if (!dx) return;
    if (training_)
      dx->array() += dy.array() * ConstRowMatrixMap<S>(mask_.data(), dy.rows(), dy.cols()).array();
    else
      *dx += dy;
  }

  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode mode) {
    ensure_shape(y.values, x.steps(), x.batch(), x.features());
    y.lengths = x.lengths;
    apply(x.values.data(), y.values.data(), x.values.size(), mode);
    zero_padding(y.values, y.lengths);
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>&, const Tensor3<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    const Index F = x.features();
    const S* d = dy.data();
    S* out = dx->data();
    for_each_valid(x.lengths, x.steps(), [&](Index, Index, Index row) {
      for (Index i = row * F; i < (row + 1) * F; ++i) out[i] += training_ ? d[i] * mask_[i] : d[i];
    });
  }

 private:
  void apply(const S* x, S* y, Index n, Mode mode) {
    training_ = mode == Mode::Training && rate_ > 0.0;
    if (!training_) {
      std::copy_n(x, n, y);
      return;
    }
    mask_.resize(n);
    const S keep = S(1.0 / (1.0 - rate_));
    for (Index i = 0; i < n; ++i) {
      mask_[i] = rng_.uniform() < rate_ ? S(0) : keep;
      // Select rather than multiply: a dropped NaN/Inf element still yields exactly 0.
      y[i] = mask_[i] == S(0) ? S(0) : x[i] * keep;
    }
  }

  double rate_;
  Rng rng_;
  bool training_ = false;
  Vector<S> mask_;
};

}  // namespace salient
