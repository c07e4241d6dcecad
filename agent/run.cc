// RUN: a program on the agent's host, read as a Proc through the session.
#include "agent/run.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace mig::agent {

namespace {

// A program the agent runs (RUN): its stdout from the session's DATA frames, its end from RUN_END.
class AgentProc : public Proc {
 public:
  AgentProc(AgentSession& s, const std::vector<std::string>& argv) : s_(s) {
    command_ = CommandLine(argv) + " (through migrate-agent on " + s.peer() + ")";
    s_.Send(Type::kRun, EncodeRun(argv));
    s_.Flush();  // the program starts now, not at the first read (a dump started early: db/replay.cc)
  }

  size_t read(char* buf, size_t len) override {
    while (pos_ == data_.size()) {
      if (ended_) return 0;
      Next();
    }
    size_t n = std::min(len, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  void write(const char*, size_t) override { Fail("internal: " + command_ + " has no stdin"); }
  void close_stdin() override {}
  int wait() override {
    while (!ended_) {
      if (s_.abandoned()) return 128 + 9;
      Next();
      data_.clear();
      pos_ = 0;
    }
    return code_;
  }
  void kill() override {
    if (!ended_) s_.Abandon();
  }
  std::string err_text() const override { return err_; }

 private:
  void Next() {
    if (s_.abandoned()) {
      ended_ = true;
      code_ = 128 + 9;
      return;
    }
    Frame f = s_.Receive();
    if (f.type == Type::kData) {
      data_ = std::move(f.payload);
      pos_ = 0;
    } else if (f.type == Type::kRunEnd) {
      RunEnd e = DecodeRunEnd(f.payload, s_.peer());
      ended_ = true;
      code_ = e.code;
      err_ = std::move(e.err);
    } else {
      Violation(s_.peer(), std::string("a ") + TypeName(f.type) + " frame in the output of " + command_);
    }
  }

  AgentSession& s_;
  std::string data_;
  size_t pos_ = 0;
  bool ended_ = false;
  int code_ = -1;
  std::string err_;
};

}  // namespace

std::unique_ptr<Proc> RunThroughAgent(AgentSession& s, const std::vector<std::string>& argv) {
  return std::make_unique<AgentProc>(s, argv);
}

}  // namespace mig::agent
