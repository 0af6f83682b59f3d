// salient/explain/gradient.hpp — plain gradient methods (one forward + one backward per sample).
//
//   saliency:           A(t, f) = ∂y_k / ∂x(t, f)          (signed, or |·| with absolute = true)
//   gradient × input:   A(t, f) = x(t, f) · ∂y_k / ∂x(t, f)
//
// y_k is the target output (logit by default, see Target). For a model linear in x, y = Σ w·x + c
// and gradient × input is exactly w·x. Padded steps are 0.
#pragma once

#include "target.hpp"

namespace salient::explain {

struct SaliencyOptions {
  bool absolute = false;  ///< |gradient| instead of the signed gradient
  EngineOptions engine{};
};

namespace detail {
/// Gradient of the target for every sample of x; optionally multiplied by the input.
template <class Model, class S = typename Model::scalar_type>
Attribution<S> plain_gradient(const Model& model, const SeqBatch<S>& x, const Target& target,
                              bool times_input, bool absolute, EngineOptions eopt) {
  auto eng = make_engine(model, x, eopt);
  Attribution<S> a = empty_attribution(x);
  a.classes = eng.resolve(x, target);
  eng.run(
      x.batch(), [&](Index j) { return x.length(j); },
      [&](Index j, StepView<S> v) { Engine<Model>::copy_sample(x, j, v); },
      [&](Index j) { return a.classes[std::size_t(j)]; }, target.output(), true,
      [&](Index j, double, const StepView<const S>* g) {
        auto dst = sample_view(a.values, j, x.length(j));
        const auto src = sample_view(x.values, j, x.length(j));
        for (Index t = 0; t < dst.length; ++t)
          for (Index f = 0; f < dst.features; ++f) {
            S v = (*g)(t, f);
            if (times_input) v *= src(t, f);
            dst(t, f) = absolute ? std::abs(v) : v;
          }
      });
  a.cost = eng.cost();
  return a;
}
}  // namespace detail

/// ∂target/∂x (signed, or absolute).
template <SequenceClassifier Model>
Attribution<typename Model::scalar_type> saliency(const Model& model,
                                                  const SeqBatch<typename Model::scalar_type>& x,
                                                  const Target& target, SaliencyOptions opt = {}) {
  return detail::plain_gradient(model, x, target, false, opt.absolute, opt.engine);
}

/// x ⊙ ∂target/∂x.
template <SequenceClassifier Model>
Attribution<typename Model::scalar_type> gradient_x_input(const Model& model,
                                                          const SeqBatch<typename Model::scalar_type>& x,
                                                          const Target& target, EngineOptions eopt = {}) {
  return detail::plain_gradient(model, x, target, true, false, eopt);
}

}  // namespace salient::explain
