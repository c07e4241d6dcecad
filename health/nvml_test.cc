// The NVML backend over a fake entry-point table (no GPU needed), and its loader on a host
// without the library.
#include "health/nvml.h"

#include <catch2/catch.hpp>
#include <cstring>

namespace mig::health {
namespace {

// What the fake library answers; the values are the recorded Tesla P100's
// (tests/data/gpu/tesla-p100-ecc.xml), in NVML's units.
struct FakeNvml {
  static inline nvml::Return init_rc = nvml::kSuccess;
  static inline nvml::Return memory_rc = nvml::kSuccess;
  static inline bool ecc_supported = true;
  static inline int shutdowns = 0;
};

nvml::Device Dev(unsigned i) { return reinterpret_cast<nvml::Device>(static_cast<uintptr_t>(i + 1)); }

nvml::Api FakeApi() {
  nvml::Api a;
  a.init = [] { return FakeNvml::init_rc; };
  a.shutdown = [] { return ++FakeNvml::shutdowns, nvml::kSuccess; };
  a.error_string = [](nvml::Return rc) -> const char* {
    return rc == nvml::kDriverNotLoaded ? "Driver Not Loaded" : rc == 15 ? "GPU is lost" : "Unknown Error";
  };
  a.driver_version = [](char* b, unsigned n) { return std::snprintf(b, n, "510.47.03"), nvml::kSuccess; };
  a.count = [](unsigned* n) { return *n = 2, nvml::kSuccess; };
  a.handle = [](unsigned i, nvml::Device* d) { return *d = Dev(i), nvml::kSuccess; };
  a.name = [](nvml::Device, char* b, unsigned n) { return std::snprintf(b, n, "Tesla P100-PCIE-16GB"), nvml::kSuccess; };
  a.uuid = [](nvml::Device d, char* b, unsigned n) {
    std::snprintf(b, n, d == Dev(0) ? "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e" : "GPU-second");
    return nvml::kSuccess;
  };
  a.memory = [](nvml::Device d, nvml::Memory* m) {
    if (d == Dev(1) && FakeNvml::memory_rc != nvml::kSuccess) return FakeNvml::memory_rc;
    *m = {16384ULL << 20, 16280ULL << 20, 0};
    return nvml::kSuccess;
  };
  a.utilization = [](nvml::Device, nvml::Utilization* u) { return *u = {0, 0}, nvml::kSuccess; };
  a.temperature = [](nvml::Device, int, unsigned* t) { return *t = 38, nvml::kSuccess; };
  a.temperature_threshold = [](nvml::Device, int type, unsigned* t) {
    return type == nvml::kThresholdSlowdown ? (*t = 82, nvml::kSuccess) : nvml::kNotSupported;
  };
  a.ecc_mode = [](nvml::Device, int* cur, int* pend) {
    if (!FakeNvml::ecc_supported) return nvml::kNotSupported;
    return *cur = *pend = nvml::kEnabled, nvml::kSuccess;
  };
  a.total_ecc_errors = [](nvml::Device, int type, int counter, unsigned long long* n) {
    *n = (type == nvml::kErrorCorrected && counter == nvml::kAggregate) ? 3 : 0;
    return nvml::kSuccess;
  };
  return a;
}

void Reset() {
  FakeNvml::init_rc = nvml::kSuccess;
  FakeNvml::memory_rc = nvml::kSuccess;
  FakeNvml::ecc_supported = true;
  FakeNvml::shutdowns = 0;
}

}  // namespace

TEST_CASE("nvml backend reads the driver and each GPU") {
  Reset();
  GpuReport r = nvml::Read(FakeApi());
  CHECK(r.state == GpuReport::State::kOk);
  CHECK(r.backend == "NVML");
  CHECK(r.driver_version == "510.47.03");
  REQUIRE(r.gpus.size() == 2);
  const Gpu& g = r.gpus[0];
  CHECK(g.uuid == "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e");
  CHECK(g.memory_total_mib == 16384);
  CHECK(g.memory_used_mib == 0);
  CHECK(g.temperature_c == 38);
  CHECK(g.slowdown_c == 82);
  CHECK(g.ecc_mode == "enabled");
  CHECK(g.ecc_aggregate_corrected == 3);
  CHECK(g.ecc_volatile_uncorrected == 0);
  CHECK_FALSE(g.retirement_pending);  // remapped rows / retired pages not in this library
  CHECK(FakeNvml::shutdowns == 1);
}

TEST_CASE("nvml backend: a driver that is not loaded is a driver that does not answer") {
  Reset();
  FakeNvml::init_rc = nvml::kDriverNotLoaded;
  GpuReport r = nvml::Read(FakeApi());
  CHECK(r.state == GpuReport::State::kNotAnswering);
  CHECK(r.error == "NVML: Driver Not Loaded (NVML code 9)");
  CHECK(FakeNvml::shutdowns == 0);
}

TEST_CASE("nvml backend: a lost GPU gets a problem, NOT_SUPPORTED leaves numbers unknown") {
  Reset();
  FakeNvml::memory_rc = 15;  // NVML_ERROR_GPU_IS_LOST
  FakeNvml::ecc_supported = false;
  GpuReport r = nvml::Read(FakeApi());
  REQUIRE(r.gpus.size() == 2);
  CHECK(r.gpus[0].problem.empty());
  CHECK(r.gpus[0].ecc_mode.empty());
  CHECK(r.gpus[0].ecc_aggregate_corrected == -1);
  CHECK(r.gpus[1].problem == "GPU is lost (NVML code 15)");
  CHECK(r.gpus[1].temperature_c == -1);
}

TEST_CASE("nvml source on a host without the library reports no driver") {
  auto src = MakeNvmlSource("libnvidia-ml-does-not-exist.so.1");
  GpuReport r = src->Read();
  CHECK(r.state == GpuReport::State::kNoDriver);
  CHECK(r.error == "libnvidia-ml-does-not-exist.so.1 is not installed");
}

}  // namespace mig::health
