// The merge against a source held in memory: what it does with files that misbehave between
// the listing and the copy, without a source folder or an agent.
#include "sync/memory_source.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "sync/apply.h"

namespace fs = std::filesystem;
using namespace mig;
using namespace mig::sync;

namespace {

MergeResult MergeInto(MemorySource& src, const std::string& dst) {
  MergeOptions mo;
  return Merge(src, dst, mo);
}

// Names under `root` that are not final names: the merge's temporaries.
std::vector<std::string> Leftovers(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename().string().find(".migrate") != std::string::npos) out.push_back(e.path().string());
  return out;
}

}  // namespace

TEST_CASE("merge from an in-memory source carries files, folders and symlinks with their attributes") {
  TempDir t("memsrc-test");
  MemorySource src;
  src.AddFile("conf/app.ini", "[app]\n", 0600, 1600000000);
  src.AddDir("empty", 0700, 1600000001);
  src.AddSymlink("current", "conf");
  MergeResult r = MergeInto(src, t.path() + "/data");
  CHECK(r.stats.files_written == 1);
  CHECK(*ReadSmallFile(t.path() + "/data/conf/app.ini") == "[app]\n");
  struct stat st {};
  REQUIRE(::stat((t.path() + "/data/conf/app.ini").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_mtim.tv_sec == 1600000000);
  REQUIRE(::stat((t.path() + "/data/empty").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_mtim.tv_sec == 1600000001);
  CHECK(fs::read_symlink(t.path() + "/data/current") == "conf");
}

TEST_CASE("a source file deleted since the listing is skipped and counted, as rsync does") {
  TempDir t("memsrc-test");
  MemorySource src;
  src.AddFile("a", "kept");
  src.AddFile("gone", "deleted meanwhile");
  src.Vanish("gone");
  MergeResult r = MergeInto(src, t.path() + "/data");
  CHECK(r.stats.vanished == 1);
  CHECK(r.stats.files_written == 1);
  CHECK_FALSE(fs::exists(t.path() + "/data/gone"));
  CHECK(Leftovers(t.path()).empty());
}

TEST_CASE("a source file changed while it was copied carries what was read, and is counted") {
  TempDir t("memsrc-test");
  MemorySource src;
  src.AddFile("log", "first version");
  src.ChangeAfterListing("log", "second, longer version");
  MergeResult r = MergeInto(src, t.path() + "/data");
  CHECK(r.stats.changed_during_copy == 1);
  CHECK(*ReadSmallFile(t.path() + "/data/log") == "second, longer version");
}

TEST_CASE("a source file that cannot be read stops the merge naming it; no half-written file stays") {
  TempDir t("memsrc-test");
  fs::create_directories(t.path() + "/data");
  WriteFileAtomic(t.path() + "/data/b", "the target's own b");
  MemorySource src;
  src.AddFile("a", "fine");
  src.AddFile("b", "unreadable at the source");
  src.FailReading("b");
  CHECK_THROWS_WITH(MergeInto(src, t.path() + "/data"), Catch::Contains("cannot read b"));
  CHECK(*ReadSmallFile(t.path() + "/data/b") == "the target's own b");
  CHECK(Leftovers(t.path()).empty());
}

TEST_CASE("a copy that does not read back as written stops the merge before its batch takes final names") {
  // Read back at once (a file of several buffers too), before its batch is made durable.
  for (const std::string size : {"small", "large"}) {
    DYNAMIC_SECTION(size) {
      TempDir t("memsrc-test");
      fs::create_directories(t.path() + "/data");
      WriteFileAtomic(t.path() + "/data/b", "the target's own b");
      MemorySource src;
      src.AddFile("a", "fine");
      src.AddFile("b", size == "small" ? std::string("new b") : std::string(5u << 20, 'b'));
      src.AddFile("c", "after it");
      src.LandWrong("b");
      CHECK_THROWS_WITH(MergeInto(src, t.path() + "/data"), Catch::Contains("the copy of") &&
                                                                Catch::Contains("/data/b does not read back as written"));
      CHECK(*ReadSmallFile(t.path() + "/data/b") == "the target's own b");
      CHECK_FALSE(fs::exists(t.path() + "/data/a"));  // same batch: never renamed
      CHECK(Leftovers(t.path()).empty());
    }
  }
}
