// A base backup unpacked, verified and swapped in on this host (docs/physical-db.md).
#include "db/cluster_files.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <cstring>
#include <filesystem>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/fd.h"
#include "core/io.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace mig::db {

namespace {

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t state, const unsigned char* p, size_t n) {
  uint64_t s = state;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    s = _mm_crc32_u64(s, v);
  }
  uint32_t s32 = static_cast<uint32_t>(s);
  for (; n > 0; ++p, --n) s32 = _mm_crc32_u8(s32, *p);
  return s32;
}
const bool kHardwareCrc = __builtin_cpu_supports("sse4.2");
#else
const bool kHardwareCrc = false;
uint32_t Crc32cHardware(uint32_t state, const unsigned char*, size_t) { return state; }
#endif

std::string Hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += {digits[p[i] >> 4], digits[p[i] & 15]};
  return s;
}

std::string Sha256Hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) Fail("SHA-256 failed (OpenSSL)");
  return Hex(md, len);
}

// "16/B374D848" -> the LSN; false when not one.
bool ParseLsn(const std::string& s, uint64_t& lsn) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size() || slash > 8 || s.size() - slash - 1 > 8 ||
      s.find_first_not_of("0123456789ABCDEFabcdef/") != std::string::npos || s.find('/', slash + 1) != std::string::npos)
    return false;
  lsn = std::stoull(s.substr(0, slash), nullptr, 16) << 32 | std::stoull(s.substr(slash + 1), nullptr, 16);
  return true;
}

std::string SegmentName(uint64_t timeline, uint64_t segno, uint64_t seg_size) {
  const uint64_t per_id = 0x100000000ull / seg_size;
  char name[25];
  std::snprintf(name, sizeof name, "%08X%08X%08X", static_cast<unsigned>(timeline), static_cast<unsigned>(segno / per_id),
                static_cast<unsigned>(segno % per_id));
  return name;
}

bool IsSegmentPath(const std::string& p) {
  return p.size() == 7 + 24 && p.compare(0, 7, "pg_wal/") == 0 &&
         p.find_first_not_of("0123456789ABCDEF", 7) == std::string::npos;
}

// What an interrupted copy into the source's own data directory left there (its stage, what its
// swap set aside): in the source's backup, but never unpacked (it would clash with this copy's).
bool LeftByACopy(const std::string& p) {
  for (const char* d : {".migrate-new", ".migrate-old"})
    if (p == d || p.rfind(std::string(d) + "/", 0) == 0) return true;
  return false;
}

// Files a manifest leaves out (as pg_verifybackup ignores them).
bool NotInManifest(const std::string& p) {
  return p == "backup_manifest" || p.rfind("pg_wal/", 0) == 0 || p == "postgresql.auto.conf" ||
         p == "standby.signal" || p == "recovery.signal";
}

constexpr size_t kMaxProblems = 5;
constexpr size_t kMaxManifest = 512u << 20;

void AddProblem(std::vector<std::string>& out, size_t& more, std::string p) {
  if (out.size() < kMaxProblems) out.push_back(std::move(p));
  else ++more;
}

}  // namespace

void Crc32c::Update(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  if (kHardwareCrc) {
    state_ = Crc32cHardware(state_, b, n);
    return;
  }
  // boost's CRC-32C register, reflected, carried in our state (not inverted between calls).
  boost::crc_optimal<32, 0x1EDC6F41, 0, 0, true, true> crc(state_);
  crc.process_bytes(b, n);
  state_ = crc.checksum();
}

std::string Crc32c::Hex() const {
  const uint32_t v = Final();
  const unsigned char bytes[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                                  static_cast<unsigned char>(v >> 16), static_cast<unsigned char>(v >> 24)};
  return db::Hex(bytes, 4);
}

