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
// The path PATH gives for `name` ("" when none).
std::string FindProgram(const std::string& name);

// argv as one line a POSIX shell reads back as argv (each argument plain, or single-quoted with
// its quotes escaped): logs, error messages and the commands reports print.
std::string CommandLine(const std::vector<std::string>& argv);

// A running program whose stdin and/or stdout we hold: on this machine (Child) or on the
// old server, through an SSH channel (ssh/remote_host.cc).
class Proc {
 public:
  // kDieWithUs (this machine only): killed when the thread that started it ends, or our
  // process dies (kill -9 included), so that no restic outlives an interrupted backup.
  enum Pipes { kStdin = 1, kStdout = 2, kDieWithUs = 4 };
  virtual ~Proc() = default;
  // read() returns 0 at end of output; write() throws mig::Error when the program has gone.
  virtual size_t read(char* buf, size_t len) = 0;
  virtual void write(const char* buf, size_t len) = 0;
  void write(const std::string& s) { write(s.data(), s.size()); }
  // Reads one line of stdout (without '\n'); false at end of output.
  bool read_line(std::string& line);
  virtual void close_stdin() = 0;
  virtual int wait() = 0;  // exit code
  virtual void kill() = 0;
  virtual std::string err_text() const = 0;
  const std::string& command() const { return command_; }

 protected:
  std::string command_;

 private:
  std::string line_buf_;
};

// Sends `sig` to every program this process has started and not yet waited for (an
// interrupted command stops its children, then unwinds: core/interrupt.h).
void TerminateChildren(int sig);

// A program of ours that is not a child process (one run through the docker engine's API:
// docker/engine_exec.h): TerminateChildren calls `stop` as it signals the programs (from its
// thread, under its lock: `stop` must not start or wait for programs). Registered for this
// object's life.
class StopWithChildren {
 public:
  explicit StopWithChildren(std::function<void()> stop);
  ~StopWithChildren();
  StopWithChildren(const StopWithChildren&) = delete;
  StopWithChildren& operator=(const StopWithChildren&) = delete;

 private:
  std::function<void()> stop_;
};

// A program on this machine (a psql session kept open, or one end of a dump stream). stderr
// goes to a temporary file read by err_text().
class Child : public Proc {
 public:
  Child(const std::vector<std::string>& argv, int pipes);
  ~Child() override;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  size_t read(char* buf, size_t len) override;
  using Proc::write;
  void write(const char* buf, size_t len) override;
  void close_stdin() override;
  // The pipes' descriptors, for a caller that polls them itself (-1 when closed or not held).
  int in_fd() const;
  int out_fd() const;
  // The exit code if the program has ended, else -1 (does not wait).
  int poll_exit();
  int pid() const;
  int wait() override;
  void kill() override;
  std::string err_text() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where programs run: this machine, or the old server over SSH. The migration's steps take a
// Host and do not know which.
class Host {
 public:
  virtual ~Host() = default;
  // As RunCapture: argv[0] looked up on that host's PATH; a non-zero exit is not an error here.
  virtual ProcResult Run(const std::vector<std::string>& argv, const std::string& input = {},
                         std::chrono::seconds timeout = std::chrono::seconds(0)) const = 0;
  // Starts argv with the pipes asked for (Proc::kStdin | Proc::kStdout).
  virtual std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const = 0;
  // "this machine", "root@old-host:2222": for messages.
  virtual std::string Describe() const = 0;
  virtual bool local() const { return false; }
  // Whether this host's docker engine may be asked on its API socket rather than through the
  // docker CLI (docker/engine_api.h): this machine's own host, not one that answers programs
  // from a recording.
  virtual bool engine_api() const { return false; }
};

// A Host in front of another (`inner`, which outlives it): it runs some programs its own way
// (records them, asks the engine's API, takes turns on an agent) and hands the rest on; what
// it is (its name, local, engine_api) is the inner host's.
class HostInFront : public Host {
 public:
  explicit HostInFront(const Host& inner) : inner_(inner) {}
  std::string Describe() const override { return inner_.Describe(); }
  bool local() const override { return inner_.local(); }
  bool engine_api() const override { return inner_.engine_api(); }

 protected:
  const Host& inner_;
};

// What Relay() did.
struct RelayResult {
  uint64_t bytes = 0;
  int from_code = 0, to_code = 0;  // exit codes (both waited for)
  bool to_stopped = false;         // `to` stopped taking bytes before the end: `from` was killed
};

// Copies `from`'s stdout into `to`'s stdin until its end, closes `to`'s stdin and waits for
// both. When `to` stops taking bytes, `from` is killed (the codes and err_text() say why).
// When reading `from` throws (a connection lost), both are killed and the error goes on.
// `progress` gets the bytes relayed so far.
RelayResult Relay(Proc& from, Proc& to, const std::function<void(uint64_t)>& progress = {});

// Runs argv on `host` with its stdout written to `path` (written as PATH.part, fsynced, renamed,
// the folder fsynced: the name holds a whole output or nothing; 0600). Returns the
// bytes. Throws mig::Error naming `what` when the program fails, or the file cannot be written
// (a full disk said as such).
uint64_t OutputToFile(const Host& host, const std::vector<std::string>& argv, const std::string& path,
                      const std::string& what);

// This machine (or the stand-in a ThisHostOverride put in place: core/recorded_host.h).
const Host& ThisHost();
// Internal to ThisHostOverride: sets the stand-in, returns the previous one.
const Host* SwapThisHost(const Host* h);

}  // namespace mig
