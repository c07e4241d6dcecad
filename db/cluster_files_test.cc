// A base backup unpacked, verified against its manifest and swapped in on this host.
#include "db/cluster_files.h"
#include "db/crc32c.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "tests/string_proc.h"

using namespace mig;
using namespace mig::db;
namespace fs = std::filesystem;

namespace {

struct Member {
  std::string path;
  char type;  // 'd', 'f', 'l', 'p' (a fifo)
  std::string content;  // a file's content, a link's target
  mode_t mode = 0600;
};

// A tar of `members`, through `filter` ("gzip", "zstd", "" for none).
std::string Tar(const std::vector<Member>& members, const std::string& filter) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* ctx, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    archive_entry_set_perm(e, m.mode);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (m.type == 'd') archive_entry_set_filetype(e, AE_IFDIR);
    if (m.type == 'p') archive_entry_set_filetype(e, AE_IFIFO);
    if (m.type == 'l') {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.content.c_str());
    }
    if (m.type == 'f') {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(m.content.size()));
    }
    archive_write_header(a, e);
    if (m.type == 'f') archive_write_data(a, m.content.data(), m.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string Crc(const std::string& s) {
  Crc32c c;
  c.Update(s.data(), s.size());
  return c.Hex();
}

std::string Sha256(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  std::ostringstream o;
  for (unsigned i = 0; i < len; ++i) o << std::hex << (md[i] >> 4) << (md[i] & 15);
  return o.str();
}

// A manifest as postgres writes one (its layout and its own checksum) for `files`, needing the
// WAL from `start` to `end`.
std::string Manifest(const std::vector<std::pair<std::string, std::string>>& files, const std::string& start,
                     const std::string& end) {
  std::string m = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n";
  for (size_t i = 0; i < files.size(); ++i)
    m += std::string(i ? ",\n" : "") + "{ \"Path\": \"" + files[i].first + "\", \"Size\": " +
         std::to_string(files[i].second.size()) +
         ", \"Last-Modified\": \"2026-12-03 05:00:00 GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"" +
         Crc(files[i].second) + "\" }";
  m += "\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"" + start + "\", \"End-LSN\": \"" + end +
       "\" }\n],\n";
  return m + "\"Manifest-Checksum\": \"" + Sha256(m) + "\"}\n";
}

std::map<std::string, SeenFile> Seen(const std::vector<std::pair<std::string, std::string>>& files) {
  std::map<std::string, SeenFile> seen;
  for (const auto& [p, c] : files) seen[p] = {c.size(), Crc(c)};
  return seen;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("CRC-32C is postgres's: the check value, and boost's CRC over random data cut anywhere") {
  CHECK(Crc("123456789") == "839206e3");  // 0xE3069283, its bytes in memory order
  std::mt19937 rng(7);
  std::string data(100000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> oracle;
  oracle.process_bytes(data.data(), data.size());
  for (bool hardware : {true, false}) {
    if (hardware && !Crc32c::HardwareAvailable()) continue;
    for (size_t cut : {0, 1, 7, 8, 4093, 99999}) {
      Crc32c c(hardware);
      c.Update(data.data(), cut);
      c.Update(data.data() + cut / 2, 0);
      c.Update(data.data() + cut, data.size() - cut);
      CHECK(c.Final() == oracle.checksum());
    }
  }
  Crc32c soft(false);
  soft.Update("123456789", 9);
  CHECK(soft.Hex() == "839206e3");
}

TEST_CASE("a backup's manifest: what verifies and each way it does not") {
  const std::string seg(1 << 20, 'w');  // 1 MiB segments: 0/100000 is the second
  std::vector<std::pair<std::string, std::string>> files = {{"PG_VERSION", "16\n"}, {"global/pg_control", "ctl"}};
  const std::string m = Manifest(files, "0/100028", "0/200100");
  auto seen = Seen(files);
  seen["backup_manifest"] = {m.size(), ""};
  seen["pg_wal/000000010000000000000001"] = {seg.size(), ""};
  seen["pg_wal/000000010000000000000002"] = {seg.size(), ""};
  CHECK(ManifestProblems(m, seen).empty());
  const std::string with_left = Manifest({{"PG_VERSION", "16\n"}, {"global/pg_control", "ctl"}, {".migrate-old/PG_VERSION", "15\n"}},
                                         "0/100028", "0/200100");
  CHECK(ManifestProblems(with_left, seen).empty());  // what UnpackTar skips is not looked for

  auto bad = seen;
  bad["global/pg_control"].crc32c = Crc("cth");
  CHECK(ManifestProblems(m, bad) == std::vector<std::string>{"global/pg_control does not match its checksum in the manifest"});
  bad = seen;
  bad["global/pg_control"].size = 2;
  CHECK_THAT(ManifestProblems(m, bad).at(0), Catch::Contains("has 2 bytes, the manifest says 3"));
  bad = seen;
  bad.erase("PG_VERSION");
  CHECK_THAT(ManifestProblems(m, bad).at(0), Catch::Contains("PG_VERSION is listed in the manifest but was not"));
  bad = seen;
  bad["base/1/1234"] = {1, ""};
  CHECK_THAT(ManifestProblems(m, bad).at(0), Catch::Contains("base/1/1234 is in the backup but not in its manifest"));
  bad = seen;
  bad.erase("pg_wal/000000010000000000000002");
  CHECK_THAT(ManifestProblems(m, bad).at(0), Catch::Contains("WAL segment 000000010000000000000002"));
  std::string tampered = m;
  tampered.replace(tampered.find("\"Size\": 3"), 9, "\"Size\": 4");
  CHECK_THAT(ManifestProblems(tampered, seen).at(0), Catch::Contains("does not match its own checksum"));
  CHECK_THAT(ManifestProblems("{\"Files\": [", seen).at(0), Catch::Contains("not JSON"));
  // Seen without checksums (a copy written on this host): its sizes checked when asked so only.
  auto sizes_only = seen;
  for (auto& [p, f] : sizes_only) f.crc32c.clear();
  CHECK(ManifestProblems(m, sizes_only, true).empty());
  CHECK_THAT(ManifestProblems(m, sizes_only).at(0), Catch::Contains("does not match its checksum"));
  sizes_only["global/pg_control"].size = 2;
  CHECK_THAT(ManifestProblems(m, sizes_only, true).at(0), Catch::Contains("has 2 bytes, the manifest says 3"));
}

TEST_CASE("a base backup's tar is unpacked beneath its folder, owned as asked, and checked as it comes") {
  TempDir d("unpack");
  const std::vector<Member> members = {
      {"global", 'd', "", 0700}, {"PG_VERSION", 'f', "16\n", 0600}, {"global/pg_control", 'f', std::string(9000, 'c'), 0600},
      {"pg_wal", 'd', "", 0700}, {"./pg_wal/archive_status/", 'd', "", 0700}, {"./", 'd', "", 0700},
      {"pg_tblspc", 'd', "", 0700},
      {"link", 'l', "global", 0777}, {"backup_manifest", 'f', "{}", 0600},
      // what an interrupted copy into the source left in its data directory: skipped
      {".migrate-new", 'd', "", 0700}, {".migrate-new/PG_VERSION", 'f', "15\n", 0600}};
  for (const char* filter : {"zstd", "gzip", ""}) {
    const std::string stage = d.path() + "/" + (*filter ? filter : "plain");
    fs::create_directory(stage);
    StringProc p(Tar(members, filter));
    uint64_t progress = 0;
    UnpackResult r = UnpackTar(p, stage, ::getuid(), ::getgid(), [&](uint64_t b) { progress = b; });
    CHECK(r.files == 3);
    CHECK(r.bytes_out == 3 + 9000 + 2);
    CHECK(progress == r.bytes_in);
    CHECK(r.manifest == "{}");
    CHECK(r.seen.at("global/pg_control").crc32c == Crc(std::string(9000, 'c')));
    CHECK(Slurp(stage + "/global/pg_control") == std::string(9000, 'c'));
    CHECK(fs::read_symlink(stage + "/link") == "global");
    CHECK_FALSE(fs::exists(stage + "/.migrate-new"));
    struct stat st {};
    REQUIRE(::stat((stage + "/PG_VERSION").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_mtime == 1700000000);
  }
}

TEST_CASE("a hostile base backup is refused before it writes outside its folder") {
  TempDir d("unpack-hostile");
  const std::string outside = d.path() + "/outside";
  fs::create_directory(outside);
  auto refused = [&](const std::vector<Member>& members, const std::string& why) {
    const std::string stage = d.path() + "/stage";
    fs::remove_all(stage);
    fs::create_directory(stage);
    StringProc p(Tar(members, "gzip"));
    CHECK_THROWS_WITH(UnpackTar(p, stage, ::getuid(), ::getgid()), Catch::Contains(why));
  };
  refused({{"../outside/x", 'f', "evil"}}, "outside the folder");
  refused({{"/etc/evil", 'f', "evil"}}, "outside the folder");
  refused({{"a/./b", 'f', "evil"}}, "outside the folder");
  refused({{"out", 'l', outside, 0777}, {"out/x", 'f', "evil"}}, "cannot open the folder out");
  refused({{"PG_VERSION", 'f', "16\n"}, {"PG_VERSION", 'f', "17\n"}}, "cannot make PG_VERSION");
  refused({{"fifo", 'p', ""}}, "neither a folder, a file nor a symbolic link");
  StringProc garbage(std::string(5000, 'x'));
  fs::remove_all(d.path() + "/stage");
  fs::create_directory(d.path() + "/stage");
  CHECK_THROWS_AS(UnpackTar(garbage, d.path() + "/stage", ::getuid(), ::getgid()), Error);
  CHECK(fs::is_empty(outside));
  // A tar cut short ends in an error, not a partial success.
  std::string tar = Tar({{"big", 'f', std::string(100000, 'b')}}, "");
  StringProc cut(tar.substr(0, 30000));
  fs::remove_all(d.path() + "/stage");
  fs::create_directory(d.path() + "/stage");
  CHECK_THROWS_AS(UnpackTar(cut, d.path() + "/stage", ::getuid(), ::getgid()), Error);
}

TEST_CASE("a plain base backup written by another is moved into folders made here, checked where it lands") {
  TempDir d("move-plain");
  const std::string outside = d.path() + "/outside";
  fs::create_directory(outside);
  std::ofstream(outside + "/secret") << "not ours";
  const auto write = [](const std::string& path, const std::string& content) { std::ofstream(path) << content; };
  // Given to an owner that is not this process's: the test runs as root in CI.
  const uid_t uid = ::geteuid() == 0 ? 4321 : ::getuid();
  const gid_t gid = ::geteuid() == 0 ? 4322 : ::getgid();
  const auto written = [&](const std::string& from) {
    fs::create_directories(from + "/global");
    fs::create_directories(from + "/pg_wal/archive_status");
    fs::create_directories(from + "/.migrate-old/base");  // left in the source by an interrupted copy
    write(from + "/PG_VERSION", "16\n");
    write(from + "/global/pg_control", std::string(3u << 20, 'c'));
    write(from + "/.migrate-old/base/1", "old");
    write(from + "/backup_manifest", "{}");
    fs::permissions(from + "/PG_VERSION", fs::perms::all);
    fs::create_symlink(outside, from + "/out");  // a link is moved and owned, never walked through
  };
  written(d.path() + "/written");
  const UnpackResult r = MovePlainBackup(d.path() + "/written", d.path() + "/stage", uid, gid);
  const std::string stage = d.path() + "/stage";
  CHECK(r.files == 3);
  CHECK(r.bytes_out == 3 + (3u << 20) + 2);
  CHECK(r.manifest == "{}");
  CHECK(r.seen.at("global/pg_control").size == 3u << 20);
  CHECK(r.seen.at("global/pg_control").crc32c.empty());  // sizes only: nothing crossed a relay
  CHECK(r.seen.count("out/secret") == 0);
  CHECK(Slurp(stage + "/global/pg_control") == std::string(3u << 20, 'c'));
  CHECK(fs::read_symlink(stage + "/out") == outside);
  CHECK_FALSE(fs::exists(stage + "/.migrate-old"));
  CHECK_FALSE(fs::exists(d.path() + "/written"));  // removed once emptied
  for (const char* p : {"", "/global", "/global/pg_control", "/pg_wal/archive_status", "/PG_VERSION", "/out"}) {
    struct stat st {};
    REQUIRE(::lstat((stage + p).c_str(), &st) == 0);
    CHECK(st.st_uid == uid);
    CHECK(st.st_gid == gid);
    if (S_ISDIR(st.st_mode)) CHECK((st.st_mode & 07777) == 0700);
    if (S_ISREG(st.st_mode)) CHECK((st.st_mode & 07777) == 0600);  // not as the writer left them
  }
  struct stat st {};
  REQUIRE(::stat((outside + "/secret").c_str(), &st) == 0);
  CHECK(st.st_uid == ::getuid());  // what the link points at is untouched

  // Refused: a file with another name (the writer's way into the copy), a fifo.
  const auto refused = [&](const std::function<void(const std::string&)>& spoil, const std::string& why) {
    const std::string from = d.path() + "/bad", to = d.path() + "/bad-stage";
    fs::remove_all(from);
    fs::remove_all(to);
    written(from);
    spoil(from);
    CHECK_THROWS_WITH(MovePlainBackup(from, to, uid, gid), Catch::Contains(why));
  };
  refused([&](const std::string& from) { fs::create_hard_link(from + "/PG_VERSION", outside + "/kept"); },
          "has other names (hard links)");
  refused([&](const std::string& from) { REQUIRE(::mkfifo((from + "/global/fifo").c_str(), 0600) == 0); },
          "neither a folder, a file nor a symbolic link");
  CHECK_THROWS_WITH(MovePlainBackup(d.path() + "/none", d.path() + "/none-stage", uid, gid), Catch::Contains("cannot open"));
}

TEST_CASE("the staged cluster is swapped in by renames, the server's own settings kept") {
  TempDir d("swap");
  const std::string pg = d.path();
  auto write = [](const std::string& path, const std::string& s) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << s;
  };
  std::string why;
  CHECK_FALSE(SwapStagedCluster(pg, false, "/pg/migrate-wal", why));
  CHECK(why == "no staged copy in " + pg);
  write(pg + "/PG_VERSION", "15\n");
  write(pg + "/base/1/old", "old");
  write(pg + "/postgresql.conf", "work_mem = 7MB\n");
  write(pg + "/pg_hba.conf", "target's hba\n");
  write(pg + "/postgresql.auto.conf", "# target's\n");
  write(pg + "/.migrate-new/base/1/new", "new");
  CHECK_FALSE(SwapStagedCluster(pg, false, "/pg/migrate-wal", why));  // no PG_VERSION in the stage
  CHECK(why == "the staged copy in " + pg + " is not a cluster");
  fs::create_directories(pg + "/.migrate-new/pg_hba.conf");
  write(pg + "/.migrate-new/PG_VERSION", "16\n");
  CHECK_FALSE(SwapStagedCluster(pg, false, "/pg/migrate-wal", why));  // refused before anything moved
  CHECK(why == "the staged copy holds a folder named pg_hba.conf");
  fs::remove(pg + "/.migrate-new/pg_hba.conf");
  CHECK(Slurp(pg + "/base/1/old") == "old");  // untouched
  write(pg + "/.migrate-new/PG_VERSION", "16\n");
  write(pg + "/.migrate-new/postgresql.conf", "source's settings\n");
  write(pg + "/.migrate-new/backup_label", "label");
  REQUIRE(SwapStagedCluster(pg, true, "/pg/migrate-wal", why));
  CHECK(Slurp(pg + "/PG_VERSION") == "16\n");
  CHECK(Slurp(pg + "/base/1/new") == "new");
  CHECK_FALSE(fs::exists(pg + "/base/1/old"));
  CHECK(Slurp(pg + "/backup_label") == "label");
  CHECK(Slurp(pg + "/postgresql.conf") == "work_mem = 7MB\n");
  CHECK(Slurp(pg + "/pg_hba.conf") == "target's hba\n");
  CHECK(Slurp(pg + "/postgresql.auto.conf") ==
        "# target's\n\nrestore_command = 'cp /pg/migrate-wal/%f %p'\nwal_retrieve_retry_interval = '100ms'\n");
  CHECK(fs::exists(pg + "/standby.signal"));
  CHECK(fs::is_directory(pg + "/migrate-wal"));
  CHECK_FALSE(fs::exists(pg + "/.migrate-new"));
  CHECK(Slurp(pg + "/.migrate-old/base/1/old") == "old");  // set aside, removed once the target started
}
