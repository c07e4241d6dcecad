// The old server as a Host: docker, compose and the postgres tools run there through exec
// channels of one SSH session, so the pipeline's steps need not know the source is remote.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/process.h"
#include "ssh/session.h"

namespace mig::ssh {

// argv as one POSIX shell command line, every word single-quoted.
std::string ShellQuote(const std::vector<std::string>& argv);

// Programs on the far side of `s` (which must outlive it). Calls from several threads are
// serialized on the session.
class RemoteHost : public Host {
 public:
  explicit RemoteHost(Session& s) : s_(s) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input = {},
                 std::chrono::seconds timeout = std::chrono::seconds(0)) const override;
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override;
  std::string Describe() const override { return s_.target().Show(); }
  // Reads a small file there (at most `max` bytes); nullopt-like "" + false when absent.
  bool ReadFile(const std::string& path, std::string& out, size_t max = 4 << 20) const;

 private:
  Session& s_;
};

}  // namespace mig::ssh
