// The agent's session shared by threads: RUNs, totals and a merge source take turns on it,
// against the real migrate-agent beside the test binary, over pipes.
#include "origin/shared_agent.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "core/files.h"
#include "sync/apply.h"

using namespace mig;

namespace {
SharedAgent::Starter LocalAgent(int* starts) {
  return [starts] {
    ++*starts;
    auto s = std::make_unique<agent::AgentSession>(agent::StartLocalAgent(agent::AgentBesideMe()));
    s->Handshake(MIGRATE_VERSION);
    return s;
  };
}
}  // namespace

TEST_CASE("a RUN on one thread and the totals of a tree on another take turns on the agent's session") {
  REQUIRE(std::filesystem::exists(agent::AgentBesideMe()));
  TempDir dir("shared-agent");
  for (int i = 0; i < 50; ++i) std::ofstream(dir.path() + "/f" + std::to_string(i)) << std::string(100, 'x');
  int starts = 0;
  SharedAgent agent(LocalAgent(&starts));
  auto programs = agent.Programs(ThisHost());
  // A program printing many DATA frames while the other thread lists: without turns, frames
  // of one land in the other ("a DATA frame inside a listing").
  auto runs = std::async(std::launch::async, [&] {
    for (int i = 0; i < 40; ++i) {
      ProcResult r = programs->Run({"sh", "-c", "seq 1 20000"});
      if (!r.ok() || r.out.size() != 108894) return false;
    }
    return true;
  });
  for (int i = 0; i < 40; ++i) REQUIRE(agent.TreeBytes(dir.path(), dir.path()) == 5000);
  CHECK(runs.get());
  CHECK(starts == 1);  // one session, started by whichever asked first
  agent.Close();
}

TEST_CASE("a RUN asked while a merge source holds the agent's session waits for the source's end") {
  TempDir src("shared-agent-src"), dst("shared-agent-dst");
  for (int i = 0; i < 20; ++i) std::ofstream(src.path() + "/f" + std::to_string(i)) << "content " << i;
  int starts = 0;
  SharedAgent agent(LocalAgent(&starts));
  auto programs = agent.Programs(ThisHost());
  auto source = agent.OpenTree(src.path(), src.path(), dst.path());
  auto run = std::async(std::launch::async, [&] { return programs->Run({"echo", "after"}); });
  CHECK(run.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);  // waits its turn
  sync::MergeResult r = sync::Merge(*source, dst.path(), {});
  CHECK(r.stats.files_written == 20);
  source.reset();
  CHECK(run.get().out == "after\n");
  CHECK(starts == 1);
  agent.Close();
}
