#include "backup/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fd.h"
#include "core/io.h"

namespace fs = std::filesystem;

namespace mig::backup {

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kDump = "db.dump";
constexpr const char* kSums = "SHA256SUMS";

// SHA-256 of a stream, as lowercase hex.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Add(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string out;
    char buf[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(buf, sizeof buf, "%02x", md[i]);
      out += buf;
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// One line of SHA256SUMS as GNU sha256sum writes it: a name with a backslash or a newline is
// escaped (\\, \n, \r) and the line starts with a backslash.
std::string SumLine(const std::string& hex, const std::string& name) {
  std::string escaped;
  bool special = false;
  for (char c : name) {
    if (c == '\\') escaped += "\\\\", special = true;
    else if (c == '\n') escaped += "\\n", special = true;
    else if (c == '\r') escaped += "\\r", special = true;
    else escaped += c;
  }
  return (special ? "\\" : "") + hex + "  " + escaped + "\n";
}

// Reads one SHA256SUMS line back: false when it is malformed.
bool ParseSumLine(std::string line, std::string& hex, std::string& name) {
  bool special = !line.empty() && line[0] == '\\';
  if (special) line.erase(0, 1);
  if (line.size() < 67 || line.compare(64, 2, "  ") != 0) return false;
  hex = line.substr(0, 64);
  name.clear();
  for (size_t i = 66; i < line.size(); ++i) {
    if (special && line[i] == '\\' && i + 1 < line.size()) {
      char n = line[++i];
      name += n == 'n' ? '\n' : n == 'r' ? '\r' : n;
    } else {
      name += line[i];
    }
  }
  return true;
}

struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using OwnedEntry = std::unique_ptr<archive_entry, EntryFree>;

// The archive being written, with the checksums of what went in.
class Writer {
 public:
  Writer(const std::string& path, WriteProgress progress) : path_(path), progress_(std::move(progress)), a_(archive_write_new()) {
    archive_write_set_format_pax(a_);  // pax headers always: nanosecond times
    if (archive_write_open_filename(a_, path.c_str()) != ARCHIVE_OK) Fail("cannot write " + path + ": " + Why());
  }
  ~Writer() { archive_write_free(a_); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // A regular member of `size` bytes whose content `fill` writes through the function it gets.
  void File(const std::string& name, uint64_t size, const std::function<void(const std::function<void(const char*, size_t)>&)>& fill,
            archive_entry* from = nullptr) {
    OwnedEntry owned(from ? nullptr : archive_entry_new());
    archive_entry* e = from ? from : owned.get();
    archive_entry_set_pathname(e, name.c_str());
    if (!from) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0600);
      archive_entry_set_mtime(e, std::time(nullptr), 0);
    }
    archive_entry_set_size(e, static_cast<la_int64_t>(size));
    Header(e, name);
    Sha256 sum;
    uint64_t written = 0;
    fill([&](const char* p, size_t n) {
      if (written + n > size) Fail(name + " grew while it was written into " + path_);
      if (archive_write_data(a_, p, n) != static_cast<la_ssize_t>(n)) Fail("cannot write " + path_ + ": " + Why());
      sum.Add(p, n);
      written += n;
      bytes_ += n;
      if (progress_) progress_(members_, bytes_);
    });
    if (written != size)
      Fail(name + " has " + std::to_string(written) + " bytes where " + std::to_string(size) + " were expected");
    sums_ += SumLine(sum.Hex(), name);
  }
  void Text(const std::string& name, const std::string& text) {
    File(name, text.size(), [&](const auto& out) { out(text.data(), text.size()); });
  }
  // A member that is not a regular file (folder, symlink, fifo...): its header only.
  void Other(archive_entry* e, const std::string& name) {
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, 0);
    Header(e, name);
  }
  void Finish() {
    Text(kSums, sums_);
    if (archive_write_close(a_) != ARCHIVE_OK) Fail("cannot finish " + path_ + ": " + Why());
  }

 private:
  void Header(archive_entry* e, const std::string& name) {
    if (archive_write_header(a_, e) < ARCHIVE_WARN) Fail("cannot write " + name + " into " + path_ + ": " + Why());
    ++members_;
    if (progress_) progress_(members_, bytes_);
  }
  std::string Why() const {
    const char* s = archive_error_string(a_);
    return s ? s : "unknown error";
  }
  std::string path_;
  WriteProgress progress_;
  struct archive* a_;
  std::string sums_;
  uint64_t members_ = 0, bytes_ = 0;
};

