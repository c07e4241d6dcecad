#include "docker/docker.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/process.h"

namespace mig::docker {

namespace {

constexpr std::chrono::seconds kQueryTimeout(60);
constexpr std::chrono::seconds kComposeTimeout(600);

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) out.push_back(std::move(cur)), cur.clear();
    else cur += c;
  }
  out.push_back(cur);
  return out;
}

}  // namespace

const char* const kEngineFix = "start it (systemctl start docker) or check that this user may use it";

EngineAnswer ProbeEngine(const Host& host) {
  ProcResult r = host.Run({"docker", "version", "--format", "{{.Server.Version}}"}, {}, kQueryTimeout);
  if (!r.ok()) return {"", r.last_error_line()};
  return {Lines(r.out).empty() ? "" : Lines(r.out).front(), ""};
}

std::string EngineVersion(const Host& host) {
  EngineAnswer a = ProbeEngine(host);
  if (!a.error.empty())
    Fail("the docker engine does not answer (" + a.error + ")" + (host.local() ? "" : " on " + host.Describe()) +
         ": " + kEngineFix);
  return a.version;
}

namespace {

// Where compose versions are kept: $XDG_CACHE_HOME/migrate or ~/.cache/migrate ("" when unknown).
std::string VersionCacheFile() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string dir = xdg && *xdg ? std::string(xdg) + "/migrate" : home && *home ? std::string(home) + "/.cache/migrate" : "";
  return dir.empty() ? "" : dir + "/compose-version";
}

// "path size mtime" of the program PATH finds, "" when none.
std::string VersionCacheKey(const std::string& program) {
  std::string path = FindProgram(program);
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return "";
  return path + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// The version kept for `key` ("" when none): the file holds "KEY\tVERSION" lines.
std::string CachedVersion(const std::string& key) {
  std::ifstream in(VersionCacheFile());
  std::string line;
  while (std::getline(in, line))
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == '\t')
      return line.substr(key.size() + 1);
  return "";
}

void CacheVersion(const std::string& key, const std::string& version) {
  const std::string file = VersionCacheFile();
  if (file.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  try {
    WriteFileAtomic(file, key + "\t" + version + "\n");  // one program, one line: the newest
  } catch (const Error&) {
    // A cache that cannot be written costs the next run half a second, nothing more.
  }
}

}  // namespace

ComposeTool DetectCompose(const Host& host) {
  if (!host.local()) {
    // Another server: one login for both questions (each command there is a login over SSH).
    ProcResult r = host.Run({"sh", "-c",
                             "if docker compose version --short 2>/dev/null; then echo v2; "
                             "elif docker-compose version --short 2>/dev/null; then echo v1; fi"},
                            {}, kQueryTimeout);
    auto l = Lines(r.out);
    if (r.ok() && l.size() >= 2 && (l.back() == "v2" || l.back() == "v1"))
      return {l.back() == "v2" ? std::vector<std::string>{"docker", "compose"} : std::vector<std::string>{"docker-compose"},
              l[l.size() - 2]};
    Fail("neither 'docker compose' (v2) nor 'docker-compose' (v1) answers on " + host.Describe() + ": install one of them");
  }
  ProcResult v2 = host.Run({"docker", "compose", "version", "--short"}, {}, kQueryTimeout);
  if (v2.ok() && !Lines(v2.out).empty()) return {{"docker", "compose"}, Lines(v2.out).front()};
  // v1 is a Python program that takes half a second to say its version: on this machine the
  // answer is kept per executable (path, size, time) in ~/.cache/migrate/compose-version.
  std::string key = host.local() ? VersionCacheKey("docker-compose") : "";
  if (!key.empty())
    if (std::string cached = CachedVersion(key); !cached.empty()) return {{"docker-compose"}, cached};
  try {
    ProcResult v1 = host.Run({"docker-compose", "version", "--short"}, {}, kQueryTimeout);
    if (v1.ok() && !Lines(v1.out).empty()) {
      if (!key.empty()) CacheVersion(key, Lines(v1.out).front());
      return {{"docker-compose"}, Lines(v1.out).front()};
    }
  } catch (const Error&) {
  }
  Fail("neither 'docker compose' (v2) nor 'docker-compose' (v1) answers on " + host.Describe() + ": install one of them");
}

bool Container::healthy_or_no_check() const {
  return status.find("(health: starting)") == std::string::npos && !unhealthy();
}
bool Container::unhealthy() const { return status.find("(unhealthy)") != std::string::npos; }

