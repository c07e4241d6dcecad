#include "migrate/release.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "compose/compose.h"
#include "compose/rewrite.h"
#include "core/error.h"
#include "core/fd.h"

namespace fs = std::filesystem;

namespace mig {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) BadInput("cannot read " + path + ": " + ErrnoString());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to `path` with `mode`: temporary name, fsync, rename.
void WriteAtomically(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".migrate-tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777));
  if (!fd.valid()) Fail("cannot write " + tmp + ": " + ErrnoString());
  bool ok = ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fchmod(fd.get(), mode & 07777) == 0 && ::fsync(fd.get()) == 0;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    Fail("cannot write " + path + ": " + ErrnoString(e));
  }
}

}  // namespace

int ReleasePrefix(const PrefixOptions& o) {
  std::string file = o.file;
  if (file.empty()) {
    file = compose::FindComposeFile(fs::current_path().string());
    if (file.empty()) BadInput("no docker-compose.yml in the current folder: give it with -f FILE");
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) BadInput("the compose file " + file + " does not exist");
  const std::string before = ReadAll(file);
  compose::VolumePrefixPlan plan = compose::PlanVolumePrefix(before, file, o.prefix);
  for (const auto& w : plan.warnings) std::cerr << "warning: " << w << "\n";
  const std::string after = compose::ApplyEdits(before, plan.edits);
  if (after == before) {
    std::cout << file << ": already prefixed with " << o.prefix << ", nothing to change\n";
    return 0;
  }
  std::cout << "--- " << file << "\n+++ " << file << (o.dry_run ? " (dry run: not written)" : "") << "\n"
            << compose::LineDiff(before, after);
  if (o.dry_run) return 0;
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) Fail("cannot read " + file + ": " + ErrnoString());
  const std::string backup = file + ".orig-" + stamp;
  WriteAtomically(backup, before, st.st_mode);
  WriteAtomically(file, after, st.st_mode);
  std::cout << "written; the original is kept as " << backup << "\n";
  for (const auto& [key, name] : plan.names) std::cout << "  volume " << key << " -> " << name << "\n";
  return 0;
}

}  // namespace mig
