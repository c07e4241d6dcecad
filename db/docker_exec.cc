#include "db/docker_exec.h"

#include <chrono>

#include "core/error.h"
#include "core/text.h"

namespace mig::db {

ProcResult Docker(const Host& host, std::vector<std::string> args, int seconds) {
  args.insert(args.begin(), "docker");
  try {
    return host.Run(args, {}, std::chrono::seconds(seconds));
  } catch (const Error& e) {
    ProcResult r;
    r.err = e.what();
    return r;
  }
}

uint64_t RelayOrFail(Proc& from, const Host& there, const std::vector<std::string>& into, const std::string& reading,
                     const std::string& unpacking, const std::function<void(uint64_t)>& progress) {
  auto in = there.Start(into, Proc::kStdin);
  const RelayResult rr = Relay(from, *in, progress);
  if (rr.from_code != 0 && !rr.to_stopped) Fail(reading + " failed: " + TrimEnd(from.err_text()));
  if (rr.to_stopped || rr.to_code != 0) Fail(unpacking + " failed: " + TrimEnd(in->err_text()));
  return rr.bytes;
}

}  // namespace mig::db
