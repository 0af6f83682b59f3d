// salient/layers/residual.hpp — y = x + Block(x) over sequences, Block a chain of layers.
//
//   Residual<Conv1D<16,16,3>, ReLU<>, Conv1D<16,16,3>>          (T, B, F) -> (T, B, F)
//
// The block's layers are chained exactly as in Sequential (same compile-time size messages) and
// bound into the enclosing model's flat buffers, in order. The block must map sequences to
// sequences and keep the width (static_assert when the sizes are known at compile time,
// ShapeError at construction for Dynamic ones) and the lengths (ShapeError at forward, e.g. for
// a strided conv). Padded steps: y = 0; dx receives the block's gradient plus dy on valid steps.
// A Sequential cannot be a block (it owns its buffers): list its layers here instead.
#pragma once

#include <string>
#include <tuple>
#include <utility>

#include "../model/sequential.hpp"

namespace salient {

namespace detail {
template <class... L>
struct ResidualTraits {
  using Base = SequentialTraits<L...>;
  static constexpr std::size_t N = sizeof...(L);
  static constexpr bool all_sequence =
      ((L::input_shape != Shape::Vector && L::output_shape != Shape::Vector) && ...);
  // Width entering the block when fixed at compile time: the first layer's definite input size
  // reached through shape-preserving layers only.
  static constexpr int in_size = [] {
    for (std::size_t i = 0; i < N; ++i) {
      if (Base::in_sizes[i] == SameAsInput) continue;
      return Base::in_sizes[i];  // fixed or Dynamic
    }
    return SameAsInput;
  }();
  static constexpr int out_size = Base::sizes[N];  // Dynamic if unknown
  static constexpr bool all_same = in_size == SameAsInput;
  static constexpr int size = all_same ? SameAsInput : in_size != Dynamic ? in_size : out_size;
  static constexpr bool width_ok = all_same || in_size == Dynamic || out_size == Dynamic || in_size == out_size;
};
}  // namespace detail

template <Layer First, Layer... Rest>
class Residual {
 public:
  using scalar_type = typename First::scalar_type;
  using S = scalar_type;
  static_assert((std::is_same_v<typename Rest::scalar_type, S> && ...),
                "salient::Residual: all layers of the block must use the same scalar type");
  using Traits = detail::ResidualTraits<First, Rest...>;
  static constexpr std::size_t num_layers = 1 + sizeof...(Rest);
  static_assert(Traits::all_sequence,
                "salient::Residual: every layer of the block must map sequences to sequences");
  static_assert(detail::check_chain<typename Traits::Base>(std::make_index_sequence<num_layers>{}));
  static_assert(Traits::width_ok,
                "salient::Residual: the block must output as many features as it receives (y = x + block(x))");

  static constexpr Shape input_shape = Shape::Sequence;
  static constexpr Shape output_shape = Shape::Sequence;
  static constexpr int input_size = Traits::size;
  static constexpr int output_size = Traits::size;
  template <class T>
  using rebind = Residual<typename First::template rebind<T>, typename Rest::template rebind<T>...>;

  Residual() requires(std::is_default_constructible_v<First> && (std::is_default_constructible_v<Rest> && ...))
  { setup(); }
  explicit Residual(First first, Rest... rest) : layers_(std::move(first), std::move(rest)...) { setup(); }

  template <std::size_t I>
  auto& layer() { return std::get<I>(layers_); }
  template <std::size_t I>
  const auto& layer() const { return std::get<I>(layers_); }
  /// Output of block layer I from the last forward.
  template <std::size_t I>
  const SeqBatch<S>& output() const { return std::get<I>(acts_); }

  Index input_features() const { return width_; }
  Index output_features(Index in) const { return width_ >= 0 ? width_ : in; }
  Index num_params() const {
    Index n = 0;
    for_each_layer([&](const auto& l, auto) { n += l.num_params(); });
    return n;
  }
  std::string name() const {
    std::string s = "Residual[";
    for_each_layer([&](const auto& l, auto i) {
      if (i.value) s += ", ";
      s += l.name();
    });
    return s + "]";
  }
  void bind(S* params, S* grads) {
    Index off = 0;
    for_each_layer([&](auto& l, auto) {
      l.bind(params + off, grads ? grads + off : nullptr);
      off += l.num_params();
    });
  }
  void init(Rng& rng) {
    for_each_layer([&](auto& l, auto) {
      Rng r = rng.split();
      l.init(r);
    });
  }

