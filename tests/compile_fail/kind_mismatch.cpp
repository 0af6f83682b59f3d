// Must NOT compile: a layer that needs sequences placed after one that produces vectors.
#include <salient/salient.hpp>

namespace {
// Minimal layers, so this test depends on nothing but the core: a sequence-to-vector layer
// (like LSTM<..., LastState>) followed by a layer that needs sequences.
struct ToVector {
  using scalar_type = float;
  static constexpr salient::Shape input_shape = salient::Shape::Sequence;
  static constexpr salient::Shape output_shape = salient::Shape::Vector;
  static constexpr int input_size = 3, output_size = 4;
  salient::Index input_features() const { return 3; }
  salient::Index output_features(salient::Index) const { return 4; }
  salient::Index num_params() const { return 0; }
  void bind(float*, float*) {}
  void init(salient::Rng&) {}
  std::string name() const { return "ToVector"; }
};
struct NeedsSequence {
  using scalar_type = float;
  static constexpr salient::Shape input_shape = salient::Shape::Sequence;
  static constexpr salient::Shape output_shape = salient::Shape::Sequence;
  static constexpr int input_size = 4, output_size = 4;
  salient::Index input_features() const { return 4; }
  salient::Index output_features(salient::Index) const { return 4; }
  salient::Index num_params() const { return 0; }
  void bind(float*, float*) {}
  void init(salient::Rng&) {}
  std::string name() const { return "NeedsSequence"; }
};
}  // namespace

int main() {
  salient::Sequential<ToVector, NeedsSequence> model;
  return int(model.num_params());
}
