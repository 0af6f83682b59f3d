#include <salient/salient.hpp>

#include <iostream>

int main() {
  salient::Sequential<salient::Dense<3, 8>, salient::Tanh<>, salient::Dense<8, 2>> model;
  model.init(1);
  salient::RowMatrix<float> x = salient::RowMatrix<float>::Ones(2, 3);
  const auto& y = model.forward(x);
  std::cout << "consumer ok: " << y.rows() << "x" << y.cols() << " output, " << model.num_params()
            << " parameters\n";
  return (y.rows() == 2 && y.cols() == 2 && y.allFinite()) ? 0 : 1;
}
