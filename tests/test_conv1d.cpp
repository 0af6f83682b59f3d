#include <salient/layers/activation.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/dense.hpp>
#include <salient/model/sequential.hpp>

#include "gradcheck.hpp"

using namespace salient;
using salient::test::check_layer;
using salient::test::check_mask_invariance;
using salient::test::GradCheckOptions;

namespace {

// Straight from the definition, one output element at a time; positions outside the sample's
// own [0, L) read as zero.
template <class C>
SeqBatch<double> naive_conv(const C& conv, const SeqBatch<double>& x) {
  const auto& o = conv.options();
  const Index K = conv.kernel_size(), In = x.features(), Out = conv.output_features(In), B = x.batch();
  const Index reach = o.dilation * (K - 1);
  const Index left = o.padding == Padding::Valid ? 0 : o.padding == Padding::Same ? reach / 2 : reach;
  auto out_len = [&](Index L) {
    return o.padding == Padding::Valid ? (L - reach - 1) / o.stride + 1 : (L + o.stride - 1) / o.stride;
  };
  SeqBatch<double> y(out_len(x.steps()), B, Out);
  for (Index b = 0; b < B; ++b) {
    y.lengths[std::size_t(b)] = out_len(x.length(b));
    for (Index t = 0; t < y.length(b); ++t)
      for (Index c = 0; c < Out; ++c) {
        double s = o.bias ? conv.bias()[c] : 0.0;
        for (Index k = 0; k < K; ++k) {
          const Index ti = t * o.stride - left + k * o.dilation;
          if (ti < 0 || ti >= x.length(b)) continue;
          for (Index i = 0; i < In; ++i) s += conv.weight(c, i, k) * x(ti, b, i);
        }
        y(t, b, c) = s;
      }
  }
  return y;
}

struct Combo {
  Padding padding;
  Index stride, dilation, kernel;
};

std::vector<Combo> all_combos() {
  std::vector<Combo> v;
  for (Padding p : {Padding::Valid, Padding::Same, Padding::Causal})
    for (Index s : {1, 2, 3})
      for (Index d : {1, 2})
        for (Index k : {1, 2, 3})  // odd and even kernels (Same is asymmetric for even ones)
          v.push_back({p, s, d, k});
  return v;
}

}  // namespace

TEST_CASE("Conv1D: matches a naive direct convolution for every padding × stride × dilation") {
  Rng rng(17);
  for (const Combo& c : all_combos())
    for (bool bias : {true, false}) {
      CAPTURE(padding_name(c.padding));
      CAPTURE(c.stride);
      CAPTURE(c.dilation);
      CAPTURE(c.kernel);
      Conv1D<Dynamic, Dynamic, Dynamic, double> conv(3, 4, c.kernel, {c.stride, c.dilation, c.padding, bias});
      Vector<double> p(conv.num_params()), g(conv.num_params());
      conv.bind(p.data(), g.data());
      for (Index i = 0; i < p.size(); ++i) p[i] = rng.uniform(-1, 1);
      SeqBatch<double> x(11, 3, 3);
      x.lengths = {11, 8, 5};  // >= the largest receptive field (5) for Valid
      for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = rng.uniform(-1, 1);
      // Garbage in the padded tail must read as zero.
      for (Index t = 0; t < 11; ++t)
        for (Index b = 0; b < 3; ++b)
          if (t >= x.length(b))
            for (Index f = 0; f < 3; ++f) x(t, b, f) = 1e6;
      SeqBatch<double> y;
      conv.forward(x, y, Mode::Inference);
      const SeqBatch<double> ref = naive_conv(conv, x);
      REQUIRE(y.steps() == ref.steps());
      REQUIRE(y.lengths == ref.lengths);
      for (Index i = 0; i < y.values.size(); ++i)
        REQUIRE(y.values.data()[i] == doctest::Approx(ref.values.data()[i]).epsilon(1e-12));
    }
}

TEST_CASE("Conv1D: gradients for every padding × stride × dilation (uneven lengths)") {
  for (const Combo& c : all_combos()) {
    CAPTURE(padding_name(c.padding));
    CAPTURE(c.stride);
    CAPTURE(c.dilation);
    CAPTURE(c.kernel);
    GradCheckOptions o;
    o.T = 9;
    o.lengths = c.padding == Padding::Valid ? Lengths{9, 5, 6} : Lengths{9, 5, 2};
    o.seed = Index(c.stride * 7 + c.dilation * 3 + c.kernel);
    check_layer<Shape::Sequence>(
        Conv1D<Dynamic, Dynamic, Dynamic, double>(2, 3, c.kernel, {c.stride, c.dilation, c.padding, true}), 2, o);
    check_mask_invariance(
        Conv1D<Dynamic, Dynamic, Dynamic, double>(2, 3, c.kernel, {c.stride, c.dilation, c.padding, true}), 2, o);
  }
  GradCheckOptions o;
  check_layer<Shape::Sequence>(Conv1D<3, 2, 3, double>({1, 1, Padding::Same, false}), 3, o);
  check_layer<Shape::Sequence>(Conv1D<3, 4, 5, double>(), 3, o);
  check_mask_invariance(Conv1D<3, 4, 5, float>(), 3, o);
  check_mask_invariance(Conv1D<3, 4, 2, float>({2, 2, Padding::Causal, true}), 3, o);
}

