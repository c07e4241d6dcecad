#include "health/nvml.h"

#include <dlfcn.h>

namespace mig::health {

namespace nvml {

namespace {

std::string Words(const Api& api, Return rc) {
  const char* s = api.error_string ? api.error_string(rc) : nullptr;
  return (s && *s ? std::string(s) : "error") + " (NVML code " + std::to_string(rc) + ")";
}

int64_t Ecc(const Api& api, Device d, int type, int counter) {
  unsigned long long n = 0;
  if (!api.total_ecc_errors || api.total_ecc_errors(d, type, counter, &n) != kSuccess) return -1;
  return static_cast<int64_t>(n);
}

Gpu ReadDevice(const Api& api, unsigned i) {
  Gpu g;
  g.index = static_cast<int>(i);
  Device d = nullptr;
  if (Return rc = api.handle(i, &d); rc != kSuccess) {
    g.problem = Words(api, rc);
    return g;
  }
  char buf[kNameSize > kUuidSize ? kNameSize : kUuidSize];
  if (api.name(d, buf, kNameSize) == kSuccess) g.name = buf;
  if (api.uuid(d, buf, kUuidSize) == kSuccess) g.uuid = buf;
  Memory m{};
  if (Return rc = api.memory(d, &m); rc == kSuccess) {
    g.memory_total_mib = static_cast<int64_t>(m.total >> 20);
    g.memory_used_mib = static_cast<int64_t>(m.used >> 20);
  } else if (rc != kNotSupported) {
    g.problem = Words(api, rc);  // e.g. "GPU is lost": no further query will answer
    return g;
  }
  Utilization u{};
  if (api.utilization(d, &u) == kSuccess) g.utilization_pct = static_cast<int>(u.gpu);
  unsigned t = 0;
  if (api.temperature(d, kTemperatureGpu, &t) == kSuccess) g.temperature_c = static_cast<int>(t);
  if (api.temperature_threshold && api.temperature_threshold(d, kThresholdSlowdown, &t) == kSuccess)
    g.slowdown_c = static_cast<int>(t);
  int current = 0, pending = 0;
  if (api.ecc_mode && api.ecc_mode(d, &current, &pending) == kSuccess)
    g.ecc_mode = current == kEnabled ? "enabled" : "disabled";
  if (g.ecc_mode == "enabled") {
    g.ecc_volatile_corrected = Ecc(api, d, kErrorCorrected, kVolatile);
    g.ecc_volatile_uncorrected = Ecc(api, d, kErrorUncorrected, kVolatile);
    g.ecc_aggregate_corrected = Ecc(api, d, kErrorCorrected, kAggregate);
    g.ecc_aggregate_uncorrected = Ecc(api, d, kErrorUncorrected, kAggregate);
  }
  unsigned corr = 0, unc = 0, is_pending = 0, failed = 0;
  if (api.remapped_rows && api.remapped_rows(d, &corr, &unc, &is_pending, &failed) == kSuccess) {
    g.retirement_pending = is_pending != 0;
    g.remap_failed = failed != 0;
  }
  int retire = 0;
  if (api.retired_pages_pending && api.retired_pages_pending(d, &retire) == kSuccess && retire == kEnabled)
    g.retirement_pending = true;
  return g;
}

}  // namespace

GpuReport Read(const Api& api) {
  GpuReport r;
  r.backend = "NVML";
  if (Return rc = api.init(); rc != kSuccess) {
    r.state = GpuReport::State::kNotAnswering;
    r.error = "NVML: " + Words(api, rc);
    return r;
  }
  r.state = GpuReport::State::kOk;
  char version[kDriverVersionSize] = {};
  if (api.driver_version(version, kDriverVersionSize) == kSuccess) r.driver_version = version;
  unsigned n = 0;
  if (Return rc = api.count(&n); rc != kSuccess) {
    r.state = GpuReport::State::kNotAnswering;
    r.error = "NVML cannot count the GPUs: " + Words(api, rc);
  } else {
    for (unsigned i = 0; i < n; ++i) r.gpus.push_back(ReadDevice(api, i));
  }
  api.shutdown();
  return r;
}

}  // namespace nvml

namespace {

// NVML from a shared library opened with dlopen.
class NvmlSource : public GpuSource {
 public:
  explicit NvmlSource(std::string library) : library_(std::move(library)) {}

  GpuReport Read() override {
    GpuReport r;
    r.backend = "NVML";
    void* lib = ::dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = ::dlerror();
      std::string w = why ? why : "";
      r.error = w.find("No such file") != std::string::npos ? library_ + " is not installed"
                                                            : library_ + " cannot be loaded (" + w + ")";
      return r;  // kNoDriver
    }
    nvml::Api api;
    bool complete = Resolve(lib, api);
    if (!complete) {
      r.state = GpuReport::State::kNotAnswering;
      r.error = library_ + " lacks the NVML entry points this check needs (driver too old?)";
    } else {
      r = nvml::Read(api);
    }
    ::dlclose(lib);
    return r;
  }

 private:
  template <typename F>
  static void Sym(void* lib, const char* name, F& f) {
    f = reinterpret_cast<F>(::dlsym(lib, name));
  }

  // Fills `api`; false when a required entry point is missing.
  static bool Resolve(void* lib, nvml::Api& api) {
    Sym(lib, "nvmlInit_v2", api.init);
    Sym(lib, "nvmlShutdown", api.shutdown);
    Sym(lib, "nvmlErrorString", api.error_string);
    Sym(lib, "nvmlSystemGetDriverVersion", api.driver_version);
    Sym(lib, "nvmlDeviceGetCount_v2", api.count);
    Sym(lib, "nvmlDeviceGetHandleByIndex_v2", api.handle);
    Sym(lib, "nvmlDeviceGetName", api.name);
    Sym(lib, "nvmlDeviceGetUUID", api.uuid);
    Sym(lib, "nvmlDeviceGetMemoryInfo", api.memory);
    Sym(lib, "nvmlDeviceGetUtilizationRates", api.utilization);
    Sym(lib, "nvmlDeviceGetTemperature", api.temperature);
    Sym(lib, "nvmlDeviceGetTemperatureThreshold", api.temperature_threshold);
    Sym(lib, "nvmlDeviceGetEccMode", api.ecc_mode);
    Sym(lib, "nvmlDeviceGetTotalEccErrors", api.total_ecc_errors);
    Sym(lib, "nvmlDeviceGetRemappedRows", api.remapped_rows);
    Sym(lib, "nvmlDeviceGetRetiredPagesPendingStatus", api.retired_pages_pending);
    return api.init && api.shutdown && api.driver_version && api.count && api.handle && api.name && api.uuid &&
           api.memory && api.utilization && api.temperature;
  }

  std::string library_;
};

}  // namespace

std::unique_ptr<GpuSource> MakeNvmlSource(const std::string& library) {
  return std::make_unique<NvmlSource>(library);
}

}  // namespace mig::health
