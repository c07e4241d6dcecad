#include "restore/swarm_steps.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "backup/volume.h"
#include "compose/rewrite.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/text.h"
#include "restore/config_step.h"

namespace fs = std::filesystem;

namespace mig {

using backup::SwarmPart;

namespace {

bool SameText(const std::string& a, const std::string& b) {  // as Swarm compares constraints
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// What a constraint the backup recorded reads on the new nodes (itself when it names none).
std::string Mapped(const std::string& c, const std::vector<docker::OldNode>& old, const docker::NodeMap& map) {
  auto now = docker::RewriteConstraint(c, old, map);
  return now ? *now : c;
}

}  // namespace

std::string StackVolume(const std::string& name, const std::string& from, const std::string& to) {
  return name.rfind(from + "_", 0) == 0 ? to + name.substr(from.size()) : name;
}

std::vector<docker::OldNode> OldNodes(const SwarmPart& sp) {
  std::vector<docker::OldNode> v;
  for (const auto& n : sp.nodes) v.push_back({n.id, n.hostname, n.address, n.role});
  return v;
}

std::vector<std::string> NeededNodes(const SwarmPart& sp, const std::vector<VolumeWrite>& writes,
                                     const std::vector<docker::OldNode>& old) {
  std::vector<std::string> out;
  auto add = [&](const std::string& h) {
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  };
  for (const auto& w : writes) add(w.v->node);
  for (const auto& svc : sp.services)
    for (const auto& n : docker::NodesNamedBy(svc.constraints, old)) add(n);
  return out;
}

void CheckVolumeKinds(const backup::NodeHosts& hosts, const std::vector<VolumeWrite>& writes) {
  for (const auto& w : writes) {
    ProcResult r = hosts.Of(w.node).Run(
        {"docker", "volume", "inspect", "--format", "{{.Driver}} {{len .Options}}", w.name}, {},
        std::chrono::seconds(30));
    if (!r.ok()) continue;  // none yet: made as a local volume
    if (TrimEnd(r.out) != "local 0")
      BadInput("the volume " + w.name + " on node " + w.node + " has driver and options '" + TrimEnd(r.out) +
               "': a restore writes a local volume's own folder, which this one does not use; remove it "
               "(docker volume rm there, with the stack removed) or restore with --skip " + w.v->service);
  }
}

int RewritePlacement(const Install& in, const SwarmPart& sp, const std::vector<docker::OldNode>& old,
                     const docker::NodeMap& map, const std::string& run_dir) {
  const std::string file = in.project.file;
  const std::string text = compose::ReadFile(file);
  const auto edits = compose::PlanConstraintEdits(
      text, file, [&](const std::string& service, const std::string& c) -> std::optional<std::string> {
        for (const auto& svc : sp.services)
          if (svc.name == service)
            for (const auto& rec : svc.constraints)
              if (SameText(rec, c)) return docker::RewriteConstraint(c, old, map);
        return std::nullopt;  // not the backup's: written since (by hand, or an earlier run)
      });
  if (edits.empty()) return 0;
  KeepConfigCopy(in.dir, run_dir, fs::path(file).filename().string());
  WriteFileAtomic(file, compose::ApplyEdits(text, edits));
  return static_cast<int>(edits.size());
}

void CheckPlacement(const Install& in, const SwarmPart& sp, const std::vector<docker::OldNode>& old,
                    const docker::NodeMap& map) {
  for (const auto& svc : sp.services) {
    const compose::Service* now = in.project.service(svc.name);
    for (const auto& rec : svc.constraints) {
      if (docker::NodesNamedBy({rec}, old).empty()) continue;  // names no node
      const std::string want = Mapped(rec, old, map);
      const bool has = now && std::any_of(now->constraints.begin(), now->constraints.end(),
                                          [&](const std::string& c) { return SameText(c, want); });
      if (!has)
        BadInput("service " + svc.name + " ran with the constraint '" + rec + "' (the backup's record) and " +
                 in.project.file + " does not say '" + want + "' for it" +
                 (now ? std::string(" (written through a variable, or added with docker service update?)")
                      : std::string(" (it has no such service)")) +
                 ": write it under the service's deploy.placement.constraints, then run the same restore again");
    }
  }
}

void WaitNoContainers(const Host& host, const std::string& node, const std::string& stack, int seconds) {
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);;) {
    ProcResult r = host.Run({"docker", "ps", "-aq", "--filter", "label=com.docker.stack.namespace=" + stack}, {},
                            std::chrono::seconds(30));
    if (!r.ok()) Fail("docker ps on node " + node + " failed: " + r.last_error_line());
    if (r.out.find_first_not_of(" \n") == std::string::npos) return;
    if (std::chrono::steady_clock::now() > until)
      Fail("containers of the stack " + stack + " were still on node " + node + " " + std::to_string(seconds) +
           " s after docker stack rm (docker ps -a there)");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::map<std::string, std::string> DeployEnv(const Install& in) {
  std::map<std::string, std::string> env;
  const compose::Env proc = ProcessEnv();
  for (const auto& [k, v] : in.project.dotenv)
    if (!proc.count(k)) env[k] = v;
  return env;
}

std::vector<std::string> WriteVolumes(const backup::NodeHosts& hosts, const std::vector<VolumeWrite>& writes,
                                      const std::string& stack, const std::string& run_dir,
                                      const std::function<std::unique_ptr<Proc>(const SwarmPart::Volume&)>& open,
                                      const std::function<void(uint64_t)>& progress, bool again) {
  // "NODE VOLUME MOUNTPOINT" of each volume this run wrote: a resumed run never writes one again
  // (its .before-restore holds the tree from before the run, the only copy of it).
  const std::string record = run_dir + "/volumes-written";
  std::vector<std::string> lines;
  if (auto text = ReadSmallFile(record)) {
    std::istringstream in(*text);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) lines.push_back(l);
  }
  std::vector<std::string> written;
  for (const auto& l : lines) {
    std::istringstream f(l);
    std::string node, volume, mp;
    f >> node >> volume >> mp;
    written.push_back(node + ": " + mp);
  }
  uint64_t done = 0;
  for (const auto& w : writes) {
    const std::string key = w.node + " " + w.name + " ";
    const bool done_before =
        std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(key, 0) == 0; });
    if (done_before && !again) {
      TheLog().info("volume " + w.name + " on " + w.node + " was written by an earlier attempt of this restore");
      continue;
    }
    const Host& h = hosts.Of(w.node);
    // Only the stack's containers were waited for: another one holding the volume keeps writing into the old tree.
    ProcResult users = h.Run({"docker", "ps", "-aq", "--filter", "volume=" + w.name}, {}, std::chrono::seconds(30));
    if (users.ok() && users.out.find_first_not_of(" \n") != std::string::npos)
      Fail("the volume " + w.name + " on node " + w.node + " is used by containers outside the stack (" +
           Joined(std::vector<std::string>{TrimEnd(users.out)}) + "): stop them (docker ps -a --filter volume=" +
           w.name + " there), then run the same restore again");
    std::string mp = backup::VolumeMountpoint(h, w.name);
    if (mp.empty()) mp = backup::CreateVolume(h, w.name, {{"com.docker.stack.namespace", stack}});
    auto stream = open(*w.v);
    uint64_t read = 0;
    // The stream is whole (its program's exit, the manifest's size) before tar's end is awaited,
    // so that a short one is never swapped in.
    backup::StreamTreeIn(
        h, mp,
        [&](char* b, size_t n) {
          const size_t got = stream->read(b, n);
          read += got;
          progress(done + read);
          if (got == 0) {
            if (const int code = stream->wait(); code != 0)
              Fail("reading the volume " + w.v->name + " from the backup failed: " + TrimEnd(stream->err_text()));
            if (w.v->bytes && read != w.v->bytes)
              Fail("the volume " + w.v->name + " has " + std::to_string(read) + " bytes in the backup where its "
                   "manifest says " + std::to_string(w.v->bytes) +
                   ": the repository is damaged (migrate backup check --read-data)");
          }
          return got;
        },
        fs::path(run_dir).filename().string());
    done += read;
    if (done_before) continue;  // (recorded, and listed, by the earlier attempt)
    lines.push_back(key + mp);
    written.push_back(w.node + ": " + mp);
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    WriteFileAtomic(record, text);
  }
  return written;
}

}  // namespace mig
