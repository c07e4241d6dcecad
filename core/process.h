// Running other programs (docker, compose, the postgres tools inside containers).
// All process handling goes through here, on top of Boost.Process.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mig {

// What a finished program left behind.
struct ProcResult {
  int code = -1;
  std::string out;
  std::string err;
  bool ok() const { return code == 0; }
  // The last non-empty line of stderr (or stdout), for error messages.
  std::string last_error_line() const;
  // The last `n` non-empty lines of stderr (or stdout when stderr is empty) joined by "; ".
  std::string error_tail(size_t n = 5) const;
};

// Runs argv (argv[0] is looked up on PATH), feeds `input` to its stdin, captures both outputs.
// Throws mig::Error (failed) when the program cannot be started or exceeds `timeout`
// (zero: no limit). A non-zero exit is not an error here: the caller reads `code`.
ProcResult RunCapture(const std::vector<std::string>& argv, const std::string& input = {},
                      std::chrono::seconds timeout = std::chrono::seconds(0));

// Variables set (or replaced) in a program's environment on top of ours, in order.
using EnvVars = std::vector<std::pair<std::string, std::string>>;

// RunCapture with `env` added to the program's environment (an empty value is set, not removed).
ProcResult RunCapture(const std::vector<std::string>& argv, const std::string& input, std::chrono::seconds timeout,
                      const EnvVars& env);

// True when `name` is a path to a program or a program found on PATH.
bool ProgramExists(const std::string& name);

// argv as one shell-like line, for logs and error messages.
std::string CommandLine(const std::vector<std::string>& argv);

// A running program whose stdin and stdout we hold as pipes (a psql session kept open, or
// the two ends of a dump stream). stderr goes to a temporary file read by err_text().
class Child {
 public:
  enum Pipes { kStdin = 1, kStdout = 2 };
  Child(const std::vector<std::string>& argv, int pipes);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Raw pipe I/O. read() returns 0 at end of output. write() throws mig::Error when the
  // program has gone away.
  size_t read(char* buf, size_t len);
  void write(const char* buf, size_t len);
  void write(const std::string& s) { write(s.data(), s.size()); }
  // Reads one line of stdout (without '\n'); false at end of output.
  bool read_line(std::string& line);
  void close_stdin();
  int wait();          // exit code
  void kill();
  std::string err_text() const;
  const std::string& command() const { return command_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string command_;
  std::string line_buf_;
};

}  // namespace mig
