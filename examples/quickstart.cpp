// quickstart: a Dense–ReLU–Dense classifier learns two interleaved spirals.
// The smallest complete use of salient: compose, initialise, train with Adam, evaluate.
#include <salient/salient.hpp>

#include <cmath>
#include <cstdio>
#include <numbers>

using namespace salient;

int main() {
  // Data: two spirals, 300 points each.
  Rng rng(7);
  const int n = 300;
  RowMatrix<float> x(2 * n, 2);
  std::vector<Index> y(2 * n);
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < n; ++i) {
      const double r = 0.1 + 0.9 * i / n, a = 3 * std::numbers::pi * i / n + c * std::numbers::pi;
      x(c * n + i, 0) = float(r * std::cos(a) + rng.normal(0, 0.01));
      x(c * n + i, 1) = float(r * std::sin(a) + rng.normal(0, 0.01));
      y[std::size_t(c * n + i)] = c;
    }

  Sequential<Dense<2, 64>, ReLU<>, Dense<64, 64>, ReLU<>, Dense<64, 2>> model;
  model.init(42);
  Adam<float> opt;
  opt.lr = 0.01;
  SoftmaxCrossEntropy loss;
  RowMatrix<float> dlogits;
  for (int epoch = 1; epoch <= 300; ++epoch) {
    model.zero_grad();
    const float l = loss(model.forward(x, Mode::Training), y, &dlogits);
    model.backward(dlogits);
    opt.step(model.params(), model.grads());
    if (epoch % 50 == 0) std::printf("epoch %3d  loss %.4f\n", epoch, double(l));
  }
  const auto& logits = model.forward(x);
  int correct = 0;
  for (Index i = 0; i < logits.rows(); ++i) {
    Index k;
    logits.row(i).maxCoeff(&k);
    correct += k == y[std::size_t(i)];
  }
  std::printf("training accuracy: %.1f%% (%d parameters)\n", 100.0 * correct / logits.rows(),
              int(model.num_params()));
  return 0;
}
