// Exec channels on a Session: commands run to completion, and the agent's byte stream.
#include "ssh/channel.h"

#include <libssh2.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "ssh/session.h"

namespace mig::ssh {

void KeepTail(std::string& s, const char* p, size_t n) {
  s.append(p, n);
  if (s.size() > 2 * kStderrTail) s.erase(0, s.size() - kStderrTail);
}

bool AppendWithin(std::string& s, const char* p, size_t n, size_t max) {
  if (n > max || s.size() > max - n) return false;
  s.append(p, n);
  return true;
}

int Ending::code() const {
  if (!closed) return -1;
  if (signal.empty()) return status;
  // RFC 4254 names signals without "SIG"; the numbers are Linux's.
  static const char* const kNames[] = {"",     "HUP",  "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "BUS",
                                       "FPE",  "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM"};
  for (int i = 1; i < static_cast<int>(sizeof kNames / sizeof kNames[0]); ++i)
    if (signal == kNames[i]) return 128 + i;
  return 255;
}

std::string Ending::Describe() const {
  if (!closed) return "ended without reporting an exit status (its channel did not close)";
  if (!signal.empty()) return "was killed by signal " + signal;
  return "exited with status " + std::to_string(status);
}

Ending EndingOf(LIBSSH2_SESSION* s, LIBSSH2_CHANNEL* ch, bool closed) {
  Ending e;
  e.closed = closed;
  e.status = libssh2_channel_get_exit_status(ch);
  char* sig = nullptr;
  size_t len = 0;
  if (libssh2_channel_get_exit_signal(ch, &sig, &len, nullptr, nullptr, nullptr, nullptr) == 0 && sig) {
    e.signal.assign(sig, len);
    libssh2_free(s, sig);
    if (e.signal.rfind("SIG", 0) == 0) e.signal.erase(0, 3);
    if (e.signal.empty()) e.signal = "?";
  }
  return e;
}

std::string ForAnyLoginShell(const std::string& command) {
  if (command.find('\n') != std::string::npos || command.find('\r') != std::string::npos) return command;
  std::string out = "exec /bin/sh -c '";
  for (char c : command) {
    if (c == '\'') out += "'\\''";
    else if (c == '\\') out += "'\\\\'";
    else if (c == '!') out += "'\\!'";  // csh expands history even inside quotes
    else out += c;
  }
  return out + "'";
}

LIBSSH2_CHANNEL* Session::OpenExec(const std::string& command_for_sh) {
  const std::string command = ForAnyLoginShell(command_for_sh);
  // Other threads may be reading other channels of the session: libssh2 only with the lock,
  // and waits without it, short (another thread may take our answer off the socket).
  std::unique_lock<std::recursive_mutex> lock(mu_);
  auto wait = [&] {
    lock.unlock();
    WaitSocket(50);
    lock.lock();
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kOperationTimeoutS);
  LIBSSH2_CHANNEL* ch = nullptr;
  while (!(ch = libssh2_channel_open_session(s_))) {
    if (libssh2_session_last_errno(s_) != LIBSSH2_ERROR_EAGAIN)
      Fail("cannot open a channel to " + t_.Show() + ": " + LastError());
    if (std::chrono::steady_clock::now() > deadline) Fail(t_.Show() + " did not open a channel within " + std::to_string(kOperationTimeoutS) + " s");
    wait();
  }
  int rc;
  while ((rc = libssh2_channel_exec(ch, command.c_str())) == LIBSSH2_ERROR_EAGAIN) {
    if (std::chrono::steady_clock::now() > deadline) {
      libssh2_channel_free(ch);
      Fail(t_.Show() + " did not start a command within " + std::to_string(kOperationTimeoutS) + " s");
    }
    wait();
  }
  if (rc != 0) {
    std::string why = LastError();
    libssh2_channel_free(ch);
    Fail("cannot run a command on " + t_.Show() + ": " + why);
  }
  return ch;
}

namespace {

// The stdin/stdout of a remote command. Its output is read by a thread of its own into a
// bounded buffer: libssh2 decrypts as it reads (16 bytes per call in Debian 12's 1.10), and that
// work then runs beside the merge's writing instead of before it. Other threads may use other
// channels of the session meanwhile (the replay counts rows while the agent streams the dump):
// every libssh2 call holds the session's lock, and waits are short.
class ChannelTransport : public agent::Transport {
  static constexpr size_t kReadChunk = 256u << 10;
  static constexpr size_t kMaxAhead = 8u << 20;  // read ahead of ReadSome, at most

