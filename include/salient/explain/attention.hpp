// salient/explain/attention.hpp — read the attention weights of a model's attention layers.
//
// A view of the model's internals, NOT a faithful attribution: an attention weight says how a
// layer mixed its inputs at that point of the network, not how much a time step of the input
// changed the output (the layer's inputs already mix many steps, and the values, not only the
// weights, decide). On the sensor-defect benchmark attention weights point at the defect less
// often than chance. Use them to look inside the model; use gradient / occlusion / Shapley
// methods to explain a decision.
//
// Every AttentionPool and every head of every MultiHeadSelfAttention in the model's layer tuple
// is found by type. For AttentionPool the view is α (B × T). For a self-attention head the view
// is the attention each key step receives, averaged over the sample's valid query steps
// (B × T); the full L × L matrices stay available through model.layer<I>().attention(b, h).
#pragma once

#include <string>
#include <vector>

#include "../layers/attention.hpp"
#include "target.hpp"

namespace salient::explain {

template <class S>
struct AttentionView {
  std::size_t layer = 0;  ///< position in the Sequential
  std::string name;       ///< the layer's name()
  Index head = -1;        ///< -1 for AttentionPool
  RowMatrix<S> weights;   ///< B × T_layer (0 beyond each sample's length)
  Lengths lengths;        ///< the lengths seen by the layer
};

namespace detail {
template <class L>
struct is_attention_pool : std::false_type {};
template <int F, class S>
struct is_attention_pool<AttentionPool<F, S>> : std::true_type {};
template <class L>
struct is_self_attention : std::false_type {};
template <int F, int H, class S>
struct is_self_attention<MultiHeadSelfAttention<F, H, S>> : std::true_type {};

template <std::size_t I, class Model, class S>
void collect_attention(const Model& m, const SeqBatch<S>& x, std::vector<AttentionView<S>>& out) {
  if constexpr (I < Model::num_layers) {
    using L = typename Model::template layer_type<I>;
    const auto& layer = m.template layer<I>();
    if constexpr (is_attention_pool<L>::value || is_self_attention<L>::value) {
      Lengths lengths = x.lengths;
      if constexpr (I > 0) lengths = m.template output<I - 1>().lengths;
      Index T = 0;
      for (Index L0 : lengths) T = std::max(T, L0);
      if constexpr (is_attention_pool<L>::value) {
        AttentionView<S> v{I, layer.name(), -1, layer.weights(), lengths};
        out.push_back(std::move(v));
      } else {
        for (Index h = 0; h < layer.heads(); ++h) {
          AttentionView<S> v{I, layer.name(), h, RowMatrix<S>::Zero(Index(lengths.size()), T), lengths};
          for (Index b = 0; b < Index(lengths.size()); ++b) {
            const auto P = layer.attention(b, h);
            v.weights.row(b).head(P.cols()) = P.colwise().mean();
          }
          out.push_back(std::move(v));
        }
      }
    }
    collect_attention<I + 1>(m, x, out);
  }
}
}  // namespace detail

/// Forward x on a private copy of the model and read every attention layer (in layer order).
template <SequenceClassifier Model, class S = typename Model::scalar_type>
std::vector<AttentionView<S>> attention_weights(const Model& model, const SeqBatch<S>& x) {
  Model m = model;
  m.set_param_grads(false);
  m.forward(x, Mode::Inference);
  std::vector<AttentionView<S>> out;
  detail::collect_attention<0>(m, x, out);
  return out;
}

/// The attention view `which` (index into attention_weights()) broadcast over the input's
/// channels as an Attribution (each step's cells get weight / F, so the per-step |sum| is the
/// weight). Throws ShapeError if the layer's time axis differs from the input's (e.g. after a
/// strided convolution) and ArgumentError if the model has no such attention view.
template <SequenceClassifier Model, class S = typename Model::scalar_type>
Attribution<S> attention_attribution(const Model& model, const SeqBatch<S>& x, std::size_t which = 0) {
  const auto views = attention_weights(model, x);
  require_arg(which < views.size(), "attention_attribution: the model has ", views.size(),
              " attention views, asked for #", which);
  const auto& v = views[which];
  require_shape(v.lengths == x.lengths, "attention_attribution: layer ", v.name,
                " sees other lengths than the input (its steps do not map 1:1 to input steps)");
  Attribution<S> a = empty_attribution(x);
  const Index F = x.features();
  for (Index b = 0; b < x.batch(); ++b)
    for (Index t = 0; t < x.length(b); ++t)
      for (Index f = 0; f < F; ++f) a.values(t, b, f) = v.weights(b, t) / S(F);
  a.cost.forward = x.batch();
  return a;
}

}  // namespace salient::explain
