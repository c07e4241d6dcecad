// Unit tests read the recorded outputs under tests/data/ through this.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"

namespace mig {

// The path of tests/data/<rel>.
inline std::string TestDataPath(const std::string& rel) { return std::string(MIGRATE_TEST_DATA) + "/" + rel; }

// The content of tests/data/<rel>; throws when it is missing.
inline std::string TestData(const std::string& rel) {
  const std::string path = std::string(MIGRATE_TEST_DATA) + "/" + rel;
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("test data " + path + " is missing");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mig
