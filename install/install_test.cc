// Source and target must be two separate folders.
#include "install/install.h"

#include <catch2/catch.hpp>

#include "core/error.h"

namespace mig {
namespace {

Install At(std::string dir) {
  Install in;
  in.dir = std::move(dir);
  return in;
}

}  // namespace

TEST_CASE("check distinct refuses the same folder") {
  try {
    CheckDistinct(At("/srv/rel"), At("/srv/rel"));
    FAIL("accepted the same folder");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("same folder") != std::string::npos);
  }
}

TEST_CASE("check distinct refuses a target inside the source") {
  CHECK_THROWS_AS(CheckDistinct(At("/srv/rel"), At("/srv/rel/new")), Error);
}

TEST_CASE("check distinct refuses a source inside the target") {
  CHECK_THROWS_AS(CheckDistinct(At("/srv/rel/old"), At("/srv/rel")), Error);
}

TEST_CASE("check distinct accepts siblings with a common prefix") {
  CHECK_NOTHROW(CheckDistinct(At("/a/rel"), At("/a/rel2")));
  CHECK_NOTHROW(CheckDistinct(At("/a/rel2"), At("/a/rel")));
  CHECK_NOTHROW(CheckDistinct(At("/srv/old"), At("/srv/new")));
}

TEST_CASE("check distinct refuses a target inside a source at the file system root") {
  // inside("/srv/new", "/") looks for '/' after the prefix "/", finds 's', and answers no.
  CHECK_THROWS_AS(CheckDistinct(At("/"), At("/srv/new")), Error);
}

}  // namespace mig
