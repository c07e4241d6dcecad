// The docker CLI on a server, for the physical path's programs inside containers (db/ cannot
// use docker/: the layers; docs/architecture.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::db {

// docker ARGS on `host`; never throws: a program that cannot start or runs past `seconds` is
// code -1 with the reason in err.
ProcResult Docker(const Host& host, std::vector<std::string> args, int seconds);

// `from`'s output relayed into `into`, started on `there`; a failure names its side with that
// side's stderr (`reading ... failed`, `unpacking ... failed`). Returns the bytes relayed.
uint64_t RelayOrFail(Proc& from, const Host& there, const std::vector<std::string>& into, const std::string& reading,
                     const std::string& unpacking, const std::function<void(uint64_t)>& progress = {});

}  // namespace mig::db
