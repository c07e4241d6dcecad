// The rs_job_iter loop, pushed or pulled, shared by the receiver and the agent.
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

rs_result RsyncJob::Pull(const Reader& read, const Sink& out) {
  std::string in(out_buf_.size(), '\0');
  size_t in_len = 0, in_pos = 0;
  bool eof = false;
  while (true) {
    if (in_pos == in_len && !eof) {
      long n = read(in.data(), in.size());
      if (n < 0) return RS_IO_ERROR;
      in_pos = 0;
      in_len = static_cast<size_t>(n);
      eof = n == 0;
    }
    rs_buffers_t b{};
    b.next_in = in.data() + in_pos;
    b.avail_in = in_len - in_pos;
    b.eof_in = eof;
    rs_result r = Iter(b, out);
    in_pos = in_len - b.avail_in;
    if (r == RS_DONE) return RS_DONE;
    if (r != RS_BLOCKED) return r;
    if (eof && in_pos == in_len && b.avail_out != 0) return RS_INPUT_ENDED;  // waits for nothing
  }
}

std::string RsyncJob::Failure(rs_result r) const {
  return "librsync failed on " + what_ + ": " + rs_strerror(r);
}

}  // namespace mig::agent
