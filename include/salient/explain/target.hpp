// salient/explain/target.hpp — what is explained (targets), what comes back (Attribution), and
// the batched evaluation engine every attribution method runs on.
//
// A Target names one model output per sample: a fixed class index, the predicted class, or one
// class per sample (e.g. "the label of this defect"). `each_label(K)` gives one Target per label
// of a multi-label model (run a method once per target). The explained quantity is the logit by
// default, or the softmax / sigmoid probability of that class.
//
// The engine keeps a private copy of the model (inference mode, no parameter gradients: the
// user's model is never touched) and evaluates many *virtual samples* — interpolation points,
// occluded copies, noisy copies — by packing them into batches of up to `max_batch` samples.
// Each virtual sample is described by its length, a function that writes its values and its
// target class; results come back per virtual sample (target value and, optionally, the
// gradient of the target value with respect to the sample's valid steps).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/layer.hpp"
#include "../core/tensor.hpp"

namespace salient::explain {

/// The explained quantity of the target class.
enum class Output {
  Logit,    ///< the raw model output (default; additive methods explain this)
  Softmax,  ///< softmax probability of the class (single-label models)
  Sigmoid,  ///< sigmoid of the class logit (multi-label models)
};

/// Which class each sample's attribution is for.
class Target {
 public:
  enum class Kind { Index, Predicted, PerSample };

  /// The same class k for every sample.
  static Target index(Index k, Output out = Output::Logit) { return Target(Kind::Index, k, {}, out); }
  /// The arg-max logit of each sample (resolved on the unperturbed input).
  static Target predicted(Output out = Output::Logit) { return Target(Kind::Predicted, -1, {}, out); }
  /// One class per sample (size must equal the batch size).
  static Target per_sample(std::vector<Index> classes, Output out = Output::Logit) {
    return Target(Kind::PerSample, -1, std::move(classes), out);
  }

  Kind kind() const { return kind_; }
  Output output() const { return out_; }
  /// The same target explaining another output quantity.
  Target with_output(Output out) const {
    Target t = *this;
    t.out_ = out;
    return t;
  }

  /// The class of every sample, given the model's logits (B × K) on the unperturbed batch.
  template <class S>
  std::vector<Index> resolve(const RowMatrix<S>& logits) const {
    const Index B = logits.rows(), K = logits.cols();
    std::vector<Index> c(static_cast<std::size_t>(B), 0);
    switch (kind_) {
      case Kind::Index:
        require_arg(k_ >= 0 && k_ < K, "explain::Target: class ", k_, " outside [0, ", K, ")");
        std::fill(c.begin(), c.end(), k_);
        break;
      case Kind::Predicted:
        for (Index b = 0; b < B; ++b) logits.row(b).maxCoeff(&c[std::size_t(b)]);
        break;
      case Kind::PerSample:
        require_shape(Index(classes_.size()) == B, "explain::Target: ", classes_.size(),
                      " classes given for a batch of ", B, " samples");
        for (Index b = 0; b < B; ++b) {
          const Index k = classes_[std::size_t(b)];
          require_arg(k >= 0 && k < K, "explain::Target: sample ", b, " asks for class ", k,
                      ", outside [0, ", K, ")");
          c[std::size_t(b)] = k;
        }
        break;
    }
    return c;
  }
  /// True when resolving needs the model's logits.
  bool needs_logits() const { return kind_ == Kind::Predicted; }
  /// The classes when they are known without a forward pass (Index: needs the batch size).
  std::vector<Index> fixed(Index B) const {
    if (kind_ == Kind::PerSample) return classes_;
    return std::vector<Index>(std::size_t(B), k_);
  }

 private:
  Target(Kind kd, Index k, std::vector<Index> cls, Output out)
      : kind_(kd), k_(k), classes_(std::move(cls)), out_(out) {}
  Kind kind_;
  Index k_;
  std::vector<Index> classes_;
  Output out_;
};

/// One Target per label 0 … K-1 (multi-label models: explain every label in turn).
inline std::vector<Target> each_label(Index K, Output out = Output::Logit) {
  std::vector<Target> t;
  for (Index k = 0; k < K; ++k) t.push_back(Target::index(k, out));
  return t;
}

/// Work done by a method, counted in single-sample model passes.
struct Cost {
  Index forward = 0;   ///< sample-forwards (a batch of B samples counts B)
  Index backward = 0;  ///< sample-backwards w.r.t. the input
  double seconds = 0;  ///< wall time
  Cost& operator+=(const Cost& o) {
    forward += o.forward;
    backward += o.backward;
    seconds += o.seconds;
    return *this;
  }
};

/// The result of an attribution method: one value per (step, sample, channel), shaped like the
/// input batch; padded steps are exactly 0.
template <class S>
struct Attribution {
  Tensor3<S> values;               ///< (T, B, F)
  Lengths lengths;                 ///< copied from the input
  std::vector<Index> classes;      ///< the resolved target class of each sample
  std::vector<double> delta;       ///< completeness error per sample (integrated gradients)
  Cost cost;

