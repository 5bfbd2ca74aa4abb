// Status and Result<T>: the error type of every fallible call in swarmkv.
//
// Invariant: an OK Status carries no message and costs one pointer; a non-OK Status always has
// a code other than kOk and a message that says what went wrong and where (file, offset, key).
// "No room" and "miss" are values (std::optional, bool), never errors; errors are for input that
// is wrong, I/O that failed, or a request that cannot be served.
//
// Thread-safety: values; copy freely.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace swarmkv {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong (bad JSON, bad option, prompt too long)
  kNotFound,           // a named thing does not exist (model, file, key)
  kCorruption,         // stored bytes fail validation (GGUF, cache entry)
  kIOError,            // the OS said no (open, read, write, rename, disk full)
  kResourceExhausted,  // a budget cannot fit the request even after evicting
  kUnavailable,        // a remote peer is down (Redis); retry later
  kUnimplemented,      // valid input we do not support (tensor type, architecture)
  kFailedPrecondition, // the call is out of order for the object's state
  kOutOfRange,         // an index or position past the end
  kCancelled,          // the caller went away (client disconnect)
  kInternal,           // a bug: an invariant did not hold
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status OK() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "Corruption: tensor 'x' offset 123 past end of file (size 100)"; "OK" when ok.
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status WithContext(std::string_view context) const;

  void IgnoreError() const {}

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status CorruptionError(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status UnimplementedError(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status CancelledError(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace swarmkv

#define SKV_CONCAT_INNER(a, b) a##b
#define SKV_CONCAT(a, b) SKV_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define SKV_RETURN_IF_ERROR(expr)                   \
  do {                                              \
    ::swarmkv::Status skv_status_ = (expr);         \
    if (!skv_status_.ok()) return skv_status_;      \
  } while (0)

// `SKV_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its Status.
#define SKV_ASSIGN_OR_RETURN(lhs, expr) \
  SKV_ASSIGN_OR_RETURN_IMPL(SKV_CONCAT(skv_result_, __LINE__), lhs, expr)
#define SKV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
