// ListTree, Apply and HardLinkSnapshot on real temporary folders (the file system is the point).
#include "sync/apply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fd.h"

namespace fs = std::filesystem;

namespace mig::sync {
namespace {

// A folder under /tmp, removed with all it holds at the end of the test.
struct Scratch {
  std::string path;
  Scratch() {
    char tmpl[] = "/tmp/migrate-apply-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

void SetMtime(const std::string& path, int64_t sec, long nsec) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {sec, nsec}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

void Write(const std::string& path, const std::string& content, mode_t mode = 0644) {
  { std::ofstream(path, std::ios::binary) << content; }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct stat Lstat(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

std::vector<Entry> List(const std::string& root) {
  Fd fd(OpenDir(root));
  return ListTree(fd.get(), root, false);
}

Plan PlanFor(const std::string& src, const std::string& dst) {
  return MakePlan(List(src), List(dst), {});
}

// Plans and applies a merge of the local folder src into dst.
ApplyStats Merge(const std::string& src, const std::string& dst) {
  auto source = MakeLocalSource(src);
  Plan plan = MakePlan(Collect(*source->Stream(false)), List(dst), {});
  return Apply(plan, *source, dst, {});
}

std::vector<std::string> Paths(const std::vector<Entry>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(e.path);
  return out;
}

}  // namespace

TEST_CASE("list tree puts the root first, a folder before its contents, names in byte order") {
  Scratch t;
  fs::create_directories(t / "a");
  Write(t / "b", "b");
  Write(t / "B", "B");
  Write(t / "a/z", "z");
  Write(t / "a/y", "y");
  Write(t / "a-x", "x");
  std::vector<Entry> es = List(t.path);
  CHECK(Paths(es) == std::vector<std::string>{"", "B", "a", "a/y", "a/z", "a-x", "b"});
  CHECK(es[0].type == FileType::kDirectory);
  CHECK(es[2].type == FileType::kDirectory);
  CHECK(es[3].size == 1);
}

TEST_CASE("list tree does not follow symlinks") {
  Scratch t, other;
  Write(other / "secret", "s");
  REQUIRE(::symlink(other.path.c_str(), (t / "link").c_str()) == 0);
  std::vector<Entry> es = List(t.path);
  REQUIRE(Paths(es) == std::vector<std::string>{"", "link"});
  CHECK(es[1].type == FileType::kSymlink);
  CHECK(es[1].link_target == other.path);
}

TEST_CASE("merge creates files with their mode and nanosecond mtime") {
  Scratch s, d;
  fs::create_directories(s / "sub");
  Write(s / "sub/f", "hello", 0640);
  SetMtime(s / "sub/f", 1600000000, 123456789);
  ApplyStats st = Merge(s.path, d.path);
  CHECK(Read(d / "sub/f") == "hello");
  struct stat f = Lstat(d / "sub/f");
  CHECK((f.st_mode & 07777) == 0640);
  CHECK(f.st_mtim.tv_sec == 1600000000);
  CHECK(f.st_mtim.tv_nsec == 123456789);
  CHECK(st.files_written == 1);
  CHECK(st.bytes_written == 5);
  CHECK(st.dirs_created == 1);
  CHECK(st.hashes_checked == 1);
}

TEST_CASE("merge keeps target-only files") {
  Scratch s, d;
  Write(s / "f", "new");
  Write(d / "only", "mine");
  fs::create_directories(d / "keepdir");
  Write(d / "keepdir/x", "x");
  Merge(s.path, d.path);
  CHECK(Read(d / "only") == "mine");
  CHECK(Read(d / "keepdir/x") == "x");
  CHECK(Read(d / "f") == "new");
}

TEST_CASE("merge twice changes nothing the second time") {
  Scratch s, d;
  fs::create_directories(s / "a/b");
  Write(s / "a/b/f", "data");
  REQUIRE(::symlink("a/b/f", (s / "l").c_str()) == 0);
  Merge(s.path, d.path);
  PlanTotals t = PlanFor(s.path, d.path).totals;
  CHECK(t.create == 0);
  CHECK(t.replace == 0);
  CHECK(t.attrs == 0);
}

TEST_CASE("merge replaces a target folder by a file") {
  Scratch s, d;
  Write(s / "x", "file now");
  fs::create_directories(d / "x/deep");
  Write(d / "x/deep/inner", "old");
  ApplyStats st = Merge(s.path, d.path);
  CHECK(S_ISREG(Lstat(d / "x").st_mode));
  CHECK(Read(d / "x") == "file now");
  CHECK(st.removed == 3);  // x, x/deep, x/deep/inner
}

TEST_CASE("merge replaces a target file by a folder") {
  Scratch s, d;
  fs::create_directories(s / "y");
  Write(s / "y/z", "inside");
  Write(d / "y", "was a file");
  Merge(s.path, d.path);
  CHECK(S_ISDIR(Lstat(d / "y").st_mode));
  CHECK(Read(d / "y/z") == "inside");
}

TEST_CASE("merge never writes through a target symlink where the source has a folder") {
  Scratch s, d, elsewhere;
  fs::create_directories(s / "data");
  Write(s / "data/f", "payload");
  REQUIRE(::symlink(elsewhere.path.c_str(), (d / "data").c_str()) == 0);
  Merge(s.path, d.path);
  CHECK(S_ISDIR(Lstat(d / "data").st_mode));
  CHECK(Read(d / "data/f") == "payload");
  CHECK(fs::is_empty(elsewhere.path));
}

TEST_CASE("merge refuses a plan whose folder is a symlink in the target") {
  // A stale plan (the target changed after planning) must not write through a symlink.
  Scratch s, d, elsewhere;
  fs::create_directories(s / "data");
  Write(s / "data/f", "payload");
  fs::create_directories(d / "data");
  auto source = MakeLocalSource(s.path);
  Plan plan = MakePlan(Collect(*source->Stream(false)), List(d.path), {});
  fs::remove(d / "data");
  REQUIRE(::symlink(elsewhere.path.c_str(), (d / "data").c_str()) == 0);
  CHECK_THROWS_AS(Apply(plan, *source, d.path, {}), Error);
  CHECK(fs::is_empty(elsewhere.path));
}

TEST_CASE("merge gives a hard-linked target file a new inode for an attribute change") {
  Scratch s, d, other;
  Write(s / "f", "same content", 0600);
  SetMtime(s / "f", 1500000000, 0);
  Write(d / "f", "same content", 0644);
  SetMtime(d / "f", 1500000000, 0);
  REQUIRE(::link((d / "f").c_str(), (other / "f").c_str()) == 0);
  ino_t before = Lstat(d / "f").st_ino;

  Plan plan = PlanFor(s.path, d.path);
  REQUIRE(plan.items[1].action == Action::kAttrs);
  auto source = MakeLocalSource(s.path);
  Apply(plan, *source, d.path, {});

  struct stat t = Lstat(d / "f"), o = Lstat(other / "f");
  CHECK(t.st_ino != before);
  CHECK((t.st_mode & 07777) == 0600);
  CHECK(Read(d / "f") == "same content");
  CHECK(o.st_ino == before);
  CHECK((o.st_mode & 07777) == 0644);
  CHECK(o.st_nlink == 1);
}

TEST_CASE("merge changes the attributes of an unshared file in place") {
  Scratch s, d;
  Write(s / "f", "abc", 0600);
  SetMtime(s / "f", 1500000000, 7);
  Write(d / "f", "abc", 0644);
  SetMtime(d / "f", 1500000000, 7);
  ino_t before = Lstat(d / "f").st_ino;
  ApplyStats st = Merge(s.path, d.path);
  CHECK(Lstat(d / "f").st_ino == before);
  CHECK((Lstat(d / "f").st_mode & 07777) == 0600);
  CHECK(st.attrs_updated == 1);
  CHECK(st.files_written == 0);
}

TEST_CASE("merge keeps a sparse file sparse") {
  Scratch s, d;
  const off_t size = 8 << 20;
  {
    Fd f(::open((s / "sparse").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    REQUIRE(f.valid());
    REQUIRE(::ftruncate(f.get(), size) == 0);
    REQUIRE(::pwrite(f.get(), "island", 6, 1 << 20) == 6);
  }
  REQUIRE(Lstat(s / "sparse").st_blocks * 512 < size);
  Merge(s.path, d.path);
  struct stat t = Lstat(d / "sparse");
  CHECK(t.st_size == size);
  CHECK(t.st_blocks * 512 < 1 << 20);
  CHECK(Read(d / "sparse") == Read(s / "sparse"));
}

TEST_CASE("merge removes a stale temporary file from the target") {
  Scratch s, d;
  Write(s / "f", "x");
  fs::create_directories(d / "sub");
  Write(d / ".migrate.tmp.1.1", "half written");
  Write(d / "sub/.migrate.tmp.1.2", "half written");
  ApplyStats st = Merge(s.path, d.path);
  CHECK_FALSE(fs::exists(d / ".migrate.tmp.1.1"));
  CHECK_FALSE(fs::exists(d / "sub/.migrate.tmp.1.2"));
  CHECK(st.stale_temps_removed == 2);
  for (const auto& e : fs::recursive_directory_iterator(d.path))
    CHECK(e.path().filename().string().rfind(".migrate.tmp.", 0) != 0);
}

TEST_CASE("merge sets folder mtimes after their contents") {
  Scratch s, d;
  fs::create_directories(s / "a/b");
  Write(s / "a/b/f", "x");
  Write(s / "a/g", "y");
  SetMtime(s / "a/b", 1400000000, 111);
  SetMtime(s / "a", 1300000000, 222);
  Merge(s.path, d.path);
  CHECK(Lstat(d / "a/b").st_mtim.tv_sec == 1400000000);
  CHECK(Lstat(d / "a/b").st_mtim.tv_nsec == 111);
  CHECK(Lstat(d / "a").st_mtim.tv_sec == 1300000000);
  CHECK(Lstat(d / "a").st_mtim.tv_nsec == 222);
}

TEST_CASE("merge restores the mtime of an unchanged folder whose file it replaced") {
  // The folder is planned kSkip (same mode and mtime), but renaming the new file into it
  // changes its mtime, and Apply only sets the times of folders not planned kSkip.
  Scratch s, d;
  fs::create_directories(s / "a");
  fs::create_directories(d / "a");
  Write(s / "a/f", "new content");
  Write(d / "a/f", "old");
  SetMtime(s / "a", 1300000000, 5);
  SetMtime(d / "a", 1300000000, 5);
  Merge(s.path, d.path);
  REQUIRE(Read(d / "a/f") == "new content");
  CHECK(Lstat(d / "a").st_mtim.tv_sec == 1300000000);
  CHECK(Lstat(d / "a").st_mtim.tv_nsec == 5);
}

TEST_CASE("merge carries symlinks as symlinks") {
  Scratch s, d;
  REQUIRE(::symlink("../nowhere", (s / "l").c_str()) == 0);
  REQUIRE(::symlink("old-target", (d / "l").c_str()) == 0);
  ApplyStats st = Merge(s.path, d.path);
  CHECK(fs::read_symlink(d / "l") == "../nowhere");
  CHECK(st.links_written == 1);
}

TEST_CASE("hard-link snapshot links files and copies symlinks") {
  Scratch t;
  std::string root = t / "data", backup = t / "data.backup";
  fs::create_directories(root + "/sub");
  Write(root + "/f", "one");
  Write(root + "/sub/g", "two", 0600);
  REQUIRE(::symlink("f", (root + "/l").c_str()) == 0);
  SetMtime(root + "/sub", 1200000000, 9);

  uint64_t n = HardLinkSnapshot(root, backup);
  CHECK(n == 5);  // root, f, l, sub, sub/g
  CHECK(Lstat(backup + "/f").st_ino == Lstat(root + "/f").st_ino);
  CHECK(Lstat(backup + "/sub/g").st_ino == Lstat(root + "/sub/g").st_ino);
  CHECK(Lstat(root + "/f").st_nlink == 2);
  CHECK(S_ISLNK(Lstat(backup + "/l").st_mode));
  CHECK(fs::read_symlink(backup + "/l") == "f");
  CHECK(Lstat(backup + "/l").st_ino != Lstat(root + "/l").st_ino);
  CHECK(Lstat(backup + "/sub").st_mtim.tv_sec == 1200000000);
  CHECK(Lstat(backup + "/sub").st_mtim.tv_nsec == 9);
}

TEST_CASE("hard-link snapshot refuses an existing backup folder") {
  Scratch t;
  fs::create_directories(t / "data");
  fs::create_directories(t / "data.backup");
  CHECK_THROWS_AS(HardLinkSnapshot(t / "data", t / "data.backup"), Error);
}

namespace {
// A source whose file `gone` is deleted between the listing and the copy.
TEST_CASE("merge goes on without a source file deleted since the listing, as rsync does") {
  Scratch src, dst;
  Write(src / "a", "aaa");
  Write(src / "gone", "soon deleted");
  Write(src / "z", "zzz");
  auto source = MakeLocalSource(src.path);
  Plan plan = MakePlan(Collect(*source->Stream(false)), List(dst.path), {});
  REQUIRE(::unlink((src / "gone").c_str()) == 0);
  ApplyStats st = Apply(plan, *source, dst.path, {});
  CHECK(st.vanished == 1);
  CHECK(st.files_written == 2);
  CHECK(Read(dst / "a") == "aaa");
  CHECK(Read(dst / "z") == "zzz");
  CHECK(Paths(List(dst.path)) == std::vector<std::string>{"", "a", "z"});  // no temporary left
}

TEST_CASE("merge in chunks of one entry equals the merge in one piece") {
  Scratch src, one, many;
  fs::create_directories(src / "d/e");
  Write(src / "d/e/f", "deep");
  Write(src / "d/x", "x");
  Write(src / "top", "t");
  SetMtime(src / "d/e", 1000, 1);
  SetMtime(src / "d", 2000, 2);
  auto source = MakeLocalSource(src.path);
  MergeOptions whole;
  whole.chunk_items = 1u << 20;
  MergeResult a = sync::Merge(*source, one.path, whole);
  MergeOptions tiny;
  tiny.chunk_items = 1;
  MergeResult b = sync::Merge(*source, many.path, tiny);
  CHECK(a.stats.files_written == 3);
  CHECK(b.stats.files_written == 3);
  CHECK(b.totals.create == a.totals.create);
  for (const char* p : {"d", "d/e"}) {
    CHECK(Lstat(one / p).st_mtim.tv_sec == Lstat(many / p).st_mtim.tv_sec);
    CHECK(Lstat(many / p).st_mtim.tv_nsec == Lstat(src / p).st_mtim.tv_nsec);
  }
  CHECK(Read(many / "d/e/f") == "deep");
}
}  // namespace

}  // namespace mig::sync

namespace mig::sync {
namespace {

// Every entry of a tree with the attributes rsync -a carries, one line each (a folder's mtime
// included: both sides set it after its contents).
std::string TreeText(const std::string& dir) {
  std::ostringstream o;
  for (const auto& e : ListTreeIfExists(dir))
    o << "'" << e.path << "' " << TypeName(e.type) << " " << std::oct << e.mode << std::dec << " " << e.uid << ":"
      << e.gid << " " << (e.type == FileType::kRegular ? e.size : 0) << " " << e.mtime_sec << "." << e.mtime_nsec
      << " " << e.link_target << "\n";
  return o.str();
}

}  // namespace

TEST_CASE("merge of some paths only equals rsync -a --force with those paths included, the rest unread") {
  Scratch t;
  const std::string src = t / "old", dst = t / "new", oracle = t / "oracle";
  auto file = [](const std::string& p, const std::string& text, int64_t mtime) {
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << text;
    SetMtime(p, mtime, 123);
  };
  // the old release's root: its legacy paths, and what must not be carried
  file(src + "/Caddyfile", "old caddy", 1600000000);
  file(src + "/.caddy/certs/site.crt", "cert", 1600000001);
  file(src + "/etc/ssl/private/key.pem", "key", 1600000002);
  ::chmod((src + "/etc/ssl/private/key.pem").c_str(), 0600);
  file(src + "/etc/scripts/not-carried.sh", "no", 1600000003);
  file(src + "/data/not-carried", "no", 1600000004);
  file(src + "/docker-compose.yml", "old compose", 1600000005);
  fs::create_symlink("certs/site.crt", src + "/.caddy/current");
  // the new release's root: its own files, a Caddyfile of its own, an etc/ with more
  file(dst + "/Caddyfile", "new caddy, longer", 1700000000);
  file(dst + "/etc/scripts/upgrade.sh", "new script", 1700000001);
  file(dst + "/data/keep", "new data", 1700000002);
  file(dst + "/docker-compose.yml", "new compose", 1700000003);
  file(dst + "/.caddy/stale", "target only", 1700000004);
  // Every folder's and the symlink's time seconds away from now: rsync compares times in whole
  // seconds and leaves a folder it made this second as it is.
  int64_t when = 1500000000;
  for (const char* p : {"/.caddy/current", "/.caddy/certs", "/.caddy", "/etc/ssl/private", "/etc/ssl", "/etc/scripts", "/etc",
                        "/data", ""})
    SetMtime(src + p, when += 10, 7);
  REQUIRE(std::system(("cp -a " + dst + " " + oracle).c_str()) == 0);
  const std::vector<std::string> only = {".caddy", "Caddyfile", "etc/ssl", ".pivot-db"};  // (.pivot-db absent)
  // (each folder and its contents as rules of their own: rsync 3.5 leaves the times of a folder
  // matched by "/P/***" and of what it holds as it made them)
  REQUIRE(std::system(("rsync -a --force --include='/.caddy/' --include='/.caddy/**' --include=/Caddyfile --include='/etc/' "
                       "--include='/etc/ssl/' --include='/etc/ssl/**' --include=/.pivot-db --include='/.pivot-db/' "
                       "--include='/.pivot-db/**' --exclude='*' " + src + "/ " + oracle + "/").c_str()) == 0);
  auto source = MakeLocalSource(src);
  MergeOptions o;
  o.only = only;
  o.apply.set_owner = ::geteuid() == 0;
  const MergeResult r = Merge(*source, dst, o);
  CHECK(TreeText(dst) == TreeText(oracle));
  CHECK(r.totals.kept == 1);  // .caddy/stale: what only the target has outside the paths is not even read
  CHECK(std::ifstream(dst + "/data/keep").good());
  CHECK_FALSE(fs::exists(dst + "/data/not-carried"));
  CHECK_FALSE(fs::exists(dst + "/etc/scripts/not-carried.sh"));
  // the walk with `only` never lists what lies outside
  std::vector<std::string> walked;
  for (const auto& e : Collect(*WalkTreeIfExists(dst, only))) walked.push_back(e.path);
  CHECK(walked == std::vector<std::string>{"", ".caddy", ".caddy/certs", ".caddy/certs/site.crt", ".caddy/current",
                                           ".caddy/stale", "Caddyfile", "etc", "etc/ssl", "etc/ssl/private",
                                           "etc/ssl/private/key.pem"});
  // again: nothing to do
  const MergeResult again = Merge(*MakeLocalSource(src), dst, o);
  CHECK(again.totals.create + again.totals.replace + again.totals.attrs == 0);
}

}  // namespace mig::sync

namespace mig::sync {

TEST_CASE("merge of some paths: a folder's time is its source's after a folder was created in it, the root unchanged") {
  Scratch t;
  const std::string src = t / "stage", dst = t / "release";
  fs::create_directories(src + "/etc/ssl");
  std::ofstream(src + "/etc/ssl/k") << "k";
  fs::create_directories(dst + "/etc/scripts");
  std::ofstream(dst + "/etc/scripts/u") << "u";
  fs::create_directories(src + "/.caddy/certs");
  std::ofstream(src + "/.caddy/certs/c") << "c";
  std::ofstream(src + "/Caddyfile") << "old";
  std::ofstream(dst + "/Caddyfile") << "new, longer";
  SetMtime(src + "/etc/ssl/k", 1600000000, 1);
  SetMtime(src + "/etc/ssl", 1600000010, 2);
  SetMtime(src + "/etc", 1600000020, 3);
  struct stat st {};
  REQUIRE(::stat(dst.c_str(), &st) == 0);  // the root as the release's own (what CarryRootPaths does)
  SetMtime(src, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  MergeOptions o;
  o.only = {"Caddyfile", ".caddy", "etc/ssl", ".pivot-db"};
  o.apply.set_owner = ::geteuid() == 0;
  Merge(*MakeLocalSource(src), dst, o);
  REQUIRE(::stat((dst + "/etc").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1600000020);
  CHECK(st.st_mtim.tv_nsec == 3);
}

}  // namespace mig::sync

namespace mig::sync {

TEST_CASE("merge: a folder whose only change is its time gets the source's time") {
  Scratch t;
  const std::string src = t / "src", dst = t / "dst";
  for (const auto& d : {src, dst}) {
    fs::create_directories(d + "/etc/ssl");
    std::ofstream(d + "/etc/ssl/k") << "k";
    SetMtime(d + "/etc/ssl/k", 1600000000, 1);
    SetMtime(d + "/etc/ssl", 1600000010, 2);
  }
  SetMtime(src + "/etc", 1600000020, 3);
  SetMtime(dst + "/etc", 1500000000, 0);
  struct stat st {};
  REQUIRE(::stat(dst.c_str(), &st) == 0);
  SetMtime(src, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  MergeOptions o;
  o.only = {"etc/ssl"};
  const MergeResult r = Merge(*MakeLocalSource(src), dst, o);
  CHECK(r.totals.attrs == 1);
  REQUIRE(::stat((dst + "/etc").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1600000020);
  o.only.clear();  // the same without `only`
  SetMtime(dst + "/etc", 1500000000, 0);
  Merge(*MakeLocalSource(src), dst, o);
  REQUIRE(::stat((dst + "/etc").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1600000020);
}

}  // namespace mig::sync