  Index steps() const { return values.dimension(0); }
  Index batch() const { return values.dimension(1); }
  Index features() const { return values.dimension(2); }
  S operator()(Index t, Index b, Index f) const { return values(t, b, f); }
};

/// Options shared by every method.
struct EngineOptions {
  Index max_batch = 256;  ///< virtual samples per model pass
};

/// A view of one sample's valid steps inside a time-major batch: element (t, f) at
/// data[t·stride + f].
template <class S>
struct StepView {
  S* data;
  Index length, features, stride;
  S& operator()(Index t, Index f) const { return data[t * stride + f]; }
};
template <class S>
StepView<S> sample_view(Tensor3<S>& x, Index b, Index length) {
  return {x.data() + b * x.dimension(2), length, x.dimension(2), x.dimension(1) * x.dimension(2)};
}
template <class S>
StepView<const S> sample_view(const Tensor3<S>& x, Index b, Index length) {
  return {x.data() + b * x.dimension(2), length, x.dimension(2), x.dimension(1) * x.dimension(2)};
}

/// Checks a model can be explained: sequence input, vector (logit) output.
template <class Model>
concept SequenceClassifier = requires {
  requires Model::input_shape == Shape::Sequence;
  requires Model::output_shape == Shape::Vector;
};

/// Evaluates virtual samples in packed batches on a private copy of the model.
template <SequenceClassifier Model>
class Engine {
 public:
  using S = typename Model::scalar_type;

  Engine(const Model& model, EngineOptions opt = {}) : model_(model), opt_(opt) {
    require_arg(opt.max_batch >= 1, "explain: max_batch must be >= 1, got ", opt.max_batch);
    model_.set_param_grads(false);
  }

  /// Forward the real batch; returns the logits (B × K).
  RowMatrix<S> logits(const SeqBatch<S>& x) {
    RowMatrix<S> out(x.batch(), 0);
    Index K = 0;
    for (Index b0 = 0; b0 < x.batch(); b0 += opt_.max_batch) {
      const Index n = std::min(opt_.max_batch, x.batch() - b0);
      pack(n, [&](Index j) { return x.length(b0 + j); },
           [&](Index j, StepView<S> v) { copy_sample(x, b0 + j, v); });
      const auto& y = model_.forward(chunk_, Mode::Inference);
      cost_.forward += n;
      if (K == 0) {
        K = y.cols();
        out.resize(x.batch(), K);
      }
      out.middleRows(b0, n) = y;
    }
    return out;
  }

  /// Resolve a target on the real batch (one forward only when needed).
  std::vector<Index> resolve(const SeqBatch<S>& x, const Target& t) {
    if (!t.needs_logits()) {
      // Validate against the class count with a cheap check on the first forward later.
      auto c = t.fixed(x.batch());
      require_shape(Index(c.size()) == x.batch(), "explain::Target: ", c.size(),
                    " classes given for a batch of ", x.batch(), " samples");
      return c;
    }
    return t.resolve(logits(x));
  }

