#include "backup/snapshot_files.h"

#include <archive.h>
#include <archive_entry.h>

#include "core/error.h"
#include "core/text.h"

namespace mig::backup {

namespace {

std::string NameOf(archive_entry* h) {
  std::string n = archive_entry_pathname(h) ? archive_entry_pathname(h) : "";
  while (n.size() > 1 && n.back() == '/') n.pop_back();  // a folder's name ends in '/'
  return n;
}

// `raw` as restic's JSON writes it (Go's encoder): each byte that is not part of valid UTF-8
// replaced by U+FFFD, so that a name that is not UTF-8 in the dump matches its listing's.
std::string AsGoJsonText(const std::string& raw) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t n = raw.size();
  auto cont = [&](size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = 0;
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = cont(i + 1) ? 2 : 0;
    else if (c >= 0xE0 && c <= 0xEF) {
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;  // no overlong, no surrogate
      len = i + 1 < n && p[i + 1] >= lo && p[i + 1] <= hi && cont(i + 2) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;  // no overlong, not past U+10FFFF
      len = i + 1 < n && p[i + 1] >= lo && p[i + 1] <= hi && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    if (len) {
      out.append(raw, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// The tar type restic's dump gives a node of `type` (0: one its dump leaves out).
unsigned TarType(const std::string& type) {
  if (type == "file") return AE_IFREG;
  if (type == "dir") return AE_IFDIR;
  if (type == "symlink") return AE_IFLNK;
  return 0;
}

}  // namespace

SnapshotFiles::SnapshotFiles(Proc& dump, Proc& ls, restic::Repo repo, std::string what)
    : dump_(dump), ls_(ls), repo_(std::move(repo)), what_(std::move(what)), feed_(dump),
      a_(archive_read_new(), archive_read_free) {
  archive_read_support_format_tar(a_.get());
  if (feed_.Open(a_.get()) != ARCHIVE_OK) Broken(std::string("its dump is not a tar: ") + archive_error_string(a_.get()));
}

void SnapshotFiles::Broken(const std::string& why) {
  dump_.kill();
  ls_.kill();
  dump_.wait();
  ls_.wait();
  feed_.Check();  // reading the dump failed: that is the cause
  // A restic that failed said why on stderr: its sentence rather than ours.
  std::string restic_said;
  for (Proc* p : {&dump_, &ls_}) {
    const restic::Diagnosis d = restic::Diagnose(p->err_text());
    if (d.kind != restic::Failure::kOther) restic::Throw(d, repo_, "read " + what_);
    if (restic_said.empty() && !TrimEnd(p->err_text()).empty()) restic_said = d.detail;
  }
  Fail("cannot export " + what_ + " of " + repo_.where() + ": " + why +
       (restic_said.empty() ? " (restic's listing and its dump of the snapshot disagree: `migrate backup check "
                              "--read-data` checks the repository)"
                            : " (restic: " + restic_said + ")"));
}

archive_entry* SnapshotFiles::Peek() {
  if (ahead_ || dump_ended_) return ahead_;
  archive_entry* h = nullptr;
  const int r = archive_read_next_header(a_.get(), &h);
  if (r == ARCHIVE_EOF) {
    dump_ended_ = true;
  } else if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
    ahead_ = h;
  } else {
    Broken(std::string("its dump is cut short or damaged: ") + archive_error_string(a_.get()));
  }
  return ahead_;
}

void SnapshotFiles::EndOfBoth() {
  const int ls_code = ls_.wait(), dump_code = dump_.wait();
  for (auto [p, code] : {std::pair<Proc*, int>{&dump_, dump_code}, {&ls_, ls_code}})
    if (code != 0) restic::Throw(restic::Diagnose(p->err_text()), repo_, "read " + what_);
}

bool SnapshotFiles::Next(archive_entry* e) {
  reading_ = false;
  std::string line;
  std::optional<restic::LsNode> node;
  for (;;) {
    if (!ls_.read_line(line)) {
      if (Peek()) Broken("its dump holds " + NameOf(ahead_) + ", which its listing does not name");
      EndOfBoth();
      return false;
    }
    if (line.empty()) continue;
    try {
      node = restic::ParseLsLine(line);
    } catch (const Error& err) {
      Broken(err.what());
    }
    // restic's restore makes no socket and nothing "irregular": neither is the export's.
    if (node && node->type != "socket" && node->type != "irregular") break;
  }
  const std::string name = node->path.substr(1);
  archive_entry_clear(e);
  archive_entry_set_pathname(e, name.c_str());
  const unsigned type = TarType(node->type);
  archive_entry* h = Peek();
  if (h && (NameOf(h) == name || AsGoJsonText(NameOf(h)) == name)) {
    ahead_ = nullptr;
    archive_entry_set_pathname(e, NameOf(h).c_str());  // the name's own bytes
    if (type && archive_entry_filetype(h) != type)
      Broken(name + " is a " + node->type + " in its listing but not in its dump");
    if (archive_entry_hardlink(h)) Broken("its dump writes " + name + " as a hard link, which migrate does not read");
    archive_entry_set_filetype(e, archive_entry_filetype(h));
    if (archive_entry_symlink(h)) archive_entry_set_symlink(e, archive_entry_symlink(h));
    if (archive_entry_uname(h)) archive_entry_set_uname(e, archive_entry_uname(h));
    if (archive_entry_gname(h)) archive_entry_set_gname(e, archive_entry_gname(h));
    if (archive_entry_filetype(h) == AE_IFREG) {
      if (static_cast<uint64_t>(archive_entry_size(h)) != node->size)
        Broken(name + " has " + std::to_string(archive_entry_size(h)) + " bytes in its dump and " +
               std::to_string(node->size) + " in its listing");
      archive_entry_set_size(e, archive_entry_size(h));
      reading_ = true;
    }
  } else if (type) {
    Broken("its listing names " + name + ", which its dump " + (h ? "does not hold before " + NameOf(h) : "does not hold"));
  } else if (node->type == "fifo") {
    archive_entry_set_filetype(e, AE_IFIFO);
  } else if (node->type == "dev") {
    archive_entry_set_filetype(e, AE_IFBLK);
  } else if (node->type == "chardev") {
    archive_entry_set_filetype(e, AE_IFCHR);
  } else {
    Broken("its listing names " + name + " of a type migrate does not know: " + node->type);
  }
  archive_entry_set_perm(e, node->perm);
  archive_entry_set_uid(e, node->uid);
  archive_entry_set_gid(e, node->gid);
  archive_entry_set_mtime(e, node->mtime.tv_sec, node->mtime.tv_nsec);
  archive_entry_set_atime(e, node->atime.tv_sec, node->atime.tv_nsec);
  return true;
}

size_t SnapshotFiles::Read(char* buf, size_t len) {
  if (!reading_) return 0;
  const la_ssize_t n = archive_read_data(a_.get(), buf, len);
  if (n < 0) Broken(std::string("its dump is cut short or damaged: ") + archive_error_string(a_.get()));
  if (n == 0) reading_ = false;
  return static_cast<size_t>(n);
}

}  // namespace mig::backup
