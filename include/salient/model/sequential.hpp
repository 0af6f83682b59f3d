// salient/model/sequential.hpp — layers composed at compile time.
//
//   Sequential<Conv1D<3,32,5>, ReLU<>, LSTM<32,64,LastState>, Dense<64,5>> model;
//
// Layers live in a std::tuple. Compile time: every layer's input size must equal the previous
// layer's output size, and sequence/vector kinds must chain (a sequence-to-vector layer must be
// followed by vector layers); a mismatch is a static_assert with a plain-words message. Dynamic
// sizes get the same check at construction (ShapeError naming both layers and both sizes).
// All parameters live in one flat buffer, all gradients in another of the same layout.
#pragma once

#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "../core/layer.hpp"

namespace salient {

namespace detail {

template <class... L>
struct SequentialTraits {
  static constexpr std::size_t N = sizeof...(L);
  static constexpr std::array<Shape, N> in_shapes{L::input_shape...};
  static constexpr std::array<Shape, N> out_shapes{L::output_shape...};
  static constexpr std::array<int, N> in_sizes{L::input_size...};
  static constexpr std::array<int, N> out_sizes{L::output_size...};

  // The model's input kind: that of the first layer with a definite input kind, provided only
  // shape-preserving layers come before it; a model of shape-agnostic layers takes vectors.
  static constexpr Shape model_input = [] {
    for (std::size_t i = 0; i < N; ++i) {
      if (in_shapes[i] != Shape::Any) return in_shapes[i];
      if (out_shapes[i] != Shape::Any) return Shape::Vector;  // unreachable for sane layers
    }
    return Shape::Vector;
  }();
  // kinds[i] = kind flowing INTO layer i; kinds[N] = model output kind.
  static constexpr std::array<Shape, N + 1> kinds = [] {
    std::array<Shape, N + 1> k{};
    k[0] = model_input;
    for (std::size_t i = 0; i < N; ++i) k[i + 1] = out_shapes[i] == Shape::Any ? k[i] : out_shapes[i];
    return k;
  }();
  // sizes[i] = feature count flowing INTO layer i (Dynamic when unknown at compile time).
  static constexpr std::array<int, N + 1> sizes = [] {
    std::array<int, N + 1> s{};
    s[0] = in_sizes[0] == SameAsInput ? Dynamic : in_sizes[0];
    for (std::size_t i = 0; i < N; ++i) s[i + 1] = out_sizes[i] == SameAsInput ? s[i] : out_sizes[i];
    return s;
  }();
  static constexpr bool size_ok(std::size_t i) {
    const int want = in_sizes[i], have = sizes[i];
    return want == Dynamic || want == SameAsInput || have == Dynamic || want == have;
  }
  static constexpr bool kind_ok(std::size_t i) {
    return in_shapes[i] == Shape::Any || in_shapes[i] == kinds[i];
  }
};

// These templates exist so the compiler's error trace names the layer position and sizes:
// "layer_size_check<2, 16, 8, false>" = layer 2 receives 16 features but expects 8.
template <std::size_t Position, int ReceivedSize, int ExpectedSize, bool Ok>
struct layer_size_check {
  static_assert(Ok,
                "salient::Sequential: the output size of one layer does not match the input size "
                "of the next (the compiler names the spot as layer_size_check<position, received size, expected size, false>)");
  static constexpr bool value = true;
};
template <std::size_t Position, Shape Received, Shape Expected, bool Ok>
struct layer_kind_check {
  static_assert(Ok,
                "salient::Sequential: a layer receives a vector where it needs a sequence, or a "
                "sequence where it needs a vector (a sequence-to-vector layer such as "
                "LSTM<..., LastState> or a global pool must be followed by vector layers)");
  static constexpr bool value = true;
};

template <class Traits, std::size_t... I>
constexpr bool check_chain(std::index_sequence<I...>) {
  return (layer_size_check<I, Traits::sizes[I], Traits::in_sizes[I], Traits::size_ok(I)>::value && ...) &&
         (layer_kind_check<I, Traits::kinds[I], Traits::in_shapes[I], Traits::kind_ok(I)>::value && ...);
}

template <class S, class Traits, class Seq>
struct activation_tuple;
template <class S, class Traits, std::size_t... I>
struct activation_tuple<S, Traits, std::index_sequence<I...>> {
  using data = std::tuple<data_t<Traits::kinds[I + 1], S>...>;
  using grad = std::tuple<grad_t<Traits::kinds[I + 1], S>...>;
};

template <class Dst, class Src>
void assign_shape_like(Dst& dst, const Src& src) {
  if constexpr (requires { src.dimension(2); }) {
    ensure_shape(dst, src.dimension(0), src.dimension(1), src.dimension(2));
  } else {
    ensure_shape(dst, src.rows(), src.cols());
  }
}
template <class S>
const Tensor3<S>& values_of(const SeqBatch<S>& x) { return x.values; }
template <class S>
const RowMatrix<S>& values_of(const RowMatrix<S>& x) { return x; }

template <class T, class... L>
struct rebind_sequential;  // defined after Sequential

}  // namespace detail

template <Layer First, Layer... Rest>
class Sequential {
 public:
  using scalar_type = typename First::scalar_type;
  using S = scalar_type;
  static_assert((std::is_same_v<typename Rest::scalar_type, S> && ...),
                "salient::Sequential: all layers must use the same scalar type");
  using Traits = detail::SequentialTraits<First, Rest...>;
  static constexpr std::size_t num_layers = 1 + sizeof...(Rest);
  static_assert(detail::check_chain<Traits>(std::make_index_sequence<num_layers>{}));

