// A backup's database dump as a replay's source: the bytes read back from the repository
// (`restic dump`), the roles, locale and rows the backup's manifest recorded.
#pragma once

#include <memory>

#include "backup/manifest.h"
#include "db/dump.h"
#include "restic/restic.h"

namespace mig::backup {

class RepoDump : public db::DumpSource {
 public:
  // `m` must have a database part; both must outlive this.
  RepoDump(const restic::Restic& repo, const Manifest& m);
  ~RepoDump() override;
  std::string Describe() const override;
  std::vector<db::Role> Roles() override { return m_.db->roles; }
  std::optional<db::DbLocale> Locale() override { return m_.db->locale; }
  void Start() override;
  size_t Read(char* buf, size_t len) override;
  // The manifest's rows and sequences; throws when restic failed or the dump's size differs
  // from the manifest's.
  db::DbState End() override;
  void Abort() noexcept override;

 private:
  const restic::Restic& repo_;
  const Manifest& m_;
  std::unique_ptr<Proc> proc_;
  uint64_t bytes_ = 0;
};

}  // namespace mig::backup