  /// Evaluate `count` virtual samples. length(j): valid steps of sample j; fill(j, view): write
  /// its values; cls(j): its target class; done(j, value, grad_view_or_null) receives the target
  /// quantity and, when `gradients`, d value / d input over its valid steps.
  template <class LenFn, class FillFn, class ClsFn, class DoneFn>
  void run(Index count, LenFn&& length, FillFn&& fill, ClsFn&& cls, Output out, bool gradients,
           DoneFn&& done) {
    const auto t0 = std::chrono::steady_clock::now();
    for (Index j0 = 0; j0 < count; j0 += opt_.max_batch) {
      const Index n = std::min(opt_.max_batch, count - j0);
      pack(n, [&](Index j) { return length(j0 + j); }, [&](Index j, StepView<S> v) { fill(j0 + j, v); });
      const RowMatrix<S>& y = model_.forward(chunk_, Mode::Inference);
      cost_.forward += n;
      const Index K = y.cols();
      std::vector<double> value(static_cast<std::size_t>(n));
      if (gradients) ensure_shape(dy_, n, K), dy_.setZero();
      for (Index j = 0; j < n; ++j) {
        const Index k = cls(j0 + j);
        require_arg(k >= 0 && k < K, "explain: target class ", k, " outside [0, ", K, ")");
        const auto row = y.row(j);
        double v = double(row(k));
        if (out == Output::Logit) {
          if (gradients) dy_(j, k) = S(1);
        } else if (out == Output::Sigmoid) {
          const double p = v >= 0 ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v) / (1.0 + std::exp(v));
          if (gradients) dy_(j, k) = S(p * (1 - p));
          v = p;
        } else {
          const double m = double(row.maxCoeff());
          double z = 0;
          for (Index c = 0; c < K; ++c) z += std::exp(double(row(c)) - m);
          const double p = std::exp(v - m) / z;
          if (gradients)
            for (Index c = 0; c < K; ++c)
              dy_(j, c) = S(p * ((c == k ? 1.0 : 0.0) - std::exp(double(row(c)) - m) / z));
          v = p;
        }
        value[std::size_t(j)] = v;
      }
      if (gradients) {
        grad_.resize(chunk_.values.dimension(0), chunk_.values.dimension(1), chunk_.values.dimension(2));
        grad_.setZero();
        model_.backward(dy_, &grad_);
        cost_.backward += n;
        for (Index j = 0; j < n; ++j) {
          const StepView<const S> g = sample_view(std::as_const(grad_), j, chunk_.length(j));
          done(j0 + j, value[std::size_t(j)], &g);
        }
      } else {
        for (Index j = 0; j < n; ++j) done(j0 + j, value[std::size_t(j)], static_cast<const StepView<const S>*>(nullptr));
      }
    }
    cost_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  const Cost& cost() const { return cost_; }
  Model& model() { return model_; }
  const EngineOptions& options() const { return opt_; }

  static void copy_sample(const SeqBatch<S>& x, Index b, StepView<S> v) {
    const auto src = sample_view(x.values, b, x.length(b));
    for (Index t = 0; t < v.length; ++t)
      for (Index f = 0; f < v.features; ++f) v(t, f) = src(t, f);
  }

 private:
  template <class LenFn, class FillFn>
  void pack(Index n, LenFn&& length, FillFn&& fill) {
    Index T = 0;
    Lengths L(static_cast<std::size_t>(n));
    for (Index j = 0; j < n; ++j) {
      L[std::size_t(j)] = length(j);
      T = std::max(T, L[std::size_t(j)]);
    }
    chunk_.lengths = std::move(L);
    const Index F = feat();
    if (chunk_.values.dimension(0) != T || chunk_.values.dimension(1) != n || chunk_.values.dimension(2) != F)
      chunk_.values.resize(T, n, F);
    chunk_.values.setZero();
    for (Index j = 0; j < n; ++j) fill(j, sample_view(chunk_.values, j, chunk_.length(j)));
  }
  Index feat() const {
    require_arg(features_ > 0, "explain::Engine: the input width is unknown (call set_features)");
    return features_;
  }

 public:
  /// The input width of the virtual samples (set from the real batch by every method).
  void set_features(Index f) { features_ = f; }

 private:
  Model model_;
  EngineOptions opt_;
  Index features_ = -1;
  SeqBatch<S> chunk_;
  RowMatrix<S> dy_;
  Tensor3<S> grad_;
  Cost cost_;
};

/// An Engine for explaining batch x (its width set).
template <SequenceClassifier Model>
Engine<Model> make_engine(const Model& model, const SeqBatch<typename Model::scalar_type>& x,
                          EngineOptions opt = {}) {
  x.validate();
  Engine<Model> e(model, opt);
  e.set_features(x.features());
  return e;
}

/// A zeroed attribution shaped like x.
template <class S>
Attribution<S> empty_attribution(const SeqBatch<S>& x) {
  Attribution<S> a;
  a.values.resize(x.steps(), x.batch(), x.features());
  a.values.setZero();
  a.lengths = x.lengths;
  return a;
}

}  // namespace salient::explain
