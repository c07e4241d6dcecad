#include "install/room.h"

#include <sys/statvfs.h>

#include <chrono>

#include "core/process.h"
#include "core/progress.h"
#include "docker/docker.h"
#include "sync/entry.h"

namespace mig {

uint64_t FreeBytes(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

uint64_t TreeBytes(const std::string& dir) {
  uint64_t n = 0;
  auto walk = sync::WalkTreeIfExists(dir);
  sync::Entry e;
  while (walk->Next(e)) n += e.size;
  return n;
}

RoomVerdict TargetRoom(const std::string& target_dir, uint64_t data_bytes, uint64_t target_db_bytes) {
  RoomVerdict v;
  v.where = target_dir;
  v.need = data_bytes + target_db_bytes;
  v.free = FreeBytes(target_dir);
  v.ok = v.free >= v.need + (v.need / 10);
  v.detail = HumanBytes(v.free) + " free, " + HumanBytes(v.need) + " needed at most";
  if (!v.ok)
    v.error = "not enough free space in " + target_dir + ": " + HumanBytes(v.free) + " free, up to " +
              HumanBytes(v.need) + " needed for data/ and the target's database dump; free some space first";
  return v;
}

RoomVerdict DatabaseRoom(const std::string& docker_root, uint64_t source_db_bytes) {
  RoomVerdict v;
  v.where = docker_root;
  if (docker_root.empty()) return v;
  v.need = source_db_bytes * 2;
  v.free = FreeBytes(docker_root);
  v.ok = v.free >= v.need;
  v.detail = HumanBytes(v.free) + " free in " + docker_root + ", " + HumanBytes(v.need) + " needed";
  if (!v.ok)
    v.error = "not enough free space in " + docker_root + " for the replayed database: " + HumanBytes(v.free) +
              " free, about " + HumanBytes(v.need) + " needed";
  return v;
}

std::string DockerRootDir() {
  return docker::RootDir();
}

}  // namespace mig
