#include "docker/engine_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "docker/engine_api.h"
#include "docker/engine_lifecycle.h"
#include "http/http.h"

namespace mig::docker {

std::optional<ExecArgs> ParseDockerExec(const std::vector<std::string>& argv) {
  if (argv.size() < 4 || argv[0] != "docker" || argv[1] != "exec") return std::nullopt;
  ExecArgs a;
  size_t i = 2;
  for (; i < argv.size() && !argv[i].empty() && argv[i][0] == '-'; ++i) {
    const std::string& o = argv[i];
    if (o == "-i" || o == "--interactive") {
      a.interactive = true;
    } else if (o == "-d" || o == "--detach") {
      a.detach = true;
    } else if ((o == "-u" || o == "--user") && i + 1 < argv.size()) {
      a.user = argv[++i];
    } else if ((o == "-e" || o == "--env") && i + 1 < argv.size() && argv[i + 1].find('=') != std::string::npos &&
               argv[i + 1][0] != '=') {
      a.env.push_back(argv[++i]);  // NAME alone (taken from the CLI's environment) is left to the CLI
    } else {
      return std::nullopt;
    }
  }
  if (i + 2 > argv.size()) return std::nullopt;  // a container and a program
  a.container = argv[i];
  a.cmd.assign(argv.begin() + static_cast<long>(i) + 1, argv.end());
  return a;
}

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

constexpr size_t kErrKept = 1 << 20;  // the last MiB of a program's stderr

// What creating an exec gave: its id, or the engine's refusal as the CLI prints it.
struct Created {
  std::string id;
  std::string refused;  // "Error response from daemon: ...\n"
};

// POST /containers/NAME/exec; nullopt when the engine does not answer (the CLI then says why).
std::optional<Created> CreateExec(const std::string& socket, const ExecArgs& a) {
  nlohmann::json spec = {{"AttachStdin", a.interactive && !a.detach}, {"AttachStdout", !a.detach},
                         {"AttachStderr", !a.detach}, {"Tty", false}, {"Cmd", a.cmd}};
  if (!a.env.empty()) spec["Env"] = a.env;
  if (!a.user.empty()) spec["User"] = a.user;
  auto r = api::Ask(socket, "POST", "/containers/" + http::UrlEscape(a.container) + "/exec", spec.dump());
  if (!r) return std::nullopt;
  Created c;
  const nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status == 201 && j.is_object() && j.contains("Id") && j["Id"].is_string()) c.id = j["Id"].get<std::string>();
  else c.refused = api::Refusal(r->body);
  return c;
}

// The pid the engine gives for a program of `container_id`, opened as a pidfd only when it is
// that container's process in our pid namespace (its cgroup names the container: not so when the
// engine's socket was lent to a container of its own, where the pid means another process): -1
// otherwise. The pidfd keeps the answer true until the signal (no pid reuse in between).
int OpenContainerPid(long pid, const std::string& container_id) {
  if (pid <= 1 || container_id.size() < 12) return -1;
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd < 0) return -1;
  std::optional<std::string> text;
  try {
    text = ReadSmallFile("/proc/" + std::to_string(pid) + "/cgroup", 64 << 10);
  } catch (const Error&) {  // it ended meanwhile: reading its files fails (ESRCH)
  }
  if (!text || text->find(container_id) == std::string::npos) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One program run through the API: its stdio over a hijacked connection to the engine, read by