bool SafeName(const std::string& name) {
  if (name.empty() || name[0] == '/') return false;
  std::istringstream in(name);
  std::string part;
  while (std::getline(in, part, '/'))
    if (part == ".." || part == ".") return false;
  return true;
}

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using Reader = std::unique_ptr<struct archive, ReadFree>;

[[noreturn]] void Refuse(const std::string& path, const std::string& why) {
  BadInput(path + " is not a backup file migrate can trust (" + why + "): nothing was changed");
}

Reader OpenRead(const std::string& path) {
  Reader a(archive_read_new());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 20) != ARCHIVE_OK)
    Refuse(path, std::string("it cannot be read as a tar: ") + archive_error_string(a.get()));
  return a;
}

}  // namespace

std::string VolumeMember(const SwarmPart::Volume& v) { return "volumes/" + v.node + "/" + v.name + ".tar"; }

void WriteArchive(const std::string& output, const Manifest& m, FilesReader& files,
                  const std::function<void(const Sink&)>& dump,
                  const std::function<void(const SwarmPart::Volume&, const Sink&)>& volume, const WriteProgress& progress) {
  const std::string partial = output + ".partial";
  try {
    Writer w(partial, progress);
    w.Text(kManifest, ToJson(m).dump(2) + "\n");
    const std::set<std::string> config(m.config.begin(), m.config.end());
    OwnedEntry e(archive_entry_new());
    bool data_is_folder = false;
    std::vector<char> buf(1 << 20);  // one for every file: most are small
    while (files.Next(e.get())) {
      const std::string name = archive_entry_pathname(e.get()) ? archive_entry_pathname(e.get()) : "";
      const auto type = archive_entry_filetype(e.get());
      const auto content = [&](const Sink& out) {
        for (size_t n; (n = files.Read(buf.data(), buf.size())) > 0;) out(buf.data(), n);
      };
      const uint64_t size = type == AE_IFREG ? static_cast<uint64_t>(archive_entry_size(e.get())) : 0;
      if (name == "data") data_is_folder = type == AE_IFDIR;
      if ((name == "data" && data_is_folder) || (data_is_folder && name.rfind("data/", 0) == 0)) {
        if (type == AE_IFCHR || type == AE_IFBLK)
          Fail(name + " is a device node: an exported backup carries none (a reader refuses them)");
        archive_entry_sparse_clear(e.get());
        archive_entry_set_hardlink(e.get(), nullptr);  // every file whole: no link entries to trust
        if (type == AE_IFREG)
          w.File(name, size, content, e.get());
        else
          w.Other(e.get(), name);
      } else if (name.find('/') == std::string::npos && type == AE_IFREG && config.count(name)) {
        archive_entry_sparse_clear(e.get());
        archive_entry_set_hardlink(e.get(), nullptr);
        w.File("config/" + name, size, content, e.get());  // with the backup's mode, owner and time
      }  // else not the file's: the format 2 manifest, a legacy install's folders
    }
    if (m.db) w.File(kDump, m.db->dump_bytes, dump);
    if (m.swarm)
      for (const auto& v : m.swarm->volumes) {
        if (!SafeName(VolumeMember(v))) Fail("the volume " + v.name + " of node " + v.node + " has a name no file can carry");
        w.File(VolumeMember(v), v.bytes, [&](const Sink& out) { volume(v, out); });
      }
    w.Finish();
  } catch (...) {
    std::error_code ec;
    fs::remove(partial, ec);  // never a half-written file under any name
    throw;
  }
  Fd fd(::open(partial.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) Fail("cannot sync " + partial + ": " + ErrnoString());
  if (::rename(partial.c_str(), output.c_str()) != 0)
    Fail("cannot rename " + partial + " to " + output + ": " + ErrnoString());
}

Manifest VerifyArchive(const std::string& path) {
  Reader a = OpenRead(path);
  std::map<std::string, std::string> sums;  // name -> sha256 as read
  std::set<std::string> folders;            // folder members seen so far
  std::string sums_text, manifest_text;
  bool first = true, dump_seen = false, sums_seen = false;
  archive_entry* e = nullptr;
  std::vector<char> buf(1 << 20);
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    while (name.size() > 1 && name.back() == '/') name.pop_back();  // a folder reads back as "data/"
    if (sums_seen) Refuse(path, name + " comes after " + kSums);
    if (!SafeName(name)) Refuse(path, "member name " + name);
    if (first && name != kManifest) Refuse(path, std::string("it does not start with ") + kManifest);
    first = false;
    const bool volume = name.rfind("volumes/", 0) == 0;  // volumes/NODE/NAME.tar, a regular file
    const bool known = name == kManifest || name == kDump || name == kSums || name == "data" ||
                       name.rfind("data/", 0) == 0 || (name.rfind("config/", 0) == 0 && name.find('/', 7) == std::string::npos) ||
                       (volume && std::count(name.begin(), name.end(), '/') == 2 && archive_entry_filetype(e) == AE_IFREG);
    if (!known) Refuse(path, "unexpected member " + name);
    if (archive_entry_hardlink(e)) Refuse(path, "hard link member " + name);
    const auto type = archive_entry_filetype(e);
    if (type == AE_IFCHR || type == AE_IFBLK) Refuse(path, "device member " + name);
    if (name == "data" && type != AE_IFDIR) Refuse(path, "its data is not a folder");
    // A member's folder must come before it, as a folder: nothing is written through a link.
    const auto slash = name.rfind('/');
    if (name.rfind("data/", 0) == 0 && !folders.count(name.substr(0, slash)))
      Refuse(path, name + " comes without its folder before it");
    if (type == AE_IFDIR) folders.insert(name);
    if (name == kDump) dump_seen = true;
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    Sha256 sum;
    std::string* keep = name == kSums ? &sums_text : name == kManifest ? &manifest_text : nullptr;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) Refuse(path, std::string("reading ") + name + ": " + archive_error_string(a.get()));
      if (n == 0) break;
      sum.Add(buf.data(), static_cast<size_t>(n));
      if (keep) keep->append(buf.data(), static_cast<size_t>(n));
    }
    if (name == kSums)
      sums_seen = true;
    else if (!sums.emplace(name, sum.Hex()).second)
      Refuse(path, "member " + name + " appears twice");
  }
  if (r != ARCHIVE_EOF) Refuse(path, std::string("it is cut short or damaged: ") + archive_error_string(a.get()));
  if (first) Refuse(path, "it is empty");
  if (!sums_seen) Refuse(path, std::string("no ") + kSums + " at its end: cut short?");
  std::map<std::string, std::string> listed;
  std::istringstream in(sums_text);
  std::string line;
  while (std::getline(in, line)) {
    std::string hex, name;
    if (!ParseSumLine(line, hex, name)) Refuse(path, std::string("a malformed line in ") + kSums);
    listed[name] = hex;
  }
  if (listed != sums) {
    for (const auto& [name, hex] : sums) {
      auto it = listed.find(name);
      if (it == listed.end()) Refuse(path, name + " is not in " + kSums);
      if (it->second != hex) Refuse(path, name + " does not match its checksum: it was changed or damaged");
    }
    Refuse(path, std::string("a member listed in ") + kSums + " is missing");
  }
  Manifest m;
  try {
    m = ManifestFromJson(manifest_text);
  } catch (const Error& x) {
    Refuse(path, x.what());
  }
  if (m.status != "ready") Refuse(path, "its backup is " + m.status);
  if (m.db && !dump_seen) Refuse(path, std::string("its manifest names a database but there is no ") + kDump);
  // Its volumes are the manifest's, each once.
  std::set<std::string> volumes;
  if (m.swarm)
    for (const auto& v : m.swarm->volumes) {
      if (!sums.count(VolumeMember(v))) Refuse(path, "its manifest names the volume " + VolumeMember(v) + ", which it lacks");
      volumes.insert(VolumeMember(v));
    }
  for (const auto& [name, hex] : sums)
    if (name.rfind("volumes/", 0) == 0 && !volumes.count(name)) Refuse(path, name + " is no volume of its manifest");
  return m;
}

