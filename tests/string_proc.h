// A stand-in for a program in unit tests: its stdout a string, its exit code and stderr given.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>

#include "core/process.h"

namespace mig {

class StringProc : public Proc {
 public:
  explicit StringProc(std::string out, int code = 0, std::string err = "")
      : s_(std::move(out)), code_(code), err_(std::move(err)) {
    command_ = "test";
  }
  size_t read(char* buf, size_t len) override {
    const size_t n = std::min(len, s_.size() - pos_);
    std::memcpy(buf, s_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  void write(const char*, size_t) override {}
  void close_stdin() override {}
  int wait() override { return code_; }
  void kill() override {}
  std::string err_text() const override { return err_; }

 private:
  std::string s_;
  size_t pos_ = 0;
  int code_;
  std::string err_;
};

}  // namespace mig
