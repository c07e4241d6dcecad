#include "core/version_cache.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "core/process.h"
#include "core/text.h"

namespace mig {

namespace {

// "PATH SIZE MTIME" of the program PATH finds, "" when none.
std::string ExecutableKey(const std::string& program) {
  std::string path = FindProgram(program);
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return "";
  return path + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

std::string VersionCacheFile() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string dir = xdg && *xdg ? std::string(xdg) + "/migrate" : home && *home ? std::string(home) + "/.cache/migrate" : "";
  return dir.empty() ? "" : dir + "/versions";
}

std::string CachedVersion(const std::string& program, const std::function<std::string()>& ask,
                          const std::function<bool(const std::string&)>& usable) {
  const std::string file = VersionCacheFile();
  const std::string key = ExecutableKey(program);
  if (file.empty() || key.empty()) return ask();
  std::string kept;  // the other programs' lines
  {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      auto f = Split(line, '\t');
      if (f.size() != 3) continue;  // damaged: dropped
      if (f[0] != program) kept += line + "\n";
      else if (f[1] == key && !f[2].empty() && (!usable || usable(f[2]))) return f[2];
    }
  }
  std::string version = ask();
  if (version.empty() || version.find_first_of("\t\n") != std::string::npos) return version;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  try {
    WriteFileAtomic(file, kept + program + "\t" + key + "\t" + version + "\n");
  } catch (const Error&) {
    // not kept: the next run asks again
  }
  return version;
}

}  // namespace mig
