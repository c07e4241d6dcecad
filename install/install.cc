#include "install/install.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "docker/docker.h"
#include "install/legacy.h"

extern char** environ;

namespace fs = std::filesystem;

namespace mig {

compose::Env ProcessEnv() {
  compose::Env env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Install LoadInstall(const std::string& path, const std::string& role, const std::string& db_service,
                    const std::string& project_override, const compose::Env& process_env) {
  Install in;
  in.role = role;
  std::error_code ec;
  if (path.empty()) BadUsage("no " + role + " folder given");
  if (!fs::exists(path, ec)) BadInput("the " + role + " folder " + path + " does not exist");
  if (!fs::is_directory(path, ec)) BadInput("the " + role + " " + path + " is not a folder");
  in.dir = fs::canonical(path, ec).string();
  if (ec) BadInput("cannot resolve the " + role + " folder " + path + ": " + ec.message());
  std::string file = compose::FindComposeFile(in.dir);
  if (file.empty())
    BadInput("the " + role + " folder " + in.dir + " is not an install: it has no docker-compose.yml");
  // The shell's COMPOSE_PROJECT_NAME would name both releases alike: each folder's own counts.
  compose::Env env = process_env;
  env.erase("COMPOSE_PROJECT_NAME");
  in.project = compose::LoadProject(in.dir, file, env);
  if (std::ifstream v(in.dir + "/VERSION"); v) std::getline(v, in.version);
  for (const auto& p : kLegacyRootPaths)
    if (fs::exists(fs::symlink_status(in.dir + "/" + p, ec))) in.legacy_paths.push_back(p);
  if (!project_override.empty()) {
    in.project_name = project_override;
  } else {
    std::string running = docker::ProjectStartedFrom(in.dir);
    in.project_name = running.empty() ? in.project.name : running;
  }
  if (in.project_name.empty())
    BadInput("cannot derive a compose project name for " + in.dir + ": give --" +
             (role == "source" ? std::string("from") : std::string("to")) + "-project");
  if (!db_service.empty()) {
    if (!in.project.service(db_service))
      BadInput(file + " has no service '" + db_service + "' (the " + role +
               "'s database): name it with --db-service, or use --skip-db");
    UseDbService(in, db_service);
  }
  return in;
}

void UseDbService(Install& in, const std::string& db_service) {
  const compose::Service* s = in.project.service(db_service);
  if (!s) BadInput(in.project.file + " has no service '" + db_service + "' (the " + in.role + "'s database)");
  in.db_service = db_service;
  auto get = [&](const char* k, const std::string& def) {
    auto it = s->environment.find(k);
    return it == s->environment.end() || it->second.empty() ? def : it->second;
  };
  in.pg.user = get("POSTGRES_USER", "postgres");
  in.pg.password = get("POSTGRES_PASSWORD", "");
  in.pg.db = get("POSTGRES_DB", in.pg.user);
  in.pg.label = in.role;
}

void CheckDistinct(const Install& from, const Install& to) {
  auto inside = [](const std::string& a, const std::string& b) {  // a lies inside b
    if (b == "/") return a != "/";
    return a.size() > b.size() && a.compare(0, b.size(), b) == 0 && a[b.size()] == '/';
  };
  if (from.dir == to.dir)
    BadInput("the source and the target are the same folder (" + to.dir + "): the target must be the new install");
  if (inside(to.dir, from.dir)) BadInput("the target " + to.dir + " lies inside the source " + from.dir);
  if (inside(from.dir, to.dir)) BadInput("the source " + from.dir + " lies inside the target " + to.dir);
}

std::string JobLockPath(const std::string& install_dir) { return install_dir + "/backup/.lock"; }

}  // namespace mig
