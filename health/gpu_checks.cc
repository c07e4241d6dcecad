// GPU rows: the driver, each GPU's health, docker's nvidia runtime, a container's view.
#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "health/checks.h"

namespace mig::health {

namespace {

constexpr std::chrono::seconds kDockerInfoTimeout(60);

const char* const kToolkitFix =
    "install the NVIDIA container toolkit (nvidia-container-toolkit), then: nvidia-ctk runtime configure "
    "--runtime=docker && systemctl restart docker";

std::string Join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string GpuLabel(const Gpu& g) { return "gpu " + std::to_string(g.index); }

std::string Describe(const Gpu& g) {
  std::vector<std::string> parts;
  if (!g.name.empty()) parts.push_back(g.name);
  if (g.memory_total_mib >= 0)
    parts.push_back((g.memory_used_mib >= 0 ? std::to_string(g.memory_used_mib) + "/" : "") +
                    std::to_string(g.memory_total_mib) + " MiB used");
  if (g.utilization_pct >= 0) parts.push_back(std::to_string(g.utilization_pct) + "% busy");
  if (g.temperature_c >= 0) parts.push_back(std::to_string(g.temperature_c) + " C");
  if (g.ecc_mode == "disabled") parts.push_back("ECC off");
  if (g.ecc_mode == "enabled") parts.push_back("ECC on");
  return Join(parts);
}

int64_t Known(int64_t a, int64_t b) { return std::max<int64_t>(a, 0) + std::max<int64_t>(b, 0); }

// One GPU's row: the worst of what its counters say.
Check GpuRow(const Gpu& g) {
  const std::string name = GpuLabel(g), what = Describe(g);
  const std::string idx = std::to_string(g.index);
  if (!g.problem.empty())
    return Failed(name, (what.empty() ? "" : what + "; ") + "the driver cannot query it: " + g.problem,
                  "look for Xid errors in dmesg, reset the GPU (nvidia-smi -r -i " + idx +
                      ") or reboot; if it stays lost, have it serviced");
  if (g.remap_failed)
    return Failed(name, what + "; memory row remapping failed",
                  "the GPU needs service: keep work off it and contact the vendor");
  if (g.ecc_volatile_uncorrected > 0)
    return Failed(name,
                  what + "; " + std::to_string(g.ecc_volatile_uncorrected) +
                      " uncorrectable ECC errors since the driver loaded",
                  "stop the work on it and reset it (nvidia-smi -r -i " + idx +
                      ") or reboot; if errors come back, have the GPU replaced");
  if (g.retirement_pending)
    return Warn(name, what + "; a reset is pending to retire memory pages or remap rows",
                "reset the GPU (nvidia-smi -r -i " + idx + ") or reboot before the migration");
  if (g.ecc_aggregate_uncorrected > 0)
    return Warn(name,
                what + "; " + std::to_string(g.ecc_aggregate_uncorrected) +
                    " uncorrectable ECC errors over its life (none since the driver loaded)",
                "watch it (nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER); if the count grows, have the GPU "
                "replaced");
  int64_t corrected = std::max(g.ecc_aggregate_corrected, g.ecc_volatile_corrected);
  if (corrected > 0)
    return Warn(name,
                what + "; " + std::to_string(corrected) + " corrected ECC errors (" +
                    (g.ecc_aggregate_corrected >= g.ecc_volatile_corrected ? "over its life" : "since the driver loaded") +
                    "), none uncorrectable",
                "the hardware corrected them; watch the count (nvidia-smi -q -d ECC) and plan a replacement if it "
                "keeps growing");
  if (g.temperature_c >= 0 && g.slowdown_c > 0 && g.temperature_c >= g.slowdown_c)
    return Warn(name, what + "; at or over its slowdown temperature (" + std::to_string(g.slowdown_c) + " C)",
                "check the cooling (fans, airflow, dust) before the migration");
  if (g.ecc_mode == "enabled" && Known(g.ecc_volatile_uncorrected, g.ecc_aggregate_uncorrected) == 0 &&
      g.ecc_aggregate_corrected == 0)
    return Ok(name, what + ", no ECC errors");
  return Ok(name, what);
}

// The line of docker's complaint that says most.
std::string KeyLine(const ProcResult& r) {
  std::string text = r.err + "\n" + r.out, best;
  int best_rank = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    int rank = line.find("nvidia-container-cli:") != std::string::npos        ? 4
               : line.find("Error response from daemon") != std::string::npos ? 3
               : line.find("NVIDIA-SMI has failed") != std::string::npos      ? 3
               : (line.find("rror") != std::string::npos && line.find("ERRO[") != 0) ? 2
                                                                                    : 0;
    if (rank > best_rank) best_rank = rank, best = line;
  }
  return best.empty() ? r.last_error_line() : best;
}

Check ContainerRow(const CheckOptions& o, const GpuReport& host, const Runner& run) {
  const std::string name = "gpu in containers";
  if (o.gpu_image.empty())
    return Skip(name, "give --gpu-image IMAGE to check that containers see the GPUs (docker run --gpus all)");
  auto cmd = ContainerGpuCommand(o.gpu_image);
  ProcResult r = run(cmd, kContainerTimeout);
  if (!r.ok()) {
    std::string line = KeyLine(r);
    std::string detail = o.gpu_image + " does not start with the GPUs: " + line;
    if (line.find("could not select device driver") != std::string::npos)
      return Failed(name, detail, std::string("docker has no GPU support: ") + kToolkitFix);
    if (line.find("nvidia-container-cli") != std::string::npos)
      return Failed(name, detail,
                    "the container toolkit cannot use the driver: check that nvidia-smi answers on the host and "
                    "that the toolkit matches the driver (nvidia-container-cli info)");
    if (line.find("NVIDIA-SMI has failed") != std::string::npos)
      return Failed(name, detail, "the container reaches no driver: check the host's driver and the toolkit");
    return Failed(name, detail, "run it by hand to see the whole message: " + CommandLine(cmd));
  }
  std::vector<std::string> seen = ParseUuids(r.out);
  std::vector<std::string> missing;
  for (const auto& g : host.gpus)
    if (std::find(seen.begin(), seen.end(), g.uuid) == seen.end())
      missing.push_back(GpuLabel(g) + " " + g.name + " (" + g.uuid + ")");
  if (!missing.empty())
    return Failed(name,
                  o.gpu_image + " sees " + std::to_string(host.gpus.size() - missing.size()) + " of " +
                      std::to_string(host.gpus.size()) + " GPUs; missing: " + Join(missing),
                  "the image or the toolkit hides it: check NVIDIA_VISIBLE_DEVICES in the image (docker image "
                  "inspect " + o.gpu_image + ") and /etc/nvidia-container-runtime/config.toml, then check again");
  return Ok(name, o.gpu_image + " sees all " + std::to_string(host.gpus.size()) + " GPUs (--gpus all)");
}

Check RuntimeRow(const Runner& run) {
  const std::string name = "docker nvidia runtime";
  ProcResult r = run({"docker", "info", "--format", "{{json .Runtimes}}"}, kDockerInfoTimeout);
  if (!r.ok()) return Warn(name, "docker does not list its runtimes: " + r.last_error_line(), kToolkitFix);
  std::vector<std::string> names;
  try {
    names = ParseRuntimes(r.out);
  } catch (const Error& e) {
    return Warn(name, e.what(), "run docker info and look at its Runtimes line");
  }
  if (std::find(names.begin(), names.end(), "nvidia") != names.end())
    return Ok(name, "registered (runtimes: " + Join(names) + ")");
  return Warn(name, "the docker engine has no nvidia runtime (runtimes: " + Join(names) + ")", kToolkitFix);
}

}  // namespace

