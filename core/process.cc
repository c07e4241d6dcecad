#include "core/process.h"

#include <fcntl.h>
#include <csignal>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cstdio>
#include <future>
#include <mutex>
#include <set>
#include <sstream>

#include "core/error.h"

namespace bp = boost::process;

namespace mig {

namespace {

// The programs this process runs and has not waited for, for TerminateChildren.
std::mutex g_children_mu;
std::set<int> g_children;
std::set<const std::function<void()>*> g_stoppers;  // StopWithChildren's

void Register(int pid) {
  std::lock_guard<std::mutex> g(g_children_mu);
  g_children.insert(pid);
}
void Unregister(int pid) {
  std::lock_guard<std::mutex> g(g_children_mu);
  g_children.erase(pid);
}
struct Registered {
  int pid;
  explicit Registered(int p) : pid(p) { Register(p); }
  ~Registered() { Unregister(pid); }
};

}  // namespace


namespace {

boost::filesystem::path ProgramPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return boost::filesystem::path(name);
  auto p = bp::search_path(name);
  if (p.empty()) Fail("'" + name + "' is not installed or not on PATH");
  return p;
}

// In the child, between fork and exec: every descriptor above stderr is marked close-on-exec.
// Boost.Process creates its pipes without O_CLOEXEC, so a program started while another
// one's pipes are open (a probe on another thread, a held psql session) would inherit their
// ends: the other program then never sees end of file on its stdin (two concurrent
// `psql -f -` probes waited for each other forever). Marking, not closing, keeps Boost's own
// exec-error pipe working until the exec.
struct InheritNothing : bp::extend::handler {
  // Also: the program is killed when the thread that started it ends (PR_SET_PDEATHSIG), our
  // process killed included.
  explicit InheritNothing(bool die = false) : die_with_us(die) {}
  bool die_with_us;
  template <typename Executor>
  void on_exec_setup(Executor&) const {
    if (die_with_us) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;  // a program starts with no signal blocked (the daemon blocks SIGTERM for sigwait)
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return;
    struct rlimit lim {};  // kernels before 5.11: one fcntl per descriptor (async-signal-safe)
    rlim_t top = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY ? lim.rlim_cur : 65536;
    for (rlim_t fd = 3; fd < top; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  }
};

std::vector<std::string> Rest(const std::vector<std::string>& argv) {
  return std::vector<std::string>(argv.begin() + 1, argv.end());
}

}  // namespace

std::string ProcResult::last_error_line() const {
  for (const std::string* s : {&err, &out}) {
    std::istringstream in(*s);
    std::string line, last;
    while (std::getline(in, line))
      if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    if (!last.empty()) return last;
  }
  return "exit code " + std::to_string(code);
}

std::string ProcResult::error_tail(size_t n) const {
  std::vector<std::string> lines;
  std::istringstream in(err.find_first_not_of(" \t\r\n") != std::string::npos ? err : out);
  std::string line;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  if (lines.empty()) return "exit code " + std::to_string(code);
  std::string s;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) s += (s.empty() ? "" : "; ") + lines[i];
  return s;
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    const bool plain = !a.empty() && a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                         "0123456789_@%+=:,./-") == std::string::npos;
    if (plain) {
      s += a;
      continue;
    }
    s += '\'';
    for (char c : a) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
    s += '\'';
  }
  return s;
}

bool ProgramExists(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0;
  return !bp::search_path(name).empty();
}

std::string FindProgram(const std::string& name) { return bp::search_path(name).string(); }

ProcResult RunCapture(const std::vector<std::string>& argv, const std::string& input,
                      std::chrono::seconds timeout) {
  return RunCapture(argv, input, timeout, {});
}

ProcResult RunCapture(const std::vector<std::string>& argv, const std::string& input, std::chrono::seconds timeout,
                      const EnvVars& env) {
  ProcResult r;
  boost::asio::io_context ios;
  std::future<std::string> out, err;
  std::error_code ec;
  bp::environment child_env = boost::this_process::environment();
  for (const auto& [k, v] : env) child_env[k] = v;
  bp::child c(ProgramPath(argv.at(0)), bp::args(Rest(argv)),
              bp::std_in < boost::asio::buffer(input), bp::std_out > out, bp::std_err > err, ios,
              child_env, InheritNothing{true}, ec);  // waited for on this thread: dies with us
  if (ec) Fail("cannot start " + argv[0] + ": " + ec.message());
  Registered registered(c.id());
  if (timeout.count() > 0) {
    ios.run_for(timeout);
    if (!ios.stopped()) {
      ::kill(c.id(), SIGKILL);  // and reaped (not terminate(): see Child::kill)
      std::error_code wec;
      c.wait(wec);
      Fail(CommandLine(argv) + " did not finish within " + std::to_string(timeout.count()) +
           " s");
    }
  } else {
    ios.run();
  }
  c.wait();
  r.code = c.exit_code();
  r.out = out.get();
  r.err = err.get();
  return r;
}

namespace {

// A file with no name in /tmp for a child's stderr: nothing is left there when we are killed.
FILE* UnnamedTempFile() {
  int fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {  // a file system without O_TMPFILE: named for a moment
    char tmpl[] = "/tmp/migrate-child-err.XXXXXX";
    fd = ::mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) Fail("cannot create a temporary file in /tmp: " + ErrnoString());
    ::unlink(tmpl);
  }
  FILE* f = ::fdopen(fd, "w+");
  if (!f) {
    ::close(fd);
    Fail("cannot open a temporary file in /tmp: " + ErrnoString());
  }
  return f;
}

}  // namespace

