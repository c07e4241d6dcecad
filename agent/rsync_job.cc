// The rs_job_iter loop of the receiver's patch.
#include "agent/rsync_job.h"

namespace mig::agent {

RsyncJob::RsyncJob(rs_job_t* job, std::string what, size_t chunk)
    : job_(job, rs_job_free), what_(std::move(what)), out_buf_(chunk, '\0') {}

rs_result RsyncJob::Iter(rs_buffers_t& b, const Sink& out) {
  b.next_out = out_buf_.data();
  b.avail_out = out_buf_.size();
  rs_result r = rs_job_iter(job_.get(), &b);
  size_t produced = out_buf_.size() - b.avail_out;
  if (produced) out(std::string_view(out_buf_.data(), produced));
  return r;
}

rs_result RsyncJob::Push(std::string_view in, bool eof, const Sink& out, size_t* unused) {
  rs_buffers_t b{};
  b.next_in = const_cast<char*>(in.data());
  b.avail_in = in.size();
  b.eof_in = eof;
  while (true) {
    rs_result r = Iter(b, out);
    if (r == RS_DONE) {
      if (unused) *unused = b.avail_in;
      return RS_DONE;
    }
    if (r != RS_BLOCKED) return r;
    // Input all taken and room left for output: the job waits for input (none comes after eof).
    if (b.avail_in == 0 && b.avail_out != 0) return eof ? RS_INPUT_ENDED : RS_BLOCKED;
  }
}

std::string RsyncJob::Failure(rs_result r) const {
  return "librsync failed on " + what_ + ": " + rs_strerror(r);
}

}  // namespace mig::agent