std::vector<std::string> ContainerGpuCommand(const std::string& image) {
  return {"docker", "run", "--rm", "--gpus", "all", "--entrypoint", "nvidia-smi", image, "--query-gpu=uuid",
          "--format=csv,noheader"};
}

std::vector<Check> GpuChecks(const CheckOptions& o, const GpuReport& host, const Runner& run) {
  const std::string name = "gpu";
  const char* const no_gpu_fix =
      "run this on the GPU server, or install the NVIDIA driver (nvidia-smi must answer); without --require-gpu "
      "a host without GPUs passes";
  switch (host.state) {
    case GpuReport::State::kNoDriver: {
      std::string detail = "no GPU: no NVIDIA driver on this host (" + host.error + ")";
      return {o.require_gpu ? Failed(name, detail, no_gpu_fix) : Skip(name, detail)};
    }
    case GpuReport::State::kNotAnswering: {
      std::string detail = "the NVIDIA driver does not answer: " + host.error;
      std::string fix =
          "load the driver: after a kernel update reinstall it (or its DKMS module) and reboot; on a host without "
          "GPUs remove the NVIDIA packages";
      return {o.require_gpu ? Failed(name, detail, fix) : Warn(name, detail, fix)};
    }
    case GpuReport::State::kOk:
      break;
  }
  std::string driver = "NVIDIA driver " + (host.driver_version.empty() ? "?" : host.driver_version) + " (" +
                       host.backend + ")";
  if (host.gpus.empty()) {
    std::string detail = "no GPU: " + driver + " answers but sees no GPU";
    return {o.require_gpu ? Failed(name, detail, no_gpu_fix) : Skip(name, detail)};
  }
  std::vector<Check> rows;
  rows.push_back(Ok(name, driver + ", " + std::to_string(host.gpus.size()) + " GPU" +
                              (host.gpus.size() == 1 ? "" : "s")));
  for (const auto& g : host.gpus) rows.push_back(GpuRow(g));
  rows.push_back(RuntimeRow(run));
  rows.push_back(ContainerRow(o, host, run));
  return rows;
}

}  // namespace mig::health