// a thread of its own (stdout into a socket pair that read() drains, stderr kept), so that a
// program writing to an output nobody reads never blocks.
class ApiExec : public Proc {
 public:
  // `created.refused` non-empty: the engine refused to create it (exit 1, its message on stderr).
  // `interactive`: its stdin is ours (-i, and asked for with kStdin).
  ApiExec(const std::string& socket, const Created& created, const std::string& command, int pipes,
          bool interactive)
      : socket_(socket), id_(created.id), has_out_(pipes & kStdout), interactive_(interactive) {
    command_ = command;
    if (!created.refused.empty()) {
      Refused(created.refused);
      return;
    }
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out_) != 0)
      Fail("cannot start " + command_ + ": " + ErrnoString());  // before the engine starts it
    try {
      std::optional<std::string> pending = Handshake();
      if (!pending) {  // refused at its start: Refused() said why
        CloseAll();
        return;
      }
      stop_.emplace([this] { Stop(); });  // an interrupted command: as a child of ours is signalled
      if (!interactive_) ::shutdown(conn_, SHUT_WR);
      pump_ = std::thread([this, pending = std::move(*pending)]() mutable { Pump(std::move(pending)); });
    } catch (...) {
      if (conn_ >= 0) Stop();
      stop_.reset();
      CloseAll();
      throw;
    }
  }

  ~ApiExec() override {
    if (pump_.joinable()) {
      kill();  // when it has not ended: as a Child's destructor does
      pump_.join();
    }
    stop_.reset();
    CloseAll();
  }

  size_t read(char* buf, size_t len) override {
    if (!has_out_ || out_[0] < 0) return 0;
    for (;;) {
      ssize_t n = ::read(out_[0], buf, len);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) Fail("reading from " + command_ + ": " + ErrnoString());
    }
  }

  using Proc::write;
  void write(const char* buf, size_t len) override {
    while (len > 0) {
      ssize_t n = conn_ >= 0 && interactive_ ? ::send(conn_, buf, len, MSG_NOSIGNAL) : (errno = EPIPE, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        Fail(command_ + " stopped reading its input (" + ErrnoString() + ")");
      }
      buf += n;
      len -= static_cast<size_t>(n);
    }
  }

  void close_stdin() override {
    if (conn_ >= 0 && interactive_ && !stdin_closed_.exchange(true)) ::shutdown(conn_, SHUT_WR);
  }

  int wait() override {
    if (code_) return *code_;
    close_stdin();             // as Child::wait
    if (pump_.joinable()) pump_.join();  // the program's output has ended (or kill() cut it)
    // The engine marks it ended a moment after its output closes: asked until then (5 s; a
    // killed one that still runs is not waited for).
    for (int wait_ms = 2, waited = 0; waited < 5000; waited += wait_ms, wait_ms = std::min(wait_ms * 2, 200)) {
      std::string why;
      const std::optional<ExecState> now = Inspect(&why);
      if (!now) {
        if (killed_) return *(code_ = 137);
        AddErr("cannot ask the docker engine how " + command_ + " ended: " + why + "\n");
        return *(code_ = 1);
      }
      if (now->ended()) return *(code_ = *now->exit_code);
      if (killed_) {  // stopped by TerminateChildren, or killed: it is not waited for
        KillInContainer();
        return *(code_ = 137);  // 128 + SIGKILL: any non-zero code says it did not finish
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    AddErr(command_ + " closed its output but had not ended after 5 s\n");
    return *(code_ = 1);
  }

  // Stop(), then the program in its container killed where we may: the engine leaves a program
  // whose connection closed running, blocked on its output (a pg_dump holding its snapshot).
  // Only a process of this exec's container, seen from our pid namespace (OpenContainerPid), and
  // only that process (not the children of a `sh -c`); elsewhere it is left as the CLI leaves it.
  void kill() override {
    if (conn_ < 0) return;
    Stop();
    KillInContainer();
  }

  std::string err_text() const override {
    std::lock_guard<std::mutex> g(mu_);
    return err_;
  }

  // Where read() reads (-1 when stdout was not asked for or the engine refused): Run's timeout polls it.
  int out_fd() const { return has_out_ ? out_[0] : -1; }

 private:
  // The program killed in its container, where we may (kill()).
  void KillInContainer() {
    // The engine names the pid a moment after the program started (and says neither running
    // nor ended before): asked again meanwhile, for up to a second.
    for (int i = 0; i < 50; ++i) {
      const std::optional<ExecState> now = Inspect();
      if (!now) return;
      if (now->running && now->pid > 1) {
        const int pidfd = OpenContainerPid(now->pid, now->container);
        if (pidfd >= 0) {
          ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
          ::close(pidfd);
        }
        return;
      }
      if (now->exit_code) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // What the engine says of this exec now (GET /exec/ID/json).
  struct ExecState {
    bool running = false;
    std::optional<int> exit_code;
    long pid = 0;           // on the engine's machine; 0 until it has started
    std::string container;  // the container's full id
    bool ended() const { return !running && exit_code; }
  };
  // nullopt when the engine does not answer or answers with an error (`why` says which).
  std::optional<ExecState> Inspect(std::string* why = nullptr) const {
    const auto r = api::Ask(socket_, "GET", "/exec/" + id_ + "/json");
    if (!r || r->status != 200) {
      if (why) *why = r ? api::Message(r->body) : "it does not answer";
      return std::nullopt;
    }
    const nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
    ExecState st;
    if (!j.is_object()) return st;
    st.running = j.value("Running", false);
    if (j.contains("ExitCode") && j["ExitCode"].is_number()) st.exit_code = j["ExitCode"].get<int>();
    if (j.contains("Pid") && j["Pid"].is_number_integer()) st.pid = j["Pid"].get<long>();
    if (j.contains("ContainerID") && j["ContainerID"].is_string()) st.container = j["ContainerID"].get<std::string>();
    return st;
  }

  // The connection shut down both ways, as when the CLI is killed, and stdout's hand-over cut
  // (a pump blocked on it, its reader gone, ends): what TerminateChildren does from its thread,
  // under its lock, so nothing here asks the engine. The fds stay open until the destructor.
  void Stop() {
    if (conn_ < 0) return;
    killed_ = true;
    ::shutdown(conn_, SHUT_RDWR);
    if (out_[0] >= 0) ::shutdown(out_[0], SHUT_RDWR);
  }

  void Refused(const std::string& why) {
    err_ = why;
    code_ = 1;
  }

  void CloseAll() {
    for (int* fd : {&conn_, &out_[0], &out_[1]})
      if (*fd >= 0) ::close(std::exchange(*fd, -1));
  }

  // POST /exec/ID/start upgraded to a raw stream (Boost.Beast writes the request, reads the
  // answer's header, within http::kTimeout); returns the stream's bytes already read with it and
  // sets conn_, or nullopt when the engine refused (exit 1, its message on stderr, as the CLI).
  std::optional<std::string> Handshake() {
    try {
      asio::io_context io;
      asio::local::stream_protocol::socket s(io);
      s.connect(asio::local::stream_protocol::endpoint(socket_));
      const timeval bound{static_cast<time_t>(http::kTimeout.count()), 0}, none{0, 0};
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
      bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/exec/" + id_ + "/start", 11};
      req.set(bhttp::field::host, "docker");
      req.set(bhttp::field::content_type, "application/json");
      req.set(bhttp::field::connection, "Upgrade");
      req.set(bhttp::field::upgrade, "tcp");
      req.body() = R"({"Detach":false,"Tty":false})";
      req.prepare_payload();
      bhttp::write(s, req);
      boost::beast::flat_buffer buf;
      bhttp::response_parser<bhttp::string_body> answer;
      answer.body_limit(1 << 20);
      bhttp::read_header(s, buf, answer);
      const unsigned status = answer.get().result_int();
      if (status != 101 && status != 200) {  // 200: engines before API 1.30 answer so, then stream
        if (!answer.is_done()) bhttp::read(s, buf, answer);
        Refused(api::Refusal(answer.get().body()));
        return std::nullopt;
      }
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
      std::string pending = boost::beast::buffers_to_string(buf.data());
      conn_ = s.release();
      ::fcntl(conn_, F_SETFD, FD_CLOEXEC);  // asio's socket() does not ask for it
      return pending;
    } catch (const boost::system::system_error& e) {
      Fail("the docker engine did not start " + command_ + " (" + socket_ + "): " + e.code().message());
    }
  }

  // The thread: frames of the connection (8-byte header: stream, 0, 0, 0, length big-endian)
  // until its end; stdout into out_[1], stderr (and the engine's own errors, stream 3) kept.
  void Pump(std::string buf) {
    std::vector<char> chunk(64 * 1024);
    bool out_open = has_out_;
    for (;;) {
      size_t off = 0;
      while (buf.size() - off >= 8) {
        const auto* h = reinterpret_cast<const unsigned char*>(buf.data() + off);
        const size_t len = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | size_t{h[7]};
        if (buf.size() - off - 8 < len) break;
        const char* p = buf.data() + off + 8;
        if (h[0] == 1 && out_open) out_open = SendAll(out_[1], p, len);
        else if (h[0] == 2 || h[0] == 3) AddErr(std::string(p, len));
        off += 8 + len;
      }
      buf.erase(0, off);
      ssize_t n = ::read(conn_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buf.append(chunk.data(), static_cast<size_t>(n));
    }
    ::shutdown(out_[1], SHUT_WR);  // read() sees the end (closed by the destructor, after the join)
  }

  static bool SendAll(int fd, const char* p, size_t len) {
    while (len > 0) {
      ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // the reader went away (or Stop()): the rest is dropped
      p += n;
      len -= static_cast<size_t>(n);
    }
    return true;
  }

  void AddErr(const std::string& s) {
    std::lock_guard<std::mutex> g(mu_);
    err_ += s;
    if (err_.size() > kErrKept) err_.erase(0, err_.size() - kErrKept);
  }

  const std::string socket_, id_;
  const bool has_out_, interactive_;
  int conn_ = -1;
  int out_[2] = {-1, -1};  // a socket pair: [0] read(), [1] the pump
  std::optional<StopWithChildren> stop_;
  std::thread pump_;
  mutable std::mutex mu_;
  std::string err_;
  std::atomic<bool> stdin_closed_{false}, killed_{false};
  std::optional<int> code_;  // the owner's thread only
};

// The API's exec for `argv` on `host`, or nullptr where `inner` is to run it.
std::unique_ptr<ApiExec> StartThroughApi(const Host& host, const std::vector<std::string>& argv, int pipes) {
  auto a = ParseDockerExec(argv);
  if (!a || a->detach) return nullptr;
  const std::string socket = api::SocketFor(host);
  if (socket.empty()) return nullptr;
  a->interactive = a->interactive && (pipes & Proc::kStdin);  // else its stdin is empty, as the CLI's
  const auto created = CreateExec(socket, *a);
  if (!created) return nullptr;
  return std::make_unique<ApiExec>(socket, *created, CommandLine(argv), pipes, a->interactive);
}

}  // namespace

std::unique_ptr<Proc> ExecHost::Start(const std::vector<std::string>& argv, int pipes) const {
  if (auto p = StartThroughApi(inner_, argv, pipes)) return p;
  return inner_.Start(argv, pipes);
}

ProcResult ExecHost::Run(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::seconds timeout) const {
  if (const auto l = ParseDockerLifecycle(argv)) {  // `docker start` / `docker stop`
    const std::string socket = api::SocketFor(inner_);
    if (!socket.empty())
      if (auto r = RunLifecycle(socket, *l, CommandLine(argv), timeout)) return *r;
    return inner_.Run(argv, input, timeout);
  }
  const auto a = ParseDockerExec(argv);
  const std::string socket = a ? api::SocketFor(inner_) : "";
  if (a && a->detach && !socket.empty()) {  // `docker exec -d`: started, nothing attached
    if (const auto created = CreateExec(socket, *a)) {
      ProcResult r;
      if (!created->refused.empty()) return r.code = 1, r.err = created->refused, r;
      if (auto started = api::Ask(socket, "POST", "/exec/" + created->id + "/start", R"({"Detach":true,"Tty":false})")) {
        if (started->status == 200) return r.code = 0, r;
        return r.code = 1, r.err = api::Refusal(started->body), r;
      }
    }
    return inner_.Run(argv, input, timeout);
  }
  auto p = StartThroughApi(inner_, argv, Proc::kStdin | Proc::kStdout);
  if (!p) return inner_.Run(argv, input, timeout);
  std::thread feed;
  if (a->interactive)
    feed = std::thread([&p, &input] {
      try {
        p->write(input);
      } catch (const Error&) {  // it stopped reading: its exit code says why
      }
      p->close_stdin();
    });
  ProcResult r;
  bool late = false;
  try {
    const auto until = std::chrono::steady_clock::now() + timeout;
    char buf[64 * 1024];
    for (;;) {
      if (timeout.count() > 0 && p->out_fd() >= 0) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        pollfd fd{p->out_fd(), POLLIN, 0};
        const int ready = left.count() <= 0 ? 0 : ::poll(&fd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) {
          late = true;
          break;
        }
      }
      const size_t n = p->read(buf, sizeof buf);
      if (n == 0) break;
      r.out.append(buf, n);
    }
  } catch (...) {  // the feeder is joined before anything leaves
    p->kill();
    if (feed.joinable()) feed.join();
    throw;
  }
  if (late) p->kill();
  if (feed.joinable()) feed.join();
  r.code = p->wait();
  r.err = p->err_text();
  if (late) Fail(CommandLine(argv) + " did not finish within " + std::to_string(timeout.count()) + " s");
  return r;
}

}  // namespace mig::docker
