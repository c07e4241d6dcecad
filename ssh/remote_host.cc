#include "ssh/remote_host.h"

#include <libssh2.h>

#include <chrono>
#include <mutex>

#include "core/error.h"
#include "ssh/channel.h"

namespace mig::ssh {

std::string ShellQuote(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += '\'';
    for (char c : a) {
      if (c == '\'') out += "'\\''";
      else out += c;
    }
    out += '\'';
  }
  return out;
}

namespace {

// A program on the old server, its stdin/stdout an exec channel; reads and writes block
// (polling the shared socket briefly, so that other threads' channels move too).
class RemoteProc : public Proc {
 public:
  RemoteProc(Session& s, const std::vector<std::string>& argv, int pipes) : s_(s) {
    command_ = CommandLine(argv) + " (on " + s.target().Show() + ")";
    ch_ = s_.OpenExec(ShellQuote(argv) + ((pipes & kStdin) ? "" : " </dev/null"));
  }
  ~RemoteProc() override {
    std::lock_guard<std::recursive_mutex> lock(s_.mutex());
    libssh2_channel_free(ch_);
  }

  size_t read(char* buf, size_t len) override {
    while (true) {
      {
        std::lock_guard<std::recursive_mutex> lock(s_.mutex());
        DrainStderr();
        ssize_t n = libssh2_channel_read(ch_, buf, len);
        if (n > 0) return static_cast<size_t>(n);
        if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) Fail("the connection to " + s_.target().Show() + " was lost (" + s_.LastError() + ")");
        if (libssh2_channel_eof(ch_)) return 0;
      }
      Idle(false);
    }
  }

  void write(const char* buf, size_t len) override {
    while (len > 0) {
      {
        std::lock_guard<std::recursive_mutex> lock(s_.mutex());
        DrainStderr();
        ssize_t n = libssh2_channel_write(ch_, buf, len);
        if (n > 0) {
          buf += n;
          len -= static_cast<size_t>(n);
          continue;
        }
        if (n != LIBSSH2_ERROR_EAGAIN) Fail(command_ + " stopped reading its input (" + s_.LastError() + ")");
      }
      Idle(true);
    }
  }

  void close_stdin() override {
    if (eof_sent_) return;
    while (true) {
      {
        std::lock_guard<std::recursive_mutex> lock(s_.mutex());
        int rc = libssh2_channel_send_eof(ch_);
        if (rc != LIBSSH2_ERROR_EAGAIN) {
          eof_sent_ = true;
          return;
        }
      }
      Idle(false);
    }
  }

  int wait() override {
    close_stdin();
    char sink[16384];
    while (read(sink, sizeof sink) > 0) {}  // what is left of stdout
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kOperationTimeoutS);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::recursive_mutex> lock(s_.mutex());
        DrainStderr();
        int rc = libssh2_channel_close(ch_);
        if (rc == 0) rc = libssh2_channel_wait_closed(ch_);
        if (rc != LIBSSH2_ERROR_EAGAIN) {
          Ending end = EndingOf(s_.raw(), ch_, rc == 0);
          if (!end.closed)
            Fail(command_ + " ended without reporting an exit status: the connection was lost (" + s_.LastError() + ")");
          if (!end.signal.empty()) err_ += std::string(err_.empty() || err_.back() == '\n' ? "" : "\n") + command_ + " " + end.Describe() + "\n";
          return end.code();
        }
      }
      Idle(false);
    }
    Fail(command_ + " ended without reporting an exit status: its channel did not close within " +
         std::to_string(kOperationTimeoutS) + " s");
  }

  void kill() override {
    std::lock_guard<std::recursive_mutex> lock(s_.mutex());
    libssh2_channel_close(ch_);  // the far side's sshd hangs up on the program
  }

  std::string err_text() const override { return err_; }

 private:
  void DrainStderr() {
    char b[4096];
    ssize_t n;
    while ((n = libssh2_channel_read_stderr(ch_, b, sizeof b)) > 0) KeepTail(err_, b, static_cast<size_t>(n));
  }
  // Lets the socket move (other threads' channels too); `want_write`: our input waits to be sent.
  void Idle(bool want_write) {
    bool window = false;
    {
      std::lock_guard<std::recursive_mutex> lock(s_.mutex());
      s_.Keepalive();
      window = want_write && libssh2_channel_window_write(ch_) > 0;
    }
    s_.WaitSocket(50, window);
  }

  Session& s_;
  LIBSSH2_CHANNEL* ch_ = nullptr;
  bool eof_sent_ = false;
  std::string err_;
};

}  // namespace

ProcResult RemoteHost::Run(const std::vector<std::string>& argv, const std::string& input,
                           std::chrono::seconds timeout) const {
  RunLimits limits;  // Session::Run takes the session's lock for its libssh2 calls
  limits.deadline = timeout;
  return s_.Run(ShellQuote(argv) + (input.empty() ? " </dev/null" : ""), input, limits);
}

std::unique_ptr<Proc> RemoteHost::Start(const std::vector<std::string>& argv, int pipes) const {
  return std::make_unique<RemoteProc>(s_, argv, pipes);
}

bool RemoteHost::ReadFile(const std::string& path, std::string& out, size_t max) const {
  // At most one byte more than `max` comes, so that a larger file is told from one of `max`
  // bytes; the limit makes a shell that prints more than asked fail rather than be cut.
  RunLimits limits;
  limits.max_out = max + 1;
  ProcResult r = s_.Run("f=" + ShellQuote({path}) + "; if [ -f \"$f\" ]; then head -c " + std::to_string(max + 1) +
                        " \"$f\"; else echo absent >&2; exit 3; fi", {}, limits);
  if (r.code == 3) return false;
  if (!r.ok()) Fail("cannot read " + path + " on " + s_.target().Show() + ": " + r.last_error_line());
  if (r.out.size() > max) Fail(path + " on " + s_.target().Show() + " is larger than " + std::to_string(max) + " bytes");
  out = std::move(r.out);
  return true;
}

}  // namespace mig::ssh