 public:
  ChannelTransport(Session& s, LIBSSH2_CHANNEL* ch, std::string what) : s_(s), ch_(ch), what_(std::move(what)) {
    try {
      wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!wake_.valid()) Fail("cannot make an eventfd: " + ErrnoString());
      reader_ = std::thread([this] { ReadLoop(); });
    } catch (...) {
      std::lock_guard<std::recursive_mutex> lock(s_.mutex());
      libssh2_channel_free(ch_);
      throw;
    }
  }
  ~ChannelTransport() override {
    StopReader();
    std::lock_guard<std::recursive_mutex> lock(s_.mutex());
    libssh2_channel_free(ch_);
  }

  // A remote command that has exited is not a failed write here, unlike a pipe's EPIPE: libssh2
  // refuses to write only after our own close or EOF (which come after the conversation), and
  // sshd drops what comes for a command that has ended, then holds back the window; the
  // reader meanwhile takes in what the command printed and the end of the stream, which the
  // session reports. So this never returns -1: a failure here is the connection's.
  long WriteSome(const char* p, size_t n) override {
    ssize_t w;
    {
      std::lock_guard<std::recursive_mutex> lock(s_.mutex());
      w = libssh2_channel_write(ch_, p, n);
      if (w < 0 && w != LIBSSH2_ERROR_EAGAIN)
        Fail("the connection to " + s_.target().Show() + " was lost while sending (" + s_.LastError() + ")");
    }
    // Writing reads what waits on the socket into libssh2's queues first: the reader may have
    // data to take now that its poll of the socket would not show.
    Wake();
    return w == LIBSSH2_ERROR_EAGAIN ? 0 : static_cast<long>(w);
  }

  long ReadSome(char* p, size_t n) override {
    std::lock_guard<std::mutex> lock(mu_);
    size_t got = 0;
    while (got < n && !ahead_.empty()) {
      std::string& front = ahead_.front();
      size_t k = std::min(n - got, front.size() - front_pos_);
      std::memcpy(p + got, front.data() + front_pos_, k);
      got += k;
      front_pos_ += k;
      if (front_pos_ == front.size()) ahead_.pop_front(), front_pos_ = 0;
    }
    ahead_bytes_ -= got;
    if (got > 0) {
      room_.notify_one();
      return static_cast<long>(got);
    }
    if (!error_.empty()) Fail(error_);
    return ended_ ? -1 : 0;
  }

  void Wait(bool want_write, int timeout_ms) override {
    bool window = false;
    {
      std::lock_guard<std::recursive_mutex> lock(s_.mutex());
      s_.Keepalive();
      // Data waits to be sent: wake when the socket takes it, unless the channel's window holds
      // it back (then only the server's window adjustment, which the reader takes in, lets it go).
      window = want_write && libssh2_channel_window_write(ch_) > 0;
    }
    timeout_ms = std::min(timeout_ms, 50);
    if (window) {
      s_.WaitSocket(timeout_ms, true);
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t seen = window_grew_;
    data_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      return !ahead_.empty() || ended_ || !error_.empty() || window_grew_ != seen;
    });
  }

