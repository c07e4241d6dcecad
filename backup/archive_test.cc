#include "backup/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "backup/snapshot_files.h"
#include "core/files.h"
#include "tests/string_proc.h"
#include "tests/test_data.h"

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

// The names of a tar's members, as libarchive reads them.
std::vector<std::string> Members(const std::string& path) {
  std::vector<std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  REQUIRE(archive_read_open_filename(a, path.c_str(), 1 << 16) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) out.push_back(archive_entry_pathname(e));
  archive_read_free(a);
  return out;
}

// A backup's files as the repository gives them (restic 0.14's dump and listing of a recorded
// snapshot: tests/data/restic/record_tree.sh), and its manifest.
struct Fixture {
  TempDir tmp{"archive-test"};
  std::string file = tmp.path() + "/backup.tar";
  std::string dump = std::string(100000, 'D') + "the dump's last words";
  std::string tree = TestData("restic/tree.tar"), listing = TestData("restic/tree.jsonl");
  Manifest m;
  Fixture() {
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
  void Write(const std::function<void(const SwarmPart::Volume&, const Sink&)>& volume = {}) {
    StringProc t(tree), l(listing);
    SnapshotFiles files(t, l, restic::Repo{"/repo", "", {}}, "snapshot 1ca1be2c");
    WriteArchive(file, m, files, [&](const auto& out) { out(dump.data(), dump.size()); }, volume);
  }
};

}  // namespace

TEST_CASE("export file: written from restic's dump and listing, verified, extracted with times and modes, its dump read back") {
  Fixture f;
  f.Write();
  CHECK_FALSE(fs::exists(f.file + ".partial"));
  Manifest back = VerifyArchive(f.file);
  CHECK(ToJson(back) == ToJson(f.m));
  const std::string out = f.tmp.path() + "/out";
  // data, caf\351, empty, index.html, latest, new..., photo-link.jpg, pipe, sub, sub/photo.jpg
  CHECK(ExtractArchive(f.file, "data/", out + "/data", {}) == 10);
  CHECK(Slurp(out + "/data/caf\351") == "a name that is not UTF-8");  // the listing says caf\ufffd
  CHECK(Slurp(out + "/data/new\nline \\ ünï") == "a name sha256sum must escape");
  CHECK(Slurp(out + "/data/sub/photo.jpg") == "photo bytes: unique-marker-1234");
  CHECK(Slurp(out + "/data/photo-link.jpg") == "photo bytes: unique-marker-1234");  // a hard link, whole
  CHECK(fs::read_symlink(out + "/data/latest") == "sub");
  CHECK(fs::is_fifo(out + "/data/pipe"));  // in the listing only (restic 0.14's dump leaves it out)
  CHECK(fs::is_directory(out + "/data/empty"));
  struct stat st {};
  REQUIRE(::stat((out + "/data/index.html").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1577934245);  // the listing's nanoseconds, where the dump has seconds
  CHECK(st.st_mtim.tv_nsec == 123456789);
  CHECK((st.st_mode & 07777) == 04755);
  REQUIRE(::stat((out + "/data/sub/photo.jpg").c_str(), &st) == 0);
  CHECK(st.st_uid == 54321);
  CHECK(st.st_gid == 54321);
  REQUIRE(::lstat((out + "/data/sub").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1623053350);
  CHECK(st.st_mtim.tv_nsec == 500000000);
  REQUIRE(::lstat((out + "/data/latest").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_nsec == 123456789);
  // Of the tree's root, only the configuration the manifest names.
  const std::string config = f.tmp.path() + "/config";
  CHECK(ExtractArchive(f.file, "config/", config, {}) == 1);
  CHECK(Slurp(config + "/VERSION") == "1.0.0\n");
  CHECK_FALSE(fs::exists(config + "/.env"));
  const std::vector<std::string> members = Members(f.file);
  CHECK(std::count(members.begin(), members.end(), "config/VERSION") == 1);
  CHECK(std::none_of(members.begin(), members.end(), [](const std::string& m) { return m.find("manifest-of-format-2") != std::string::npos; }));
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

TEST_CASE("export file: a listing and a dump that disagree, or a restic that failed, leave no file") {
  Fixture f;
  auto refused = [&](const std::string& why) {
    try {
      f.Write();
      FAIL("written");
    } catch (const Error& e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains(why));
    }
    CHECK_FALSE(fs::exists(f.file));
    CHECK_FALSE(fs::exists(f.file + ".partial"));
    f.tree = TestData("restic/tree.tar");
    f.listing = TestData("restic/tree.jsonl");
  };
  const std::string index_line = f.listing.substr(f.listing.find("{\"name\":\"index.html\""));
  const std::string index = index_line.substr(0, index_line.find('\n') + 1);
  // A file the listing names and the dump lacks, and the other way round.
  f.listing.insert(f.listing.find(index), "{\"name\":\"ghost\",\"type\":\"file\",\"path\":\"/data/ghost\",\"size\":1,\"mode\":420,"
                                          "\"mtime\":\"2020-01-02T03:04:05Z\",\"struct_type\":\"node\"}\n");
  refused("its listing names data/ghost, which its dump does not hold before data/index.html (restic's listing and "
          "its dump of the snapshot disagree: `migrate backup check --read-data`");
  f.listing.erase(f.listing.find(index), index.size());
  refused("its listing names data/latest, which its dump does not hold before data/index.html");
  std::string last = f.listing.substr(0, f.listing.rfind("{\"name\""));
  f.listing = last;
  refused("its dump holds manifest-of-format-2.json, which its listing does not name");
  // Another size, another type.
  f.listing.replace(f.listing.find("\"size\":5"), 8, "\"size\":6");
  refused("data/index.html has 5 bytes in its dump and 6 in its listing");
  f.listing.replace(f.listing.find("\"type\":\"symlink\""), 16, "\"type\":\"file\"");
  refused("data/latest is a file in its listing but not in its dump");
  // The dump cut short, or not a tar; the listing not restic's.
  f.tree.resize(f.tree.find("a name sha256sum must escape") + 5);
  refused("its dump is cut short or damaged");
  f.listing.replace(f.listing.find("{\"name\":\"sub\""), 1, "[");
  refused("restic ls wrote a line that is not JSON");
  // restic failed: its sentence.
  StringProc t("", 1, "Fatal: wrong password or no key found\n"), l("", 1, "Fatal: wrong password or no key found\n");
  CHECK_THROWS_WITH(
      [&] {
        SnapshotFiles files(t, l, restic::Repo{"/repo", "", {}}, "snapshot 1ca1be2c");
        WriteArchive(f.file, f.m, files, [](const Sink&) {});
      }(),
      Catch::Contains("the password does not open the repository /repo"));
  CHECK_FALSE(fs::exists(f.file + ".partial"));
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
  auto write = [&]() {
    f.Write([&](const SwarmPart::Volume& v, const Sink& out) {
      const std::string& t = v.node == "node2" ? vol_a : vol_b;
      out(t.data(), t.size());
    });
  };
  write();
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
  auto rebuild = [&](const Manifest& m, const std::string& drop) {
    write();
    const std::string x = f.tmp.path() + "/x";
    fs::remove_all(x);
    fs::create_directories(x);
    REQUIRE(std::system(("tar -xf " + f.file + " -C " + x).c_str()) == 0);
    fs::remove(x + "/data/new\nline \\ ünï");  // (a name the shell loop below cannot carry)
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
