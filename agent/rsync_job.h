// One librsync job driven over buffers: the receiver's patch of a delta (agent/source.cc), its
// input pushed frame by frame as it arrives, its output handed to a callback. No I/O of its own.
#pragma once

#include <librsync.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mig::agent {

// Output bytes a job hands on at most per call of its sink, unless told otherwise.
inline constexpr size_t kRsyncChunk = 64u << 10;

// A librsync job and the loop that drives it. Owns the rs_job_t (freed with it). What the job
// reads beyond (the basis of a patch) must outlive it.
// Not thread-safe; not copyable.
class RsyncJob {
 public:
  // Where the job's output goes as it comes: never empty, at most `chunk` bytes per call.
  // It may throw (the job is then left where it stood).
  using Sink = std::function<void(std::string_view bytes)>;
  // Takes `job` (from rs_patch_begin, or any other librsync job);
  // `what` names the work in Failure()'s sentence, e.g. "/srv/app/data/big.bin".
  RsyncJob(rs_job_t* job, std::string what, size_t chunk = kRsyncChunk);
  RsyncJob(const RsyncJob&) = delete;
  RsyncJob& operator=(const RsyncJob&) = delete;

  // Pushes `in` through the job, its output to `out`; `eof`: no input follows. Returns
  // RS_BLOCKED when all of `in` was taken and the job waits for more, RS_DONE when the job has
  // ended (`*unused`, when given, then counts the bytes of `in` past its end), or librsync's
  // error. A job still waiting after `eof` has nothing more to read: RS_INPUT_ENDED.
  rs_result Push(std::string_view in, bool eof, const Sink& out, size_t* unused = nullptr);

  // "librsync failed on <what>: <librsync's reason>".
  std::string Failure(rs_result r) const;

 private:
  // One rs_job_iter on `b` with a fresh output buffer; the output to `out`.
  rs_result Iter(rs_buffers_t& b, const Sink& out);

  std::unique_ptr<rs_job_t, decltype(&rs_job_free)> job_;
  std::string what_;
  std::string out_buf_;
};

}  // namespace mig::agent
