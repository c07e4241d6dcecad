#include "migrate/run_main.h"

#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <iostream>

#include "core/error.h"
#include "core/recorded_host.h"
#include "docker/engine_exec.h"
#include "pipeline/dns_hook.h"
#include "pipeline/report.h"

namespace mig {

int RunMain(const std::string& program, const std::function<int()>& body) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that exits early is an error we report, not a kill
  // File names are bytes, most of them UTF-8: libarchive writes them into an exported backup as
  // pax UTF-8 names only when the locale's character set is UTF-8 (else as "binary" names,
  // which GNU tar warns about). Only LC_CTYPE: numbers and messages stay as in C.
  std::setlocale(LC_CTYPE, "C.UTF-8");
  // The merge holds a folder descriptor per file of a batch waiting for its rename (up to 1000)
  // besides its cache: the usual soft limit of 1024 is too tight; the hard limit is not.
  struct rlimit nofile {};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, 65536);
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // `docker exec`, `start` and `stop` through this engine's API where the CLI would reach it
  // (docs/engine-exec.md).
  const docker::ExecHost through_api(RealThisHost());
  // MIGRATE_RECORD_PROGRAMS=FILE: every program this machine runs, recorded in front of that
  // (the argv as asked, however it was carried: bench/fixed.sh's timeline) for the pipeline's
  // replayed tests (core/recorded_host.h; their recording sets MIGRATE_DOCKER_API=0, so that
  // the recorded outputs are the CLI's); MIGRATE_RECORD_ROOT: the folder to abstract.
  std::optional<RecordingHost> recorder;
  if (const char* file = std::getenv("MIGRATE_RECORD_PROGRAMS"); file && *file) {
    const char* root = std::getenv("MIGRATE_RECORD_ROOT");
    recorder.emplace(through_api, file, root ? root : "");
  }
  const Host& this_machine = recorder ? static_cast<const Host&>(*recorder) : through_api;
  const ThisHostOverride installed(this_machine);
  try {
    return body();
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see %s --help)\n", program.c_str(), e.what(), program.c_str());
    return kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return kExitFailed;
  }
}

int FinishRun(const Report& r, bool json) {
  if (json) std::cout << r.ToJson().dump(2) << "\n";
  else std::cout << r.Summary();
  std::cout.flush();
  FailIfDnsHookFailed(r);  // its own sentence: the migration itself succeeded
  for (const auto& s : r.steps)
    if (s.status == "failed")
      Fail("the step '" + s.name + "' failed (" + s.detail + "); the rest of the run succeeded: see the next steps "
           "for how to finish it by hand");
  return kExitOk;
}

}  // namespace mig
