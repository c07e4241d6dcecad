#include "sync/memory_source.h"

#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>

#include "core/error.h"
#include "core/io.h"

namespace mig::sync {

namespace {

Hash128 HashOfBytes(const std::string& s) {
  XXH128_hash_t h = XXH3_128bits(s.data(), s.size());
  return Hash128{h.low64, h.high64};
}

}  // namespace

Entry& MemorySource::Put(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
    if (!entries_.count(path.substr(0, slash))) AddDir(path.substr(0, slash));
  if (!entries_.count("")) {
    Entry root;
    root.type = FileType::kDirectory;
    root.mode = 0755;
    root.mtime_sec = 1700000000;
    entries_[""] = root;
  }
  Entry& e = entries_[path];
  e.path = path;
  return e;
}

void MemorySource::AddFile(const std::string& path, const std::string& content, uint32_t mode, int64_t mtime) {
  Entry& e = Put(path);
  e.type = FileType::kRegular;
  e.mode = mode;
  e.size = content.size();
  e.mtime_sec = mtime;
  e.uid = ::geteuid();
  e.gid = ::getegid();
  content_[path] = content;
}

void MemorySource::AddDir(const std::string& path, uint32_t mode, int64_t mtime) {
  Entry& e = Put(path);
  e.type = FileType::kDirectory;
  e.mode = mode;
  e.mtime_sec = mtime;
  e.uid = ::geteuid();
  e.gid = ::getegid();
}

void MemorySource::AddSymlink(const std::string& path, const std::string& target, int64_t mtime) {
  Entry& e = Put(path);
  e.type = FileType::kSymlink;
  e.mode = 0777;
  e.link_target = target;
  e.mtime_sec = mtime;
  e.uid = ::geteuid();
  e.gid = ::getegid();
}

std::unique_ptr<TreeStream> MemorySource::Stream(bool with_hashes) {
  std::vector<Entry> list;
  for (const auto& [path, e] : entries_) {
    list.push_back(e);
    if (with_hashes && e.type == FileType::kRegular) {
      Hash128 h = HashOfBytes(content_[path]);
      list.back().has_hash = true;
      list.back().hash_lo = h.lo;
      list.back().hash_hi = h.hi;
    }
  }
  std::sort(list.begin(), list.end(), [](const Entry& a, const Entry& b) { return ListOrderLess(a.path, b.path); });
  return StreamOf(std::move(list));
}

CopyResult MemorySource::CopyTo(const Entry& e, int out_fd) {
  copied_.push_back(e.path);
  CopyResult r;
  if (vanished_.count(e.path)) {
    r.vanished = true;
    return r;
  }
  if (unreadable_.count(e.path)) Fail("cannot read " + e.path + " in the in-memory source: Permission denied");
  auto changed = changed_.find(e.path);
  const std::string& bytes = changed != changed_.end() ? changed->second : content_.at(e.path);
  if (land_wrong_.count(e.path) && !bytes.empty()) {
    std::string landed = bytes;
    landed.back() ^= 1;
    WriteFd(out_fd, landed.data(), landed.size(), e.path.c_str());
  } else {
    WriteFd(out_fd, bytes.data(), bytes.size(), e.path.c_str());
  }
  r.hash = HashOfBytes(bytes);
  r.size = bytes.size();
  r.mtime_sec = e.mtime_sec + (changed != changed_.end() ? 1 : 0);
  r.mtime_nsec = e.mtime_nsec;
  r.changed_since_listing = changed != changed_.end();
  return r;
}

Hash128 MemorySource::HashOf(const Entry& e) { return HashOfBytes(content_.at(e.path)); }

}  // namespace mig::sync
