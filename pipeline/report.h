// The run's report: report.json (docs/report.md) and the human summary.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/timer.h"

namespace mig {

// One step of the pipeline, timed.
struct StepRecord {
  std::string name;
  std::string status;  // ok, skipped, failed
  double seconds = 0;
  std::string detail;
};

// Collects what the pipeline did. Plain data, serialised by ToJson().
struct Report {
  std::string command, started_at, from, to, migration_dir, result = "running", error;
  bool dry_run = false, resumed = false;
  std::vector<StepRecord> steps;
  nlohmann::json data = nlohmann::json::object();      // plan totals and merge stats
  nlohmann::json database = nlohmann::json::object();  // replay result
  nlohmann::json checks = nlohmann::json::array();     // {name, ok, detail}
  std::vector<std::string> next_steps;                 // what to test, how to roll back
  nlohmann::json dns_hook;                             // --dns-hook: what it ran and how it ended (null: none)

  void Check(const std::string& name, bool ok, const std::string& detail);
  nlohmann::json ToJson() const;
  std::string Summary() const;
  // Writes the JSON to `path` atomically (temporary name, fsync, rename).
  void Write(const std::string& path) const;
};

// Times one step into the report: Step s(report, "merge"); ... s.Done("detail");
class Step {
 public:
  Step(Report& r, std::string name);
  ~Step();  // a step left without Done() or Skip() is recorded as failed
  void Done(const std::string& detail = "");
  void Skip(const std::string& why);
  void Failed(const std::string& why);  // recorded as failed, the run goes on

 private:
  Report& r_;
  StepRecord rec_;
  Stopwatch sw_;
  bool closed_ = false;
};

}  // namespace mig
