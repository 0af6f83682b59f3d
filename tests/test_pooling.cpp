#include <salient/layers/activation.hpp>
#include <salient/layers/conv1d.hpp>
#include <salient/layers/dense.hpp>
#include <salient/layers/pooling.hpp>
#include <salient/model/sequential.hpp>

#include "gradcheck.hpp"

using namespace salient;
using salient::test::check_layer;
using salient::test::check_mask_invariance;
using salient::test::GradCheckOptions;

TEST_CASE("Global pools: gradients and mask invariance on uneven lengths") {
  for (Lengths l : {Lengths{7, 4, 1}, Lengths{2, 7, 5}}) {
    GradCheckOptions o;
    o.lengths = l;
    check_layer<Shape::Sequence>(GlobalAveragePool<double>(), 4, o);
    check_layer<Shape::Sequence>(GlobalMaxPool<double>(), 4, o);
    check_mask_invariance(GlobalAveragePool<double>(), 4, o);
    check_mask_invariance(GlobalMaxPool<double>(), 4, o);
    check_mask_invariance(GlobalMaxPool<float>(), 4, o);
  }
}

TEST_CASE("Global pools: values over valid steps only") {
  SeqBatch<double> x(4, 2, 1);
  x.lengths = {4, 2};
  const double v[4][2] = {{1, -5}, {3, -7}, {2, 100}, {-1, 100}};
  for (Index t = 0; t < 4; ++t)
    for (Index b = 0; b < 2; ++b) x(t, b, 0) = v[t][b];
  RowMatrix<double> avg, mx;
  GlobalAveragePool<double>().forward(x, avg, Mode::Inference);
  GlobalMaxPool<double> gm;
  gm.forward(x, mx, Mode::Inference);
  CHECK(avg(0, 0) == doctest::Approx(1.25));
  CHECK(avg(1, 0) == doctest::Approx(-6.0));
  CHECK(mx(0, 0) == 3.0);
  CHECK(mx(1, 0) == -5.0);
  CHECK(gm.argmax()(0, 0) == 1);
  CHECK(gm.argmax()(1, 0) == 0);
}

TEST_CASE("MaxPool1D / AvgPool1D: gradients and mask invariance for several sizes and strides") {
  for (Index size : {1, 2, 3})
    for (Index stride : {1, 2, 3}) {
      CAPTURE(size);
      CAPTURE(stride);
      GradCheckOptions o;
      o.T = 9;
      o.lengths = {9, 5, 2};
      check_layer<Shape::Sequence>(MaxPool1D<double>(size, stride), 3, o);
      check_layer<Shape::Sequence>(AvgPool1D<double>(size, stride), 3, o);
      check_mask_invariance(MaxPool1D<double>(size, stride), 3, o);
      check_mask_invariance(AvgPool1D<double>(size, stride), 3, o);
    }
}

TEST_CASE("Pool1D: window geometry and clipped windows") {
  MaxPool1D<double> p(2);
  CHECK(p.stride() == 2);
  CHECK(p.output_length(7) == 4);  // windows [0,2) [2,4) [4,6) [6,7)
  CHECK(p.output_length(1) == 1);
  AvgPool1D<double> q(3, 1);
  CHECK(q.output_length(7) == 5);
  CHECK(q.output_length(2) == 1);
  MaxPool1D<double> sparse(1, 3);
  CHECK(sparse.output_length(5) == 2);  // steps 0 and 3; no window starting past the end
  CHECK(p.name() == "MaxPool1D<2,2>");
  CHECK(q.name() == "AvgPool1D<3,1>");
  CHECK_THROWS_AS(MaxPool1D<double>(0), ArgumentError);

  SeqBatch<double> x(5, 2, 1), y;
  x.lengths = {5, 3};
  for (Index t = 0; t < 5; ++t) {
    x(t, 0, 0) = double(t);
    x(t, 1, 0) = t < 3 ? double(10 * t) : 1e9;
  }
  AvgPool1D<double> a(2);
  a.forward(x, y, Mode::Inference);
  CHECK(y.lengths == Lengths{3, 2});
  CHECK(y(0, 0, 0) == 0.5);
  CHECK(y(2, 0, 0) == 4.0);   // clipped window [4,5)
  CHECK(y(1, 1, 0) == 20.0);  // clipped to the valid step 2: the padded 1e9 never enters
  CHECK(y(2, 1, 0) == 0.0);   // padded output step
}

TEST_CASE("Pooling: Sequential compositions, fixed and Dynamic") {
  using M = Sequential<Conv1D<2, 3, 3, double>, ReLU<double>, MaxPool1D<double>, Conv1D<3, 4, 2, double>,
                       GlobalAveragePool<double>, Dense<4, 2, double>>;
  static_assert(M::output_shape == Shape::Vector && M::output_size == 2);
  M m(Conv1D<2, 3, 3, double>(), ReLU<double>(), MaxPool1D<double>(2), Conv1D<3, 4, 2, double>(),
      GlobalAveragePool<double>(), Dense<4, 2, double>());
  m.init(5);
  Rng rng(6);
  SeqBatch<double> x(9, 3, 2);
  x.lengths = {9, 6, 1};
  test::fill_uniform(x.values.data(), x.values.size(), rng, 1.0);
  zero_padding(x.values, x.lengths);
  test::check_model(m, x);

  using C = Conv1D<Dynamic, Dynamic, Dynamic, double>;
  using D = Dense<Dynamic, Dynamic, double>;
  Sequential<C, AvgPool1D<double>, GlobalMaxPool<double>, D> d(C(2, 3, 3), AvgPool1D<double>(3, 2),
                                                                GlobalMaxPool<double>(), D(3, 2));
  d.init(2);
  test::check_model(d, x);
}
