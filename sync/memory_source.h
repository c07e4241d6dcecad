// A test stand-in for the merge's source: a tree held in memory, with the ways a real source
// misbehaves (a file deleted or changed since the listing, a file that cannot be read) on
// demand. The merge is then tested without a source folder or an agent.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "sync/source.h"

namespace mig::sync {

// A source whose tree and file contents are values. Not thread-safe.
class MemorySource : public Source {
 public:
  // Adds an entry; a regular file gets `content` (its size is set from it). Entries may come
  // in any order: Stream() sorts them into the listing order. Folders on the way are added.
  void AddFile(const std::string& path, const std::string& content, uint32_t mode = 0644, int64_t mtime = 1700000000);
  void AddDir(const std::string& path, uint32_t mode = 0755, int64_t mtime = 1700000000);
  void AddSymlink(const std::string& path, const std::string& target, int64_t mtime = 1700000000);

  // After the listing: CopyTo answers as if the file was deleted / changed to `content` /
  // cannot be read.
  void Vanish(const std::string& path) { vanished_.insert(path); }
  void ChangeAfterListing(const std::string& path, const std::string& content) { changed_[path] = content; }
  void FailReading(const std::string& path) { unreadable_.insert(path); }
  // CopyTo writes the content with its last byte changed but answers the right hash: a write
  // that does not land as it was made (what the merge's read-back is for).
  void LandWrong(const std::string& path) { land_wrong_.insert(path); }

  std::unique_ptr<TreeStream> Stream(bool with_hashes) override;
  CopyResult CopyTo(const Entry& e, int out_fd) override;
  Hash128 HashOf(const Entry& e) override;
  std::string Describe() const override { return "the in-memory source"; }

  // The paths CopyTo was asked for, in order.
  const std::vector<std::string>& copied() const { return copied_; }

 private:
  Entry& Put(const std::string& path);
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> content_, changed_;
  std::set<std::string> vanished_, unreadable_, land_wrong_;
  std::vector<std::string> copied_;
};

}  // namespace mig::sync