std::vector<std::string> ManifestProblems(const std::string& manifest, const std::map<std::string, SeenFile>& seen) {
  std::vector<std::string> out;
  size_t more = 0;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(manifest);
  } catch (const std::exception& e) {
    return {std::string("its backup_manifest is not JSON (") + e.what() + ")"};
  }
  try {
    // The manifest's own checksum covers its text up to the line that carries it.
    const size_t last = manifest.find_last_of('\n', manifest.size() >= 2 ? manifest.size() - 2 : 0);
    const std::string want = j.at("Manifest-Checksum").get<std::string>();
    if (last == std::string::npos || Sha256Hex(manifest.substr(0, last + 1)) != want)
      return {"its backup_manifest does not match its own checksum (damaged on the way)"};
    std::set<std::string> listed;
    for (const auto& f : j.at("Files")) {
      std::string path;
      if (f.contains("Path")) {
        path = f.at("Path").get<std::string>();
      } else {  // a name that is not UTF-8, hex-encoded
        const std::string hex = f.at("Encoded-Path").get<std::string>();
        for (size_t i = 0; i + 1 < hex.size(); i += 2) path += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
      }
      listed.insert(path);
      const uint64_t size = f.at("Size").get<uint64_t>();
      if (LeftByACopy(path)) continue;
      auto it = seen.find(path);
      if (it == seen.end()) {
        AddProblem(out, more, path + " is listed in the manifest but was not in the backup");
        continue;
      }
      if (it->second.size != size) {
        AddProblem(out, more, path + " has " + std::to_string(it->second.size) + " bytes, the manifest says " +
                                  std::to_string(size));
        continue;
      }
      const std::string alg = f.value("Checksum-Algorithm", "NONE");
      if (alg == "CRC32C") {
        if (it->second.crc32c != f.at("Checksum").get<std::string>())
          AddProblem(out, more, path + " does not match its checksum in the manifest");
      } else if (alg != "NONE") {
        return {"its manifest checksums files with " + alg + ", which this check does not read (CRC32C expected)"};
      }
    }
    uint64_t seg_size = 0;
    std::set<std::string> segments;
    for (const auto& [path, f] : seen) {
      if (IsSegmentPath(path)) {
        if (seg_size != 0 && f.size != seg_size) AddProblem(out, more, path + " is not as long as the other WAL segments");
        seg_size = f.size;
        segments.insert(path.substr(7));
      } else if (!NotInManifest(path) && !listed.count(path)) {
        AddProblem(out, more, path + " is in the backup but not in its manifest");
      }
    }
    for (const auto& r : j.at("WAL-Ranges")) {
      uint64_t start = 0, end = 0;
      const uint64_t tli = r.at("Timeline").get<uint64_t>();
      if (!ParseLsn(r.at("Start-LSN").get<std::string>(), start) || !ParseLsn(r.at("End-LSN").get<std::string>(), end) ||
          end < start || tli == 0 || tli > 0xFFFFFFFFull)
        return {"its manifest has a WAL range not understood"};
      if (seg_size < (1u << 20) || seg_size > (1u << 30) || (seg_size & (seg_size - 1)) != 0) {
        AddProblem(out, more, "it holds no whole WAL segment, and its manifest needs WAL from " +
                                  r.at("Start-LSN").get<std::string>());
        break;
      }
      const uint64_t last_seg = (end > start ? end - 1 : end) / seg_size;
      for (uint64_t seg = start / seg_size; seg <= last_seg; ++seg) {
        const std::string name = SegmentName(tli, seg, seg_size);
        if (!segments.count(name)) AddProblem(out, more, "the WAL segment " + name + " its manifest needs is missing");
      }
    }
  } catch (const std::exception& e) {
    return {std::string("its backup_manifest is not understood (") + e.what() + ")"};
  }
  if (more) out.push_back("and " + std::to_string(more) + " more");
  return out;
}

namespace {

// Feeds libarchive from a Proc; an exception is kept for after the C code returned.
struct Feed {
  Feed(Proc& f, const std::function<void(uint64_t)>& p) : from(f), progress(p) {}
  Proc& from;
  const std::function<void(uint64_t)>& progress;
  std::vector<char> buf = std::vector<char>(1u << 18);
  uint64_t bytes = 0;
  std::exception_ptr error;
};

la_ssize_t FeedRead(struct archive* a, void* ctx, const void** out) {
  auto* f = static_cast<Feed*>(ctx);
  try {
    const size_t n = f->from.read(f->buf.data(), f->buf.size());
    f->bytes += n;
    if (f->progress && n) f->progress(f->bytes);
    *out = f->buf.data();
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    f->error = std::current_exception();
    archive_set_error(a, EIO, "the stream failed");
    return -1;
  }
}

// A path of the backup, checked: relative, no empty, "." or ".." component; a folder's trailing
// slash and leading "./" dropped (pg_basebackup names its pg_wal/ entries "./pg_wal/..."); "."
// for the root itself. "" when refused.
std::string CheckedPath(const char* raw) {
  if (!raw) return "";
  std::string p = raw;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  if (p == ".") return p;
  if (p.empty() || p.front() == '/') return "";
  size_t start = 0;
  while (true) {
    const size_t slash = p.find('/', start);
    const std::string part = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return "";
    if (slash == std::string::npos) return p;
    start = slash + 1;
  }
}

// The folder an entry is made in, opened beneath the root (the last one kept: a tar lists a
// folder's entries together).
class Parents {
 public:
  explicit Parents(int root) : root_(root) {}
  int For(const std::string& path, const std::string& dir_for_messages) {
    const size_t slash = path.rfind('/');
    const std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    if (parent.empty()) return root_;
    if (parent != last_ || !fd_.valid()) {
      fd_ = Fd(OpenBeneath(root_, parent, O_RDONLY | O_DIRECTORY));
      if (!fd_.valid())
        Fail("cannot open the folder " + parent + " of the base backup in " + dir_for_messages + ": " + ErrnoString());
      last_ = parent;
    }
    return fd_.get();
  }

