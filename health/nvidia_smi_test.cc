// nvidia-smi's outputs, recorded on real machines (tests/data/gpu/README.md), through the
// parsers.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "health/gpu.h"
#include "tests/test_data.h"

namespace mig::health {

TEST_CASE("smi xml of a healthy two-GPU host gives both GPUs with their numbers") {
  GpuReport r = ParseSmiXml(TestData("gpu/dual-rtx-a5000.xml"));
  CHECK(r.state == GpuReport::State::kOk);
  CHECK(r.backend == "nvidia-smi");
  CHECK(r.driver_version == "590.44.01");
  REQUIRE(r.gpus.size() == 2);
  const Gpu& a = r.gpus[0];
  CHECK(a.index == 0);
  CHECK(a.name == "NVIDIA RTX A5000");
  CHECK(a.uuid == "GPU-12345678-aaaa-bbbb-cccc-0123456789ab");
  CHECK(a.bus_id == "00000000:81:00.0");
  CHECK(a.memory_total_mib == 24564);
  CHECK(a.memory_used_mib == 22437);
  CHECK(a.utilization_pct == 0);
  CHECK(a.temperature_c == 13);
  CHECK(a.slowdown_c == 95);
  CHECK(a.ecc_mode == "disabled");
  CHECK(a.ecc_volatile_corrected == -1);  // N/A with ECC off
  CHECK(a.ecc_aggregate_uncorrected == -1);
  CHECK_FALSE(a.retirement_pending);
  CHECK_FALSE(a.remap_failed);
  CHECK(r.gpus[1].index == 1);
  CHECK(r.gpus[1].uuid == "GPU-12345678-aaaa-bbbb-cccc-0123456789cd");
  CHECK(r.gpus[1].memory_used_mib == 17253);
  CHECK(r.gpus[1].temperature_c == 15);
}

TEST_CASE("smi xml of a GPU with ECC errors counts them (older single/double bit layout)") {
  GpuReport r = ParseSmiXml(TestData("gpu/tesla-p100-ecc.xml"));
  CHECK(r.driver_version == "510.47.03");
  REQUIRE(r.gpus.size() == 1);
  const Gpu& g = r.gpus[0];
  CHECK(g.name == "Tesla P100-PCIE-16GB");
  CHECK(g.uuid == "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e");
  CHECK(g.ecc_mode == "enabled");
  CHECK(g.ecc_volatile_corrected == 0);
  CHECK(g.ecc_volatile_uncorrected == 0);
  CHECK(g.ecc_aggregate_corrected == 3);
  CHECK(g.ecc_aggregate_uncorrected == 0);
  CHECK(g.memory_total_mib == 16384);
  CHECK(g.temperature_c == 38);
  CHECK(g.slowdown_c == 82);
}

TEST_CASE("smi xml with the newer sram/dram ECC counters sums them") {
  // The layout of driver 535+ (<sram_uncorrectable_parity>, <dram_correctable>...), as in
  // dual-rtx-a5000.xml, with numbers in place of N/A to exercise the sums.
  const std::string xml =
      "<nvidia_smi_log><driver_version>550.54.15</driver_version><gpu id=\"00000000:19:00.0\">"
      "<product_name>NVIDIA H100 80GB HBM3</product_name><uuid>GPU-x</uuid>"
      "<ecc_mode><current_ecc>Enabled</current_ecc></ecc_mode><ecc_errors>"
      "<volatile><sram_correctable>2</sram_correctable><sram_uncorrectable_parity>0</sram_uncorrectable_parity>"
      "<sram_uncorrectable_secded>1</sram_uncorrectable_secded><dram_correctable>5</dram_correctable>"
      "<dram_uncorrectable>0</dram_uncorrectable></volatile>"
      "<aggregate><sram_correctable>7</sram_correctable><dram_uncorrectable>N/A</dram_uncorrectable>"
      "<sram_threshold_exceeded>No</sram_threshold_exceeded></aggregate></ecc_errors>"
      "<remapped_rows><remapped_row_pending>Yes</remapped_row_pending><remapped_row_failure>No</remapped_row_failure>"
      "</remapped_rows></gpu></nvidia_smi_log>";
  GpuReport r = ParseSmiXml(xml);
  REQUIRE(r.gpus.size() == 1);
  CHECK(r.gpus[0].ecc_volatile_corrected == 7);
  CHECK(r.gpus[0].ecc_volatile_uncorrected == 1);
  CHECK(r.gpus[0].ecc_aggregate_corrected == 7);
  CHECK(r.gpus[0].ecc_aggregate_uncorrected == -1);
  CHECK(r.gpus[0].retirement_pending);
  CHECK(r.gpus[0].memory_total_mib == -1);
}

TEST_CASE("smi output without a driver is a driver that does not answer, in nvidia-smi's words") {
  ProcResult res;
  res.code = 9;  // nvidia-smi(1): "NVIDIA driver is not loaded"
  res.out = TestData("gpu/nvidia-smi-no-driver.txt");
  GpuReport r = ReadSmiResult(res);
  CHECK(r.state == GpuReport::State::kNotAnswering);
  CHECK(r.error ==
        "nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that "
        "the latest NVIDIA driver is installed and running.");
}

TEST_CASE("smi not installed means no driver") {
  ProcResult res;
  res.code = kNotInstalled;
  res.err = "'nvidia-smi' is not installed or not on PATH";
  GpuReport r = ReadSmiResult(res);
  CHECK(r.state == GpuReport::State::kNoDriver);
  CHECK(r.error == "nvidia-smi is not installed");
}

TEST_CASE("smi output that is not its xml report is refused clearly") {
  CHECK_THROWS_AS(ParseSmiXml("<html></html>"), Error);
  CHECK_THROWS_AS(ParseSmiXml("NVIDIA-SMI has failed"), Error);
  ProcResult res;
  res.code = 0;
  res.out = "garbage";
  CHECK(ReadSmiResult(res).state == GpuReport::State::kNotAnswering);
}

TEST_CASE("uuid listing reads nvidia-smi -L and leaves MIG devices out") {
  auto u = ParseUuids(TestData("gpu/h100x8-list-gpus.txt"));
  REQUIRE(u.size() == 8);
  CHECK(u.front() == "GPU-63d1e50a-b952-d15c-0740-12bc14859142");
  CHECK(u.back() == "GPU-882ebfab-da98-c41e-357c-47272c0d560d");
}

TEST_CASE("uuid listing reads the csv query, one per line") {
  auto u = ParseUuids(TestData("gpu/container-uuids-both.txt"));
  REQUIRE(u.size() == 2);
  CHECK(u[1] == "GPU-12345678-aaaa-bbbb-cccc-0123456789cd");
  CHECK(ParseUuids(TestData("gpu/nvidia-smi-no-driver.txt")).empty());
}

TEST_CASE("docker runtime list gives the runtime names") {
  auto plain = ParseRuntimes(TestData("gpu/docker-runtimes-no-nvidia.json"));
  CHECK(plain == std::vector<std::string>{"io.containerd.runc.v2", "io.containerd.runtime.v1.linux", "runc"});
  auto with = ParseRuntimes(TestData("gpu/docker-runtimes-nvidia.json"));
  CHECK(std::find(with.begin(), with.end(), "nvidia") != with.end());
  CHECK_THROWS_AS(ParseRuntimes("Cannot connect to the Docker daemon"), Error);
}

}  // namespace mig::health