  static constexpr Shape input_shape = Traits::kinds[0];
  static constexpr Shape output_shape = Traits::kinds[num_layers];
  static constexpr int input_size = Traits::sizes[0];
  static constexpr int output_size = Traits::sizes[num_layers];
  using Input = data_t<input_shape, S>;
  using Output = data_t<output_shape, S>;
  using InputGrad = grad_t<input_shape, S>;
  using OutputGrad = grad_t<output_shape, S>;
  using Layers = std::tuple<First, Rest...>;
  template <std::size_t I>
  using layer_type = std::tuple_element_t<I, Layers>;
  /// The same architecture with another scalar type (e.g. double for gradient checks).
  template <class T>
  using rebind = typename detail::rebind_sequential<T, First, Rest...>::type;

  /// Fixed-size layers: default construction. Any layer can also be passed in (Dynamic sizes).
  Sequential() requires(std::is_default_constructible_v<First> && (std::is_default_constructible_v<Rest> && ...))
  { setup(); }
  explicit Sequential(First first, Rest... rest) : layers_(std::move(first), std::move(rest)...) { setup(); }

  Sequential(const Sequential& o)
      : layers_(o.layers_), params_(o.params_), grads_(o.grads_), param_grads_(o.param_grads_),
        out_features_(o.out_features_) {
    rebind_all();
  }
  Sequential& operator=(const Sequential& o) {
    if (this != &o) {
      layers_ = o.layers_;
      params_ = o.params_;
      grads_ = o.grads_;
      param_grads_ = o.param_grads_;
      out_features_ = o.out_features_;
      rebind_all();
    }
    return *this;
  }
  Sequential(Sequential&& o) noexcept : Sequential(static_cast<const Sequential&>(o)) {}
  Sequential& operator=(Sequential&& o) noexcept { return *this = static_cast<const Sequential&>(o); }

  /// Deterministic initialisation of every layer from one seed.
  void init(std::uint64_t seed) {
    Rng rng(seed);
    init(rng);
  }
  void init(Rng& rng) {
    for_each_layer([&](auto& l, auto) {
      Rng layer_rng = rng.split();
      l.init(layer_rng);
    });
  }

  // ---- flat buffers ----
  Index num_params() const { return params_.size(); }
  VectorMap<S> params() { return {params_.data(), params_.size()}; }
  ConstVectorMap<S> params() const { return {params_.data(), params_.size()}; }
  VectorMap<S> grads() { return {grads_.data(), grads_.size()}; }
  ConstVectorMap<S> grads() const { return {grads_.data(), grads_.size()}; }
  void zero_grad() { grads_.setZero(); }
  /// Skip parameter gradients in backward (e.g. for attribution): faster, grads untouched.
  void set_param_grads(bool on) {
    param_grads_ = on;
    rebind_all();
  }

  // ---- layers and activations ----
  template <std::size_t I>
  auto& layer() { return std::get<I>(layers_); }
  template <std::size_t I>
  const auto& layer() const { return std::get<I>(layers_); }
  /// Output of layer I from the last forward pass.
  template <std::size_t I>
  const auto& output() const { return std::get<I>(acts_); }
  const Input& last_input() const { return input_; }

  /// Input features expected (-1 when any), output features produced for it.
  Index input_features() const { return std::get<0>(layers_).input_features(); }
  Index output_features() const { return out_features_; }

  /// "Sequential[Dense<2,16>, ReLU, Dense<16,2>]": the architecture signature used by save/load.
  std::string name() const {
    std::string s = "Sequential[";
    for_each_layer([&](const auto& l, auto i) {
      if (i.value) s += ", ";
      s += l.name();
    });
    return s + "]";
  }

  /// Forward pass. Keeps a copy of the input and every layer output (for backward and for
  /// attribution). Returns the model output (valid until the next forward).
  ///
  /// Checks the input first: ShapeError for a wrong channel / feature count or lengths outside
  /// [1, T]; NumericError naming the sample, step and channel for a NaN or Inf at a valid step
  /// (padded steps may hold anything). Layers would otherwise turn NaN into plausible-looking
  /// outputs (ReLU maps NaN to 0), so a missing value could silently change a prediction.
  ///
  /// Thread safety: the layers cache activations for backward, so one Sequential object runs one
  /// forward/backward at a time. Concurrent inference uses one copy per thread (copies are deep
  /// and cheap next to a forward pass); reading a const model (copying it, name(), params()) from
  /// several threads is safe while no thread modifies it.
  const Output& forward(const Input& x, Mode mode = Mode::Inference) {
    check_input(x);
    input_ = x;
    forward_from<0>(mode);
    return std::get<num_layers - 1>(acts_);
  }

