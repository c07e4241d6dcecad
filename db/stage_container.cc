// The copy staged inside the target's container: the base backup relayed into `tar -x` there
// (docker's stdio relay), checked by pg_verifybackup, swapped in by a helper container with the
// target's volumes (docs/physical-db.md, steps 2-4).
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "db/cluster_files.h"
#include "db/docker_exec.h"
#include "db/stage.h"

namespace mig::db {

namespace {

// Unpacks the gzip'd tar on stdin into PGDATA/.migrate-new, owned as PGDATA is ($1: PGDATA); a
// stage the source's own PGDATA held (a copy of its own that failed) is dropped.
const char* const kStageScript =
    "set -e; d=$1; s=\"$d/.migrate-new\"; rm -rf -- \"$s\"; mkdir -m 700 -- \"$s\"; tar -xzf - -C \"$s\"; "
    "rm -rf -- \"$s/.migrate-new\"; chown -R \"$(stat -c %u:%g \"$d\")\" \"$s\"";

// In a helper container with the stopped target's volumes ($1: PGDATA): the target's own server
// settings kept in the stage (never written through a link the source's copy holds), the rest of
// PGDATA removed, the stage's entries moved up. Exit 3: refused with nothing touched. With $2
// "standby": made a standby restoring the WAL shipped into PGDATA/migrate-wal, $3 (the lines of
// StandbyRestoreLines) appended to its postgresql.auto.conf (docs/cutover.md).
const char* const kSwapScript =
    "set -e; cd \"$1\"; s=.migrate-new; "
    "[ -d \"$s\" ] || { echo \"no staged copy in $1\" >&2; exit 3; }; "
    "[ -f \"$s/PG_VERSION\" ] || { echo \"the staged copy in $1 is not a cluster\" >&2; exit 3; }; "
    "for f in postgresql.conf postgresql.auto.conf pg_hba.conf pg_ident.conf; do "
    "if [ -f \"$f\" ]; then rm -rf -- \"$s/$f\" && cp -p -- \"$f\" \"$s/$f\" || exit 3; fi; done; "
    "for f in * .[!.]* ..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then [ \"$f\" = \"$s\" ] || rm -rf -- \"$f\"; fi; done; "
    "for f in \"$s\"/* \"$s\"/.[!.]* \"$s\"/..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then mv -- \"$f\" .; fi; done; "
    "rmdir \"$s\"; "
    "if [ \"$2\" = standby ]; then o=$(stat -c %u:%g .); mkdir -p migrate-wal; : > standby.signal; "
    "printf %s \"$3\" "
    ">> postgresql.auto.conf; chown \"$o\" migrate-wal standby.signal postgresql.auto.conf; fi";

class ContainerStage : public ClusterStage {
 public:
  ContainerStage(const Postgres& dst, const ClusterHome& home)
      : there_(dst.host()), home_(home), stage_(home.pgdata + "/.migrate-new") {}

  uint64_t Fill(const Postgres& src, const std::function<void(uint64_t)>& progress) override {
    auto out = src.dump_host().Start(BaseBackupArgv(src, "client-gzip:1"), Proc::kStdout);
    return RelayOrFail(*out, there_,
                       {"docker", "exec", "-i", "-u", "0", home_.container, "sh", "-c", kStageScript, "sh", home_.pgdata},
                       "pg_basebackup of the source", "unpacking the source's base backup in the target's container",
                       progress);
  }
  void Verify() override {
    ProcResult v = Docker(there_, {"exec", "-u", "0", home_.container, "pg_verifybackup", "-q", stage_}, 1800);
    if (!v.ok()) Fail("the copy of the source's cluster does not verify (pg_verifybackup): " + v.last_error_line());
  }
  void Prepare(bool standby) override {
    // One helper per target container, by name: one an interrupted run left is cleared, unless
    // it still runs (a swap under way: never a second beside it).
    const std::string name = "migrate-swap-" + home_.container;
    ProcResult left = Docker(there_, {"inspect", "--type", "container", "-f", "{{.State.Running}}", name}, 60);
    if (left.ok() && TrimEnd(left.out) == "true")
      Fail("the swap of an interrupted run still runs in the container " + name + ": wait for it (docker wait " + name +
           "), then put the target's cluster back with that run's roll back command, or run again");
    if (left.ok()) Docker(there_, {"rm", "-f", name}, 60);
    ProcResult made = Docker(there_, {"create", "--name", name, "--network", "none", "-u", "0", "--volumes-from",
                                      home_.container, "--entrypoint", "sh", home_.image, "-c", kSwapScript, "sh",
                                      home_.pgdata, standby ? "standby" : "primary",
                                      StandbyRestoreLines(home_.pgdata + "/migrate-wal")},
                             120);
    if (!made.ok()) Fail("cannot make the helper container of the swap: " + made.last_error_line());
    helper_ = TrimEnd(made.out);
  }
  Swapped Swap(std::string& why) override {
    ProcResult swap = Docker(there_, {"start", "-a", helper_}, 1800);
    if (swap.code == -1) {  // still running, or its state unknown
      why = swap.last_error_line() + ": the helper container " + helper_ + " may still run (docker wait " + helper_ + ")";
      return Swapped::kUnknown;
    }
    DropHelper();
    if (swap.code == 3) {
      why = swap.last_error_line();
      return Swapped::kRefused;
    }
    if (!swap.ok()) Fail("the swap of the copied cluster into " + home_.container + " failed part way (" +
                         swap.last_error_line() + ")");
    return Swapped::kDone;
  }
  void Drop() override {
    DropHelper();
    ProcResult d = Docker(there_, {"exec", "-u", "0", home_.container, "rm", "-rf", stage_}, 300);
    if (!d.ok()) TheLog().warn("could not remove the staged copy " + stage_ + " in " + home_.container + ": " + d.last_error_line());
  }
  std::string compression() const override { return "gzip"; }

 private:
  void DropHelper() {
    if (!helper_.empty()) Docker(there_, {"rm", "-f", helper_}, 60);
    helper_.clear();
  }
  const Host& there_;
  const ClusterHome& home_;
  std::string stage_;
  std::string helper_;
};

}  // namespace

std::unique_ptr<ClusterStage> StageInContainer(const Postgres& dst, const ClusterHome& home) {
  return std::make_unique<ContainerStage>(dst, home);
}

}  // namespace mig::db
