// The receiver against the real migrate-agent beside the test binary, over pipes.
#include "agent/client.h"

#include <catch2/catch.hpp>
#include <filesystem>


using namespace mig::agent;

namespace {
std::unique_ptr<AgentSession> Agent() {
  auto s = std::make_unique<AgentSession>(StartLocalAgent(AgentBesideMe()));
  s->Handshake(MIGRATE_VERSION);
  return s;
}
std::string ReadAll(mig::Proc& p) {
  std::string out;
  char buf[65536];
  while (size_t n = p.read(buf, sizeof buf)) out.append(buf, n);
  return out;
}
}  // namespace

TEST_CASE("RUN: the agent runs a program and streams its stdout, then its exit code and stderr") {
  REQUIRE(std::filesystem::exists(AgentBesideMe()));
  auto s = Agent();
  auto p = RunThroughAgent(*s, {"sh", "-c", "printf 'hello\\n'; head -c 3000000 /dev/zero; printf 'oops\\033[2J\\n' >&2; exit 3"});
  std::string out = ReadAll(*p);
  CHECK(out.size() == 6 + 3000000);
  CHECK(out.substr(0, 6) == "hello\n");
  CHECK(p->wait() == 3);
  CHECK(p->err_text() == "oops?[2J\n");  // the escape sequence made harmless, the line kept
  // The session goes on: a program that cannot start says why, exit 127.
  auto q = RunThroughAgent(*s, {"/nonexistent/program"});
  CHECK(ReadAll(*q).empty());
  CHECK(q->wait() == 127);
  CHECK_THAT(q->err_text(), Catch::Contains("cannot run /nonexistent/program"));
  s->Close();
}

TEST_CASE("RUN: killing the program drops the session") {
  auto s = Agent();
  auto p = RunThroughAgent(*s, {"sh", "-c", "head -c 50000000 /dev/zero"});
  char buf[1000];
  CHECK(p->read(buf, sizeof buf) > 0);
  p->kill();
  CHECK(p->wait() == 137);
  CHECK(s->abandoned());
  s->Close();  // nothing to do, no error
}
