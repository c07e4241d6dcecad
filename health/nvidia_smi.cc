// The nvidia-smi backend and the text parsers: nvidia-smi's XML report, UUID listings and
// docker's runtime list.
#include <cctype>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "health/gpu.h"

namespace pt = boost::property_tree;

namespace mig::health {

namespace {

// The leading integer of "24564 MiB", "13 C", "0 %"; -1 for "N/A" and other words.
int64_t Num(const std::string& v) {
  size_t i = v.find_first_not_of(" \t\r\n");
  if (i == std::string::npos) return -1;
  bool neg = v[i] == '-';
  if (neg) ++i;
  if (i >= v.size() || v[i] < '0' || v[i] > '9') return -1;
  int64_t n = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) n = n * 10 + (v[i] - '0');
  return neg ? -n : n;
}

std::string Text(const pt::ptree& t, const char* path) { return t.get<std::string>(path, ""); }

void Add(int64_t& sum, int64_t v) {
  if (v >= 0) sum = (sum < 0 ? 0 : sum) + v;
}

// Corrected and uncorrected counts of one <volatile> or <aggregate> element. Older drivers
// give <single_bit>/<double_bit> with a <total>; newer ones sram_*/dram_* counters
// ("correctable", "uncorrectable", "uncorrectable_parity", "uncorrectable_secded").
void EccCounts(const pt::ptree& t, int64_t& corrected, int64_t& uncorrected) {
  for (const auto& [key, child] : t) {
    if (key == "single_bit") Add(corrected, Num(Text(child, "total")));
    else if (key == "double_bit") Add(uncorrected, Num(Text(child, "total")));
    else if (key.find("uncorrectable") != std::string::npos) Add(uncorrected, Num(child.data()));
    else if (key.find("correctable") != std::string::npos) Add(corrected, Num(child.data()));
  }
}

Gpu ParseGpu(const pt::ptree& g, int index) {
  Gpu d;
  d.index = index;
  d.name = Text(g, "product_name");
  d.uuid = Text(g, "uuid");
  d.bus_id = Text(g, "<xmlattr>.id");
  d.memory_total_mib = Num(Text(g, "fb_memory_usage.total"));
  d.memory_used_mib = Num(Text(g, "fb_memory_usage.used"));
  d.utilization_pct = static_cast<int>(Num(Text(g, "utilization.gpu_util")));
  d.temperature_c = static_cast<int>(Num(Text(g, "temperature.gpu_temp")));
  d.slowdown_c = static_cast<int>(Num(Text(g, "temperature.gpu_temp_slow_threshold")));
  std::string mode = Text(g, "ecc_mode.current_ecc");
  d.ecc_mode = mode == "Enabled" ? "enabled" : mode == "Disabled" ? "disabled" : "";
  if (auto v = g.get_child_optional("ecc_errors.volatile"))
    EccCounts(*v, d.ecc_volatile_corrected, d.ecc_volatile_uncorrected);
  if (auto a = g.get_child_optional("ecc_errors.aggregate"))
    EccCounts(*a, d.ecc_aggregate_corrected, d.ecc_aggregate_uncorrected);
  d.retirement_pending = Text(g, "retired_pages.pending_retirement") == "Yes" ||
                         Text(g, "retired_pages.pending_blacklist") == "Yes" ||
                         Text(g, "remapped_rows.remapped_row_pending") == "Yes";
  d.remap_failed = Text(g, "remapped_rows.remapped_row_failure") == "Yes";
  return d;
}

class SmiSource : public GpuSource {
 public:
  explicit SmiSource(Runner run) : run_(std::move(run)) {}
  GpuReport Read() override { return ReadSmiResult(run_({"nvidia-smi", "-q", "-x"}, kSmiTimeout)); }

 private:
  Runner run_;
};

}  // namespace

GpuReport ParseSmiXml(const std::string& xml) {
  pt::ptree doc;
  try {
    std::istringstream in(xml);
    pt::read_xml(in, doc, pt::xml_parser::trim_whitespace);
  } catch (const pt::xml_parser_error& e) {
    Fail(std::string("nvidia-smi's XML report cannot be read: ") + e.what());
  }
  auto root = doc.get_child_optional("nvidia_smi_log");
  if (!root) Fail("nvidia-smi's XML report has no <nvidia_smi_log> element");
  GpuReport r;
  r.state = GpuReport::State::kOk;
  r.backend = "nvidia-smi";
  r.driver_version = Text(*root, "driver_version");
  int index = 0;
  for (const auto& [key, g] : *root)
    if (key == "gpu") r.gpus.push_back(ParseGpu(g, index++));
  return r;
}

GpuReport ReadSmiResult(const ProcResult& res) {
  GpuReport r;
  r.backend = "nvidia-smi";
  if (res.code == kNotInstalled) {
    r.state = GpuReport::State::kNoDriver;
    r.error = "nvidia-smi is not installed";
    return r;
  }
  if (!res.ok()) {
    r.state = GpuReport::State::kNotAnswering;
    r.error = "nvidia-smi: " + res.last_error_line();
    return r;
  }
  try {
    return ParseSmiXml(res.out);
  } catch (const Error& e) {
    r.state = GpuReport::State::kNotAnswering;
    r.error = e.what();
    return r;
  }
}

std::vector<std::string> ParseUuids(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t at = line.find("GPU-");
    if (at == std::string::npos) continue;
    size_t end = at + 4;
    while (end < line.size() && (std::isxdigit(static_cast<unsigned char>(line[end])) || line[end] == '-')) ++end;
    if (end > at + 4) out.push_back(line.substr(at, end - at));
  }
  return out;
}

std::vector<std::string> ParseRuntimes(const std::string& json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    Fail(std::string("docker's runtime list is not JSON: ") + e.what());
  }
  if (!j.is_object()) Fail("docker's runtime list is not a JSON object");
  std::vector<std::string> names;
  for (const auto& [name, value] : j.items()) names.push_back(name);
  return names;
}

std::unique_ptr<GpuSource> MakeSmiSource(Runner run) { return std::make_unique<SmiSource>(std::move(run)); }

GpuReport ReadGpus(GpuSource& nvml, GpuSource& smi) {
  GpuReport r = nvml.Read();
  if (r.state != GpuReport::State::kNoDriver) return r;
  GpuReport s = smi.Read();
  if (s.state == GpuReport::State::kNoDriver) s.error = r.error + "; " + s.error;
  return s;
}

}  // namespace mig::health
