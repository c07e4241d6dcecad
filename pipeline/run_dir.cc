#include "pipeline/run_dir.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/files.h"
#include "core/timer.h"
#include "pipeline/run_state.h"

namespace fs = std::filesystem;

namespace mig {

std::string MigrationRoot(const std::string& temp_dir, const std::string& to_dir) {
  return temp_dir.empty() ? to_dir + "/migration" : temp_dir;
}

std::string CopyMarkerFile(const std::string& root) { return root + "/physical-copy.json"; }

RunDir OpenRunDir(const std::string& root) {
  std::optional<std::string> named = ReadSmallFile(root + "/in-progress", 4096);
  std::string ts = named ? named->substr(0, named->find('\n')) : "";
  std::error_code ec;
  RunDir d;
  if (!ts.empty() && ts.find('/') == std::string::npos && ts != "." && ts != ".." &&
      fs::is_directory(root + "/" + ts, ec)) {
    d.resumed = true;
  } else {
    ts = UtcNow(kStampFormat);
    if (fs::exists(root + "/" + ts, ec)) ts += "-" + std::to_string(::getpid());
    fs::create_directories(root + "/" + ts, ec);
    if (ec) Fail("cannot create " + root + "/" + ts + ": " + ec.message());
    RunState{}.Save(root + "/" + ts + "/state.json");
    WriteFileAtomic(root + "/in-progress", ts + "\n");
  }
  d.path = root + "/" + ts;
  return d;
}

void CloseRunDir(const std::string& root) { ::unlink((root + "/in-progress").c_str()); }

}  // namespace mig
