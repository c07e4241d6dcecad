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
#include "core/files.h"
#include "core/timer.h"
#include "core/fd.h"
#include "docker/docker.h"
#include "install/install.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace mig {

int ReleasePrefix(const PrefixOptions& o) {
  std::string file = o.file;
  if (file.empty()) {
    file = compose::FindComposeFile(fs::current_path().string());
    if (file.empty()) BadInput("no docker-compose.yml in the current folder: give it with -f FILE");
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) BadInput("the compose file " + file + " does not exist");
  const std::string before = compose::ReadFile(file);
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
  const std::string stamp = UtcNow(kStampFormat);
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) Fail("cannot read " + file + ": " + ErrnoString());
  const std::string backup = file + ".orig-" + stamp;
  WriteFileAtomic(backup, before, st.st_mode);
  WriteFileAtomic(file, after, st.st_mode);
  std::cout << "written; the original is kept as " << backup << "\n";
  for (const auto& [key, name] : plan.names) std::cout << "  volume " << key << " -> " << name << "\n";
  return 0;
}

namespace {

// One release folder as `release check` sees it.
struct Release {
  std::string dir;
  compose::Project p;
};

// The release in `dir` with the project it runs (or would run) under.
Release LoadRelease(const std::string& d, const std::string& project) {
  std::error_code ec;
  if (!fs::is_directory(d, ec)) BadInput("the release folder " + d + " does not exist");
  std::string dir = fs::canonical(d).string();
  std::string file = compose::FindComposeFile(dir);
  if (file.empty()) BadInput(dir + " is not a release: it has no docker-compose.yml");
  auto env = ProcessEnv();
  env.erase("COMPOSE_PROJECT_NAME");
  Release r{dir, compose::LoadProject(dir, file, env)};
  std::string name = project.empty() ? docker::ProjectStartedFrom(dir) : project;
  if (!name.empty() && name != r.p.name) {
    r.p.name = name;
    compose::EffectiveNames(r.p, name);
  }
  return r;
}

struct Collision {
  std::string kind, what, fix;
  std::vector<std::string> dirs;
};

bool SameHostPort(const compose::Port& a, const compose::Port& b) {
  auto any = [](const std::string& ip) { return ip.empty() || ip == "0.0.0.0" || ip == "::"; };
  return a.host_port && a.host_port == b.host_port && a.protocol == b.protocol &&
         (any(a.host_ip) || any(b.host_ip) || a.host_ip == b.host_ip);
}

}  // namespace

int ReleaseCheck(const std::vector<std::string>& dirs, bool json) {
  if (dirs.size() < 2) BadUsage("give two or more release folders to check against each other");
  std::vector<Release> rs;
  for (const auto& d : dirs) rs.push_back(LoadRelease(d, ""));
  std::vector<Collision> found;
  std::vector<std::string> notes;
  for (size_t i = 0; i < rs.size(); ++i)
    for (size_t j = i + 1; j < rs.size(); ++j) {
      const Release &a = rs[i], &b = rs[j];
      std::vector<std::string> pair = {a.dir, b.dir};
      if (a.p.name == b.p.name)
        found.push_back({"project", a.p.name, "run one under another project name (-p NAME or COMPOSE_PROJECT_NAME in its .env)", pair});
      for (const auto& [ka, na] : a.p.volume_names)
        for (const auto& [kb, nb] : b.p.volume_names)
          if (na == nb) {
            bool ext = a.p.raw_volumes_[ka].IsMap() && a.p.raw_volumes_[ka]["external"];
            if (ext) {
              notes.push_back("external volume " + na + " is shared by " + a.dir + " and " + b.dir);
              continue;
            }
            std::string fix = "give the copy its own volume names: migrate release prefix --prefix NEWPREFIX -f " +
                              b.p.file;
            for (const auto& k : b.p.names_from_project_var)
              if (k == kb)
                fix += " (its name: uses ${COMPOSE_PROJECT_NAME}, which -p does not change)";
            found.push_back({"volume", na, fix, pair});
          }
      for (const auto& [ka, na] : a.p.network_names)
        for (const auto& [kb, nb] : b.p.network_names)
          if (na == nb)
            found.push_back({"network", na, "run one under another project name, or rename the network in " + b.p.file, pair});
      for (const auto& sa : a.p.services)
        for (const auto& sb : b.p.services) {
          if (!sa.container_name.empty() && sa.container_name == sb.container_name)
            found.push_back({"container_name", sa.container_name,
                             "remove container_name: from service " + sb.name + " in " + b.p.file + " or change it", pair});
          for (const auto& pa : sa.ports)
            for (const auto& pb : sb.ports)
              if (SameHostPort(pa, pb))
                found.push_back({"host port", std::to_string(pa.host_port) + "/" + pa.protocol + " (" + sa.name + ", " +
                                                  sb.name + ")",
                                 "publish service " + sb.name + " of " + b.dir + " on another host port", pair});
        }
    }
  if (json) {
    nlohmann::json j = {{"collisions", nlohmann::json::array()}, {"notes", notes}};
    for (const auto& c : found) j["collisions"].push_back({{"kind", c.kind}, {"name", c.what}, {"releases", c.dirs}, {"fix", c.fix}});
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& r : rs) std::cout << r.dir << ": project " << r.p.name << "\n";
    for (const auto& n : notes) std::cout << "note: " << n << "\n";
    for (const auto& c : found)
      std::cout << "COLLISION " << c.kind << " " << c.what << " between " << c.dirs[0] << " and " << c.dirs[1]
                << "\n  fix: " << c.fix << "\n";
    std::cout << (found.empty() ? "no collisions: these releases can run at once\n"
                                : std::to_string(found.size()) + " collision(s)\n");
  }
  return found.empty() ? 0 : 1;
}


