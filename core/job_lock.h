// One job at a time on an install: a lock on a file that also says who holds it, so that
// a second job is refused naming the first, and nothing is "running" once its process is gone
// (the kernel drops the lock with the process, kill -9 included).
#pragma once

#include <optional>
#include <string>

#include "core/fd.h"

namespace mig {

class JobLock {
 public:
  // Takes the lock at `path` (its folder is created), or throws mig::Error (failed) whose
  // sentence starts with `refusal` and names the holder ("... (backup 2026-11-30t21-00-00,
  // pid 1234, since ...)").
  JobLock(const std::string& path, const std::string& refusal);
  // Empties the description, then lets go (a killed holder leaves it: Holder() then says
  // nobody holds it all the same).
  ~JobLock();
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;
  // Says who holds it now (one line, e.g. `backup 3fa85f64 2026-11-30t21-00-00`): written into
  // the file for Holder().
  void Describe(const std::string& who);
  // What the previous holder said about itself when it never let go (killed, crashed): "" when
  // the last job ended, or none ran. Its own locks elsewhere (restic's) may then be stale.
  const std::string& abandoned() const { return abandoned_; }

  // What the holder of the lock at `path` said about itself, or nullopt when nobody holds it.
  static std::optional<std::string> Holder(const std::string& path);

 private:
  std::string path_;
  Fd fd_;
  std::string abandoned_;
};

}  // namespace mig