TEST_CASE("Conv1D: lengths propagate per sample") {
  Conv1D<1, 1, 3, double> same;
  Conv1D<1, 1, 3, double> valid({1, 1, Padding::Valid, true});
  Conv1D<1, 1, 3, double> strided({2, 1, Padding::Causal, true});
  CHECK(same.output_length(7) == 7);
  CHECK(valid.output_length(7) == 5);
  CHECK(strided.output_length(7) == 4);
  CHECK(strided.output_length(1) == 1);
  Vector<double> p(same.num_params()), g(same.num_params());
  valid.bind(p.data(), g.data());
  SeqBatch<double> x(7, 2, 1), y;
  x.lengths = {7, 2};
  CHECK_THROWS_WITH_AS(valid.forward(x, y, Mode::Inference),
                       "Conv1D<1,1,3,valid>: a sequence of length 2 is shorter than the receptive field (3) of "
                       "a 'valid' convolution",
                       ShapeError);
}

TEST_CASE("Conv1D: causal padding never looks ahead") {
  Conv1D<1, 1, 3, double> conv({1, 2, Padding::Causal, false});
  Vector<double> p(conv.num_params()), g(conv.num_params());
  conv.bind(p.data(), g.data());
  p << 1, 1, 1;
  SeqBatch<double> x(6, 1, 1), y;
  for (Index t = 0; t < 6; ++t) x(t, 0, 0) = double(t + 1);
  conv.forward(x, y, Mode::Inference);
  // y_t = x_t + x_{t-2} + x_{t-4}
  const double expect[6] = {1, 2, 1 + 3, 2 + 4, 1 + 3 + 5, 2 + 4 + 6};
  for (Index t = 0; t < 6; ++t) CHECK(y(t, 0, 0) == expect[t]);
}

TEST_CASE("Conv1D: names and errors") {
  CHECK(Conv1D<8, 64, 5>().name() == "Conv1D<8,64,5,same>");
  CHECK(Conv1D<8, 64, 5>({2, 3, Padding::Causal, false}).name() == "Conv1D<8,64,5,causal,s2,d3,nobias>");
  CHECK(Conv1D<8, 64, 5>().num_params() == 64 * 8 * 5 + 64);
  CHECK_THROWS_AS((Conv1D<Dynamic, 4, 3>(2, 5, 3)), ShapeError);
  CHECK_THROWS_AS((Conv1D<Dynamic, Dynamic, Dynamic>(2, 5, 3, {0, 1, Padding::Same, true})), ArgumentError);
  Conv1D<3, 2, 3> c;
  Vector<float> p(c.num_params()), g(c.num_params());
  c.bind(p.data(), g.data());
  SeqBatch<float> x(4, 1, 5), y;
  CHECK_THROWS_WITH_AS(c.forward(x, y, Mode::Inference), "Conv1D<3,2,3,same>: expected 3 input features, got 5",
                       ShapeError);
}

TEST_CASE("Conv1D: stacks in a Sequential, fixed and Dynamic sizes, gradient-checked") {
  using M = Sequential<Conv1D<2, 4, 3, double>, ReLU<double>, Conv1D<4, 3, 2, double>, Dense<3, 2, double>>;
  static_assert(M::input_shape == Shape::Sequence && M::output_shape == Shape::Sequence);
  M m(Conv1D<2, 4, 3, double>(), ReLU<double>(), Conv1D<4, 3, 2, double>({2, 1, Padding::Causal, true}),
      Dense<3, 2, double>());
  m.init(3);
  Rng rng(4);
  SeqBatch<double> x(8, 3, 2);
  x.lengths = {8, 5, 3};
  test::fill_uniform(x.values.data(), x.values.size(), rng, 1.0);
  zero_padding(x.values, x.lengths);
  test::check_model(m, x);
  CHECK(m.output<3>().lengths == Lengths{4, 3, 2});

  using C = Conv1D<Dynamic, Dynamic, Dynamic, double>;
  using D = Sequential<C, ReLU<double>, C>;
  D d(C(2, 5, 3), ReLU<double>(), C(5, 2, 3, {1, 2, Padding::Same, true}));
  d.init(1);
  test::check_model(d, x);
  CHECK_THROWS_WITH_AS(D(C(2, 5, 3), ReLU<double>(), C(4, 2, 3)),
                       "Sequential: Conv1D<4,2,3,same> expects 4 input features but ReLU produces 5", ShapeError);
}
