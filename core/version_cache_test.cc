// The versions kept per executable: asked once, asked again when the executable changes.
#include "core/version_cache.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/files.h"

namespace mig {

namespace {

// XDG_CACHE_HOME and PATH pointed into a folder of the test's, set back at the end.
struct CacheHome {
  TempDir dir{"version-cache-test"};
  std::string old_xdg = std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME") : "";
  std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  CacheHome() {
    ::setenv("XDG_CACHE_HOME", (dir.path() + "/cache").c_str(), 1);
    ::setenv("PATH", (dir.path() + ":" + old_path).c_str(), 1);
  }
  ~CacheHome() {
    if (old_xdg.empty()) ::unsetenv("XDG_CACHE_HOME");
    else ::setenv("XDG_CACHE_HOME", old_xdg.c_str(), 1);
    ::setenv("PATH", old_path.c_str(), 1);
  }
  void Program(const std::string& name, const std::string& text) const {
    const std::string p = dir.path() + "/" + name;
    { std::ofstream(p) << text; }
    ::chmod(p.c_str(), 0755);
  }
};

}  // namespace

TEST_CASE("a program's version is asked once, and again when its executable changed") {
  CacheHome home;
  home.Program("migrate-test-prog", "#!/bin/sh\necho 1.0\n");
  home.Program("migrate-test-other", "#!/bin/sh\n");
  int asked = 0;
  auto ask = [&asked](std::string v) { return [&asked, v] { ++asked; return v; }; };
  CHECK(CachedVersion("migrate-test-prog", ask("1.0")) == "1.0");
  CHECK(CachedVersion("migrate-test-other", ask("7")) == "7");
  CHECK(asked == 2);
  CHECK(CachedVersion("migrate-test-prog", ask("never asked")) == "1.0");
  CHECK(CachedVersion("migrate-test-other", ask("never asked")) == "7");
  CHECK(asked == 2);
  CHECK(VersionCacheFile() == home.dir.path() + "/cache/migrate/versions");

  home.Program("migrate-test-prog", "#!/bin/sh\necho 2.0 # upgraded\n");  // another size
  CHECK(CachedVersion("migrate-test-prog", ask("2.0")) == "2.0");
  CHECK(asked == 3);
  CHECK(CachedVersion("migrate-test-other", ask("never asked")) == "7");  // the other line kept
  CHECK(asked == 3);
}

TEST_CASE("a version cache that is damaged or cannot be written only costs the asking") {
  CacheHome home;
  home.Program("migrate-test-prog", "#!/bin/sh\n");
  int asked = 0;
  auto ask = [&asked] { ++asked; return std::string("3.1"); };
  std::filesystem::create_directories(home.dir.path() + "/cache/migrate");
  { std::ofstream(VersionCacheFile()) << "garbage without tabs\nmigrate-test-prog\tonly two\n"; }
  CHECK(CachedVersion("migrate-test-prog", ask) == "3.1");
  CHECK(CachedVersion("migrate-test-prog", ask) == "3.1");
  CHECK(asked == 1);

  int empty_asked = 0;  // an answer of "" (the program failed) is not kept
  auto fails = [&empty_asked] { ++empty_asked; return std::string(); };
  home.Program("migrate-test-broken", "#!/bin/sh\nexit 1\n");
  CHECK(CachedVersion("migrate-test-broken", fails).empty());
  CHECK(CachedVersion("migrate-test-broken", fails).empty());
  CHECK(empty_asked == 2);

  std::filesystem::remove_all(home.dir.path() + "/cache");  // a cache home that is a file
  { std::ofstream(home.dir.path() + "/cache") << "not a folder"; }
  CHECK(CachedVersion("migrate-test-prog", ask) == "3.1");
  CHECK(asked == 2);

  CHECK(CachedVersion("migrate-no-such-program", ask) == "3.1");  // not on PATH: asked, not kept
  CHECK(asked == 3);

  std::filesystem::remove(home.dir.path() + "/cache");  // a kept answer the caller cannot read: asked again
  CHECK(CachedVersion("migrate-test-prog", ask) == "3.1");
  CHECK(asked == 4);
  auto not_this = [](const std::string& v) { return v != "3.1"; };
  CHECK(CachedVersion("migrate-test-prog", ask, not_this) == "3.1");
  CHECK(asked == 5);
  CHECK(CachedVersion("migrate-test-prog", ask) == "3.1");
  CHECK(asked == 5);
}

}  // namespace mig