uint64_t ExtractArchive(const std::string& path, const std::string& prefix, const std::string& dir,
                        const std::vector<std::string>& skip) {
  Reader a = OpenRead(path);
  struct archive* out = archive_write_disk_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(out, archive_write_free);
  // No extended attributes: the checksums cover contents, not metadata (security.capability).
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  archive_write_disk_set_standard_lookup(out);
  const std::string bare = prefix.substr(0, prefix.size() - 1);  // "data"
  uint64_t n = 0;
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    // Checked by VerifyArchive already; the target is made absolute here, so its name must be
    // safe on its own (libarchive's NOABSOLUTEPATHS would refuse the target itself).
    if (!SafeName(name) || archive_entry_hardlink(e)) Fail(path + ": member " + name + " is not safe to write");
    std::string rel;
    if (name == bare) {
      if (prefix != "data/") continue;  // only data/ is a folder of its own: never `dir` itself
      rel = "";
    } else if (name.rfind(prefix, 0) == 0) {
      rel = name.substr(prefix.size());
    } else {
      continue;
    }
    bool skipped = false;
    for (const auto& s : skip) skipped = skipped || rel == s || rel.rfind(s + "/", 0) == 0;
    if (skipped) continue;
    const std::string target = rel.empty() ? dir : dir + "/" + rel;
    archive_entry_set_pathname(e, target.c_str());
    if (archive_write_header(out, e) < ARCHIVE_WARN)
      Fail("cannot write " + target + ": " + archive_error_string(out));
    if (archive_entry_filetype(e) == AE_IFREG) {
      const void* block;
      size_t size;
      la_int64_t offset;
      int rr;
      while ((rr = archive_read_data_block(a.get(), &block, &size, &offset)) == ARCHIVE_OK)
        if (archive_write_data_block(out, block, size, offset) < ARCHIVE_WARN)
          Fail("cannot write " + target + ": " + archive_error_string(out));
      if (rr != ARCHIVE_EOF) Fail("cannot read " + name + " from " + path + ": " + archive_error_string(a.get()));
    }
    if (archive_write_finish_entry(out) < ARCHIVE_WARN)
      Fail("cannot finish " + target + ": " + archive_error_string(out));
    ++n;
  }
  if (r != ARCHIVE_EOF) Fail("cannot read " + path + ": " + archive_error_string(a.get()));
  if (archive_write_close(out) != ARCHIVE_OK) Fail("cannot finish extracting into " + dir + ": " + archive_error_string(out));
  return n;
}

