#include "install/remote_install.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "docker/docker.h"

namespace fs = std::filesystem;

namespace mig {

Install LoadRemoteInstall(const ssh::RemoteHost& host, const std::string& path, const std::string& db_service,
                          const std::string& project_override, const compose::Env& process_env,
                          const std::string& mirror_root) {
  if (path.empty() || path[0] != '/')
    BadUsage("--from-path must be the absolute path of the old install on " + host.Describe());
  ProcResult r = host.Run({"sh", "-c", "cd \"$1\" && pwd -P && find . -maxdepth 1 -type f -size -4096k", "sh", path});
  if (!r.ok())
    BadInput("the source folder " + path + " does not exist on " + host.Describe() + " (" + r.last_error_line() + ")");
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
  std::string name;
  while (std::getline(lines, name)) {
    if (name.rfind("./", 0) != 0) continue;
    name = name.substr(2);
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") continue;
    std::string content;
    if (!host.ReadFile(dir + "/" + name, content)) continue;  // gone since the listing
    std::ofstream out(mirror + "/" + name, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) Fail("cannot write " + mirror + "/" + name);
  }
  if (compose::FindComposeFile(mirror).empty())
    BadInput("the source folder " + dir + " on " + host.Describe() + " is not an install: it has no docker-compose.yml");
  std::string project = project_override;
  if (project.empty()) project = docker::ProjectStartedFrom(dir, host);
  Install in = LoadInstall(mirror, "source", db_service, project, process_env);
  in.mirror = mirror;
  in.project.file = dir + "/" + fs::path(in.project.file).filename().string();
  in.dir = dir;
  in.host = host.Describe();
  in.pg.host = &host;
  return in;
}

}  // namespace mig
