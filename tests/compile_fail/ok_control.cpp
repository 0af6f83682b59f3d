// Control for the compile-fail tests: the same kind of model, correctly sized, compiles.
#include <salient/salient.hpp>

int main() {
  salient::Sequential<salient::Dense<2, 16>, salient::ReLU<>, salient::Dense<16, 3>> model;
  return model.num_params() > 0 ? 0 : 1;
}
