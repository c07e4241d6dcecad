// The GPU rows, from recorded outputs (tests/data/gpu/README.md) replayed through a fake
// program runner: no GPU, driver or docker needed.
#include <catch2/catch.hpp>
#include <map>

#include "core/process.h"
#include "health/checks.h"
#include "tests/test_data.h"

namespace mig::health {
namespace {

// A runner that answers from a table keyed by the command line, and remembers the calls.
struct FakeRunner {
  std::map<std::string, ProcResult> answers;
  std::vector<std::string> calls;

  void Answer(const std::vector<std::string>& argv, int code, const std::string& out, const std::string& err = "") {
    ProcResult r;
    r.code = code;
    r.out = out;
    r.err = err;
    answers[CommandLine(argv)] = r;
  }
  Runner runner() {
    return [this](const std::vector<std::string>& argv, std::chrono::seconds) {
      calls.push_back(CommandLine(argv));
      auto it = answers.find(calls.back());
      if (it != answers.end()) return it->second;
      ProcResult r;
      r.code = kNotInstalled;
      r.err = "'" + argv[0] + "' is not installed or not on PATH";
      return r;
    };
  }
};

const std::vector<std::string> kRuntimes = {"docker", "info", "--format", "{{json .Runtimes}}"};
const std::string kImage = "nvidia/cuda:12.4.0-base-ubuntu22.04";

// A GpuSource that answers a fixed report.
struct FixedSource : GpuSource {
  GpuReport report;
  int reads = 0;
  GpuReport Read() override {
    ++reads;
    return report;
  }
};

GpuReport NoDriver(const std::string& why) {
  GpuReport r;
  r.backend = "NVML";
  r.error = why;
  return r;
}

const Check& Row(const std::vector<Check>& rows, const std::string& name) {
  for (const auto& c : rows)
    if (c.name == name) return c;
  FAIL("no row " << name);
  return rows.front();
}

CheckOptions WithImage() {
  CheckOptions o;
  o.gpu_image = kImage;
  return o;
}

}  // namespace

TEST_CASE("gpu checks on a healthy two-GPU host pass, container included") {
  FakeRunner fake;
  fake.Answer(kRuntimes, 0, TestData("gpu/docker-runtimes-nvidia.json"));
  fake.Answer(ContainerGpuCommand(kImage), 0, TestData("gpu/container-uuids-both.txt"));
  auto rows = GpuChecks(WithImage(), ParseSmiXml(TestData("gpu/dual-rtx-a5000.xml")), fake.runner());
  REQUIRE(rows.size() == 5);
  CHECK(ExitCode(rows) == 0);
  CHECK(Row(rows, "gpu").detail == "NVIDIA driver 590.44.01 (nvidia-smi), 2 GPUs");
  CHECK(Row(rows, "gpu 0").status == Status::kOk);
  CHECK(Row(rows, "gpu 0").detail == "NVIDIA RTX A5000, 22437/24564 MiB used, 0% busy, 13 C, ECC off");
  CHECK(Row(rows, "gpu 1").status == Status::kOk);
  CHECK(Row(rows, "docker nvidia runtime").status == Status::kOk);
  CHECK(Row(rows, "gpu in containers").status == Status::kOk);
  CHECK(Row(rows, "gpu in containers").detail == kImage + " sees all 2 GPUs (--gpus all)");
  CHECK(fake.calls.back() ==
        "docker run --rm --gpus all --entrypoint nvidia-smi " + kImage + " --query-gpu=uuid --format=csv,noheader");
}

TEST_CASE("gpu checks name the GPU a container does not see") {
  FakeRunner fake;
  fake.Answer(kRuntimes, 0, TestData("gpu/docker-runtimes-nvidia.json"));
  fake.Answer(ContainerGpuCommand(kImage), 0, TestData("gpu/container-uuids-one-missing.txt"));
  auto rows = GpuChecks(WithImage(), ParseSmiXml(TestData("gpu/dual-rtx-a5000.xml")), fake.runner());
  const Check& c = Row(rows, "gpu in containers");
  CHECK(c.status == Status::kFail);
  CHECK(c.detail == kImage + " sees 1 of 2 GPUs; missing: gpu 1 NVIDIA RTX A5000 (GPU-12345678-aaaa-bbbb-cccc-0123456789cd)");
  CHECK(c.fix.find("NVIDIA_VISIBLE_DEVICES") != std::string::npos);
  CHECK(ExitCode(rows) == 1);
}

TEST_CASE("gpu checks explain docker without GPU support (recorded docker run --gpus failure)") {
  FakeRunner fake;
  fake.Answer(kRuntimes, 0, TestData("gpu/docker-runtimes-no-nvidia.json"));
  fake.Answer(ContainerGpuCommand(kImage), 125, "", TestData("gpu/docker-run-gpus-no-toolkit.stderr"));
  auto rows = GpuChecks(WithImage(), ParseSmiXml(TestData("gpu/dual-rtx-a5000.xml")), fake.runner());
  CHECK(Row(rows, "docker nvidia runtime").status == Status::kWarn);
  CHECK(Row(rows, "docker nvidia runtime").fix.find("nvidia-ctk runtime configure") != std::string::npos);
  const Check& c = Row(rows, "gpu in containers");
  CHECK(c.status == Status::kFail);
  CHECK(c.detail == kImage + " does not start with the GPUs: docker: Error response from daemon: could not select "
                             "device driver \"\" with capabilities: [[gpu]]");
  CHECK(c.fix.find("nvidia-container-toolkit") != std::string::npos);
}

TEST_CASE("gpu checks quote the toolkit's own line when it cannot load the driver library") {
  FakeRunner fake;
  fake.Answer(kRuntimes, 0, TestData("gpu/docker-runtimes-nvidia.json"));
  fake.Answer(ContainerGpuCommand(kImage), 125, "", TestData("gpu/docker-run-gpus-nvml-missing.stderr"));
  auto rows = GpuChecks(WithImage(), ParseSmiXml(TestData("gpu/dual-rtx-a5000.xml")), fake.runner());
  const Check& c = Row(rows, "gpu in containers");
  CHECK(c.status == Status::kFail);
  CHECK(c.detail.find("nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1") !=
        std::string::npos);
  CHECK(c.fix.find("nvidia-container-cli info") != std::string::npos);
}

TEST_CASE("gpu checks warn on corrected ECC errors (recorded Tesla P100)") {
  FakeRunner fake;
  fake.Answer(kRuntimes, 0, TestData("gpu/docker-runtimes-nvidia.json"));
  auto rows = GpuChecks(CheckOptions{}, ParseSmiXml(TestData("gpu/tesla-p100-ecc.xml")), fake.runner());
  const Check& g = Row(rows, "gpu 0");
  CHECK(g.status == Status::kWarn);
  CHECK(g.detail == "Tesla P100-PCIE-16GB, 0/16384 MiB used, 0% busy, 38 C, ECC on; 3 corrected ECC errors (over its "
                    "life), none uncorrectable");
  CHECK(Row(rows, "gpu in containers").status == Status::kSkip);
  CHECK(ExitCode(rows) == 0);
}

TEST_CASE("gpu checks fail on uncorrectable ECC errors since the driver loaded") {
  // Derived from the recorded P100 report: its volatile double-bit device_memory and total
  // counters set from 0 to 1 (tests/data/gpu/README.md says so too).
  std::string xml = TestData("gpu/tesla-p100-ecc.xml");
  const std::string before = "<double_bit>\n\t\t\t\t\t<device_memory>0</device_memory>";
  const std::string after = "<double_bit>\n\t\t\t\t\t<device_memory>1</device_memory>";
  auto at = xml.find(before);
  REQUIRE(at != std::string::npos);
  xml.replace(at, before.size(), after);
  at = xml.find("<total>0</total>\n\t\t\t\t</double_bit>");
  REQUIRE(at != std::string::npos);
  xml.replace(at, 16, "<total>1</total>");
  GpuReport r = ParseSmiXml(xml);
  REQUIRE(r.gpus[0].ecc_volatile_uncorrected == 1);
  FakeRunner fake;
  auto rows = GpuChecks(CheckOptions{}, r, fake.runner());
  const Check& g = Row(rows, "gpu 0");
  CHECK(g.status == Status::kFail);
  CHECK(g.detail.find("1 uncorrectable ECC errors since the driver loaded") != std::string::npos);
  CHECK(g.fix.find("nvidia-smi -r -i 0") != std::string::npos);
}

TEST_CASE("gpu checks on a host without a driver say so, and fail only with --require-gpu") {
  FixedSource nvml, smi;
  nvml.report = NoDriver("libnvidia-ml.so.1 is not installed");
  smi.report = ReadSmiResult(ProcResult{kNotInstalled, "", "'nvidia-smi' is not installed or not on PATH"});
  GpuReport host = ReadGpus(nvml, smi);
  CHECK(host.state == GpuReport::State::kNoDriver);
  FakeRunner fake;
  auto rows = GpuChecks(CheckOptions{}, host, fake.runner());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].status == Status::kSkip);
  CHECK(rows[0].detail ==
        "no GPU: no NVIDIA driver on this host (libnvidia-ml.so.1 is not installed; nvidia-smi is not installed)");
  CHECK(fake.calls.empty());  // no docker question without a GPU
  CheckOptions strict;
  strict.require_gpu = true;
  rows = GpuChecks(strict, host, fake.runner());
  CHECK(rows[0].status == Status::kFail);
  CHECK(ExitCode(rows) == 1);
}

