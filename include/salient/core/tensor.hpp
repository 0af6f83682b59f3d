// salient/core/tensor.hpp — the data types that flow between layers.
//
// Layout (see docs/design.md):
//  * A batch of vectors is a row-major B × F matrix: one row per sample.
//  * A batch of sequences is a row-major rank-3 tensor of shape (T, B, F) — time-major — plus
//    one length per sample. Step t is one contiguous B × F row-major block, so every step (and
//    the whole sequence, as a (T·B) × F matrix) can be mapped as a matrix for GEMMs.
//  * Weights are row-major `Out × In`, like PyTorch's `weight`, and act as y = x · Wᵀ.
#pragma once

#include <unsupported/Eigen/CXX11/Tensor>

#include <algorithm>
#include <cmath>
#include <vector>

#include "config.hpp"
#include "error.hpp"

namespace salient {

template <class S>
using RowMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S>
using RowMatrixMap = Eigen::Map<RowMatrix<S>>;
template <class S>
using ConstRowMatrixMap = Eigen::Map<const RowMatrix<S>>;
template <class S>
using VectorMap = Eigen::Map<Vector<S>>;
template <class S>
using ConstVectorMap = Eigen::Map<const Vector<S>>;

/// Rank-3 time-major tensor (T, B, F), row-major: element (t, b, f) at ((t·B)+b)·F+f.
template <class S>
using Tensor3 = Eigen::Tensor<S, 3, Eigen::RowMajor>;

/// Per-sample valid lengths of a sequence batch (size B, each in [1, T]).
using Lengths = std::vector<Index>;

/// Step t of a (T, B, F) tensor as a B × F matrix (no copy).
template <class S>
RowMatrixMap<S> step_map(Tensor3<S>& x, Index t) {
  const Index B = x.dimension(1), F = x.dimension(2);
  return RowMatrixMap<S>(x.data() + t * B * F, B, F);
}
template <class S>
ConstRowMatrixMap<S> step_map(const Tensor3<S>& x, Index t) {
  const Index B = x.dimension(1), F = x.dimension(2);
  return ConstRowMatrixMap<S>(x.data() + t * B * F, B, F);
}
/// All steps of a (T, B, F) tensor as one (T·B) × F matrix (no copy).
template <class S>
RowMatrixMap<S> flat_map(Tensor3<S>& x) {
  return RowMatrixMap<S>(x.data(), x.dimension(0) * x.dimension(1), x.dimension(2));
}
template <class S>
ConstRowMatrixMap<S> flat_map(const Tensor3<S>& x) {
  return ConstRowMatrixMap<S>(x.data(), x.dimension(0) * x.dimension(1), x.dimension(2));
}

/// Resize a tensor to (T, B, F) only when its shape differs (keeps buffers across calls).
template <class S>
void ensure_shape(Tensor3<S>& x, Index T, Index B, Index F) {
  if (x.dimension(0) != T || x.dimension(1) != B || x.dimension(2) != F) x.resize(T, B, F);
}
template <class S>
void ensure_shape(RowMatrix<S>& x, Index rows, Index cols) {
  if (x.rows() != rows || x.cols() != cols) x.resize(rows, cols);
}

/// A batch of variable-length multivariate sequences: values (T, B, F) and lengths (B).
/// Values at padded steps (t >= lengths[b]) are never read by a salient layer.
template <class S>
struct SeqBatch {
  Tensor3<S> values;
  Lengths lengths;

  SeqBatch() = default;
  SeqBatch(Index T, Index B, Index F) : values(T, B, F), lengths(std::size_t(B), T) {
    values.setZero();
  }
  SeqBatch(Tensor3<S> v, Lengths l) : values(std::move(v)), lengths(std::move(l)) { validate(); }

  Index steps() const { return values.dimension(0); }
  Index batch() const { return values.dimension(1); }
  Index features() const { return values.dimension(2); }
  Index length(Index b) const { return lengths[std::size_t(b)]; }
  S& operator()(Index t, Index b, Index f) { return values(t, b, f); }
  const S& operator()(Index t, Index b, Index f) const { return values(t, b, f); }

  /// Throws ShapeError unless there is one length per sample, each in [1, T].
  void validate() const {
    require_shape(Index(lengths.size()) == batch(), "SeqBatch: ", lengths.size(),
                  " lengths given for a batch of ", batch(), " samples");
    for (std::size_t b = 0; b < lengths.size(); ++b)
      require_shape(lengths[b] >= 1 && lengths[b] <= steps(), "SeqBatch: sample ", b,
                    " has length ", lengths[b], ", outside [1, ", steps(), "]");
  }
};

/// Lengths after a layer that maps a length L to f(L) (e.g. a strided conv).
template <class F>
Lengths map_lengths(const Lengths& in, F&& f) {
  Lengths out(in.size());
  std::transform(in.begin(), in.end(), out.begin(), f);
  return out;
}

/// Set the padded steps (t >= lengths[b]) of a (T, B, F) tensor to zero.
template <class S>
void zero_padding(Tensor3<S>& x, const Lengths& lengths) {
  const Index T = x.dimension(0), B = x.dimension(1), F = x.dimension(2);
  for (Index t = 0; t < T; ++t)
    for (Index b = 0; b < B; ++b)
      if (t >= lengths[std::size_t(b)]) std::fill_n(x.data() + (t * B + b) * F, F, S(0));
}

/// True if every value of the valid steps is finite.
template <class S>
bool all_finite(const SeqBatch<S>& x) {
  const Index T = x.steps(), B = x.batch(), F = x.features();
  for (Index t = 0; t < T; ++t)
    for (Index b = 0; b < B; ++b)
      if (t < x.length(b))
        for (Index f = 0; f < F; ++f)
          if (!std::isfinite(x(t, b, f))) return false;
  return true;
}
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& x) {
  return x.allFinite();
}

}  // namespace salient
