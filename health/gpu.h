// The host's NVIDIA GPUs as the driver reports them, read through one of two backends: NVML
// (libnvidia-ml.so.1, loaded at run time) or nvidia-smi (its XML report). The parsers are
// pure functions over text so that tests replay recorded outputs (tests/data/gpu/).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/process.h"
#include "health/runner.h"

namespace mig::health {

// One GPU. Numbers the driver does not report are -1.
struct Gpu {
  int index = -1;
  std::string name, uuid, bus_id;
  int64_t memory_total_mib = -1, memory_used_mib = -1;
  int utilization_pct = -1;
  int temperature_c = -1, slowdown_c = -1;  // slowdown: where the GPU starts to throttle
  std::string ecc_mode;                      // "enabled", "disabled" or "" (not reported)
  // ECC error counts: volatile since the driver loaded, aggregate over the GPU's life.
  int64_t ecc_volatile_corrected = -1, ecc_volatile_uncorrected = -1;
  int64_t ecc_aggregate_corrected = -1, ecc_aggregate_uncorrected = -1;
  bool retirement_pending = false;  // pages waiting for a reset to be retired or rows remapped
  bool remap_failed = false;        // row remapping failed: the GPU needs service
  std::string problem;              // the driver could not query it (e.g. "GPU is lost")
};

// What the driver said, or why it said nothing.
struct GpuReport {
  enum class State {
    kNoDriver,     // no NVIDIA software on this host (no libnvidia-ml.so.1, no nvidia-smi)
    kNotAnswering, // the software is there but the driver does not answer
    kOk,           // the driver answered (gpus may still be empty)
  };
  State state = State::kNoDriver;
  std::string backend;  // "NVML" or "nvidia-smi"
  std::string driver_version;
  std::vector<Gpu> gpus;
  std::string error;  // for kNoDriver / kNotAnswering: what was tried and what it said
};

// A way to read the GPUs. Adding a backend touches no caller.
class GpuSource {
 public:
  virtual ~GpuSource() = default;
  // Never throws for a missing or silent driver: that is a report state.
  virtual GpuReport Read() = 0;
};

// NVML through dlopen(`library`); no link-time dependency. NVML's answer codes map to the
// report: a library that cannot be loaded is kNoDriver, nvmlInit failing is kNotAnswering.
std::unique_ptr<GpuSource> MakeNvmlSource(const std::string& library = "libnvidia-ml.so.1");
// `nvidia-smi -q -x` through `run`.
std::unique_ptr<GpuSource> MakeSmiSource(Runner run);
// NVML first; when its library is missing, nvidia-smi; the report of the last one tried.
GpuReport ReadGpus(GpuSource& nvml, GpuSource& smi);

// Timeouts of the programs the GPU checks start.
constexpr std::chrono::seconds kSmiTimeout(60);
constexpr std::chrono::seconds kContainerTimeout(300);  // may pull the image first

// nvidia-smi's full XML report (`nvidia-smi -q -x`) parsed. Both ECC layouts are read: the
// older single_bit/double_bit totals and the newer sram_*/dram_* counters. Throws mig::Error
// (failed) on text that is not such a report.
GpuReport ParseSmiXml(const std::string& xml);
// What `nvidia-smi -q -x` left: the parsed report, kNotAnswering with nvidia-smi's own words
// when it failed, kNoDriver when it is not installed.
GpuReport ReadSmiResult(const ProcResult& r);

// GPU UUIDs in a listing: one `nvidia-smi --query-gpu=uuid --format=csv,noheader` line or
// one `nvidia-smi -L` line ("GPU 0: NAME (UUID: GPU-...)") per GPU; MIG devices are not GPUs
// and are left out.
std::vector<std::string> ParseUuids(const std::string& text);

// The names of the runtimes in `docker info --format '{{json .Runtimes}}'`. Throws mig::Error
// (failed) on text that is not a JSON object.
std::vector<std::string> ParseRuntimes(const std::string& json);

}  // namespace mig::health