int ReleaseUpDownPs(const std::string& verb, const std::string& d, const std::string& project, int wait_seconds) {
  Release r = LoadRelease(d.empty() ? fs::current_path().string() : d, project);
  docker::Stack stack(docker::DetectCompose(), r.dir, r.p.file, r.p.name);
  if (verb == "down") {
    stack.Run({"down"}, std::chrono::seconds(600));
    std::cout << "project " << r.p.name << " is down (its volumes are kept)\n";
    return 0;
  }
  if (verb == "up") {
    for (const auto& k : r.p.names_from_project_var)
      if (!project.empty())
        std::cerr << "warning: volume " << k << "'s name is built from ${COMPOSE_PROJECT_NAME}, which -p " << project
                  << " does not change: it is " << r.p.volume_names[k] << "\n";
    stack.Up();
    std::vector<std::string> services;
    for (const auto& s : r.p.services) services.push_back(s.name);
    stack.WaitUp(services, std::chrono::seconds(wait_seconds));
    std::cout << "project " << r.p.name << " is up: " << services.size() << " services\n";
    return 0;
  }
  std::cout << "project " << r.p.name << " (" << r.dir << ")\n";
  for (const auto& c : stack.Containers())
    std::cout << "  " << c.service << "\t" << c.name << "\t" << c.status << "\n";
  return 0;
}

int ReleaseList(const std::string& root_arg, bool json) {
  std::string root = root_arg.empty() ? fs::current_path().string() : root_arg;
  std::error_code ec;
  fs::path base = fs::is_directory(fs::path(root) / "releases", ec) ? fs::path(root) / "releases" : fs::path(root);
  if (!fs::is_directory(base, ec)) BadInput(root + " is not a folder");
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(base, ec))
    if (e.is_directory() && !compose::FindComposeFile(e.path().string()).empty()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  nlohmann::json j = nlohmann::json::array();
  for (const auto& d : dirs) {
    Release r = LoadRelease(d.string(), "");
    std::string version;
    if (std::ifstream v(r.dir + "/VERSION"); v) std::getline(v, version);
    size_t running = 0, total = 0;
    for (const auto& c : docker::ProjectContainers(r.p.name)) ++total, running += c.running();
    j.push_back({{"dir", r.dir}, {"version", version}, {"project", r.p.name}, {"running", running}, {"containers", total}});
  }
  if (json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (j.empty()) std::cout << "no releases under " << base.string() << "\n";
  for (const auto& r : j)
    std::cout << r["dir"].get<std::string>() << "\tversion " << (r["version"].get<std::string>().empty() ? "?" : r["version"].get<std::string>())
              << "\tproject " << r["project"].get<std::string>() << "\t" << r["running"].get<size_t>() << "/"
              << r["containers"].get<size_t>() << " containers running\n";
  return 0;
}

int ReleaseShow(const std::string& d, const std::string& project) {
  Release r = LoadRelease(d.empty() ? fs::current_path().string() : d, project);
  nlohmann::json j = {{"dir", r.dir}, {"file", r.p.file}, {"project", r.p.name},
                      {"services", nlohmann::json::object()}, {"volumes", r.p.volume_names},
                      {"networks", r.p.network_names}};
  for (const auto& s : r.p.services) {
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& p : s.ports)
      ports.push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
                       {"protocol", p.protocol}});
    nlohmann::json mounts = nlohmann::json::array();
    for (const auto& m : s.mounts)
      mounts.push_back({{"type", m.type}, {"source", m.source}, {"target", m.target}, {"read_only", m.read_only}});
    j["services"][s.name] = {{"image", s.image}, {"container_name", s.container_name},
                             {"environment", s.environment}, {"ports", ports}, {"mounts", mounts},
                             {"stop_grace_seconds", s.stop_grace_seconds}, {"needs", s.needs}};
  }
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace mig
