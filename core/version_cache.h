#pragma once
// What a program on this machine says its version is, kept per executable so that the next run
// need not ask: a Python docker-compose takes half a second to answer, restic a tenth.
#include <functional>
#include <string>

namespace mig {

// The version `program` (found on PATH) gave when last asked, if the executable is still the
// same file (path, size, modification time); else ask() is run and its answer kept ("" is not
// kept). Kept in $XDG_CACHE_HOME/migrate/versions, else ~/.cache/migrate/versions, one line per
// program: "PROGRAM\tPATH SIZE MTIME\tVERSION". A cache that cannot be read or written only
// costs the asking. Safe to call from several threads or processes at once: the file is
// replaced whole, so one of two concurrent updates may be lost (and asked again next time).
// A kept answer that `usable` refuses (a damaged or edited cache) is asked again.
std::string CachedVersion(const std::string& program, const std::function<std::string()>& ask,
                          const std::function<bool(const std::string&)>& usable = {});

// The file above ("" when neither variable says where a home is).
std::string VersionCacheFile();

}  // namespace mig
