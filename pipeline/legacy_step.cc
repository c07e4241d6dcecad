#include "pipeline/legacy_step.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/text.h"
#include "install/legacy.h"
#include "pipeline/merge_step.h"
#include "sync/source.h"
#include "sync/apply.h"

namespace fs = std::filesystem;

namespace mig {

namespace {

// tar of `paths` under `dir`, a nested path's parents as entries of their own (their attributes
// carried, as rsync -a's includes carry them).
std::vector<std::string> TarArgv(const std::string& dir, const std::vector<std::string>& paths) {
  // (pax: times to the nanosecond, as the merge compares them)
  std::vector<std::string> argv{"tar", "-C", dir, "--format=posix", "--numeric-owner", "--sparse", "-cf", "-"};
  std::set<std::string> parents;
  for (const auto& p : paths)
    for (size_t i = p.find('/'); i != std::string::npos; i = p.find('/', i + 1)) parents.insert(p.substr(0, i));
  if (!parents.empty()) {
    argv.push_back("--no-recursion");
    argv.insert(argv.end(), parents.begin(), parents.end());
    argv.push_back("--recursion");
  }
  argv.insert(argv.end(), paths.begin(), paths.end());
  return argv;
}

// The new release's copies of `paths` (those it has) into `keep`, once.
void KeepTargetPaths(const std::string& dir, const std::vector<std::string>& paths, const std::string& keep) {
  std::error_code ec;
  if (fs::exists(keep, ec)) return;  // an earlier attempt's: what the release had before the run
  const std::string part = keep + ".partial";
  fs::remove_all(part, ec);
  fs::create_directories(part, ec);
  if (ec) Fail("cannot make " + part + ": " + ec.message());
  for (const auto& p : paths) {
    const std::string from = dir + "/" + p, to = part + "/" + p;
    const fs::file_status st = fs::symlink_status(from, ec);
    if (!fs::exists(st)) continue;
    fs::create_directories(fs::path(to).parent_path(), ec);
    if (fs::is_directory(st)) {
      sync::HardLinkSnapshot(from, to);
    } else {
      fs::create_hard_link(from, to, ec);
      if (ec) fs::copy(from, to, fs::copy_options::copy_symlinks, ec);
      if (ec) Fail("cannot keep " + from + " in " + part + ": " + ec.message());
    }
  }
  if (::rename(part.c_str(), keep.c_str()) != 0) Fail("cannot rename " + part + " to " + keep + ": " + ErrnoString());
}

}  // namespace

void CarryRootPaths(const Options& o, Origin& origin, const Sides& s, const std::string& run_dir, Report& rep) {
  Step step(rep, "carry root paths");
  if (o.skip_data) {
    step.Skip("--skip-data: files are not carried");
    return;
  }
  const std::vector<std::string>& paths = s.from.legacy_paths;
  if (paths.empty()) {
    step.Skip("the legacy release has none of " + Joined(kLegacyRootPaths));
    return;
  }
  KeepTargetPaths(s.to.dir, paths, run_dir + "/root.backup");
  const std::string stage = run_dir + "/root.new";
  std::error_code ec;
  fs::remove_all(stage, ec);
  fs::create_directories(stage, ec);
  if (ec) Fail("cannot make " + stage + ": " + ec.message());
  auto out = origin.host().Start(TarArgv(s.from.dir, paths), Proc::kStdout);
  // A folder's time is set once all of the stream is out: without it tar sets etc's time when the
  // next member outside etc arrives, and etc/ssl, extracted after, changes it again.
  auto in = ThisHost().Start({"tar", "-C", stage, "--numeric-owner", "--delay-directory-restore", "-xpf", "-"},
                             Proc::kStdin);
  const RelayResult rr = Relay(*out, *in);
  const int oc = rr.from_code, ic = rr.to_code;
  auto unpack_failed = [&] { Fail("unpacking " + Joined(paths) + " into " + stage + " failed: " + TrimEnd(in->err_text())); };
  if (rr.to_stopped) unpack_failed();
  if (oc != 0 && oc != 1)  // the reader's failure first: a cut stream fails the unpacking too
    Fail("reading " + Joined(paths) + " of " + origin.Show(s.from.dir) + " failed: " + TrimEnd(out->err_text()));
  if (ic != 0) unpack_failed();
  if (oc == 1)
    TheLog().warn("files changed while they were read on " + origin.Show(s.from.dir) + " (" + TrimEnd(out->err_text()) + ")");
  // The stage's root stands for the release's own folder: its attributes are the release's.
  struct stat st {};
  if (::stat(s.to.dir.c_str(), &st) != 0) Fail("cannot read " + s.to.dir + ": " + ErrnoString());
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::chmod(stage.c_str(), st.st_mode & 07777) != 0 || ::utimensat(AT_FDCWD, stage.c_str(), times, 0) != 0 ||
      (::geteuid() == 0 && ::lchown(stage.c_str(), st.st_uid, st.st_gid) != 0))
    Fail("cannot set the attributes of " + stage + ": " + ErrnoString());
  sync::MergeOptions mo;
  mo.checksum = o.checksum;
  mo.only = paths;
  mo.apply.set_owner = ::geteuid() == 0;
  auto src = sync::MakeLocalSource(stage);
  const sync::MergeResult r = sync::Merge(*src, s.to.dir, mo);
  fs::remove_all(stage, ec);
  rep.data["legacy"]["root_paths"] = paths;
  rep.data["legacy"]["root_plan"] = PlanJson(r.totals);
  const sync::PlanTotals& t = r.totals;
  step.Done(Joined(paths) + ": " + std::to_string(t.create) + " created, " + std::to_string(t.replace) + " replaced, " +
            std::to_string(t.attrs) + " attributes updated, " + std::to_string(t.skip) + " unchanged, " +
            std::to_string(t.kept) + " only in the new release kept");
}

