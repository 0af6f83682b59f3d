#include <salient/train/loss.hpp>
#include <salient/train/optimizer.hpp>

#include <cmath>

#include "gradcheck.hpp"

using namespace salient;

template <class F>
static void fd_check(const RowMatrix<double>& z0, F&& f) {
  RowMatrix<double> g;
  f(z0, &g);
  RowMatrix<double> z = z0;
  const double h = 1e-6;
  for (Index i = 0; i < z.rows(); ++i)
    for (Index j = 0; j < z.cols(); ++j) {
      const double keep = z(i, j);
      z(i, j) = keep + h;
      const double lp = f(z, nullptr);
      z(i, j) = keep - h;
      const double lm = f(z, nullptr);
      z(i, j) = keep;
      CHECK(test::close(g(i, j), (lp - lm) / (2 * h), 1e-6));
    }
}

TEST_CASE("SoftmaxCrossEntropy: value and gradient, with class weights and label smoothing") {
  RowMatrix<double> z(3, 4);
  z << 1, 2, 3, 4, -1, 0.5, 2, 0, 0, 0, 0, 0;
  std::vector<Index> y{3, 0, 2};
  SoftmaxCrossEntropy ce;
  // Hand-worked: row 3 is uniform → loss log 4.
  RowMatrix<double> zu = RowMatrix<double>::Zero(1, 4);
  CHECK(ce(zu, std::vector<Index>{1}, static_cast<RowMatrix<double>*>(nullptr)) == doctest::Approx(std::log(4.0)));
  fd_check(z, [&](const RowMatrix<double>& l, RowMatrix<double>* g) { return ce(l, y, g); });
  ce.class_weights = {1.0, 2.0, 0.5, 3.0};
  ce.label_smoothing = 0.1;
  fd_check(z, [&](const RowMatrix<double>& l, RowMatrix<double>* g) { return ce(l, y, g); });
}

TEST_CASE("SoftmaxCrossEntropy: stable for logits of ±1e4, errors name the bad value") {
  RowMatrix<double> z(1, 3);
  z << 1e4, -1e4, 0;
  RowMatrix<double> g;
  SoftmaxCrossEntropy ce;
  CHECK(std::isfinite(ce(z, std::vector<Index>{1}, &g)));
  CHECK(g.allFinite());
  CHECK(ce(z, std::vector<Index>{1}, &g) == doctest::Approx(2e4));
  CHECK_THROWS_WITH_AS(ce(z, std::vector<Index>{3}, &g), "SoftmaxCrossEntropy: target 3 of row 0 is outside [0, 3)",
                       ArgumentError);
  z(0, 2) = std::nan("");
  CHECK_THROWS_AS(ce(z, std::vector<Index>{1}, &g), NumericError);
}

TEST_CASE("SigmoidBinaryCrossEntropy: value, gradient, pos_weight, extremes") {
  RowMatrix<double> z(2, 3), t(2, 3);
  z << 0.3, -2, 5, 1, 0, -0.7;
  t << 1, 0, 1, 0, 1, 0;
  SigmoidBinaryCrossEntropy bce;
  // Hand-worked: z = 0, t = 1 → log 2.
  RowMatrix<double> z1 = RowMatrix<double>::Zero(1, 1), t1 = RowMatrix<double>::Ones(1, 1);
  CHECK(bce(z1, t1, nullptr) == doctest::Approx(std::log(2.0)));
  fd_check(z, [&](const RowMatrix<double>& l, RowMatrix<double>* g) { return bce(l, t, g); });
  bce.pos_weight = {2.0, 0.5, 3.0};
  fd_check(z, [&](const RowMatrix<double>& l, RowMatrix<double>* g) { return bce(l, t, g); });
  RowMatrix<double> ze(1, 2), te(1, 2), g;
  ze << 1e4, -1e4;
  te << 0, 1;
  SigmoidBinaryCrossEntropy plain;
  CHECK(plain(ze, te, &g) == doctest::Approx(1e4));
  CHECK(g.allFinite());
}

TEST_CASE("MeanSquaredError: gradient") {
  RowMatrix<double> y(2, 2), t(2, 2);
  y << 1, 2, 3, 4;
  t << 0, 2, 1, 1;
  MeanSquaredError mse;
  CHECK(mse(y, t, nullptr) == doctest::Approx((1 + 0 + 4 + 9) / 4.0));
  fd_check(y, [&](const RowMatrix<double>& l, RowMatrix<double>* g) { return mse(l, t, g); });
}

TEST_CASE("Optimizers: hand-worked first steps") {
  Vector<double> p(2), g(2);
  p << 1.0, -2.0;
  g << 0.5, -1.0;
  SGD<double> sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;
  sgd.step(VectorMap<double>(p.data(), 2), ConstVectorMap<double>(g.data(), 2));
  CHECK(p[0] == doctest::Approx(0.95));
  sgd.step(VectorMap<double>(p.data(), 2), ConstVectorMap<double>(g.data(), 2));
  CHECK(p[0] == doctest::Approx(0.95 - 0.1 * (0.9 * 0.5 + 0.5)));

  p << 1.0, -2.0;
  Adam<double> adam;
  adam.lr = 0.1;
  adam.step(VectorMap<double>(p.data(), 2), ConstVectorMap<double>(g.data(), 2));
  // First Adam step moves each parameter by lr · sign(g) (bias-corrected).
  CHECK(p[0] == doctest::Approx(0.9).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(-1.9).epsilon(1e-6));

  p << 1.0, -2.0;
  AdamW<double> adamw;
  adamw.lr = 0.1;
  adamw.weight_decay = 0.5;
  adamw.step(VectorMap<double>(p.data(), 2), ConstVectorMap<double>(g.data(), 2));
  CHECK(p[0] == doctest::Approx(1.0 - 0.1 * 0.5 * 1.0 - 0.1).epsilon(1e-6));
}

TEST_CASE("Optimizers: minimise a quadratic; clipping by global norm") {
  Vector<double> p = Vector<double>::Constant(3, 5.0), g(3);
  Adam<double> adam;
  adam.lr = 0.1;
  for (int i = 0; i < 500; ++i) {
    g = 2 * p;
    adam.step(VectorMap<double>(p.data(), 3), ConstVectorMap<double>(g.data(), 3));
  }
  CHECK(p.norm() < 1e-2);
  SGD<double> nest;
  nest.lr = 0.05;
  nest.momentum = 0.9;
  nest.nesterov = true;
  p.setConstant(5.0);
  for (int i = 0; i < 300; ++i) {
    g = 2 * p;
    nest.step(VectorMap<double>(p.data(), 3), ConstVectorMap<double>(g.data(), 3));
  }
  CHECK(p.norm() < 1e-3);

  Vector<double> gr(2);
  gr << 3.0, 4.0;
  CHECK(clip_grad_norm(VectorMap<double>(gr.data(), 2), 1.0) == doctest::Approx(5.0));
  CHECK(gr.norm() == doctest::Approx(1.0));
  gr << 0.3, 0.4;
  clip_grad_norm(VectorMap<double>(gr.data(), 2), 1.0);
  CHECK(gr[0] == 0.3);
  gr[0] = INFINITY;
  CHECK_THROWS_AS(clip_grad_norm(VectorMap<double>(gr.data(), 2), 1.0), NumericError);
}
