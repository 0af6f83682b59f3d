// salient/layers/pooling.hpp — temporal pooling, over each sample's valid steps only.
//
// GlobalAveragePool:  y(b, f) = (1 / L_b) Σ_{t < L_b} x(t, b, f)      (T, B, F) -> (B, F)
// GlobalMaxPool:      y(b, f) = max_{t < L_b} x(t, b, f)             (T, B, F) -> (B, F)
//                     (the gradient goes to the first step holding the maximum)
// MaxPool1D / AvgPool1D(size, stride = size):                         (T, B, F) -> (T_out, B, F)
//   window o covers steps [o·stride, o·stride + size) ∩ [0, L_b): a window is clipped to the
//   sample's valid steps, so the padded tail never enters it, and the average divides by the
//   number of valid steps in the window. L_out = min(ceil(max(L − size, 0) / stride) + 1,
//   ceil(L / stride)): every valid step is covered when size >= stride (PyTorch's ceil_mode=True
//   for L >= size), and a sample shorter than the window still yields one output.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "../core/layer.hpp"

namespace salient {

/// Mean over each sample's valid steps: sequence (T, B, F) -> vector (B, F).
template <class S = float>
class GlobalAveragePool {
 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Vector;
  static constexpr int input_size = SameAsInput;
  static constexpr int output_size = SameAsInput;
  template <class T>
  using rebind = GlobalAveragePool<T>;

  Index input_features() const { return -1; }
  Index output_features(Index in) const { return in; }
  Index num_params() const { return 0; }
  std::string name() const { return "GlobalAveragePool"; }
  void bind(S*, S*) {}
  void init(Rng&) {}

  void forward(const SeqBatch<S>& x, RowMatrix<S>& y, Mode) const {
    const Index B = x.batch(), F = x.features();
    y.setZero(B, F);
    for_each_valid(x.lengths, x.steps(), [&](Index t, Index b, Index) { y.row(b) += step_map(x.values, t).row(b); });
    for (Index b = 0; b < B; ++b) y.row(b) /= S(x.length(b));
  }
  void backward(const SeqBatch<S>& x, const RowMatrix<S>&, const RowMatrix<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    for_each_valid(x.lengths, x.steps(), [&](Index t, Index b, Index) {
      step_map(*dx, t).row(b) += dy.row(b) / S(x.length(b));
    });
  }
};

/// Maximum over each sample's valid steps: sequence (T, B, F) -> vector (B, F).
template <class S = float>
class GlobalMaxPool {
 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Vector;
  static constexpr int input_size = SameAsInput;
  static constexpr int output_size = SameAsInput;
  template <class T>
  using rebind = GlobalMaxPool<T>;

  Index input_features() const { return -1; }
  Index output_features(Index in) const { return in; }
  Index num_params() const { return 0; }
  std::string name() const { return "GlobalMaxPool"; }
  void bind(S*, S*) {}
  void init(Rng&) {}

  /// Step index of the maximum of (b, f) from the last forward (B × F).
  const Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& argmax() const { return arg_; }

  void forward(const SeqBatch<S>& x, RowMatrix<S>& y, Mode) {
    const Index B = x.batch(), F = x.features();
    ensure_shape(y, B, F);
    arg_.setZero(B, F);
    for (Index b = 0; b < B; ++b)
      for (Index f = 0; f < F; ++f) y(b, f) = x(0, b, f);
    for (Index t = 1; t < x.steps(); ++t)
      for (Index b = 0; b < B; ++b) {
        if (t >= x.length(b)) continue;
        for (Index f = 0; f < F; ++f)
          if (x(t, b, f) > y(b, f)) {
            y(b, f) = x(t, b, f);
            arg_(b, f) = t;
          }
      }
  }
  void backward(const SeqBatch<S>&, const RowMatrix<S>&, const RowMatrix<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    for (Index b = 0; b < dy.rows(); ++b)
      for (Index f = 0; f < dy.cols(); ++f) (*dx)(arg_(b, f), b, f) += dy(b, f);
  }