void MoveEnvStep(const Sides& s, const std::string& run_dir, Report& rep) {
  Step step(rep, "move .env edits");
  auto read = [](const std::string& p) {
    auto t = ReadSmallFile(p);
    return t ? *t : std::string();
  };
  const std::string top = s.from.mirror.empty() ? s.from.dir : s.from.mirror;  // a remote install's top-level files
  const std::string custom = s.to.dir + "/custom.env";
  const std::string now = read(custom);
  const EnvMove m = MoveEnvEdits(read(top + "/.env"), read(top + "/custom.env"), read(s.to.dir + "/.env"), now);
  rep.data["legacy"]["env_moved"] = m.moved;
  rep.data["legacy"]["env_release_keys_left"] = m.owned;
  const std::string left = m.owned.empty() ? "" : "; the release's own keys left as they are: " + Joined(m.owned);
  if (m.custom_env == now) {
    step.Done("nothing to move" + left);
    return;
  }
  // What custom.env was before the run, once (a resumed run keeps the first attempt's): its text,
  // or that there was none.
  std::error_code ec;
  struct stat st {};
  const bool existed = ::stat(custom.c_str(), &st) == 0;
  const std::string before = run_dir + "/custom.env.before", absent = run_dir + "/custom.env.absent";
  if (!fs::exists(before, ec) && !fs::exists(absent, ec)) WriteFileAtomic(existed ? before : absent, now, 0600);
  WriteFileAtomic(custom, m.custom_env, existed ? (st.st_mode & 07777) : 0600);
  if (existed && ::geteuid() == 0 && ::chown(custom.c_str(), st.st_uid, st.st_gid) != 0)
    Fail("cannot give " + custom + " back its owner: " + ErrnoString());
  step.Done(std::to_string(m.moved.size()) + " into custom.env: " + Joined(m.moved) + left);
}

}  // namespace mig
