// The few NVML entry points the GPU checks use, declared from NVIDIA's documented C ABI
// (nvml.h; Debian main has no -dev package for it) and resolved with dlsym at run time, so
// the program runs on hosts without the library. Tests fill the table with fakes.
#pragma once

#include <string>

#include "health/gpu.h"

namespace mig::health::nvml {

using Return = int;  // nvmlReturn_t
constexpr Return kSuccess = 0;
constexpr Return kNotSupported = 3;
constexpr Return kDriverNotLoaded = 9;
struct DeviceSt;
using Device = DeviceSt*;  // nvmlDevice_t

// nvmlMemory_t
struct Memory {
  unsigned long long total, free, used;
};
// nvmlUtilization_t
struct Utilization {
  unsigned int gpu, memory;
};

// Enum values of nvml.h (enums are passed as int).
constexpr int kTemperatureGpu = 0;             // NVML_TEMPERATURE_GPU
constexpr int kThresholdSlowdown = 1;          // NVML_TEMPERATURE_THRESHOLD_SLOWDOWN
constexpr int kErrorCorrected = 0;             // NVML_MEMORY_ERROR_TYPE_CORRECTED
constexpr int kErrorUncorrected = 1;           // NVML_MEMORY_ERROR_TYPE_UNCORRECTED
constexpr int kVolatile = 0, kAggregate = 1;   // NVML_VOLATILE_ECC, NVML_AGGREGATE_ECC
constexpr int kEnabled = 1;                    // NVML_FEATURE_ENABLED
constexpr unsigned kNameSize = 96, kUuidSize = 96, kDriverVersionSize = 80;  // *_V2_BUFFER_SIZE

// The entry points. The first group is required; the rest may be missing from an old
// driver's library (null: not reported).
struct Api {
  Return (*init)() = nullptr;                              // nvmlInit_v2
  Return (*shutdown)() = nullptr;                          // nvmlShutdown
  const char* (*error_string)(Return) = nullptr;           // nvmlErrorString
  Return (*driver_version)(char*, unsigned) = nullptr;     // nvmlSystemGetDriverVersion
  Return (*count)(unsigned*) = nullptr;                    // nvmlDeviceGetCount_v2
  Return (*handle)(unsigned, Device*) = nullptr;           // nvmlDeviceGetHandleByIndex_v2
  Return (*name)(Device, char*, unsigned) = nullptr;       // nvmlDeviceGetName
  Return (*uuid)(Device, char*, unsigned) = nullptr;       // nvmlDeviceGetUUID
  Return (*memory)(Device, Memory*) = nullptr;             // nvmlDeviceGetMemoryInfo
  Return (*utilization)(Device, Utilization*) = nullptr;   // nvmlDeviceGetUtilizationRates
  Return (*temperature)(Device, int, unsigned*) = nullptr; // nvmlDeviceGetTemperature

  Return (*temperature_threshold)(Device, int, unsigned*) = nullptr;        // nvmlDeviceGetTemperatureThreshold
  Return (*ecc_mode)(Device, int*, int*) = nullptr;                         // nvmlDeviceGetEccMode
  Return (*total_ecc_errors)(Device, int, int, unsigned long long*) = nullptr;  // nvmlDeviceGetTotalEccErrors
  Return (*remapped_rows)(Device, unsigned*, unsigned*, unsigned*, unsigned*) = nullptr;  // nvmlDeviceGetRemappedRows
  Return (*retired_pages_pending)(Device, int*) = nullptr;  // nvmlDeviceGetRetiredPagesPendingStatus
};

// Reads the driver and every GPU through `api` (its required entries set): nvmlInit_v2
// failing is kNotAnswering with NVML's words; a GPU NVML cannot query gets a `problem`;
// NOT_SUPPORTED leaves a number at -1. Calls shutdown after a successful init.
GpuReport Read(const Api& api);

}  // namespace mig::health::nvml
