// One error type for the whole project: library code throws mig::Error, the commands catch it
// in one place (migrate/run_main.cc) and turn its kind into the exit code.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace mig {

// Why something failed, which decides the exit code: 2 for bad usage or bad input (the
// operator must change what they asked), 1 for a failure while doing it.
enum class ErrorKind { kUsage, kInput, kFailed };

// A failure with a sentence that names the thing, the cause and, where known, what to do.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return kind_ == ErrorKind::kFailed ? 1 : 2; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void Fail(const std::string& message) {
  throw Error(ErrorKind::kFailed, message);
}
[[noreturn]] inline void BadInput(const std::string& message) {
  throw Error(ErrorKind::kInput, message);
}
[[noreturn]] inline void BadUsage(const std::string& message) {
  throw Error(ErrorKind::kUsage, message);
}

// strerror(errno) as a std::string.
std::string ErrnoString(int err = errno);

}  // namespace mig
