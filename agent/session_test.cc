// AgentSession against far sides that go away before it has written to them.
#include "agent/session.h"

#include <csignal>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/files.h"

using namespace mig::agent;

namespace {

// The real pipe transport, but its first write waits until the far side has ended its output.
// A FakeAgent closes its input first, so that write fails every time, as it does at random
// when an agent exits before our HELLO goes out. (Waiting for the end of the output alone is
// not enough: an exiting process may release its stdout before its stdin.) What it read while
// waiting is handed on unchanged.
class WriteAfterExit : public Transport {
 public:
  explicit WriteAfterExit(std::unique_ptr<Transport> t) : t_(std::move(t)) {}
  long WriteSome(const char* p, size_t n) override {
    char buf[4096];
    while (!ended_) {
      long r = t_->ReadSome(buf, sizeof buf);
      if (r < 0) ended_ = true;
      else if (r == 0) t_->Wait(false, 100);
      else said_.append(buf, static_cast<size_t>(r));
    }
    return t_->WriteSome(p, n);
  }
  long ReadSome(char* p, size_t n) override {
    if (pos_ < said_.size()) {
      size_t k = std::min(n, said_.size() - pos_);
      said_.copy(p, k, pos_);
      pos_ += k;
      return static_cast<long>(k);
    }
    return ended_ ? -1 : t_->ReadSome(p, n);
  }
  void Wait(bool want_write, int timeout_ms) override {
    if (pos_ == said_.size() && !ended_) t_->Wait(want_write, timeout_ms);
  }
  std::string EndReason() override { return t_->EndReason(); }
  std::string Describe() const override { return t_->Describe(); }

 private:
  std::unique_ptr<Transport> t_;
  std::string said_;
  size_t pos_ = 0;
  bool ended_ = false;
};

// SIGPIPE ignored while it lives, as migrate's main does.
struct IgnoreSigpipe {
  IgnoreSigpipe() { old = std::signal(SIGPIPE, SIG_IGN); }
  ~IgnoreSigpipe() { std::signal(SIGPIPE, old); }
  void (*old)(int);
};

// A stand-in agent: a shell script that closes its input, then does `body` (with `frames` in
// the file $0.frames).
struct FakeAgent {
  explicit FakeAgent(const std::string& body, const std::string& frames = "") {
    mig::WriteFileAtomic(dir.path() + "/agent.frames", frames);
    mig::WriteFileAtomic(dir.path() + "/agent", "#!/bin/sh\nexec 0<&-\n" + body + "\n", 0755);
  }
  std::string HandshakeError() {
    IgnoreSigpipe quiet;
    AgentSession s(std::make_unique<WriteAfterExit>(StartLocalAgent(dir.path() + "/agent")));
    try {
      s.Handshake(MIGRATE_VERSION);
    } catch (const mig::Error& e) {
      said = s.not_agent_text();
      return e.what();
    }
    return "(no error)";
  }
  mig::TempDir dir;
  std::string said;
};

}  // namespace

TEST_CASE("session: a far side that printed text and exited before our HELLO is not an agent") {
  FakeAgent a("printf 'SSH-2.0-OpenSSH_9.2p1 Debian-2\\r\\nProtocol mismatch.\\n'; exit 0");
  std::string err = a.HandshakeError();
  CHECK_THAT(err, Catch::Contains("does not speak the migrate agent protocol"));
  CHECK_THAT(err, Catch::Contains("SSH-2.0-OpenSSH_9.2p1 Debian-2  Protocol mismatch."));
  CHECK(a.said.rfind("SSH-2.0-OpenSSH_9.2p1", 0) == 0);
}

TEST_CASE("session: the remote shell's 'agent missing' answer is read though it exited before our HELLO") {
  FakeAgent a("echo 'migrate-agent-missing x86_64'");
  CHECK_THAT(a.HandshakeError(), Catch::Contains("does not speak the migrate agent protocol"));
  CHECK(a.said.rfind("migrate-agent-missing x86_64", 0) == 0);  // ssh/remote_agent.cc uploads on it
}

TEST_CASE("session: an agent that sent an ERROR frame and exited before our HELLO: its error") {
  const std::string frames = EncodeFrame(Type::kHello, EncodeHello({kProtocolVersion, MIGRATE_VERSION, "x86_64"})) +
                             EncodeFrame(Type::kError, EncodeError("cannot read /srv/data: \033[2Jdenied", false));
  FakeAgent a("cat \"$0.frames\"; exit 1", frames);
  std::string err = a.HandshakeError();
  CHECK_THAT(err, Catch::Contains("the local agent failed: cannot read /srv/data: ?[2Jdenied"));
  CHECK(a.said.empty());
}

TEST_CASE("session: an agent that said nothing and exited before our HELLO: its exit status and stderr") {
  FakeAgent a("printf 'agent: cannot start: \\033[31mno memory\\n' >&2; exit 3");
  std::string err = a.HandshakeError();
  CHECK_THAT(err, Catch::Contains("the local agent stopped reading: it exited with status 3: "
                                  "agent: cannot start: ?[31mno memory"));
}
