#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fd.h"

namespace fs = std::filesystem;
using namespace mig;

namespace {
// Sets an environment variable for the life of the object.
struct ScopedEnv {
  std::string key, old;
  bool had;
  ScopedEnv(const char* k, const std::string& v) : key(k) {
    const char* o = std::getenv(k);
    had = o != nullptr;
    if (had) old = o;
    ::setenv(k, v.c_str(), 1);
  }
  ~ScopedEnv() { had ? (void)::setenv(key.c_str(), old.c_str(), 1) : (void)::unsetenv(key.c_str()); }
};
}  // namespace

TEST_CASE("WriteFileAtomic replaces the whole file with the mode asked and leaves no temporary") {
  TempDir d("files-test");
  const std::string p = d.path() + "/state.json";
  WriteFileAtomic(p, "first\n");
  WriteFileAtomic(p, "second, longer\n", 0600);
  CHECK(*ReadSmallFile(p) == "second, longer\n");
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("WriteFileAtomic into a missing folder fails naming the file and keeps nothing") {
  TempDir d("files-test");
  try {
    WriteFileAtomic(d.path() + "/nope/report.json", "x");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 1);
    CHECK(std::string(e.what()).find("cannot write " + d.path() + "/nope/report.json") != std::string::npos);
  }
}

TEST_CASE("ReadSmallFile: absent is nullopt, too large is an error naming the file") {
  TempDir d("files-test");
  CHECK_FALSE(ReadSmallFile(d.path() + "/absent").has_value());
  WriteFileAtomic(d.path() + "/big", std::string(100, 'x'));
  CHECK_THROWS_WITH(ReadSmallFile(d.path() + "/big", 10), Catch::Contains(d.path() + "/big is larger than 10 bytes"));
}

TEST_CASE("TempDir makes a private folder under TMPDIR and removes it with its contents") {
  TempDir base("files-test");
  std::string made;
  {
    ScopedEnv env("TMPDIR", base.path());
    TempDir t("probe");
    made = t.path();
    CHECK(made.rfind(base.path() + "/probe.", 0) == 0);
    struct stat st {};
    REQUIRE(::stat(made.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    std::ofstream(made + "/f") << "x";
  }
  CHECK_FALSE(fs::exists(made));
}

TEST_CASE("TempDir that cannot be made throws and removes nothing") {
  TempDir base("files-test");
  const std::string file = base.path() + "/a-file";
  std::ofstream(file) << "keep me";
  ScopedEnv env("TMPDIR", file);  // mkdtemp under a regular file fails (ENOTDIR)
  CHECK_THROWS_WITH(TempDir("probe"), Catch::Contains("cannot create a private folder in " + file));
  CHECK(*ReadSmallFile(file) == "keep me");
}

TEST_CASE("MeasureTree counts entries and the bytes written, never through a link") {
  TempDir d("files-test");
  const std::string t = d.path() + "/tree";
  fs::create_directories(t + "/a/b");
  std::ofstream(t + "/a/b/full") << std::string(10000, 'x');
  std::ofstream(t + "/one") << "y";
  {
    std::ofstream sized(t + "/sized");  // sized by a writer that has not filled it yet
  }
  fs::resize_file(t + "/sized", 1 << 20);
  fs::create_symlink(d.path(), t + "/link");  // a link to the folder above: not walked
  TreeUsage u = MeasureTree(t);
  CHECK(u.entries == 6);  // a, a/b, a/b/full, one, sized, link
  CHECK(u.bytes >= 10000);  // the full file; the 1-byte one may live in its inode (ext4 inline_data)
  CHECK(u.bytes <= 10001);  // the sized file holds nothing yet
  CHECK(MeasureTree(d.path() + "/absent").entries == 0);
}

TEST_CASE("RemoveTreeAt removes a folder with what it holds, a link as a link, never what a link points at") {
  TempDir d("remove-tree");
  const std::string outside = d.path() + "/outside";
  fs::create_directories(outside);
  std::ofstream(outside + "/kept") << "kept";
  const std::string tree = d.path() + "/tree";
  fs::create_directories(tree + "/a/b");
  std::ofstream(tree + "/a/b/file") << "x";
  fs::create_symlink(outside, tree + "/a/link");
  fs::permissions(tree + "/a/b", fs::perms::owner_read | fs::perms::owner_exec);  // not writable: made so
  Fd parent(::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  CHECK(RemoveTreeAt(parent.get(), "tree", tree) == 5);
  CHECK_FALSE(fs::exists(tree));
  CHECK(fs::exists(outside + "/kept"));
  CHECK(RemoveTreeAt(parent.get(), "tree", tree) == 0);  // already gone
}
