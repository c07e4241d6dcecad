// A base backup's manifest checked against what was unpacked (as pg_verifybackup does).
#include "db/backup_manifest.h"

#include <openssl/evp.h>

#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "db/crc32c.h"

namespace mig::db {

namespace {

std::string Sha256Hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) Fail("SHA-256 failed (OpenSSL)");
  return HexBytes(md, len);
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

// Files a manifest leaves out (as pg_verifybackup ignores them).
bool NotInManifest(const std::string& p) {
  return p == "backup_manifest" || p.rfind("pg_wal/", 0) == 0 || p == "postgresql.auto.conf" ||
         p == "standby.signal" || p == "recovery.signal";
}

constexpr size_t kMaxProblems = 5;

void AddProblem(std::vector<std::string>& out, size_t& more, std::string p) {
  if (out.size() < kMaxProblems) out.push_back(std::move(p));
  else ++more;
}

}  // namespace

bool LeftByACopy(const std::string& p) {
  for (const char* d : {kStageName, kSetAsideName})
    if (p == d || p.rfind(std::string(d) + "/", 0) == 0) return true;
  return false;
}

bool IsSegmentName(const std::string& n) {
  return n.size() == 24 && n.find_first_not_of("0123456789ABCDEF") == std::string::npos;
}

bool IsWalName(const std::string& n) {
  return IsSegmentName(n) || (n.size() == 16 && n.compare(8, 8, ".history") == 0 &&
                              n.find_first_not_of("0123456789ABCDEF") == 8);
}

std::vector<std::string> ManifestProblems(const std::string& manifest, const std::map<std::string, SeenFile>& seen,
                                          bool sizes_only) {
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
        if (!sizes_only && it->second.crc32c != f.at("Checksum").get<std::string>())
          AddProblem(out, more, path + " does not match its checksum in the manifest");
      } else if (alg != "NONE") {
        return {"its manifest checksums files with " + alg + ", which this check does not read (CRC32C expected)"};
      }
    }
    uint64_t seg_size = 0;
    std::set<std::string> segments;
    for (const auto& [path, f] : seen) {
      if (path.compare(0, 7, "pg_wal/") == 0 && IsSegmentName(path.substr(7))) {
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

}  // namespace mig::db