 private:
  int root_;
  std::string last_;
  Fd fd_;
};

}  // namespace

UnpackResult UnpackTar(Proc& from, const std::string& dir, uid_t uid, gid_t gid,
                       const std::function<void(uint64_t)>& progress) {
  UnpackResult res;
  Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) Fail("cannot open " + dir + ": " + ErrnoString());
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  Feed feed(from, progress);
  auto check_feed = [&] {
    if (feed.error) std::rethrow_exception(feed.error);
  };
  if (archive_read_open(a.get(), &feed, nullptr, FeedRead, nullptr) != ARCHIVE_OK) {
    check_feed();
    Fail(std::string("the base backup is not a tar stream: ") + archive_error_string(a.get()));
  }
  Parents parents(root.get());
  std::vector<char> buf(1u << 20);
  struct archive_entry* e = nullptr;
  while (true) {
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    check_feed();
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      Fail(std::string("the base backup's tar stream is damaged: ") + archive_error_string(a.get()));
    const std::string path = CheckedPath(archive_entry_pathname(e));
    if (path.empty())
      Fail(std::string("the base backup holds an entry named \"") + (archive_entry_pathname(e) ? archive_entry_pathname(e) : "") +
           "\", outside the folder it is unpacked in: refused");
    if (path == "." || LeftByACopy(path)) continue;  // libarchive skips its data
    const int parent = parents.For(path, dir);
    const std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    const mode_t perm = archive_entry_perm(e) & 0777;
    const std::string what = path + " of the base backup in " + dir;
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        if (::mkdirat(parent, name.c_str(), 0700) != 0) Fail("cannot make " + what + ": " + ErrnoString());
        if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
            ::fchmodat(parent, name.c_str(), perm | S_IRWXU, 0) != 0)
          Fail("cannot give " + what + " its owner and mode: " + ErrnoString());
        break;
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (!target || ::symlinkat(target, parent, name.c_str()) != 0) Fail("cannot make " + what + ": " + ErrnoString());
        if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
          Fail("cannot give " + what + " its owner: " + ErrnoString());
        break;
      }
      case AE_IFREG: {
        Fd f(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!f.valid()) Fail("cannot make " + what + ": " + ErrnoString());
        if (::fchown(f.get(), uid, gid) != 0) Fail("cannot give " + what + " its owner: " + ErrnoString());
        Crc32c crc;
        uint64_t written = 0;
        const bool keep = path == "backup_manifest";
        for (;;) {
          const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
          if (n == 0) break;
          if (n < 0) {
            check_feed();
            Fail("the base backup's tar stream is damaged in " + path + ": " + archive_error_string(a.get()));
          }
          crc.Update(buf.data(), static_cast<size_t>(n));
          WriteAllAt(f.get(), buf.data(), static_cast<size_t>(n), static_cast<off_t>(written), what);
          if (keep) {
            if (res.manifest.size() + static_cast<size_t>(n) > kMaxManifest)
              Fail("the base backup's manifest is larger than " + std::to_string(kMaxManifest >> 20) + " MiB: refused");
            res.manifest.append(buf.data(), static_cast<size_t>(n));
          }
          written += static_cast<uint64_t>(n);
        }
        if (::fchmod(f.get(), perm) != 0) Fail("cannot give " + what + " its mode: " + ErrnoString());
        const struct timespec times[2] = {{0, UTIME_OMIT}, {archive_entry_mtime(e), 0}};
        ::futimens(f.get(), times);
        if (!res.seen.emplace(path, SeenFile{written, crc.Hex()}).second) Fail("the base backup names " + path + " twice");
        res.bytes_out += written;
        ++res.files;
        break;
      }
      default:
        Fail("the base backup holds " + path + ", neither a folder, a file nor a symbolic link: refused");
    }
  }
  check_feed();
  res.bytes_in = feed.bytes;
  return res;
}

