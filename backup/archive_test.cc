#include "backup/archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"

namespace fs = std::filesystem;
using namespace mig;
using namespace mig::backup;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A backup's files as restic restores them, and its manifest.
struct Fixture {
  TempDir tmp{"archive-test"};
  std::string stage = tmp.path() + "/stage", file = tmp.path() + "/backup.tar";
  std::string dump = std::string(100000, 'D') + "the dump's last words";
  Manifest m;
  Fixture() {
    fs::create_directories(stage + "/data/sub");
    std::ofstream(stage + "/data/sub/photo.jpg") << "photo bytes: unique-marker-1234";
    std::ofstream(stage + "/data/index.html") << "index";
    std::ofstream(stage + "/data/new\nline \\ ünï") << "a name sha256sum must escape";
    fs::create_symlink("sub", stage + "/data/latest");
    std::ofstream(stage + "/VERSION") << "1.0.0\n";
    struct timespec times[2] = {{1577934245, 123456789}, {1577934245, 123456789}};
    ::utimensat(AT_FDCWD, (stage + "/data/index.html").c_str(), times, AT_SYMLINK_NOFOLLOW);
    ::chmod((stage + "/data/index.html").c_str(), 04755);
    m.id = "3fa85f64";
    m.timestamp = "2026-11-30t21-00-00";
    m.status = "ready";
    m.version = "1.0.0";
    m.config = {"VERSION"};
    DbPart d;
    d.major = 15;
    d.name = "appdb";
    d.state.tables["public.users"] = 12;
    d.dump_bytes = dump.size();
    m.db = d;
  }
  void Write() {
    WriteArchive(file, m, stage, [&](const auto& out) { out(dump.data(), dump.size()); });
  }
};

}  // namespace

