// The data/ swap done entry by entry (data/ a mount point): the result, data/'s own attributes,
// and a rename that fails undoing the ones before it. Run on plain folders: SwapData takes the
// in-place way from StagedData, not from the file system.
#include "restore/data_step.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"

namespace fs = std::filesystem;
using namespace mig;

namespace {

std::string DataStepRead(const std::string& path) { return ReadSmallFile(path).value_or("<missing>"); }

// data/ with a, b/, old-only; the stage (data/.migrate-restore/data) with a, b/, new-only.
struct InPlaceSwap {
  TempDir root{"data-step-test"};
  std::string data = root.path() + "/data", work = data + "/" + kRestoreStageName, stage = work + "/data";
  StagedData staged;
  InPlaceSwap() {
    fs::create_directories(data + "/b");
    fs::create_directories(stage + "/b");
    std::ofstream(data + "/a") << "old a";
    std::ofstream(data + "/b/f") << "old b";
    std::ofstream(data + "/old-only") << "old only";
    std::ofstream(stage + "/a") << "new a";
    std::ofstream(stage + "/b/f") << "new b";
    std::ofstream(stage + "/new-only") << "new only";
    ::chmod(stage.c_str(), 0750);
    const struct timespec t[2] = {{1700000000, 5}, {1700000000, 5}};
    ::utimensat(AT_FDCWD, stage.c_str(), t, 0);
    staged.data_dir = data;
    staged.stage = stage;
    staged.in_place = true;
  }
};

}  // namespace

TEST_CASE("an in-place swap makes data/ the staged tree, its own mode and time included, and leaves no stage") {
  InPlaceSwap t;
  SwapData(t.staged);
  CHECK(DataStepRead(t.data + "/a") == "new a");
  CHECK(DataStepRead(t.data + "/b/f") == "new b");
  CHECK(DataStepRead(t.data + "/new-only") == "new only");
  CHECK_FALSE(fs::exists(t.data + "/old-only"));
  CHECK_FALSE(fs::exists(t.work));
  struct stat st {};
  REQUIRE(::stat(t.data.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0750);
  CHECK(st.st_mtim.tv_sec == 1700000000);
  CHECK(st.st_mtim.tv_nsec == 5);
}

TEST_CASE("an in-place swap whose rename fails puts back what it had done and says data/ is as it was") {
  InPlaceSwap t;
  // old-only cannot move to replaced/: a non-empty folder of that name is in the way (ENOTEMPTY
  // or EISDIR), after a, b and new-only were put in place.
  fs::create_directories(t.work + "/replaced/old-only/in-the-way");
  CHECK_THROWS_WITH(SwapData(t.staged), Catch::Contains("cannot move " + t.data + "/old-only out of the way") &&
                                            Catch::Contains("data/ is as it was"));
  CHECK(DataStepRead(t.data + "/a") == "old a");
  CHECK(DataStepRead(t.data + "/b/f") == "old b");
  CHECK(DataStepRead(t.data + "/old-only") == "old only");
  CHECK_FALSE(fs::exists(t.data + "/new-only"));
  CHECK(DataStepRead(t.stage + "/a") == "new a");  // the stage is whole again, for the next restore
  CHECK(DataStepRead(t.stage + "/new-only") == "new only");
}
