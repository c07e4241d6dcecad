// The disk room a migration needs, shared by migrate-local's preflight and `migrate check`:
// data/ and the target's database dump beside the target, the replayed database where
// docker keeps its volumes.
#pragma once

#include <cstdint>
#include <string>

namespace mig {

// Bytes free to this user in the file system holding `path` (UINT64_MAX when unknown).
uint64_t FreeBytes(const std::string& path);

// The size of the regular files under `dir` (0 when there is no such folder).
uint64_t TreeBytes(const std::string& dir);

// One verdict on free space: the line for the report and, when short, the error sentence.
struct RoomVerdict {
  bool ok = true;
  uint64_t free = 0, need = 0;
  std::string where;   // the folder measured
  std::string detail;  // "12.0 GiB free, 3.1 GiB needed at most"
  std::string error;   // "not enough free space in ...: ...; free some space first" (when !ok)
};

// Room beside the target: data/ to copy plus the target's own database dump, with a 10 %
// margin.
RoomVerdict TargetRoom(const std::string& target_dir, uint64_t data_bytes, uint64_t target_db_bytes);

// Room where docker keeps its volumes for the staging database (twice the source's size).
// `docker_root` is empty when the engine did not say; then the verdict is ok with where "".
RoomVerdict DatabaseRoom(const std::string& docker_root, uint64_t source_db_bytes);

// The engine's DockerRootDir (docker info), or "" when it does not answer.
std::string DockerRootDir();

}  // namespace mig