ArchiveMember::ArchiveMember(std::string path, std::string member, uint64_t size)
    : path_(std::move(path)), member_(std::move(member)), size_(size) {
  command_ = "read " + member_ + " from " + path_;
  Reader a = OpenRead(path_);
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    if (archive_entry_pathname(e) && archive_entry_pathname(e) == member_) break;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN) Fail(path_ + " has no " + member_);
  a_ = a.release();
}

ArchiveMember::~ArchiveMember() { kill(); }

size_t ArchiveMember::read(char* buf, size_t len) {
  if (!a_) return 0;
  la_ssize_t n = archive_read_data(a_, buf, len);
  if (n < 0) {
    err_ = "cannot read " + member_ + " from " + path_ + ": " + archive_error_string(a_);
    kill();
    return 0;
  }
  bytes_ += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

void ArchiveMember::write(const char*, size_t) { Fail("internal error: " + command_ + " takes no input"); }

int ArchiveMember::wait() {
  kill();
  if (err_.empty() && bytes_ != size_)
    err_ = member_ + " has " + std::to_string(bytes_) + " bytes in " + path_ + " where its manifest says " +
           std::to_string(size_);
  return err_.empty() ? 0 : 1;
}

void ArchiveMember::kill() {
  if (a_) archive_read_free(a_);
  a_ = nullptr;
}

ArchiveDump::ArchiveDump(std::string path, const Manifest& m) : path_(std::move(path)), m_(m) {
  if (!m_.db) Fail(path_ + " holds no database");
}

ArchiveDump::~ArchiveDump() { Abort(); }

std::string ArchiveDump::Describe() const { return "the backup file " + path_; }

void ArchiveDump::Start() {
  Reader a = OpenRead(path_);
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    if (std::string(archive_entry_pathname(e)) == kDump) break;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN) Fail(path_ + " has no " + kDump);
  a_ = a.release();
  bytes_ = 0;
}

size_t ArchiveDump::Read(char* buf, size_t len) {
  la_ssize_t n = archive_read_data(a_, buf, len);
  if (n < 0) Fail("cannot read " + std::string(kDump) + " from " + path_ + ": " + archive_error_string(a_));
  bytes_ += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

db::DbState ArchiveDump::End() {
  Abort();
  if (bytes_ != m_.db->dump_bytes)
    Fail(path_ + "'s " + kDump + " has " + std::to_string(bytes_) + " bytes where its manifest says " +
         std::to_string(m_.db->dump_bytes));
  return m_.db->state;
}

void ArchiveDump::Abort() noexcept {
  if (a_) archive_read_free(a_);
  a_ = nullptr;
}

}  // namespace mig::backup