 private:
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> arg_;
};

namespace detail {

/// Shared window geometry of MaxPool1D / AvgPool1D.
struct PoolWindow {
  Index size, stride;
  Index output_length(Index L) const {
    const Index over = std::max<Index>(L - size, 0);
    return std::min((over + stride - 1) / stride + 1, (L + stride - 1) / stride);
  }
  Index begin(Index o) const { return o * stride; }
  Index end(Index o, Index L) const { return std::min(o * stride + size, L); }
};

template <bool IsMax, class S>
class Pool1D {
 public:
  using scalar_type = S;
  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Sequence;
  static constexpr int input_size = SameAsInput;
  static constexpr int output_size = SameAsInput;

  explicit Pool1D(Index size, Index stride = -1) : w_{size, stride < 0 ? size : stride} {
    require_arg(size >= 1 && w_.stride >= 1, name(), ": size and stride must be >= 1");
  }

  Index input_features() const { return -1; }
  Index output_features(Index in) const { return in; }
  Index num_params() const { return 0; }
  Index size() const { return w_.size; }
  Index stride() const { return w_.stride; }
  Index output_length(Index L) const { return w_.output_length(L); }
  std::string name() const {
    return detail::concat(IsMax ? "MaxPool1D<" : "AvgPool1D<", w_.size, ",", w_.stride, ">");
  }
  void bind(S*, S*) {}
  void init(Rng&) {}

  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode) {
    const Index B = x.batch(), F = x.features(), To = w_.output_length(x.steps());
    y.lengths = map_lengths(x.lengths, [&](Index L) { return w_.output_length(L); });
    ensure_shape(y.values, To, B, F);
    y.values.setZero();
    if constexpr (IsMax) arg_.assign(std::size_t(To * B * F), 0);
    for (Index b = 0; b < B; ++b) {
      const Index L = x.length(b);
      for (Index o = 0; o < y.length(b); ++o) {
        const Index t0 = w_.begin(o), t1 = w_.end(o, L);
        S* yr = &y(o, b, 0);
        if constexpr (IsMax) {
          Index* ar = arg_.data() + (o * B + b) * F;
          for (Index f = 0; f < F; ++f) {
            yr[f] = x(t0, b, f);
            ar[f] = t0;
          }
          for (Index t = t0 + 1; t < t1; ++t)
            for (Index f = 0; f < F; ++f)
              if (x(t, b, f) > yr[f]) {
                yr[f] = x(t, b, f);
                ar[f] = t;
              }
        } else {
          for (Index t = t0; t < t1; ++t)
            for (Index f = 0; f < F; ++f) yr[f] += x(t, b, f);
          const S inv = S(1) / S(t1 - t0);
          for (Index f = 0; f < F; ++f) yr[f] *= inv;
        }
      }
    }
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>& y, const Tensor3<S>& dy, Tensor3<S>* dx) const {
    if (!dx) return;
    const Index B = x.batch(), F = x.features();
    for (Index b = 0; b < B; ++b) {
      const Index L = x.length(b);
      for (Index o = 0; o < y.length(b); ++o) {
        const S* g = &dy(o, b, 0);
        if constexpr (IsMax) {
          const Index* ar = arg_.data() + (o * B + b) * F;
          for (Index f = 0; f < F; ++f) (*dx)(ar[f], b, f) += g[f];
        } else {
          const Index t0 = w_.begin(o), t1 = w_.end(o, L);
          const S inv = S(1) / S(t1 - t0);
          for (Index t = t0; t < t1; ++t)
            for (Index f = 0; f < F; ++f) (*dx)(t, b, f) += g[f] * inv;
        }
      }
    }
  }

 private:
  PoolWindow w_;
  std::vector<Index> arg_;  // (T_out, B, F): input step of each maximum (MaxPool1D only)
};

}  // namespace detail

/// Max over windows of `size` steps every `stride` steps (default stride = size).
template <class S = float>
class MaxPool1D : public detail::Pool1D<true, S> {
 public:
  using detail::Pool1D<true, S>::Pool1D;
  template <class T>
  using rebind = MaxPool1D<T>;
};

/// Mean over windows of `size` steps every `stride` steps (default stride = size).
template <class S = float>
class AvgPool1D : public detail::Pool1D<false, S> {
 public:
  using detail::Pool1D<false, S>::Pool1D;
  template <class T>
  using rebind = AvgPool1D<T>;
};

}  // namespace salient
