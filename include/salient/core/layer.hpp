// salient/core/layer.hpp — the layer contract (see docs/design.md for the full text).
//
// A layer L with scalar S provides:
//   using scalar_type = S;
//   static constexpr Shape input_shape, output_shape;  // Sequence, Vector or Any (= same as input)
//   static constexpr int   input_size, output_size;    // fixed, Dynamic, or SameAsInput
//   Index input_features() const;                      // -1 when the layer takes any width
//   Index output_features(Index in) const;
//   Index num_params() const;
//   void  bind(S* params, S* grads);                   // views into the model's flat buffers;
//                                                      // grads may be null (no parameter grads)
//   void  init(Rng&);                                  // writes initial values through params
//   std::string name() const;                          // e.g. "Dense<8,4>"
//   void forward(const In& x, Out& y, Mode);           // keeps what backward needs
//   void backward(const In& x, const Out& y, const OutGrad& dy, InGrad* dx);
//        // ADDS into *dx (if dx != nullptr) and into the bound parameter gradients.
//
// In/Out are SeqBatch<S> (sequences) or RowMatrix<S> (B × F vectors); the gradient of a
// SeqBatch is a Tensor3<S> of the same shape. Padding rule: a layer never lets values at padded
// steps (t >= length) reach a valid output or a gradient; it writes 0 at padded steps of its
// sequence output and adds nothing at padded steps of dx.
#pragma once

#include <concepts>
#include <string>
#include <type_traits>

#include "config.hpp"
#include "random.hpp"
#include "tensor.hpp"

namespace salient {

/// What a layer consumes or produces. `Any` as input: works on both; as output: same as input.
enum class Shape { Sequence, Vector, Any };

/// Training keeps what backward needs and enables dropout; inference does neither.
enum class Mode { Inference, Training };

constexpr const char* shape_name(Shape s) {
  return s == Shape::Sequence ? "sequence" : s == Shape::Vector ? "vector" : "any";
}

/// The data and gradient types that flow for a given shape.
template <Shape K, class S>
struct io_types;
template <class S>
struct io_types<Shape::Sequence, S> {
  using data = SeqBatch<S>;
  using grad = Tensor3<S>;
};
template <class S>
struct io_types<Shape::Vector, S> {
  using data = RowMatrix<S>;
  using grad = RowMatrix<S>;
};
template <Shape K, class S>
using data_t = typename io_types<K, S>::data;
template <Shape K, class S>
using grad_t = typename io_types<K, S>::grad;

/// The static part of the contract, checkable without knowing the data shape.
template <class L>
concept Layer = requires(L& l, const L& cl, typename L::scalar_type* p, Rng& rng, Index n) {
  requires Scalar<typename L::scalar_type>;
  { L::input_shape } -> std::convertible_to<Shape>;
  { L::output_shape } -> std::convertible_to<Shape>;
  { L::input_size } -> std::convertible_to<int>;
  { L::output_size } -> std::convertible_to<int>;
  { cl.input_features() } -> std::convertible_to<Index>;
  { cl.output_features(n) } -> std::convertible_to<Index>;
  { cl.num_params() } -> std::convertible_to<Index>;
  { l.bind(p, p) };
  { l.init(rng) };
  { cl.name() } -> std::convertible_to<std::string>;
};

/// The data-dependent part of the contract for input shape K.
template <class L, Shape K>
concept LayerFor =
    Layer<L> &&
    requires(L& l, const data_t<K, typename L::scalar_type>& x,
             data_t<(L::output_shape == Shape::Any ? K : L::output_shape), typename L::scalar_type>& y,
             const grad_t<(L::output_shape == Shape::Any ? K : L::output_shape),
                          typename L::scalar_type>& dy,
             grad_t<K, typename L::scalar_type>* dx, Mode m) {
      { l.forward(x, y, m) };
      { l.backward(x, y, dy, dx) };
    };

// ---- helpers layers share -------------------------------------------------------------------

/// Calls fn(t, b, row) for every valid (t, b) of a (T, B, ·) batch; row = t·B + b.
template <class Fn>
void for_each_valid(const Lengths& lengths, Index T, Fn&& fn) {
  const Index B = Index(lengths.size());
  for (Index t = 0; t < T; ++t)
    for (Index b = 0; b < B; ++b)
      if (t < lengths[std::size_t(b)]) fn(t, b, t * B + b);
}

/// True if any sample is shorter than the tensor (so padded rows exist).
inline bool has_padding(const Lengths& lengths, Index T) {
  for (Index L : lengths)
    if (L < T) return true;
  return false;
}

/// The values of x with padded rows set to 0: returns x itself when there is no padding,
/// otherwise a copy in `scratch`. Lets a layer run one GEMM over all rows safely.
template <class S>
const Tensor3<S>& masked(const Tensor3<S>& x, const Lengths& lengths, Tensor3<S>& scratch) {
  if (!has_padding(lengths, x.dimension(0))) return x;
  scratch = x;
  zero_padding(scratch, lengths);
  return scratch;
}

/// Check that a run-time width matches what a layer expects; throws ShapeError naming both.
inline void check_features(const std::string& layer, const char* what, Index expected, Index got) {
  if (expected >= 0 && expected != got)
    fail<ShapeError>(layer, ": expected ", expected, " ", what, " features, got ", got);
}

}  // namespace salient
