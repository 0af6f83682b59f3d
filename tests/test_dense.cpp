#include <salient/layers/activation.hpp>
#include <salient/layers/dense.hpp>

#include "gradcheck.hpp"

using namespace salient;
using salient::test::check_layer;
using salient::test::check_mask_invariance;
using salient::test::GradCheckOptions;

TEST_CASE("Dense: gradients on vectors, fixed and dynamic sizes") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    GradCheckOptions o;
    o.seed = seed;
    o.B = 2 + Index(seed);
    check_layer<Shape::Vector>(Dense<4, 3, double>(), 4, o);
    check_layer<Shape::Vector>(Dense<Dynamic, Dynamic, double>(5, 2), 5, o);
    check_layer<Shape::Vector>(Dense<Dynamic, Dynamic, double>(3, 4, /*use_bias=*/false), 3, o);
  }
}

TEST_CASE("Dense: time-distributed gradients on uneven sequences") {
  GradCheckOptions o;
  check_layer<Shape::Sequence>(Dense<3, 5, double>(), 3, o);
  o.lengths = {2, 7, 5};
  o.seed = 9;
  check_layer<Shape::Sequence>(Dense<Dynamic, Dynamic, double>(2, 3), 2, o);
}

TEST_CASE("Dense: garbage in padded steps changes nothing") {
  check_mask_invariance(Dense<3, 4, double>(), 3);
  check_mask_invariance(Dense<3, 4, float>(), 3);
}

TEST_CASE("Dense: forward is x·Wᵀ + b") {
  Dense<2, 2, double> d;
  Vector<double> p(6), g(6);
  d.bind(p.data(), g.data());
  p << 1, 2, 3, 4, 0.5, -0.5;  // W = [[1,2],[3,4]], b = [0.5,-0.5]
  RowMatrix<double> x(1, 2), y;
  x << 1, -1;
  d.forward(x, y, Mode::Inference);
  CHECK(y(0, 0) == doctest::Approx(-0.5));
  CHECK(y(0, 1) == doctest::Approx(-1.5));
}

TEST_CASE("Dense: wrong input width is a clear ShapeError") {
  Dense<3, 2, double> d;
  Vector<double> p(d.num_params()), g(d.num_params());
  d.bind(p.data(), g.data());
  RowMatrix<double> x(2, 4), y;
  CHECK_THROWS_WITH_AS(d.forward(x, y, Mode::Inference), "Dense<3,2>: expected 3 input features, got 4",
                       ShapeError);
  CHECK_THROWS_AS((Dense<Dynamic, Dynamic>(0, 3)), ShapeError);
}

TEST_CASE("Activations: gradients and mask invariance") {
  GradCheckOptions o;
  o.input_scale = 2.0;
  check_layer<Shape::Vector>(ReLU<double>(), 4, o);
  check_layer<Shape::Vector>(Tanh<double>(), 4, o);
  check_layer<Shape::Vector>(Sigmoid<double>(), 4, o);
  check_layer<Shape::Vector>(GELU<double>(), 4, o);
  check_layer<Shape::Sequence>(Tanh<double>(), 3, o);
  check_layer<Shape::Sequence>(GELU<double>(), 3, o);
  check_layer<Shape::Sequence>(ReLU<double>(), 3, o);
  check_mask_invariance(ReLU<double>(), 3);
  check_mask_invariance(Sigmoid<double>(), 3);
}

TEST_CASE("Activations: sigmoid is finite for huge logits") {
  Sigmoid<double> s;
  RowMatrix<double> x(1, 2), y;
  x << -1e4, 1e4;
  s.forward(x, y, Mode::Inference);
  CHECK(y(0, 0) == 0.0);
  CHECK(y(0, 1) == 1.0);
}