struct Child::Impl {
  bp::pipe in, out;
  bp::child child;
  FILE* err = nullptr;  // the child's stderr
  bool has_in = false, has_out = false;
  ~Impl() {
    if (err) ::fclose(err);
  }
};

Child::Child(const std::vector<std::string>& argv, int pipes) : impl_(new Impl) {
  command_ = CommandLine(argv);
  impl_->err = UnnamedTempFile();
  impl_->has_in = pipes & kStdin;
  impl_->has_out = pipes & kStdout;
  std::error_code ec;
  InheritNothing inherit;
  inherit.die_with_us = pipes & kDieWithUs;
  auto exe = ProgramPath(argv.at(0));
  if (impl_->has_in && impl_->has_out)
    impl_->child = bp::child(exe, bp::args(Rest(argv)), bp::std_in < impl_->in,
                             bp::std_out > impl_->out, bp::std_err > impl_->err, inherit, ec);
  else if (impl_->has_in)
    impl_->child = bp::child(exe, bp::args(Rest(argv)), bp::std_in < impl_->in,
                             bp::std_out > bp::null, bp::std_err > impl_->err, inherit, ec);
  else
    impl_->child = bp::child(exe, bp::args(Rest(argv)), bp::std_in < bp::null,
                             bp::std_out > impl_->out, bp::std_err > impl_->err, inherit, ec);
  if (ec) Fail("cannot start " + argv[0] + ": " + ec.message());
  Register(impl_->child.id());
  // Our copies of the child's ends must go, or we never see end of file.
  if (impl_->has_in) ::close(impl_->in.native_source()), impl_->in.assign_source(-1);
  if (impl_->has_out) ::close(impl_->out.native_sink()), impl_->out.assign_sink(-1);
}

Child::~Child() {
  if (impl_->child.valid()) Unregister(impl_->child.id());
  if (impl_->child.valid() && impl_->child.running()) {
    ::kill(impl_->child.id(), SIGKILL);
    std::error_code ec;
    impl_->child.wait(ec);  // reaped, EINTR retried
  }
}

size_t Child::read(char* buf, size_t len) {
  for (;;) {
    ssize_t n = ::read(impl_->out.native_source(), buf, len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) Fail("reading from " + command_ + ": " + ErrnoString());
  }
}

void Child::write(const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(impl_->in.native_sink(), buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail(command_ + " stopped reading its input (" + ErrnoString() + ")");
    }
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

bool Proc::read_line(std::string& line) {
  for (;;) {
    auto nl = line_buf_.find('\n');
    if (nl != std::string::npos) {
      line = line_buf_.substr(0, nl);
      line_buf_.erase(0, nl + 1);
      return true;
    }
    char buf[4096];
    size_t n = read(buf, sizeof buf);
    if (n == 0) {
      if (line_buf_.empty()) return false;
      line = std::move(line_buf_);
      line_buf_.clear();
      return true;
    }
    line_buf_.append(buf, n);
  }
}

void Child::close_stdin() {
  if (impl_->has_in && impl_->in.native_sink() >= 0) {
    ::close(impl_->in.native_sink());
    impl_->in.assign_sink(-1);
  }
}

int Child::in_fd() const { return impl_->has_in ? impl_->in.native_sink() : -1; }
int Child::out_fd() const { return impl_->has_out ? impl_->out.native_source() : -1; }

int Child::pid() const { return impl_->child.id(); }

void TerminateChildren(int sig) {
  std::lock_guard<std::mutex> g(g_children_mu);
  for (int pid : g_children) ::kill(pid, sig);
  for (const auto* stop : g_stoppers) (*stop)();
}

StopWithChildren::StopWithChildren(std::function<void()> stop) : stop_(std::move(stop)) {
  std::lock_guard<std::mutex> g(g_children_mu);
  g_stoppers.insert(&stop_);
}

StopWithChildren::~StopWithChildren() {
  std::lock_guard<std::mutex> g(g_children_mu);
  g_stoppers.erase(&stop_);
}

int Child::poll_exit() {
  std::error_code ec;
  if (impl_->child.running(ec) || ec) return -1;
  return impl_->child.exit_code();
}

int Child::wait() {
  close_stdin();
  impl_->child.wait();
  Unregister(impl_->child.id());
  return impl_->child.exit_code();
}

void Child::kill() {
  // SIGKILL only; wait() reaps it. boost's terminate() reaps once and marks the child done: a
  // waitpid interrupted there (EINTR) left a zombie that wait() never reaped, and restic could
  // not clear the lock of a process that still "exists".
  if (impl_->child.running()) ::kill(impl_->child.id(), SIGKILL);
}

std::string Child::err_text() const {
  std::string text;
  char buf[8192];
  for (off_t at = 0;;) {
    ssize_t n = ::pread(::fileno(impl_->err), buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return text;
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
}

namespace {

// This machine: programs through Boost.Process.
class LocalHost : public Host {
 public:
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    return RunCapture(argv, input, timeout);
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    return std::make_unique<Child>(argv, pipes);
  }
  std::string Describe() const override { return "this machine"; }
  bool local() const override { return true; }
  bool engine_api() const override { return true; }
};

}  // namespace

const Host& RealThisHost() {
  static const LocalHost host;
  return host;
}

namespace {
const Host* g_this_host = nullptr;  // a stand-in (core/recorded_host.h), else the real machine
}  // namespace

const Host& ThisHost() { return g_this_host ? *g_this_host : RealThisHost(); }

const Host* SwapThisHost(const Host* h) { return std::exchange(g_this_host, h); }

}  // namespace mig