  void forward(const SeqBatch<S>& x, SeqBatch<S>& y, Mode mode) {
    check_features(name(), "input", width_, x.features());
    forward_from<0>(x, mode);
    const SeqBatch<S>& blk = std::get<num_layers - 1>(acts_);
    if (blk.lengths != x.lengths || blk.steps() != x.steps() || blk.features() != x.features())
      fail<ShapeError>(name(), ": the block changes the sequence shape (", x.steps(), " steps × ", x.features(),
                       " features -> ", blk.steps(), " × ", blk.features(), ", or the lengths); a residual "
                       "connection needs the same shape");
    ensure_shape(y.values, x.steps(), x.batch(), x.features());
    y.lengths = x.lengths;
    y.values = x.values + blk.values;
    zero_padding(y.values, y.lengths);
  }
  void backward(const SeqBatch<S>& x, const SeqBatch<S>&, const Tensor3<S>& dy, Tensor3<S>* dx) {
    backward_from<num_layers - 1>(x, dy, dx);
    if (!dx) return;
    const Index F = x.features();
    for_each_valid(x.lengths, x.steps(), [&](Index, Index, Index row) {
      for (Index i = row * F; i < (row + 1) * F; ++i) dx->data()[i] += dy.data()[i];
    });
  }

 private:
  template <class Fn>
  void for_each_layer(Fn&& fn) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (fn(std::get<I>(layers_), std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<num_layers>{});
  }
  template <class Fn>
  void for_each_layer(Fn&& fn) const {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (fn(std::get<I>(layers_), std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<num_layers>{});
  }
  void setup() {
    Index cur = -1, first = -1;
    std::string prev = "the block input";
    for_each_layer([&](const auto& l, auto) {
      const Index want = l.input_features();
      if (want >= 0 && cur >= 0 && want != cur)
        fail<ShapeError>("Residual: ", l.name(), " expects ", want, " input features but ", prev, " produces ", cur);
      if (first < 0 && cur < 0 && want >= 0) first = want;
      cur = l.output_features(cur >= 0 ? cur : want);
      prev = l.name();
    });
    if (first >= 0 && cur >= 0 && first != cur)
      fail<ShapeError>("Residual: the block receives ", first, " features but outputs ", cur,
                       "; y = x + block(x) needs the same width");
    width_ = first >= 0 ? first : cur;
  }
  template <std::size_t I>
  const SeqBatch<S>& input_of(const SeqBatch<S>& x) const {
    if constexpr (I == 0) return x;
    else return std::get<I - 1>(acts_);
  }
  template <std::size_t I>
  void forward_from(const SeqBatch<S>& x, Mode mode) {
    std::get<I>(layers_).forward(input_of<I>(x), std::get<I>(acts_), mode);
    if constexpr (I + 1 < num_layers) forward_from<I + 1>(x, mode);
  }
  template <std::size_t I>
  void backward_from(const SeqBatch<S>& x, const Tensor3<S>& dy, Tensor3<S>* dx) {
    auto& l = std::get<I>(layers_);
    if constexpr (I == 0) {
      l.backward(x, std::get<0>(acts_), dy, dx);
    } else {
      Tensor3<S>& g = std::get<I - 1>(grads_);
      const Tensor3<S>& a = std::get<I - 1>(acts_).values;
      ensure_shape(g, a.dimension(0), a.dimension(1), a.dimension(2));
      g.setZero();
      l.backward(std::get<I - 1>(acts_), std::get<I>(acts_), dy, &g);
      backward_from<I - 1>(x, g, dx);
    }
  }

  template <class>
  using seq_t = SeqBatch<S>;
  template <class>
  using grad_seq_t = Tensor3<S>;
  std::tuple<First, Rest...> layers_;
  std::tuple<seq_t<First>, seq_t<Rest>...> acts_;
  std::tuple<grad_seq_t<First>, grad_seq_t<Rest>...> grads_;
  Index width_ = -1;
};

}  // namespace salient