TEST_CASE("gpu checks report a driver that does not answer in nvidia-smi's words (recorded)") {
  FakeRunner fake;
  fake.Answer({"nvidia-smi", "-q", "-x"}, 9, TestData("gpu/nvidia-smi-no-driver.txt"));
  FixedSource nvml;
  nvml.report = NoDriver("libnvidia-ml.so.1 is not installed");
  auto smi = MakeSmiSource(fake.runner());
  GpuReport host = ReadGpus(nvml, *smi);
  CHECK(host.state == GpuReport::State::kNotAnswering);
  auto rows = GpuChecks(CheckOptions{}, host, fake.runner());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].status == Status::kWarn);
  CHECK(rows[0].detail.find("couldn't communicate with the NVIDIA driver") != std::string::npos);
  CheckOptions strict;
  strict.require_gpu = true;
  CHECK(GpuChecks(strict, host, fake.runner())[0].status == Status::kFail);
}

TEST_CASE("gpu sources: NVML's answer wins, nvidia-smi is asked only when NVML is missing") {
  FixedSource nvml, smi;
  nvml.report.state = GpuReport::State::kOk;
  nvml.report.backend = "NVML";
  CHECK(ReadGpus(nvml, smi).backend == "NVML");
  CHECK(smi.reads == 0);
  nvml.report = NoDriver("libnvidia-ml.so.1 is not installed");
  smi.report = ParseSmiXml(TestData("gpu/tesla-p100-ecc.xml"));
  CHECK(ReadGpus(nvml, smi).backend == "nvidia-smi");
  CHECK(smi.reads == 1);
}

}  // namespace mig::health
