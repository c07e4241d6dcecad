// This machine's programs with the docker engine's API left aside: the docker CLI answers every
// question and runs every `docker exec` (the oracle of docker/engine_api_test.cc and
// docker/engine_exec_test.cc). Not engine_api(), so docker/ never asks the socket for it.
#pragma once

#include "core/process.h"

namespace mig {

class CliHost : public Host {
 public:
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    return ThisHost().Run(argv, input, timeout);
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    return ThisHost().Start(argv, pipes);
  }
  std::string Describe() const override { return "this machine (CLI)"; }
  bool local() const override { return true; }
};

}  // namespace mig
