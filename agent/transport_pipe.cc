// A local agent reached through its stdin/stdout pipes.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "agent/transport.h"
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/process.h"

namespace mig::agent {
namespace {

// migrate-agent serve, started on this machine.
class PipeTransport : public Transport {
 public:
  explicit PipeTransport(const std::string& agent) : child_({agent, "serve"}, Child::kStdin | Child::kStdout) {
    ::fcntl(child_.in_fd(), F_SETFL, ::fcntl(child_.in_fd(), F_GETFL) | O_NONBLOCK);
    ::fcntl(child_.out_fd(), F_SETFL, ::fcntl(child_.out_fd(), F_GETFL) | O_NONBLOCK);
  }
  ~PipeTransport() override {
    child_.close_stdin();
    // An agent told BYE (or seeing its input end) exits at once; give it a moment, then kill.
    for (int i = 0; i < 40 && child_.poll_exit() < 0; ++i) ::usleep(50 * 1000);
    if (child_.poll_exit() < 0) child_.kill();
  }

  long WriteSome(const char* p, size_t n) override {
    ssize_t w = ::write(child_.in_fd(), p, n);
    if (w >= 0) return static_cast<long>(w);
    if (errno == EAGAIN || errno == EINTR) return 0;
    if (errno == EPIPE) return -1;  // it exited (or closed its stdin): its output says why
    Fail("cannot write to " + Describe() + " (" + ErrnoString() + ")" + Tail());
  }

  long ReadSome(char* p, size_t n) override {
    ssize_t r = ::read(child_.out_fd(), p, n);
    if (r > 0) return r;
    if (r == 0) return -1;
    if (errno == EAGAIN || errno == EINTR) return 0;
    Fail("cannot read from " + Describe() + ": " + ErrnoString());
  }

  void Wait(bool want_write, int timeout_ms) override {
    struct pollfd fds[2] = {{child_.out_fd(), POLLIN, 0}, {child_.in_fd(), POLLOUT, 0}};
    ::poll(fds, want_write ? 2 : 1, timeout_ms);
  }

  std::string EndReason() override {
    child_.close_stdin();
    int code = child_.wait();
    return "it exited with status " + std::to_string(code) + Tail();
  }

  std::string Describe() const override { return "the local agent"; }

 private:
  std::string Tail() const {
    std::string err = child_.err_text();
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return err.empty() ? "" : ": " + err.substr(err.size() > 400 ? err.size() - 400 : 0);
  }
  Child child_;
};

}  // namespace

std::string AgentBesideMe() {
  if (const char* env = std::getenv("MIGRATE_AGENT"); env && *env) return env;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "migrate-agent").string();
}

std::unique_ptr<Transport> StartLocalAgent(const std::string& agent_path) {
  return std::make_unique<PipeTransport>(agent_path);
}

}  // namespace mig::agent
