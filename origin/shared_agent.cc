// One migrate-agent session shared by the threads of a run: RUNs, totals and the merge's source
// take turns on it.
#include "origin/shared_agent.h"

#include "core/error.h"

namespace mig {

namespace {

// A RUN holding the session's turn until it is destroyed.
class HeldProc : public Proc {
 public:
  HeldProc(std::unique_ptr<Proc> p, std::unique_lock<std::mutex> turn) : p_(std::move(p)), turn_(std::move(turn)) {
    command_ = p_->command();
  }
  size_t read(char* buf, size_t len) override { return p_->read(buf, len); }
  void write(const char* buf, size_t len) override { p_->write(buf, len); }
  void close_stdin() override { p_->close_stdin(); }
  int wait() override { return p_->wait(); }
  void kill() override { p_->kill(); }
  std::string err_text() const override { return p_->err_text(); }

 private:
  std::unique_ptr<Proc> p_;  // destroyed before the turn is let go
  std::unique_lock<std::mutex> turn_;
};

// The merge's source, holding the turn for its life. An AgentSource still (the merge step asks
// it how many files travelled as deltas).
class HeldSource : public agent::AgentSource {
 public:
  HeldSource(std::unique_lock<std::mutex> turn, agent::AgentSession& s, const std::string& root,
             const std::string& display, const std::string& spool_dir)
      : agent::AgentSource(s, root, display, spool_dir), turn_(std::move(turn)) {}

 private:
  std::unique_lock<std::mutex> turn_;
};

}  // namespace

// Programs without stdin through RUN; the others on `with_stdin`.
class AgentPrograms : public HostInFront {
 public:
  AgentPrograms(SharedAgent& agent, const Host& with_stdin) : HostInFront(with_stdin), agent_(agent) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    if (!input.empty()) return inner_.Run(argv, input, timeout);
    auto p = Start(argv, Proc::kStdout);
    ProcResult r;
    char buf[65536];
    for (size_t n; (n = p->read(buf, sizeof buf)) > 0;) {
      r.out.append(buf, n);
      if (r.out.size() > kMaxOut) {
        p->kill();
        Fail(CommandLine(argv) + " on " + inner_.Describe() + " printed more than " +
             std::to_string(kMaxOut >> 20) + " MiB: not what migrate asked for");
      }
    }
    r.code = p->wait();
    r.err = p->err_text();
    return r;
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    if (pipes != Proc::kStdout) return inner_.Start(argv, pipes);
    agent::AgentSession* s = nullptr;
    std::unique_lock<std::mutex> turn = agent_.Take(s);
    return std::make_unique<HeldProc>(agent::RunThroughAgent(*s, argv), std::move(turn));
  }
 private:
  static constexpr size_t kMaxOut = 64 << 20;
  SharedAgent& agent_;
};

SharedAgent::~SharedAgent() = default;

std::unique_lock<std::mutex> SharedAgent::Take(agent::AgentSession*& session) {
  std::unique_lock<std::mutex> turn(turn_);
  if (!session_) {
    session_ = start_();
    started_ = session_.get();
  }
  session = session_.get();
  return turn;
}

std::unique_ptr<Host> SharedAgent::Programs(const Host& with_stdin) {
  return std::make_unique<AgentPrograms>(*this, with_stdin);
}

uint64_t SharedAgent::TreeBytes(const std::string& root, const std::string& display) {
  agent::AgentSession* s = nullptr;
  std::unique_lock<std::mutex> turn = Take(s);
  agent::AgentSource src(*s, root, display, "");
  return src.Totals().bytes;
}

std::unique_ptr<sync::Source> SharedAgent::OpenTree(const std::string& root, const std::string& display,
                                                    const std::string& spool_dir) {
  agent::AgentSession* s = nullptr;
  std::unique_lock<std::mutex> turn = Take(s);
  return std::make_unique<HeldSource>(std::move(turn), *s, root, display, spool_dir);
}

nlohmann::json SharedAgent::Wire() const {
  const agent::AgentSession* s = started_;
  if (!s) return nullptr;
  return {{"bytes_received", s->bytes_in()}, {"bytes_sent", s->bytes_out()}};
}

void SharedAgent::Close() {
  if (agent::AgentSession* s = started_) s->Close();
}

}  // namespace mig
