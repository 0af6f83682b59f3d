// salient/core/config.hpp — basic constants and types shared by every header.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace salient {

/// Index type used for every size and position (same as Eigen's).
using Index = Eigen::Index;

/// A size known only at run time (given at construction), exactly like Eigen::Dynamic.
inline constexpr int Dynamic = Eigen::Dynamic;  // == -1

/// For shape-preserving layers (activations, dropout, ...): the output size equals the input
/// size, whatever it is. Never a valid user-facing size.
inline constexpr int SameAsInput = -2;

/// Floating-point scalar types a model may use.
template <class S>
concept Scalar = std::is_floating_point_v<S>;

/// Resolve a compile-time size: `Fixed` if it is not Dynamic, else the run-time value.
constexpr Index resolve_size(int fixed, Index runtime) noexcept {
  return fixed == Dynamic ? runtime : Index(fixed);
}

}  // namespace salient