std::vector<std::string> Stack::Command(const std::vector<std::string>& args) const {
  std::vector<std::string> c = tool_.argv;
  c.insert(c.end(), {"-p", project_, "-f", file_, "--project-directory", dir_});
  c.insert(c.end(), args.begin(), args.end());
  return c;
}

void Stack::Run(const std::vector<std::string>& args, std::chrono::seconds timeout) const {
  auto cmd = Command(args);
  ProcResult r = host_->Run(cmd, {}, timeout);
  if (!r.ok()) Fail(CommandLine(cmd) + (host_->local() ? "" : " on " + host_->Describe()) + " failed: " + r.last_error_line());
}

void Stack::Up(const std::vector<std::string>& services) const {
  std::vector<std::string> args = {"up", "-d"};
  args.insert(args.end(), services.begin(), services.end());
  Run(args, kComposeTimeout);
}

void Stack::Stop(const std::vector<std::string>& services) const {
  std::vector<std::string> args = {"stop"};
  args.insert(args.end(), services.begin(), services.end());
  Run(args, kComposeTimeout);
}

std::vector<Container> ProjectContainers(const std::string& project, const Host& host) {
  ProcResult r = host.Run({"docker", "ps", "-a", "--filter", "label=com.docker.compose.project=" + project,
                             "--format",
                             "{{.ID}}\t{{.Names}}\t{{.Label \"com.docker.compose.service\"}}\t{{.State}}\t{{.Status}}"},
                            {}, kQueryTimeout);
  if (!r.ok()) Fail("docker ps failed: " + r.last_error_line());
  std::vector<Container> out;
  for (const auto& l : Lines(r.out)) {
    auto f = Split(l, '\t');
    if (f.size() < 5) continue;
    out.push_back({f[0], f[1], f[2], f[3], f[4]});
  }
  return out;
}

std::vector<Container> Stack::Containers() const { return ProjectContainers(project_, *host_); }

std::string Stack::RunningContainer(const std::string& service) const {
  for (const auto& c : Containers())
    if (c.service == service && c.running()) return c.name;
  return "";
}

void Stack::WaitUp(const std::vector<std::string>& services, std::chrono::seconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto cs = Containers();
    std::vector<std::string> waiting;
    for (const auto& s : services) {
      bool ok = false;
      std::string why = "no container";
      for (const auto& c : cs) {
        if (c.service != s) continue;
        if (c.running() && c.healthy_or_no_check()) ok = true;
        else why = c.status;
      }
      if (!ok) waiting.push_back(s + " (" + why + ")");
    }
    if (waiting.empty()) return;
    if (std::chrono::steady_clock::now() > deadline) {
      std::string list;
      for (const auto& w : waiting) list += (list.empty() ? "" : ", ") + w;
      Fail("services of project " + project_ + " are not up after " + std::to_string(timeout.count()) +
           " s: " + list + "; see: " + CommandLine(Command({"logs", "--tail", "50"})));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::string ProjectStartedFrom(const std::string& dir, const Host& host) {
  ProcResult r = host.Run({"docker", "ps", "-a", "--filter", "label=com.docker.compose.project.working_dir=" + dir,
                             "--format", "{{.Label \"com.docker.compose.project\"}}"},
                            {}, kQueryTimeout);
  if (!r.ok()) return "";
  auto l = Lines(r.out);
  return l.empty() ? "" : l.front();
}

std::vector<std::string> VolumeNames(const Host& host) {
  ProcResult r = host.Run({"docker", "volume", "ls", "--format", "{{.Name}}"}, {}, kQueryTimeout);
  if (!r.ok()) Fail("docker volume ls failed on " + host.Describe() + ": " + r.last_error_line());
  return Lines(r.out);
}

std::vector<std::string> ContainersPublishing(int port, const std::string& except_project) {
  ProcResult r = ThisHost().Run({"docker", "ps", "--filter", "publish=" + std::to_string(port), "--format",
                                 "{{.Names}}\t{{.Label \"com.docker.compose.project\"}}\t{{.Label \"com.docker.compose.service\"}}"},
                                {}, kQueryTimeout);
  std::vector<std::string> out;
  if (!r.ok()) return out;
  for (const auto& l : Lines(r.out)) {
    auto f = Split(l, '\t');
    if (f.size() < 3 || f[1] == except_project) continue;
    out.push_back(f[0] + (f[1].empty() ? "" : " (project " + f[1] + ", service " + f[2] + ")"));
  }
  return out;
}


}  // namespace mig::docker
