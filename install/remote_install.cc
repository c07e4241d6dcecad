#include "install/remote_install.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/evp.h>

#include "core/error.h"
#include "core/files.h"
#include "docker/docker.h"
#include "install/legacy.h"

namespace fs = std::filesystem;

namespace mig {

namespace {

constexpr size_t kMaxFile = 4 << 20;  // a top-level file larger than this is not configuration

// Prints the folder's real path, "/PATH" for each of the paths after the folder's that exists
// there (a legacy release's root paths), then "NAME<TAB>BASE64" for each top-level regular file
// under 4 MiB (names with a newline or a tab are skipped: configuration files have none).
const char* const kListScript = R"(cd "$1" || exit 3
shift
pwd -P
for p in "$@"; do { [ -e "$p" ] || [ -L "$p" ]; } && printf '/%s\n' "$p"; done
for f in .[!.]* ..?* *; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  case "$f" in *'
'*|*'	'*) continue ;; esac
  s=$(wc -c < "$f") || continue
  [ "$s" -lt 4194304 ] || continue
  printf '%s\t' "$f"; base64 < "$f" | tr -d '\n'; echo
done)";

std::string DecodeBase64(const std::string& in, const std::string& what) {
  std::string out(in.size() / 4 * 3 + 3, '\0');
  int n = in.empty() ? 0 : EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                           reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0 || in.size() % 4 != 0) Fail("the old server sent " + what + " damaged (not base64): is base64 (coreutils) there?");
  size_t pad = in.size() >= 2 && in[in.size() - 1] == '=' ? (in[in.size() - 2] == '=' ? 2 : 1) : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace

Install LoadRemoteInstall(const Host& host, const std::string& path, const std::string& db_service,
                          const std::string& project_override, const compose::Env& process_env,
                          const std::string& mirror_root) {
  if (path.empty() || path[0] != '/')
    BadUsage("--from-path must be the absolute path of the old install on " + host.Describe());
  std::vector<std::string> argv{"sh", "-c", kListScript, "sh", path};
  argv.insert(argv.end(), kLegacyRootPaths.begin(), kLegacyRootPaths.end());
  ProcResult r = host.Run(argv);
  if (r.code == 3 || (!r.ok() && r.out.empty()))
    BadInput("the source folder " + path + " does not exist on " + host.Describe() + " (" + r.last_error_line() + ")");
  if (!r.ok()) Fail("cannot read the install " + path + " on " + host.Describe() + ": " + r.last_error_line());
  std::istringstream lines(r.out);
  std::string dir;
  std::getline(lines, dir);
  if (dir.empty() || dir[0] != '/' || dir.find('\0') != std::string::npos)
    Fail(host.Describe() + " answered an unusable folder name for " + path);
  std::string base = fs::path(dir).filename().string();
  if (base.empty() || base == "." || base == "..") base = "install";
  const std::string mirror = mirror_root + "/" + base;
  std::error_code ec;
  fs::remove_all(mirror, ec);
  fs::create_directories(mirror, ec);
  if (ec) Fail("cannot create " + mirror + ": " + ec.message());
  std::string line;
  std::vector<std::string> legacy;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == '/') {  // one of the paths asked about (only those are taken)
      const std::string p = line.substr(1);
      if (std::find(kLegacyRootPaths.begin(), kLegacyRootPaths.end(), p) != kLegacyRootPaths.end()) legacy.push_back(p);
      continue;
    }
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string name = line.substr(0, tab);
    // The far side is not trusted: one plain name, not a path.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") continue;
    if (line.size() - tab - 1 > kMaxFile / 3 * 4 + 8) Fail(dir + "/" + name + " on " + host.Describe() + " is larger than 4 MiB");
    std::string content = DecodeBase64(line.substr(tab + 1), dir + "/" + name);
    WriteFileAtomic(mirror + "/" + name, content, 0600);
  }
  if (compose::FindComposeFile(mirror).empty())
    BadInput("the source folder " + dir + " on " + host.Describe() + " is not an install: it has no docker-compose.yml");
  std::string project = project_override;
  if (project.empty()) project = docker::ProjectStartedFrom(dir, host);
  Install in = LoadInstall(mirror, "source", db_service, project, process_env);
  in.mirror = mirror;
  in.legacy_paths = legacy;
  in.project.file = dir + "/" + fs::path(in.project.file).filename().string();
  in.dir = dir;
  in.host = host.Describe();
  in.pg.host = &host;
  return in;
}

}  // namespace mig
