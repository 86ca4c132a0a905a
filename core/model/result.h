// Result<T>: a value or an Error, for errors that cross layers as values (style.md §3).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace kvmprobe {

/// What kind of failure, mapped one-to-one onto the CLI's exit codes.
enum class ErrorKind {
  io,          ///< could not complete (exit 1)
  usage,       ///< bad arguments (exit 2)
  bad_input,   ///< bad input file (exit 3)
  missing,     ///< evidence or a device is missing (exit 13)
  internal,    ///< a bug (exit 70)
};

/// An error with its errno, a one-line detail and an optional one-line hint.
struct Error {
  ErrorKind kind = ErrorKind::io;
  std::string detail;  ///< "cannot open /dev/cpu/0/msr: Permission denied"
  std::string hint;    ///< "run as root" (may be empty)
  int err = 0;         ///< errno, 0 when not from a system call
};

/// A value or an Error. C++20 has no std::expected; this is the small part we need.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> v_;
};

/// Helper to build an Error in one expression.
inline Error make_error(ErrorKind kind, std::string detail, std::string hint = {}, int err = 0) {
  return Error{kind, std::move(detail), std::move(hint), err};
}

}  // namespace kvmprobe
