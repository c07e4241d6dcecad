#include "backup/repo_dump.h"

#include "core/error.h"

namespace mig::backup {

RepoDump::RepoDump(const restic::Restic& repo, const Manifest& m) : repo_(repo), m_(m) {
  if (!m_.db) Fail("backup " + m_.timestamp + " holds no database");
}

RepoDump::~RepoDump() { Abort(); }

std::string RepoDump::Describe() const { return "backup " + m_.timestamp; }

void RepoDump::Start() {
  bytes_ = 0;
  proc_ = repo_.Dump(m_.db->snapshot, "/db.dump");
}

size_t RepoDump::Read(char* buf, size_t len) {
  size_t n = proc_->read(buf, len);
  bytes_ += n;
  return n;
}

db::DbState RepoDump::End() {
  int code = proc_->wait();
  std::string err = proc_->err_text();
  proc_.reset();
  if (code != 0) restic::Throw(restic::Diagnose(err), repo_.repo(), "read the database dump of " + Describe());
  if (bytes_ != m_.db->dump_bytes)
    Fail("the database dump of " + Describe() + " has " + std::to_string(bytes_) + " bytes where its manifest says " +
         std::to_string(m_.db->dump_bytes) + ": the repository is damaged (migrate backup check --read-data)");
  return m_.db->state;
}

void RepoDump::Abort() noexcept {
  try {
    if (proc_) {
      proc_->kill();
      proc_->wait();
      proc_.reset();
    }
  } catch (...) {
  }
}

}  // namespace mig::backup