namespace {

constexpr const char* kNew = ".migrate-new";
constexpr const char* kOld = ".migrate-old";
constexpr const char* kOwnSettings[] = {"postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"};

std::vector<std::string> EntriesOf(int dir_fd, const std::string& shown) {
  int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!d) Fail("cannot list " + shown + ": " + ErrnoString());
  std::vector<std::string> out;
  ::rewinddir(d);
  while (struct dirent* de = ::readdir(d)) {
    const std::string n = de->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

void Rename(int from_dir, const std::string& from, int to_dir, const std::string& to, const std::string& shown) {
  if (::renameat(from_dir, from.c_str(), to_dir, to.c_str()) != 0)
    Fail("the swap failed part way: cannot move " + from + " in " + shown + ": " + ErrnoString());
}

}  // namespace

bool SwapStagedCluster(const std::string& pgdata, bool standby, const std::string& restore_dir, std::string& refused) {
  Fd data(::open(pgdata.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!data.valid()) return refused = "cannot open " + pgdata + ": " + ErrnoString(), false;
  Fd stage(OpenBeneath(data.get(), kNew, O_RDONLY | O_DIRECTORY));
  if (!stage.valid()) return refused = "no staged copy in " + pgdata, false;
  struct stat st {};
  if (::fstatat(stage.get(), "PG_VERSION", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
    return refused = "the staged copy in " + pgdata + " is not a cluster", false;
  struct stat owner {};
  if (::fstat(data.get(), &owner) != 0) return refused = "cannot read " + pgdata + ": " + ErrnoString(), false;
  // A .migrate-old an earlier swap left behind is the target's older state, already replaced.
  std::error_code ec;
  std::filesystem::remove_all(pgdata + "/" + kOld, ec);
  Fd old;
  if (::mkdirat(data.get(), kOld, 0700) != 0) return refused = "cannot make " + pgdata + "/" + kOld + ": " + ErrnoString(), false;
  old = Fd(OpenBeneath(data.get(), kOld, O_RDONLY | O_DIRECTORY));
  if (!old.valid()) Fail("cannot open " + pgdata + "/" + kOld + ": " + ErrnoString());
  // From here PGDATA changes: a failure is part way (the roll back puts the target's cluster back).
  for (const auto& n : EntriesOf(data.get(), pgdata))
    if (n != kNew && n != kOld) Rename(data.get(), n, old.get(), n, pgdata);
  for (const auto& n : EntriesOf(stage.get(), pgdata + "/" + kNew)) Rename(stage.get(), n, data.get(), n, pgdata);
  for (const char* f : kOwnSettings) {
    if (::fstatat(old.get(), f, &st, AT_SYMLINK_NOFOLLOW) == 0) Rename(old.get(), f, data.get(), f, pgdata);
  }
  if (::unlinkat(data.get(), kNew, AT_REMOVEDIR) != 0) Fail("cannot remove the emptied " + pgdata + "/" + kNew + ": " + ErrnoString());
  if (standby) {
    if (::mkdirat(data.get(), "migrate-wal", 0700) != 0 && errno != EEXIST)
      Fail("cannot make " + pgdata + "/migrate-wal: " + ErrnoString());
    Fd signal(::openat(data.get(), "standby.signal", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    Fd conf(::openat(data.get(), "postgresql.auto.conf", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!signal.valid() || !conf.valid()) Fail("cannot make the copy in " + pgdata + " a standby: " + ErrnoString());
    const std::string lines = "\nrestore_command = 'cp " + restore_dir + "/%f %p'\nwal_retrieve_retry_interval = '100ms'\n";
    WriteFd(conf.get(), lines.data(), lines.size(), "postgresql.auto.conf");
    for (const char* n : {"migrate-wal", "standby.signal", "postgresql.auto.conf"})
      if (::fchownat(data.get(), n, owner.st_uid, owner.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        Fail(std::string("cannot give ") + pgdata + "/" + n + " its owner: " + ErrnoString());
  }
  if (::fsync(data.get()) != 0) Fail("cannot fsync " + pgdata + ": " + ErrnoString());
  return true;
}

}  // namespace mig::db