  std::string EndReason() override {
    StopReader();
    std::lock_guard<std::recursive_mutex> lock(s_.mutex());
    DrainStderr();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int rc;
    while ((rc = libssh2_channel_close(ch_)) == LIBSSH2_ERROR_EAGAIN && std::chrono::steady_clock::now() < deadline)
      s_.WaitSocket(200);
    while (rc == 0 && (rc = libssh2_channel_wait_closed(ch_)) == LIBSSH2_ERROR_EAGAIN &&
           std::chrono::steady_clock::now() < deadline)
      s_.WaitSocket(200);
    DrainStderr();
    Ending end = EndingOf(s_.raw(), ch_, rc == 0);
    std::string err = err_;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (err.size() > 400) err = "..." + err.substr(err.size() - 400);
    return "it " + end.Describe() + (err.empty() ? "" : ": " + err);
  }

  std::string Describe() const override { return what_; }

 private:
  // The reader thread: reads the channel until its end, an error, or StopReader, keeping at
  // most kMaxAhead bytes that ReadSome has not taken.
  void ReadLoop() {
    std::vector<char> buf(kReadChunk);
    try {
      while (true) {
        {
          std::unique_lock<std::mutex> lock(mu_);
          room_.wait(lock, [this] { return stop_ || ahead_bytes_ < kMaxAhead; });
          if (stop_) return;
        }
        ssize_t r;
        bool eof;
        uint32_t window = 0;
        std::string failure;
        {
          std::lock_guard<std::recursive_mutex> lock(s_.mutex());
          DrainStderr();
          r = libssh2_channel_read(ch_, buf.data(), buf.size());
          eof = libssh2_channel_eof(ch_) != 0;
          window = libssh2_channel_window_write(ch_);
          if (r < 0 && r != LIBSSH2_ERROR_EAGAIN)
            failure = "the connection to " + s_.target().Show() + " was lost (" + s_.LastError() + ")";
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (window > window_) ++window_grew_, data_.notify_one();
          window_ = window;
          if (r > 0) {
            ahead_bytes_ += static_cast<size_t>(r);
            // Small reads join the last piece: memory stays near the bytes held, however the
            // far side cuts its packets.
            if (!ahead_.empty() && ahead_.back().size() + static_cast<size_t>(r) <= kReadChunk)
              ahead_.back().append(buf.data(), static_cast<size_t>(r));
            else
              ahead_.emplace_back(buf.data(), static_cast<size_t>(r));
            data_.notify_one();
            continue;
          }
        }
        if (!failure.empty()) return Finish(false, failure);
        if (eof) return Finish(true, "");
        // Until the socket has data, or our WriteSome woke us (writing reads the socket into
        // libssh2's queue: data may wait there that poll does not see), or 50 ms.
        s_.WaitSocket(50, false, wake_.get());
      }
    } catch (const std::exception& e) {
      Finish(false, "reading from " + s_.target().Show() + " failed: " + e.what());
    }
  }

  void Finish(bool ended, const std::string& failure) {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = ended;
    error_ = failure;
    data_.notify_one();
  }

  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_.get(), &one, sizeof one);
  }

  void StopReader() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    room_.notify_one();
    if (wake_.valid()) Wake();
    if (reader_.joinable()) reader_.join();
  }

  void DrainStderr() {  // with the session's lock held
    char buf[4096];
    ssize_t n;
    while ((n = libssh2_channel_read_stderr(ch_, buf, sizeof buf)) > 0) KeepTail(err_, buf, static_cast<size_t>(n));
  }
  Session& s_;
  LIBSSH2_CHANNEL* ch_;
  std::string what_;
  std::string err_;  // the command's stderr (its tail), under the session's lock
  Fd wake_;          // written after our writes and at the stop: the reader's poll wakes
  std::mutex mu_;    // guards what follows
  std::condition_variable data_, room_;
  std::deque<std::string> ahead_;  // read, not yet taken by ReadSome
  size_t front_pos_ = 0, ahead_bytes_ = 0;
  uint32_t window_ = 0;        // the channel's send window, as the reader last saw it
  uint64_t window_grew_ = 0;   // times it grew: Wait wakes when data must go out
  bool ended_ = false, stop_ = false;
  std::string error_;
  std::thread reader_;
};

}  // namespace

std::unique_ptr<agent::Transport> Session::Exec(const std::string& command) {
  return std::make_unique<ChannelTransport>(*this, OpenExec(command), "the agent on " + t_.Show());
}

