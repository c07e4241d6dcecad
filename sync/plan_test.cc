// MakePlan on hand-built listings: what the merge decides before anything is written.
#include "sync/plan.h"

#include <catch2/catch.hpp>

namespace mig::sync {
namespace {

Entry Dir(std::string path, int64_t mtime = 100) {
  Entry e;
  e.path = std::move(path);
  e.type = FileType::kDirectory;
  e.mode = 0755;
  e.mtime_sec = mtime;
  return e;
}

Entry File(std::string path, uint64_t size = 10, int64_t mtime = 100, uint32_t nsec = 0) {
  Entry e;
  e.path = std::move(path);
  e.type = FileType::kRegular;
  e.mode = 0644;
  e.size = size;
  e.mtime_sec = mtime;
  e.mtime_nsec = nsec;
  return e;
}

Entry Link(std::string path, std::string target) {
  Entry e;
  e.path = std::move(path);
  e.type = FileType::kSymlink;
  e.mode = 0777;
  e.mtime_sec = 100;
  e.link_target = std::move(target);
  return e;
}

Entry Device(std::string path, uint64_t rdev) {
  Entry e;
  e.path = std::move(path);
  e.type = FileType::kCharDevice;
  e.mode = 0600;
  e.mtime_sec = 100;
  e.rdev = rdev;
  return e;
}

const Item& ItemAt(const Plan& p, const std::string& path) {
  for (const auto& i : p.items)
    if (i.src.path == path) return i;
  FAIL("no plan item for " << path);
  throw;
}

Action Decide1(const Entry& s, const Entry& d, const PlanOptions& o = {}) {
  Plan p = MakePlan({Dir(""), s}, {Dir(""), d}, o);
  return ItemAt(p, s.path).action;
}

}  // namespace

TEST_CASE("plan creates what the target lacks") {
  Plan p = MakePlan({Dir(""), Dir("a"), File("a/f", 7)}, {Dir("")}, {});
  REQUIRE(p.items.size() == 3);
  CHECK(ItemAt(p, "a").action == Action::kCreate);
  CHECK(ItemAt(p, "a/f").action == Action::kCreate);
  CHECK_FALSE(ItemAt(p, "a/f").dst.has_value());
  CHECK(p.totals.create == 2);
  CHECK(p.totals.bytes_to_copy == 7);
}

TEST_CASE("plan keeps source order") {
  Plan p = MakePlan({Dir(""), Dir("a"), File("a/f"), File("b")}, {Dir("")}, {});
  REQUIRE(p.items.size() == 4);
  CHECK(p.items[0].src.path == "");
  CHECK(p.items[1].src.path == "a");
  CHECK(p.items[2].src.path == "a/f");
  CHECK(p.items[3].src.path == "b");
}

TEST_CASE("plan replaces a file whose size differs") {
  CHECK(Decide1(File("f", 10), File("f", 11)) == Action::kReplace);
}

TEST_CASE("plan replaces a file whose mtime differs by a nanosecond") {
  CHECK(Decide1(File("f", 10, 100, 1), File("f", 10, 100, 2)) == Action::kReplace);
  CHECK(Decide1(File("f", 10, 100), File("f", 10, 101)) == Action::kReplace);
}

TEST_CASE("plan skips a file that is the same") {
  CHECK(Decide1(File("f", 10, 100, 5), File("f", 10, 100, 5)) == Action::kSkip);
}

TEST_CASE("plan changes only attributes when only the mode differs") {
  Entry d = File("f");
  d.mode = 0600;
  CHECK(Decide1(File("f"), d) == Action::kAttrs);
}

TEST_CASE("plan compares owners only with set_owner") {
  Entry d = File("f");
  d.uid = 1000;
  d.gid = 1000;
  CHECK(Decide1(File("f"), d) == Action::kSkip);
  PlanOptions o;
  o.set_owner = true;
  CHECK(Decide1(File("f"), d, o) == Action::kAttrs);
  Entry g = File("f");
  g.gid = 5;
  CHECK(Decide1(File("f"), g, o) == Action::kAttrs);
}

TEST_CASE("plan changes only attributes of a folder whose mtime differs") {
  CHECK(Decide1(Dir("d", 100), Dir("d", 200)) == Action::kAttrs);
  CHECK(Decide1(Dir("d", 100), Dir("d", 100)) == Action::kSkip);
}

TEST_CASE("plan replaces a symlink whose target changed") {
  CHECK(Decide1(Link("l", "a"), Link("l", "b")) == Action::kReplace);
  CHECK(Decide1(Link("l", "a"), Link("l", "a")) == Action::kSkip);
}

TEST_CASE("plan ignores a symlink's mode") {
  Entry d = Link("l", "a");
  d.mode = 0755;
  CHECK(Decide1(Link("l", "a"), d) == Action::kSkip);
  d.mtime_sec = 5;
  CHECK(Decide1(Link("l", "a"), d) == Action::kAttrs);
}

TEST_CASE("plan replaces a device whose number changed") {
  CHECK(Decide1(Device("dev", 0x0103), Device("dev", 0x0105)) == Action::kReplace);
  CHECK(Decide1(Device("dev", 0x0103), Device("dev", 0x0103)) == Action::kSkip);
}

TEST_CASE("plan replaces an entry of another type") {
  Plan p = MakePlan({Dir(""), File("a"), Dir("b"), Link("c", "x")},
                    {Dir(""), Dir("a"), File("b"), Dir("c")}, {});
  for (const char* path : {"a", "b", "c"}) {
    INFO(path);
    const Item& i = ItemAt(p, path);
    CHECK(i.action == Action::kReplace);
    CHECK(i.type_change());
  }
  CHECK(p.totals.replace == 3);
}

TEST_CASE("plan item without type change reports none") {
  Plan p = MakePlan({Dir(""), File("f", 1)}, {Dir(""), File("f", 2)}, {});
  CHECK_FALSE(ItemAt(p, "f").type_change());
  CHECK_FALSE(ItemAt(p, "").type_change());
}

TEST_CASE("plan counts target-only entries as kept") {
  Plan p = MakePlan({Dir(""), File("f")},
                    {Dir(""), File("f"), Dir("keep"), File("keep/x"), File("old")}, {});
  CHECK(p.totals.kept == 3);
  CHECK(p.totals.removed == 0);
  CHECK(p.kept_sample == std::vector<std::string>{"keep", "keep/x", "old"});
  CHECK(p.items.size() == 2);  // target-only entries are no items
}

TEST_CASE("plan counts entries under a folder replaced by a file as removed") {
  Plan p = MakePlan({Dir(""), File("d"), File("dx")},
                    {Dir(""), Dir("d"), Dir("d/sub"), File("d/sub/y"), File("d/x"), File("d2"), File("dx")},
                    {});
  CHECK(ItemAt(p, "d").action == Action::kReplace);
  CHECK(p.totals.removed == 3);  // d/x, d/sub, d/sub/y
  CHECK(p.totals.kept == 1);     // d2: a sibling with a common prefix, not inside d
  CHECK(p.kept_sample == std::vector<std::string>{"d2"});
}

TEST_CASE("plan counts entries under a folder replaced by a symlink as removed") {
  Plan p = MakePlan({Dir(""), Link("d", "elsewhere")}, {Dir(""), Dir("d"), File("d/x")}, {});
  CHECK(p.totals.removed == 1);
  CHECK(p.totals.kept == 0);
}

TEST_CASE("plan lists target temporary files as stale") {
  Plan p = MakePlan({Dir(""), Dir("a")},
                    {Dir(""), File(".migrate.tmp.12.3"), Dir("a"), File("a/.migrate.tmp.1.1")}, {});
  CHECK(p.stale_temps == std::vector<std::string>{".migrate.tmp.12.3", "a/.migrate.tmp.1.1"});
  CHECK(p.totals.stale_temps == 2);
  CHECK(p.totals.kept == 0);
}

TEST_CASE("plan never carries source temporary files") {
  Plan p = MakePlan({Dir(""), File(".migrate.tmp.5.5"), File("a/.migrate.tmp.1.1"), File("f")}, {Dir("")}, {});
  REQUIRE(p.items.size() == 2);
  CHECK(p.items[1].src.path == "f");
  CHECK(p.totals.source_entries == 2);
}

TEST_CASE("plan does not take a name that only contains the temporary prefix for a temporary file") {
  CHECK(IsTempName(".migrate.tmp.1.2"));
  CHECK_FALSE(IsTempName("x.migrate.tmp.1.2"));
  CHECK_FALSE(IsTempName(".migrate.tm"));
  Plan p = MakePlan({Dir(""), File("x.migrate.tmp.1")}, {Dir("")}, {});
  CHECK(p.items.size() == 2);
}

TEST_CASE("plan never carries what a source temporary folder holds") {
  // MakePlan skips a source entry named .migrate.tmp.* but not its contents: Apply would then
  // try to create a file in a folder that was never made.
  Plan p = MakePlan({Dir(""), Dir(".migrate.tmp.9"), File(".migrate.tmp.9/inner")}, {Dir("")}, {});
  CHECK(p.items.size() == 1);
}

TEST_CASE("plan with checksum decides by content, not mtime") {
  int calls = 0;
  PlanOptions same;
  same.same_content = [&](const Entry&, const Entry&) { return ++calls, true; };
  CHECK(Decide1(File("f", 10, 100), File("f", 10, 999), same) == Action::kAttrs);  // mtime only
  CHECK(Decide1(File("f", 10, 100), File("f", 10, 100), same) == Action::kSkip);
  CHECK(calls == 2);

  PlanOptions differ;
  differ.same_content = [&](const Entry&, const Entry&) { return ++calls, false; };
  CHECK(Decide1(File("f", 10, 100), File("f", 10, 100), differ) == Action::kReplace);
}

TEST_CASE("plan with checksum does not hash files of different size") {
  bool called = false;
  PlanOptions o;
  o.same_content = [&](const Entry&, const Entry&) { return called = true, true; };
  CHECK(Decide1(File("f", 10), File("f", 11), o) == Action::kReplace);
  CHECK_FALSE(called);
}

TEST_CASE("plan totals add up") {
  Entry attrs_dst = File("attrs", 4);
  attrs_dst.mode = 0600;
  Plan p = MakePlan({Dir(""), File("attrs", 4), File("changed", 50), File("new", 100), File("same", 7)},
                    {Dir(""), attrs_dst, File("changed", 49), File("only", 1000), File("same", 7)}, {});
  const PlanTotals& t = p.totals;
  CHECK(t.create == 1);
  CHECK(t.replace == 1);
  CHECK(t.attrs == 1);
  CHECK(t.skip == 2);  // the root and "same"
  CHECK(t.bytes_to_copy == 150);
  CHECK(t.source_entries == 5);
  CHECK(t.source_bytes == 161);
  CHECK(t.kept == 1);
  CHECK(t.create + t.replace + t.attrs + t.skip == t.source_entries);
}

TEST_CASE("plan item keeps what the target had") {
  Plan p = MakePlan({Dir(""), File("f", 1)}, {Dir(""), File("f", 2)}, {});
  const Item& i = ItemAt(p, "f");
  REQUIRE(i.dst.has_value());
  CHECK(i.dst->size == 2);
}


TEST_CASE("plan refuses a listing out of order (the merge-join would go wrong)") {
  CHECK_THROWS_WITH(MakePlan({Dir(""), File("b"), File("a")}, {Dir("")}, {}), Catch::Contains("out of order"));
  CHECK_THROWS_WITH(MakePlan({Dir("")}, {Dir(""), File("b"), File("b")}, {}), Catch::Contains("out of order"));
}

TEST_CASE("plan in chunks gives the same items as one plan") {
  std::vector<Entry> src = {Dir(""), Dir("a"), File("a/1"), File("a/2"), Dir("a/b"), File("a/b/3"), File("a.x"), File("z")};
  std::vector<Entry> dst = {Dir(""), File("a"), Dir("a.x"), File("a.x/in"), File("m"), File("z", 3)};
  Plan whole = MakePlan(src, dst, {});
  auto s = StreamOf(src), d = StreamOf(dst);
  Planner planner(*s, *d, {});
  Plan chunk;
  std::vector<std::string> paths;
  int chunks = 0;
  while (planner.Next(chunk, 3)) {
    ++chunks;
    CHECK(chunk.items.size() <= 3);
    for (const auto& i : chunk.items) paths.push_back(i.src.path + ":" + ActionName(i.action));
  }
  std::vector<std::string> want;
  for (const auto& i : whole.items) want.push_back(i.src.path + ":" + ActionName(i.action));
  CHECK(paths == want);
  CHECK(chunks == 3);
  CHECK(planner.totals().removed == 1);  // a.x/in, under a folder that becomes a file
  CHECK(planner.totals().kept == 1);     // m
  CHECK(planner.totals().create == whole.totals.create);
}

TEST_CASE("listing order: a folder's contents before the next name, whatever the bytes") {
  CHECK(ListOrderLess("", "a"));
  CHECK(ListOrderLess("a", "a/b"));
  CHECK(ListOrderLess("a/b", "a.x"));   // '.' < '/' in bytes, yet a's contents come first
  CHECK(ListOrderLess("a/z", "a!"));
  CHECK(ListOrderLess("a", "ab"));
  CHECK_FALSE(ListOrderLess("a/b", "a"));
  CHECK(ListOrderLess("a\x7f", "a\xc3\xa9"));  // bytes unsigned: UTF-8 after ASCII
}

}  // namespace mig::sync
