// Must NOT compile: Dense<2,16> produces 16 features, Dense<8,3> expects 8.
#include <salient/salient.hpp>

int main() {
  salient::Sequential<salient::Dense<2, 16>, salient::ReLU<>, salient::Dense<8, 3>> model;
  return int(model.num_params());
}
