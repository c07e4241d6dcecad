#include "docker/docker.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/process.h"
#include "core/text.h"
#include "core/version_cache.h"
#include "docker/engine_api.h"

namespace fs = std::filesystem;

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

// A label of a container in the engine's API answer, or "".
std::string Label(const nlohmann::json& container, const std::string& key) {
  if (!container.contains("Labels") || !container["Labels"].is_object()) return "";
  const auto& labels = container["Labels"];
  const auto it = labels.find(key);
  return it != labels.end() && it->is_string() ? it->get<std::string>() : "";
}

// A container of the engine's API answer (GET /containers/json) as `docker ps` shows it.
Container FromApi(const nlohmann::json& c) {
  Container out;
  out.id = c.value("Id", "").substr(0, 12);  // docker ps's short id
  // docker ps's name: the first without a '/' once its leading one is gone (the engine lists a
  // legacy link's alias, "/app_1/db", among a container's names too).
  if (c.contains("Names") && c["Names"].is_array())
    for (const auto& n : c["Names"]) {
      if (!n.is_string()) continue;
      std::string name = n.get<std::string>();
      if (!name.empty() && name[0] == '/') name.erase(0, 1);
      if (out.name.empty()) out.name = name;  // none without a '/': the first, as docker ps
      if (name.find('/') == std::string::npos) {
        out.name = name;
        break;
      }
    }
  out.service = Label(c, "com.docker.compose.service");
  out.state = c.value("State", "");
  out.status = c.value("Status", "");
  out.oneoff = Label(c, "com.docker.compose.oneoff") == "True";
  out.config_hash = Label(c, "com.docker.compose.config-hash");
  out.image_id = c.value("ImageID", "");
  return out;
}