TEST_CASE("export file: written, verified, extracted with times and modes, its dump read back") {
  Fixture f;
  f.Write();
  CHECK_FALSE(fs::exists(f.file + ".partial"));
  Manifest back = VerifyArchive(f.file);
  CHECK(ToJson(back) == ToJson(f.m));
  const std::string out = f.tmp.path() + "/out";
  CHECK(ExtractArchive(f.file, "data/", out + "/data", {}) == 6);  // data, sub, photo, index, latest, new...
  CHECK(Slurp(out + "/data/new\nline \\ ünï") == "a name sha256sum must escape");
  CHECK(Slurp(out + "/data/sub/photo.jpg") == "photo bytes: unique-marker-1234");
  CHECK(fs::read_symlink(out + "/data/latest") == "sub");
  struct stat st {};
  REQUIRE(::stat((out + "/data/index.html").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1577934245);
  CHECK(st.st_mtim.tv_nsec == 123456789);
  CHECK((st.st_mode & 07777) == 04755);
  ExtractArchive(f.file, "config/", out, {});
  CHECK(Slurp(out + "/VERSION") == "1.0.0\n");
  // --skip: a kept path is not written
  const std::string partial = f.tmp.path() + "/partial";
  ExtractArchive(f.file, "data/", partial + "/data", {"sub"});
  CHECK_FALSE(fs::exists(partial + "/data/sub"));
  CHECK(fs::exists(partial + "/data/index.html"));
  ArchiveDump d(f.file, back);
  d.Start();
  std::string got;
  char buf[4096];
  for (size_t n; (n = d.Read(buf, sizeof buf)) > 0;) got.append(buf, n);
  CHECK(got == f.dump);
  CHECK(d.End().tables.at("public.users") == 12);
}

TEST_CASE("export file: a changed byte, a cut end or a foreign tar is refused (exit 2)") {
  Fixture f;
  f.Write();
  std::string bytes = Slurp(f.file);
  auto refused = [&](const std::string& content, const char* why) {
    std::ofstream(f.file, std::ios::binary | std::ios::trunc) << content;
    try {
      VerifyArchive(f.file);
      FAIL("accepted: " << why);
    } catch (const Error& e) {
      CHECK(e.exit_code() == 2);
      CHECK_THAT(std::string(e.what()), Catch::Contains("nothing was changed"));
    }
  };
  std::string changed = bytes;
  changed[changed.find("unique-marker-1234")] = 'U';
  refused(changed, "a changed byte in data/");
  std::string dump_changed = bytes;
  dump_changed[dump_changed.find("the dump's last words")] = 'T';
  refused(dump_changed, "a changed byte in the dump");
  refused(bytes.substr(0, bytes.size() / 2), "cut in the middle");
  refused(bytes.substr(0, bytes.find("SHA256SUMS") - 200), "cut before its checksums");
  refused("", "empty");
  // data/ as a symbolic link (to /), or a device node: refused before anything is read further.
  const std::string evil = f.tmp.path() + "/evil";
  fs::create_directories(evil);
  std::ofstream(evil + "/manifest.json") << "{}";
  fs::create_symlink("/", evil + "/data");
  REQUIRE(std::system(("tar -cf " + f.file + " -C " + evil + " manifest.json data").c_str()) == 0);
  CHECK_THROWS_WITH(VerifyArchive(f.file), Catch::Contains("its data is not a folder"));
  fs::remove(evil + "/data");
  fs::create_directories(evil + "/data");
  REQUIRE(std::system(("cd " + evil + " && cp -a /dev/null data/null && tar -cf " + f.file +
                       " manifest.json data").c_str()) == 0);
  CHECK_THROWS_WITH(VerifyArchive(f.file), Catch::Contains("device member data/null"));
  // A tar of something else.
  const std::string other = f.tmp.path() + "/other";
  fs::create_directories(other);
  std::ofstream(other + "/hello") << "hi";
  REQUIRE(std::system(("tar -cf " + f.file + " -C " + other + " hello").c_str()) == 0);
  try {
    VerifyArchive(f.file);
    FAIL("a foreign tar was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("does not start with manifest.json") != std::string::npos);
  }
}

TEST_CASE("export file of a Swarm backup: each volume's tar a member, read back whole; a missing or foreign one refused") {
  Fixture f;
  SwarmPart sp;
  sp.stack = "demo";
  const std::string vol_a = std::string(70000, 'a') + "volume-a-marker", vol_b = "volume b";
  sp.volumes.push_back({"demo_app_data", "app", "node2", vol_a.size(), "volume-0", "snap-a"});
  sp.volumes.push_back({"demo_app_data", "app", "node3", vol_b.size(), "volume-1", "snap-b"});
  f.m.swarm = sp;
  auto write = [&](const Manifest& m) {
    WriteArchive(
        f.file, m, f.stage, [&](const Sink& out) { out(f.dump.data(), f.dump.size()); },
        [&](const SwarmPart::Volume& v, const Sink& out) {
          const std::string& t = v.node == "node2" ? vol_a : vol_b;
          out(t.data(), t.size());
        });
  };
  write(f.m);
  REQUIRE(std::system(("tar -tf " + f.file + " | grep -qx volumes/node3/demo_app_data.tar").c_str()) == 0);
  const Manifest back = VerifyArchive(f.file);
  auto read_all = [&](ArchiveMember& p) {
    std::string got;
    char buf[4096];
    for (size_t n; (n = p.read(buf, sizeof buf)) > 0;) got.append(buf, n);
    return got;
  };
  ArchiveMember a(f.file, VolumeMember(back.swarm->volumes[0]), back.swarm->volumes[0].bytes);
  CHECK(read_all(a) == vol_a);
  CHECK(a.wait() == 0);
  // A manifest whose size is not the member's: the reader says so (the restore keeps the old tree).
  ArchiveMember wrong(f.file, VolumeMember(back.swarm->volumes[1]), 3);
  read_all(wrong);
  CHECK(wrong.wait() == 1);
  CHECK_THAT(wrong.err_text(), Catch::Contains("where its manifest says 3"));
  CHECK_THROWS_WITH(ArchiveMember(f.file, "volumes/node9/x.tar", 1), Catch::Contains("has no volumes/node9/x.tar"));
  // A changed byte in a volume.
  std::string bytes = Slurp(f.file);
  bytes[bytes.find("volume-a-marker")] = 'V';
  std::ofstream(f.file, std::ios::binary | std::ios::trunc) << bytes;
  CHECK_THROWS_WITH(VerifyArchive(f.file), Catch::Contains("volumes/node2/demo_app_data.tar does not match its checksum"));
  // Rebuilt by hand with GNU tar and sha256sum, its checksums consistent: a manifest naming a
  // volume the file lacks, or a file holding a volume its manifest does not name.
  fs::remove(f.stage + "/data/new\nline \\ ünï");  // (a name the shell loop below cannot carry)
  auto rebuild = [&](const Manifest& m, const std::string& drop) {
    write(f.m);
    const std::string x = f.tmp.path() + "/x";
    fs::remove_all(x);
    fs::create_directories(x);
    REQUIRE(std::system(("tar -xf " + f.file + " -C " + x).c_str()) == 0);
    std::ofstream(x + "/manifest.json", std::ios::trunc) << ToJson(m).dump(2) << "\n";
    if (!drop.empty()) fs::remove(x + "/" + drop);
    const std::string cmd = "cd " + x + " && find . -type f ! -name SHA256SUMS -printf '%P\\n' | sort | "
                            "while read -r n; do sha256sum \"$n\"; done >SHA256SUMS && tar -cf " + f.file +
                            " --no-recursion manifest.json config/VERSION $(find data) db.dump $(find volumes -type f) SHA256SUMS";
    REQUIRE(std::system(cmd.c_str()) == 0);
  };
  rebuild(f.m, "");
  CHECK_NOTHROW(VerifyArchive(f.file));  // the hand-made file itself is accepted
  rebuild(f.m, "volumes/node3/demo_app_data.tar");
  CHECK_THROWS_WITH(VerifyArchive(f.file), Catch::Contains("names the volume volumes/node3/demo_app_data.tar, which it lacks"));
  Manifest less = f.m;
  less.swarm->volumes.pop_back();
  rebuild(less, "");
  CHECK_THROWS_WITH(VerifyArchive(f.file), Catch::Contains("volumes/node3/demo_app_data.tar is no volume of its manifest"));
}