ProcResult Session::Run(const std::string& command, const std::string& input, const RunLimits& limits) {
  // libssh2 with the session's lock (other threads may use other channels), waits without it.
  std::unique_lock<std::recursive_mutex> lock(mu_);
  LIBSSH2_CHANNEL* ch = OpenExec(command);
  std::unique_ptr<LIBSSH2_CHANNEL, decltype(&libssh2_channel_free)> hold(ch, libssh2_channel_free);
  auto wait = [&](int ms, bool want_write = false) {
    lock.unlock();
    WaitSocket(ms, want_write);
    lock.lock();
  };
  const std::string what = "`" + command + "` on " + t_.Show();
  ProcResult res;
  size_t sent = 0;
  bool eof_sent = false;
  const auto start = std::chrono::steady_clock::now();
  auto idle = start;
  char buf[65536];
  while (true) {
    bool moved = false;
    if (sent < input.size()) {
      ssize_t w = libssh2_channel_write(ch, input.data() + sent, input.size() - sent);
      if (w < 0 && w != LIBSSH2_ERROR_EAGAIN) Fail("the connection to " + t_.Show() + " was lost while sending (" + LastError() + ")");
      if (w > 0) sent += static_cast<size_t>(w), moved = true;
    } else if (!eof_sent) {
      int rc = libssh2_channel_send_eof(ch);
      if (rc == 0) eof_sent = true, moved = true;
      else if (rc != LIBSSH2_ERROR_EAGAIN) Fail("the connection to " + t_.Show() + " was lost (" + LastError() + ")");
    }
    ssize_t n;
    while ((n = libssh2_channel_read(ch, buf, sizeof buf)) > 0) {
      if (!AppendWithin(res.out, buf, static_cast<size_t>(n), limits.max_out)) {
        libssh2_channel_close(ch);
        Fail(what + " printed more than " + std::to_string(limits.max_out) +
             " bytes on its standard output, the most migrate takes from one command");
      }
      moved = true;
    }
    if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) Fail("the connection to " + t_.Show() + " was lost (" + LastError() + ")");
    while ((n = libssh2_channel_read_stderr(ch, buf, sizeof buf)) > 0) KeepTail(res.err, buf, static_cast<size_t>(n)), moved = true;
    if (libssh2_channel_eof(ch) && eof_sent) break;
    const auto now = std::chrono::steady_clock::now();
    if (limits.deadline.count() > 0 && now - start > limits.deadline) {
      libssh2_channel_close(ch);
      Fail(what + " did not finish within " + std::to_string(limits.deadline.count()) + " s");
    }
    if (moved) {
      idle = now;
    } else {
      if (now - idle > std::chrono::seconds(kIdleTimeoutS))
        Fail(what + " printed nothing for " + std::to_string(kIdleTimeoutS) + " s");
      Keepalive();
      wait(50, sent < input.size() && libssh2_channel_window_write(ch) > 0);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kOperationTimeoutS);
  int rc;
  while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN && std::chrono::steady_clock::now() < deadline)
    wait(200);
  while (rc == 0 && (rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN &&
         std::chrono::steady_clock::now() < deadline)
    wait(200);
  for (ssize_t n; (n = libssh2_channel_read_stderr(ch, buf, sizeof buf)) > 0;) KeepTail(res.err, buf, static_cast<size_t>(n));
  Ending end = EndingOf(s_, ch, rc == 0);
  if (!end.closed)
    Fail(what + " ended without reporting an exit status: " +
         (rc == LIBSSH2_ERROR_EAGAIN ? "its channel did not close within " + std::to_string(kOperationTimeoutS) + " s"
                                     : "the connection was lost (" + LastError() + ")"));
  res.code = end.code();
  if (!end.signal.empty()) res.err += std::string(res.err.empty() || res.err.back() == '\n' ? "" : "\n") + what + " " + end.Describe() + "\n";
  return res;
}

}  // namespace mig::ssh