// Whether the docker CLI of this machine has the compose plugin (v2): a file in one of the
// folders it looks in. Unsure counts as yes: extra folders configured, or a docker outside
// /usr (a snap's or Nix's, whose build may add a plugin folder of its own).
bool ComposePluginHere() {
  const std::string docker = FindProgram("docker");
  std::error_code ec;
  const std::string real = docker.empty() ? "" : fs::canonical(docker, ec).string();
  if (real.rfind("/usr/", 0) != 0) return true;
  std::vector<std::string> dirs = {"/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                                   "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins"};
  const char* config = std::getenv("DOCKER_CONFIG");
  const char* home = std::getenv("HOME");
  const std::string own = config && *config ? config : home && *home ? std::string(home) + "/.docker" : "";
  if (!own.empty()) {
    dirs.push_back(own + "/cli-plugins");
    std::ifstream in(own + "/config.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("cliPluginsExtraDirs") != std::string::npos) return true;
  }
  for (const auto& d : dirs)
    if (::access((d + "/docker-compose").c_str(), X_OK) == 0) return true;
  return false;
}

}  // namespace

const char* const kEngineFix = "start it (systemctl start docker) or check that this user may use it";

std::vector<std::string> EngineVersionArgv() { return {"docker", "version", "--format", "{{.Server.Version}}"}; }

std::vector<std::string> RemoteComposeProbeArgv() {
  return {"sh", "-c",
         "v=; if docker compose version --short 2>/dev/null; then echo v2; exit 0; fi; "
         "p=$(command -v docker-compose) || exit 0; "
         "c=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/migrate/compose-version; "
         "k=\"$p $(stat -Lc '%s %Y' \"$p\" 2>/dev/null)\"; "
         "if [ -O \"${HOME:-/nonexistent}\" ] && [ \"$(head -n 1 \"$c\" 2>/dev/null)\" = \"$k\" ]; then v=$(sed -n 2p \"$c\"); fi; "
         "if [ -z \"$v\" ]; then v=$(docker-compose version --short 2>/dev/null) || exit 0; "
         "[ -O \"${HOME:-/nonexistent}\" ] && { mkdir -p \"${c%/*}\" && printf '%s\\n%s\\n' \"$k\" \"$v\" >\"$c.$$\" && "
         "mv -f \"$c.$$\" \"$c\"; } 2>/dev/null; fi; "
         "[ -n \"$v\" ] && printf '%s\\nv1\\n' \"$v\""};
}

EngineAnswer ProbeEngine(const Host& host) {
  try {
    // The docker client is needed all the same (docker exec, stop, stack): without it the CLI
    // below fails to start and says so.
    if (!host.engine_api() || !FindProgram("docker").empty())
      if (auto v = api::Get(host, "/version"); v && v->contains("Version")) return {v->value("Version", ""), ""};
  } catch (const Error&) {  // the CLI says it in its words
  }
  ProcResult r = host.Run(EngineVersionArgv(), {}, kQueryTimeout);
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

ComposeTool DetectCompose(const Host& host) {
  if (!host.local()) {
    // Another server: one program for both questions (each is a login over SSH, or a turn of
    // the agent's one session). A v1 there (Python: half a second or more) keeps its answer in
    // that server's own cache, per executable (path, size, mtime), as this machine does
    // (core/version_cache.h); only where HOME is the user's own (not under sudo keeping the
    // user's HOME). The version is only shown: a v1 broken since it was kept still passes here
    // and fails, with its own error, where compose is run. One line: a csh login shell takes
    // no newline inside quotes.
    ProcResult r = host.Run(RemoteComposeProbeArgv(), {}, kQueryTimeout);
    auto l = Lines(r.out);
    if (r.ok() && l.size() >= 2 && (l.back() == "v2" || l.back() == "v1"))
      return {l.back() == "v2" ? std::vector<std::string>{"docker", "compose"} : std::vector<std::string>{"docker-compose"},
              l[l.size() - 2]};
    Fail("neither 'docker compose' (v2) nor 'docker-compose' (v1) answers on " + host.Describe() + ": install one of them");
  }
  // The plugin's absence is seen without asking (a docker process) on this machine's own host; a
  // stand-in for it (a replay: core/recorded_host.h) is asked, as it answers what was recorded.
  const bool ask_v2 = !host.engine_api() || ComposePluginHere();
  const auto v2 = [&host]() -> std::optional<ComposeTool> {
    ProcResult r = host.Run({"docker", "compose", "version", "--short"}, {}, kQueryTimeout);
    if (r.ok() && !Lines(r.out).empty()) return ComposeTool{{"docker", "compose"}, Lines(r.out).front()};
    return std::nullopt;
  };
  if (ask_v2)
    if (auto t = v2()) return *t;
  // v1 is a Python program that takes half a second to say its version: its answer is kept
  // per executable (core/version_cache.h).
  std::string v1 = CachedVersion("docker-compose", [&host] {
    try {
      ProcResult r = host.Run({"docker-compose", "version", "--short"}, {}, kQueryTimeout);
      if (r.ok() && !Lines(r.out).empty()) return Lines(r.out).front();
    } catch (const Error&) {
    }
    return std::string();
  });
  if (!v1.empty()) return {{"docker-compose"}, v1};
  if (!ask_v2)
    if (auto t = v2()) return *t;
  Fail("neither 'docker compose' (v2) nor 'docker-compose' (v1) answers on " + host.Describe() + ": install one of them");
}

bool Container::healthy_or_no_check() const {
  return status.find("(health: starting)") == std::string::npos && !unhealthy();
}
bool Container::unhealthy() const { return status.find("(unhealthy)") != std::string::npos; }

std::shared_future<ComposeTool> Stack::Ready(ComposeTool tool) {
  std::promise<ComposeTool> p;
  p.set_value(std::move(tool));
  return p.get_future().share();
}

std::vector<std::string> Stack::Command(const std::vector<std::string>& args) const {
  std::vector<std::string> c = tool_.get().argv;
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

std::optional<std::map<std::string, std::string>> Stack::ConfigHashes() const {
  const ComposeTool& tool = tool_.get();
  if (tool.argv.size() != 1) return std::nullopt;  // v2: `docker compose`
  ProcResult r = host_->Run(Command({"config", "--hash=*"}), {}, kQueryTimeout);
  if (!r.ok()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& l : Lines(r.out)) {
    const auto f = Split(l, ' ');
    if (f.size() != 2 || f[1].size() != 64) return std::nullopt;  // not what 1.29 prints
    out[f[0]] = f[1];
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool UpToDate(const std::map<std::string, std::string>& hashes, const std::vector<compose::Service>& services,
              const std::map<std::string, std::string>& images, const std::vector<Container>& containers) {
  for (const auto& svc : services)
    if (svc.scaled) return false;
  for (const auto& [service, hash] : hashes) {
    const auto image = images.find(service);
    if (image == images.end() || image->second.empty()) return false;
    int made = 0;
    for (const auto& c : containers) {
      if (c.service != service || c.oneoff) continue;
      if (!c.running() || c.config_hash != hash || c.image_id != image->second) return false;
      ++made;
    }
    if (made != 1) return false;
  }
  return true;
}

std::string ImageId(const std::string& ref, const Host& host) {
  try {
    if (auto j = api::Get(host, "/images/" + ref + "/json"); j && j->is_object()) return j->value("Id", "");
  } catch (const Error&) {  // no such image: the engine's 404
  }
  return "";
}

void Stack::Stop(const std::vector<std::string>& services) const {
  std::vector<std::string> args = {"stop"};
  args.insert(args.end(), services.begin(), services.end());
  Run(args, kComposeTimeout);
}

std::vector<std::vector<std::string>> StopOrder(const std::vector<compose::Service>& services) {
  std::vector<const compose::Service*> left;
  for (const auto& s : services) left.push_back(&s);
  std::vector<std::vector<std::string>> levels;
  while (!left.empty()) {
    std::vector<const compose::Service*> now, later;
    for (const auto* s : left) {
      const bool needed = std::any_of(left.begin(), left.end(), [s](const compose::Service* o) {
        return o != s && std::find(o->needs.begin(), o->needs.end(), s->name) != o->needs.end();
      });
      (needed ? later : now).push_back(s);
    }
    if (now.empty()) now.swap(later);  // a cycle: what is left, at once
    levels.emplace_back();
    for (const auto* s : now) levels.back().push_back(s->name);
    left.swap(later);
  }
  return levels;
}

void Stack::StopServices(const std::vector<compose::Service>& services) const {
  // `docker stop` rather than `compose stop`: one Go program per level instead of compose's
  // start-up (seconds for docker-compose 1.x's Python on a busy machine, inside a cutover's
  // downtime), with compose stop's rules: dependents before what they need, each service's
  // stop_grace_period (-t; compose 1.x writes it into the container only for file formats of API
  // 1.25 and later, so it is given here), the container's own stop signal, one-off containers
  // (compose run) left alone.
  const std::vector<Container> cs = Containers();
  for (const auto& level : StopOrder(services)) {
    std::map<int, std::vector<std::string>> by_grace;  // -t -> the containers
    for (const auto& name : level) {
      const auto svc = std::find_if(services.begin(), services.end(), [&](const compose::Service& s) { return s.name == name; });
      const int grace = svc->stop_grace_seconds < 0 ? 10 : svc->stop_grace_seconds;
      for (const auto& c : cs)
        if (c.service == name && !c.oneoff && (c.running() || c.state == "restarting" || c.state == "paused"))
          by_grace[grace].push_back(c.id);
    }
    for (const auto& [grace, ids] : by_grace) {
      std::vector<std::string> argv = {"docker", "stop", "-t", std::to_string(grace)};
      argv.insert(argv.end(), ids.begin(), ids.end());
      ProcResult r = host_->Run(argv, {}, std::max(kComposeTimeout, std::chrono::seconds(grace + 60)));
      if (!r.ok())
        Fail("cannot stop the services " + Joined(level) + " of project " + project_ +
             (host_->local() ? "" : " on " + host_->Describe()) + ": " + r.error_tail() +
             "; see: docker ps -a --filter label=com.docker.compose.project=" + project_);
    }
  }
}

std::vector<Container> ProjectContainers(const std::string& project, const Host& host) {
  if (auto j = api::Get(host, "/containers/json?all=1&filters=" +
                                  api::Filter("label", "com.docker.compose.project=" + project))) {
    std::vector<Container> out;
    for (const auto& c : *j) out.push_back(FromApi(c));
    return out;
  }
  ProcResult r = host.Run({"docker", "ps", "-a", "--filter", "label=com.docker.compose.project=" + project,
                             "--format",
                             "{{.ID}}\t{{.Names}}\t{{.Label \"com.docker.compose.service\"}}\t{{.State}}\t{{.Status}}\t"
                             "{{.Label \"com.docker.compose.oneoff\"}}\t{{.Label \"com.docker.compose.config-hash\"}}"},
                            {}, kQueryTimeout);
  if (!r.ok()) Fail("docker ps failed: " + r.last_error_line());
  std::vector<Container> out;
  for (const auto& l : Lines(r.out)) {
    auto f = Split(l, '\t');
    if (f.size() < 5) continue;
    out.push_back({f[0], f[1], f[2], f[3], f[4], f.size() > 5 && f[5] == "True", f.size() > 6 ? f[6] : "", ""});
  }
  return out;
}

std::vector<Container> Stack::Containers() const { return ProjectContainers(project_, *host_); }

std::string RunningContainer(const std::vector<Container>& containers, const std::string& service) {
  for (const auto& c : containers)
    if (c.service == service && c.running() && !c.oneoff) return c.name;
  return "";
}

std::string Stack::RunningContainer(const std::string& service) const {
  return docker::RunningContainer(Containers(), service);
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
        if (c.service != s || c.oneoff) continue;
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

std::vector<std::string> ProjectStartedFromArgv(const std::string& dir) {
  return {"docker", "ps", "-a", "--filter", "label=com.docker.compose.project.working_dir=" + dir,
          "--format", "{{.Label \"com.docker.compose.project\"}}"};
}

std::string ProjectStartedFrom(const std::string& dir, const Host& host) {
  try {
    if (auto j = api::Get(host, "/containers/json?all=1&filters=" +
                                    api::Filter("label", "com.docker.compose.project.working_dir=" + dir)))
      return j->empty() ? "" : Label(j->front(), "com.docker.compose.project");
  } catch (const Error&) {
    return "";  // as a docker ps that failed
  }
  ProcResult r = host.Run(ProjectStartedFromArgv(dir), {}, kQueryTimeout);
  if (!r.ok()) return "";
  auto l = Lines(r.out);
  return l.empty() ? "" : l.front();
}

std::vector<std::string> VolumeNames(const Host& host) {
  if (auto j = api::Get(host, "/volumes")) {
    std::vector<std::string> out;
    if (j->contains("Volumes") && (*j)["Volumes"].is_array())
      for (const auto& v : (*j)["Volumes"]) out.push_back(v.value("Name", ""));
    // Sorted (docker volume ls sorts naturally, vol9 before vol10: only the wording of the legacy
    // volume's error message depends on the order).
    std::sort(out.begin(), out.end());
    return out;
  }
  ProcResult r = host.Run({"docker", "volume", "ls", "--format", "{{.Name}}"}, {}, kQueryTimeout);
  if (!r.ok()) Fail("docker volume ls failed on " + host.Describe() + ": " + r.last_error_line());
  return Lines(r.out);
}

std::vector<std::string> ContainersPublishing(int port, const std::string& except_project) {
  const auto shown = [&except_project](const std::string& name, const std::string& project,
                                       const std::string& service, std::vector<std::string>& out) {
    if (project == except_project) return;
    out.push_back(name + (project.empty() ? "" : " (project " + project + ", service " + service + ")"));
  };
  std::optional<nlohmann::json> j;
  try {
    j = api::Get(ThisHost(), "/containers/json?filters=" + api::Filter("publish", std::to_string(port)));
  } catch (const Error&) {
    return {};  // as a docker ps that failed
  }
  if (j) {
    std::vector<std::string> out;
    for (const auto& c : *j)
      shown(FromApi(c).name, Label(c, "com.docker.compose.project"), Label(c, "com.docker.compose.service"), out);
    return out;
  }
  ProcResult r = ThisHost().Run({"docker", "ps", "--filter", "publish=" + std::to_string(port), "--format",
                                 "{{.Names}}\t{{.Label \"com.docker.compose.project\"}}\t{{.Label \"com.docker.compose.service\"}}"},
                                {}, kQueryTimeout);
  std::vector<std::string> out;
  if (!r.ok()) return out;
  for (const auto& l : Lines(r.out)) {
    auto f = Split(l, '\t');
    if (f.size() >= 3) shown(f[0], f[1], f[2], out);
  }
  return out;
}

std::string RootDir(const Host& host) {
  try {
    if (auto j = api::Get(host, "/info")) return j->value("DockerRootDir", "");
  } catch (const Error&) {
    return "";
  }
  ProcResult r = host.Run({"docker", "info", "--format", "{{.DockerRootDir}}"}, {}, kQueryTimeout);
  return r.ok() && !Lines(r.out).empty() ? Lines(r.out).front() : "";
}


}  // namespace mig::docker
