// salient/core/error.hpp — the exception types salient throws, and the checks that raise them.
#pragma once

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace salient {

/// Base of every salient exception. `what()` always names the offending shape, value or file.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A shape or size does not match what a layer, model or function expects.
struct ShapeError : Error {
  using Error::Error;
};
/// A NaN or Inf was found where a finite value is required.
struct NumericError : Error {
  using Error::Error;
};
/// A file could not be read or is malformed; the message names the file (and line).
struct IoError : Error {
  using Error::Error;
};
/// An argument has an invalid value (negative rate, empty data set, ...).
struct ArgumentError : Error {
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

/// Throw E with a message built from the arguments (streamed in order).
template <class E = Error, class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw E(detail::concat(std::forward<Args>(args)...));
}

/// Throw ShapeError unless `cond`.
template <class... Args>
void require_shape(bool cond, Args&&... args) {
  if (!cond) fail<ShapeError>(std::forward<Args>(args)...);
}

/// Throw ArgumentError unless `cond`.
template <class... Args>
void require_arg(bool cond, Args&&... args) {
  if (!cond) fail<ArgumentError>(std::forward<Args>(args)...);
}

}  // namespace salient