  /// Backward pass for the last forward: adds parameter gradients into grads() (unless
  /// disabled) and, when dx is given, ADDS the input gradient into *dx (resized and zeroed
  /// first if its shape differs from the input's).
  void backward(const OutputGrad& dy, InputGrad* dx = nullptr) {
    if (dx) {
      const auto& xv = detail::values_of(input_);
      if constexpr (input_shape == Shape::Sequence) {
        if (dx->dimension(0) != xv.dimension(0) || dx->dimension(1) != xv.dimension(1) ||
            dx->dimension(2) != xv.dimension(2)) {
          dx->resize(xv.dimension(0), xv.dimension(1), xv.dimension(2));
          dx->setZero();
        }
      } else {
        if (dx->rows() != xv.rows() || dx->cols() != xv.cols()) dx->setZero(xv.rows(), xv.cols());
      }
    }
    backward_from<num_layers - 1>(dy, dx);
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
    // Run-time size chain (covers Dynamic sizes).
    Index cur = input_features();
    std::string prev = "the model input";
    for_each_layer([&](const auto& l, auto) {
      const Index want = l.input_features();
      if (want >= 0 && cur >= 0 && want != cur)
        fail<ShapeError>("Sequential: ", l.name(), " expects ", want, " input features but ",
                         prev, " produces ", cur);
      cur = l.output_features(cur >= 0 ? cur : want);
      prev = l.name();
    });
    out_features_ = cur;
    Index total = 0;
    for_each_layer([&](const auto& l, auto) { total += l.num_params(); });
    params_.setZero(total);
    grads_.setZero(total);
    rebind_all();
  }
  void rebind_all() {
    Index off = 0;
    for_each_layer([&](auto& l, auto) {
      l.bind(params_.data() + off, param_grads_ ? grads_.data() + off : nullptr);
      off += l.num_params();
    });
  }
  void check_input(const Input& x) const {
    const Index f = input_features();
    if constexpr (input_shape == Shape::Sequence) {
      x.validate();
      if (f >= 0 && x.features() != f)
        fail<ShapeError>(name(), ": input has ", x.features(), " channels, the model expects ", f);
      if (!all_finite(x)) {  // valid steps only: padding may hold anything
        for (Index b = 0; b < x.batch(); ++b)
          for (Index t = 0; t < x.length(b); ++t)
            for (Index c = 0; c < x.features(); ++c)
              if (!std::isfinite(x(t, b, c)))
                fail<NumericError>(name(), ": input sample ", b, ", step ", t, ", channel ", c, " is ",
                                   x(t, b, c), non_finite_hint);
      }
    } else {
      if (f >= 0 && x.cols() != f)
        fail<ShapeError>(name(), ": input has ", x.cols(), " features, the model expects ", f);
      if (!x.allFinite()) {
        for (Index b = 0; b < x.rows(); ++b)
          for (Index c = 0; c < x.cols(); ++c)
            if (!std::isfinite(x(b, c)))
              fail<NumericError>(name(), ": input sample ", b, ", feature ", c, " is ", x(b, c), non_finite_hint);
      }
    }
  }
  static constexpr const char* non_finite_hint =
      "; the model needs finite inputs (impute missing values first, e.g. read with "
      "data::MissingPolicy::impute_series_mean)";

  template <std::size_t I>
  const auto& input_of() const {
    if constexpr (I == 0) return input_;
    else return std::get<I - 1>(acts_);
  }
  template <std::size_t I>
  void forward_from(Mode mode) {
    std::get<I>(layers_).forward(input_of<I>(), std::get<I>(acts_), mode);
    if constexpr (I + 1 < num_layers) forward_from<I + 1>(mode);
  }
  template <std::size_t I>
  void backward_from(const grad_t<Traits::kinds[I + 1], S>& dy, InputGrad* dx) {
    auto& layer = std::get<I>(layers_);
    if constexpr (I == 0) {
      layer.backward(input_, std::get<0>(acts_), dy, dx);
    } else {
      auto& g = std::get<I - 1>(grads_acts_);
      detail::assign_shape_like(g, detail::values_of(std::get<I - 1>(acts_)));
      g.setZero();
      layer.backward(std::get<I - 1>(acts_), std::get<I>(acts_), dy, &g);
      backward_from<I - 1>(g, dx);
    }
  }

  using Acts = detail::activation_tuple<S, Traits, std::make_index_sequence<num_layers>>;
  Layers layers_;
  Vector<S> params_, grads_;
  bool param_grads_ = true;
  Index out_features_ = -1;
  Input input_;
  typename Acts::data acts_;
  typename Acts::grad grads_acts_;
};

namespace detail {
template <class T, class... L>
struct rebind_sequential {
  using type = Sequential<typename L::template rebind<T>...>;
};
}  // namespace detail

}  // namespace salient
