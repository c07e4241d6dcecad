// Running other programs (docker, compose, the postgres tools inside containers).
// All process handling goes through here, on top of Boost.Process.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
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
};

// Runs argv (argv[0] is looked up on PATH), feeds `input` to its stdin, captures both outputs.
// Throws mig::Error (failed) when the program cannot be started or exceeds `timeout`
// (zero: no limit). A non-zero exit is not an error here: the caller reads `code`.
ProcResult RunCapture(const std::vector<std::string>& argv, const std::string& input = {},
                      std::chrono::seconds timeout = std::chrono::seconds(0));

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
  // The pipes' descriptors, for a caller that polls them itself (-1 when closed or not held).
  int in_fd() const;
  int out_fd() const;
  // The exit code if the program has ended, else -1 (does not wait).
  int poll_exit();
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
