// Questions asked at once: each answer is what the program asked alone gives, taken once.
#include "core/prefetch_host.h"

#include <atomic>
#include <catch2/catch.hpp>

namespace mig {

namespace {

// This machine, counting the programs it runs.
class CountingHost : public HostInFront {
 public:
  CountingHost() : HostInFront(ThisHost()) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    ++runs;
    return inner_.Run(argv, input, timeout);
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    return inner_.Start(argv, pipes);
  }
  mutable std::atomic<int> runs{0};
};

}  // namespace

TEST_CASE("questions asked at once answer as each program alone, each answer taken once") {
  const std::vector<std::vector<std::string>> argvs = {
      {"printf", "%s\\n", "it's", "two words", "{{json .Swarm}}"},
      {"sh", "-c", "echo out; echo 'an error' >&2; exit 3"},
      {"true"},
      {"sh", "-c", "printf 'no newline at the end'; printf '12 0 3 4\\n' >&2"},
      {"sh", "-c", "sleep 0.3; echo slow"},
      {"sh", "-c", "cd \"$1\" || exit 3\npwd\nprintf '%s\\n' \"$@\"", "sh", "/", "two\nlines"},  // newlines
  };
  CountingHost inner;
  PrefetchHost host(inner);
  REQUIRE(host.Prefetch(argvs, std::chrono::seconds(30)));
  CHECK(inner.runs == 1);  // one program for all of them
  CHECK(host.waiting() == argvs.size());
  for (const auto& argv : argvs) {
    const ProcResult alone = ThisHost().Run(argv, {}, std::chrono::seconds(30));
    const ProcResult kept = host.Run(argv);
    INFO(CommandLine(argv));
    CHECK(kept.code == alone.code);
    CHECK(kept.out == alone.out);
    CHECK(kept.err == alone.err);
  }
  CHECK(inner.runs == 1);
  CHECK(host.waiting() == 0);
  CHECK(host.Run({"sh", "-c", "echo out; echo 'an error' >&2; exit 3"}).code == 3);  // asked again: runs
  CHECK(inner.runs == 2);
}

TEST_CASE("a kept answer is not given to a program that reads input, nor after a failed prefetch") {
  CountingHost inner;
  PrefetchHost host(inner);
  REQUIRE(host.Prefetch({{"cat"}, {"migrate-no-such-program", "x"}}, std::chrono::seconds(30)));
  CHECK(host.waiting() == 1);  // the program that cannot start is asked again, where it is said
  CHECK_THROWS_WITH(host.Run({"migrate-no-such-program", "x"}), Catch::Contains("not installed"));
  CHECK(host.Run({"cat"}, "fed").out == "fed");
  CHECK(inner.runs == 3);
}

namespace {

// A host whose every program answers `answer`.
class AnsweringHost : public HostInFront {
 public:
  explicit AnsweringHost(ProcResult answer) : HostInFront(ThisHost()), answer_(std::move(answer)) {}
  ProcResult Run(const std::vector<std::string>&, const std::string&, std::chrono::seconds) const override {
    ++runs;
    return answer_;
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    return inner_.Start(argv, pipes);
  }
  mutable int runs = 0;

 private:
  ProcResult answer_;
};

}  // namespace

TEST_CASE("a prefetch that fails or answers garbage keeps nothing: the programs are asked one by one") {
  ProcResult garbled;
  garbled.code = 0;
  garbled.out = "not what the script prints\n";
  ProcResult failed;
  failed.code = 125;  // no mktemp there
  for (const ProcResult& answer : {garbled, failed}) {
    AnsweringHost inner(answer);
    PrefetchHost host(inner);
    CHECK_FALSE(host.Prefetch({{"docker", "version"}}, std::chrono::seconds(30)));
    CHECK(host.waiting() == 0);
    host.Run({"docker", "version"});
    CHECK(inner.runs == 2);  // asked again
  }
  CountingHost real;
  PrefetchHost none(real);
  CHECK_FALSE(none.Prefetch({}, std::chrono::seconds(30)));  // nothing to ask: no program
  CHECK(real.runs == 0);
  const std::vector<std::vector<std::string>> long_argvs{{"test", "-d", std::string(5000, 'x')}};
  CHECK_FALSE(none.Prefetch(long_argvs, std::chrono::seconds(30), 4096));  // over the agent's limit: not sent
  CHECK(real.runs == 0);
}

TEST_CASE("an answer that is not what the prefetch script prints is refused whole") {
  CHECK(ParsePrefetchOutput("0 0 3 0\nabc2 2 0 0\n", 2) == std::nullopt);       // index out of order
  CHECK(ParsePrefetchOutput("0 0 9 0\nabc", 1) == std::nullopt);                // more bytes said than sent
  CHECK(ParsePrefetchOutput("0 0 3 0\nabcextra", 1) == std::nullopt);           // bytes after the last
  CHECK(ParsePrefetchOutput("0 300 0 0\n", 1) == std::nullopt);                 // no exit code
  CHECK(ParsePrefetchOutput("0 0 18446744073709551615 1\nx", 1) == std::nullopt);  // sizes past the end
  CHECK(ParsePrefetchOutput("0 0 18446744073709551616 0\n", 1) == std::nullopt);  // a number that overflows
  CHECK(ParsePrefetchOutput("0 0 -1 0\n", 1) == std::nullopt);
  CHECK(ParsePrefetchOutput("0 0 +1 0\nx", 1) == std::nullopt);
  CHECK(ParsePrefetchOutput("0 0 3 0\nabc", 2) == std::nullopt);                // an answer missing
  const auto ok = ParsePrefetchOutput("0 1 3 2\nabcde1 0 0 0\n", 2);
  REQUIRE(ok);
  CHECK((*ok)[0].code == 1);
  CHECK((*ok)[0].out == "abc");
  CHECK((*ok)[0].err == "de");
  CHECK((*ok)[1].ok());
}

}  // namespace mig
