#include <salient/salient.hpp>

#include <cmath>
#include <numbers>

#include "gradcheck.hpp"

using namespace salient;

TEST_CASE("Sequential: static traits of a fixed-size chain") {
  using M = Sequential<Dense<2, 16>, ReLU<>, Dense<16, 3>>;
  static_assert(M::input_shape == Shape::Vector);
  static_assert(M::output_shape == Shape::Vector);
  static_assert(M::input_size == 2 && M::output_size == 3);
  static_assert(std::is_same_v<M::rebind<double>::scalar_type, double>);
  M m;
  CHECK(m.num_params() == 2 * 16 + 16 + 16 * 3 + 3);
  CHECK(m.name() == "Sequential[Dense<2,16>, ReLU, Dense<16,3>]");
}

TEST_CASE("Sequential: Dynamic sizes are checked at construction") {
  using D = Dense<Dynamic, Dynamic>;
  CHECK_NOTHROW((Sequential<D, ReLU<>, D>(D(2, 8), ReLU<>(), D(8, 3))));
  CHECK_THROWS_WITH_AS((Sequential<D, ReLU<>, D>(D(2, 8), ReLU<>(), D(7, 3))),
                       "Sequential: Dense<7,3> expects 7 input features but ReLU produces 8", ShapeError);
  // Mixed fixed and dynamic.
  CHECK_THROWS_AS((Sequential<Dense<2, 4>, D>(Dense<2, 4>(), D(5, 1))), ShapeError);
}

TEST_CASE("Sequential: wrong input width is rejected with both sizes") {
  Sequential<Dense<2, 4>, Dense<4, 1>> m;
  RowMatrix<float> x(3, 5);
  x.setZero();
  CHECK_THROWS_WITH_AS(m.forward(x), "Sequential[Dense<2,4>, Dense<4,1>]: input has 5 features, the model expects 2",
                       ShapeError);
}

TEST_CASE("Sequential: model gradients by finite differences (vectors and sequences)") {
  using M = Sequential<Dense<3, 5, double>, Tanh<double>, Dense<5, 2, double>>;
  M m;
  m.init(11);
  Rng rng(5);
  RowMatrix<double> x(4, 3);
  test::fill_uniform(x.data(), x.size(), rng, 1.0);
  test::check_model(m, x);

  // Time-distributed over sequences: the model input kind follows the first definite layer,
  // here a sequence wrapper is implied by passing SeqBatch through Any layers? No: a model of
  // shape-agnostic layers takes vectors, so sequences are covered by the layer tests.
}

TEST_CASE("Sequential: copies own their parameters") {
  Sequential<Dense<2, 3>, Dense<3, 1>> a;
  a.init(1);
  auto b = a;
  b.params()[0] += 1.0f;
  CHECK(a.params()[0] + 1.0f == b.params()[0]);
  RowMatrix<float> x = RowMatrix<float>::Ones(1, 2);
  const float ya = a.forward(x)(0, 0);
  const float yb = b.forward(x)(0, 0);
  CHECK(ya != yb);
}

TEST_CASE("Sequential: initialisation is deterministic for a seed") {
  Sequential<Dense<2, 8>, ReLU<>, Dense<8, 2>> a, b, c;
  a.init(42);
  b.init(42);
  c.init(43);
  CHECK(a.params() == b.params());
  CHECK(a.params() != c.params());
}

// Two interleaved spirals: a non-linear task a linear model cannot solve.
static void make_spirals(int n_per_class, RowMatrix<float>& x, std::vector<Index>& y, Rng& rng) {
  x.resize(2 * n_per_class, 2);
  y.resize(std::size_t(2 * n_per_class));
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < n_per_class; ++i) {
      const double r = 0.1 + 0.9 * double(i) / n_per_class;
      const double a = 3.0 * std::numbers::pi * double(i) / n_per_class + c * std::numbers::pi;
      const int row = c * n_per_class + i;
      x(row, 0) = float(r * std::cos(a) + rng.normal(0, 0.01));
      x(row, 1) = float(r * std::sin(a) + rng.normal(0, 0.01));
      y[std::size_t(row)] = c;
    }
}

static double train_spirals(std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<float> x;
  std::vector<Index> y;
  make_spirals(200, x, y, rng);
  Sequential<Dense<2, 64>, ReLU<>, Dense<64, 64>, ReLU<>, Dense<64, 2>> model;
  model.init(seed);
  Adam<float> opt;
  opt.lr = 0.01;
  SoftmaxCrossEntropy loss;
  RowMatrix<float> dlogits;
  std::vector<Index> idx(std::size_t(x.rows()));
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = Index(i);
  const Index bs = 40;
  for (int epoch = 0; epoch < 300; ++epoch) {
    shuffle(idx.begin(), idx.end(), rng);
    for (Index s = 0; s < x.rows(); s += bs) {
      RowMatrix<float> xb(bs, 2);
      std::vector<Index> yb(static_cast<std::size_t>(bs));
      for (Index i = 0; i < bs; ++i) {
        xb.row(i) = x.row(idx[std::size_t(s + i)]);
        yb[std::size_t(i)] = y[std::size_t(idx[std::size_t(s + i)])];
      }
      model.zero_grad();
      loss(model.forward(xb, Mode::Training), yb, &dlogits);
      model.backward(dlogits);
      opt.step(model.params(), model.grads());
    }
  }
  const auto& logits = model.forward(x);
  int correct = 0;
  for (Index i = 0; i < x.rows(); ++i) {
    Index k;
    logits.row(i).maxCoeff(&k);
    correct += k == y[std::size_t(i)];
  }
  return double(correct) / double(x.rows());
}

TEST_CASE("Sequential: Dense-ReLU-Dense learns two spirals to >= 99% with Adam, deterministically") {
  const double acc1 = train_spirals(7);
  const double acc2 = train_spirals(7);
  CHECK(acc1 >= 0.99);
  CHECK(acc1 == acc2);
}

TEST_CASE("Sequential: copies and moves keep the run-time sizes and the gradient switch") {
  using D = Dense<Dynamic, Dynamic>;
  Sequential<D, ReLU<>, D> a(D(3, 5), ReLU<>(), D(5, 2));
  a.set_param_grads(false);
  auto b = a;
  CHECK(b.output_features() == 2);
  auto c = std::move(b);
  CHECK(c.output_features() == 2);
  a.init(1);
  c = a;
  RowMatrix<float> x = RowMatrix<float>::Ones(1, 3);
  c.forward(x);
  c.backward(RowMatrix<float>::Ones(1, 2));
  CHECK(c.grads().cwiseAbs().sum() == 0.0f);  // parameter gradients stay off in the copy
}
