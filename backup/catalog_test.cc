#include "backup/catalog.h"

#include <catch2/catch.hpp>

#include "core/error.h"

using namespace mig;
using namespace mig::backup;

namespace {

restic::Snapshot Snap(const std::string& id, const std::string& backup, const std::string& ts, const std::string& part,
                      std::vector<std::string> extra = {}) {
  restic::Snapshot s;
  s.id = id;
  s.short_id = id.substr(0, 8);
  s.hostname = "app-1";
  s.tags = PartTags(backup, ts, part, "app");
  s.tags.insert(s.tags.end(), extra.begin(), extra.end());
  return s;
}

// Three backups: a ready one, a failed one (manifest says so), one without a manifest.
std::vector<restic::Snapshot> Three() {
  return {Snap("a1", "aaaa0001", "2026-11-30t21-00-00", "files"),
          Snap("a2", "aaaa0001", "2026-11-30t21-00-00", "db"),
          Snap("a3", "aaaa0001", "2026-11-30t21-00-00", "manifest",
               {"migrate:status=ready", "migrate:version=1.0.0", "migrate:bytes=1234", "migrate:name=before%20upgrade%2C%20x"}),
          Snap("b1", "bbbb0002", "2026-12-01t21-00-00", "files"),
          Snap("b3", "bbbb0002", "2026-12-01t21-00-00", "manifest", {"migrate:status=failed", "migrate:version=1.0.0"}),
          Snap("c1", "cccc0003", "2026-12-02t21-00-00", "files"),
          {"z9", "z9", "2026-12-03T00:00:00Z", "h", {"other"}, {"/x"}}};
}

}  // namespace

TEST_CASE("catalog: snapshots grouped into backups, newest first, with their status") {
  auto all = Group(Three(), std::nullopt);
  REQUIRE(all.size() == 3);  // the snapshot that is not ours is left out
  CHECK(all[0].id == "cccc0003");
  CHECK(all[0].status == "failed");  // no manifest, nobody holds it
  CHECK(all[1].status == "failed");
  CHECK(all[2].status == "ready");
  CHECK(all[2].name == "before upgrade, x");
  CHECK(all[2].version == "1.0.0");
  CHECK(all[2].bytes == 1234);
  CHECK(all[2].parts.at("db") == "a2");
  CHECK(all[2].snapshots.size() == 3);
  auto running = Group(Three(), Running{"cccc0003", "2026-12-02t21-00-00"});
  CHECK(running[0].status == "running");
  auto starting = Group(Three(), Running{"dddd0004", "2026-12-04t21-00-00"});
  CHECK(starting[0].id == "dddd0004");  // running, no snapshot yet
  CHECK(starting[0].status == "running");
}

TEST_CASE("catalog: format 2, the manifest carried by the files part; a failed manifest part overrides it") {
  Manifest m;
  m.id = "aaaa0001";
  m.timestamp = "2026-12-02t10-00-00";
  m.project = "app";
  m.status = "ready";
  m.version = "2.0.0";
  m.bytes = 100;
  auto files = Snap("f1", m.id, m.timestamp, "files");
  files.tags = ManifestTags(m, "files");
  auto all = Group({Snap("d1", m.id, m.timestamp, "db"), files}, std::nullopt);
  REQUIRE(all.size() == 1);
  CHECK(all[0].status == "ready");
  CHECK(all[0].version == "2.0.0");
  CHECK(all[0].bytes == 100);
  CHECK(all[0].manifest_part == "files");
  CHECK(ManifestPath(all[0].manifest_part) == "/backup/manifest.json");
  CHECK(CarriesManifest(files));
  CHECK_FALSE(CarriesManifest(Snap("d1", m.id, m.timestamp, "db")));

  // A run that failed after restic wrote the files part incomplete (its exit 3): the failed
  // manifest part decides, whatever order restic lists them in.
  Manifest failed = m;
  failed.status = "failed";
  auto fm = Snap("m1", m.id, m.timestamp, "manifest");
  fm.tags = ManifestTags(failed, "manifest");
  for (const auto& order : {std::vector<restic::Snapshot>{files, fm}, std::vector<restic::Snapshot>{fm, files}}) {
    auto e = Group(order, std::nullopt);
    REQUIRE(e.size() == 1);
    CHECK(e[0].status == "failed");
    CHECK(e[0].manifest_part == "manifest");
    CHECK(ManifestPath(e[0].manifest_part) == "/manifest.json");
  }
}

TEST_CASE("catalog: two backups that drew the same id stay apart (no listing checks ids any more)") {
  auto a = Snap("a1", "abcd0001", "2026-12-01t10-00-00", "manifest", {"migrate:status=ready"});
  auto b = Snap("b1", "abcd0001", "2026-12-02t10-00-00", "manifest", {"migrate:status=ready"});
  auto all = Group({a, b}, Running{"abcd0001", "2026-12-03t10-00-00"});
  REQUIRE(all.size() == 3);
  CHECK(all[0].status == "running");  // the running one is the one with its timestamp
  CHECK(all[1].status == "ready");
  CHECK(all[1].snapshots == std::vector<std::string>{"b1"});
  CHECK(Resolve(all, "2026-12-01t10-00-00").snapshots == std::vector<std::string>{"a1"});
  CHECK_THROWS_WITH(Resolve(all, "abcd0001"), Catch::Contains("names several backups"));
}

TEST_CASE("catalog: latest is the newest ready backup; ids, prefixes and timestamps resolve") {
  auto all = Group(Three(), std::nullopt);
  CHECK(Resolve(all, "latest").id == "aaaa0001");
  CHECK(Resolve(all, "bbbb").id == "bbbb0002");
  CHECK(Resolve(all, "2026-12-02t21-00-00").id == "cccc0003");
  CHECK_THROWS_AS(Resolve(all, "deadbeef"), Error);
  CHECK_THROWS_AS(Resolve(all, "aa"), Error);  // too short to be an id prefix
  CHECK_THROWS_AS(Resolve({}, "latest"), Error);
  auto failed_only = Group({Snap("c1", "cccc0003", "2026-12-02t21-00-00", "files")}, std::nullopt);
  CHECK_THROWS_AS(Resolve(failed_only, "latest"), Error);
}

TEST_CASE("catalog: forget keeps the newest ready backups, never the last ready or a running one") {
  std::vector<restic::Snapshot> snaps;
  const char* days[] = {"01", "02", "03", "04"};
  for (int i = 0; i < 4; ++i) {
    std::string id = std::string("0000000") + std::to_string(i), ts = std::string("2026-12-") + days[i] + "t00-00-00";
    snaps.push_back(Snap("m" + std::to_string(i), id, ts, "manifest", {"migrate:status=ready"}));
  }
  snaps.push_back(Snap("f0", "ffff0000", "2026-11-30t00-00-00", "files"));  // an old failed one
  snaps.push_back(Snap("f9", "ffff0009", "2026-12-09t00-00-00", "files"));  // a recent failed one
  auto all = Group(snaps, Running{"eeee0001", "2026-12-10t00-00-00"});
  auto ids = [](const std::vector<backup::Entry>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.id);
    return out;
  };
  CHECK(ids(ToForget(all, 2)) == std::vector<std::string>{"00000001", "00000000", "ffff0000"});
  CHECK(ids(ToForget(all, 0)) == std::vector<std::string>{"00000002", "00000001", "00000000", "ffff0000"});
  CHECK(ids(ToForget(all, 10)) == std::vector<std::string>{"ffff0000"});  // failed, older than every ready one
}

TEST_CASE("catalog: installs sharing a repository keep apart; latest among several is refused") {
  auto mine = Snap("m1", "aaaa0001", "2026-11-30t21-00-00", "manifest", {"migrate:status=ready"});
  auto theirs = Snap("t1", "bbbb0002", "2026-12-01t21-00-00", "manifest", {"migrate:status=ready"});
  theirs.tags = PartTags("bbbb0002", "2026-12-01t21-00-00", "manifest", "other app");
  theirs.tags.push_back("migrate:status=ready");
  auto all = Group({mine, theirs}, std::nullopt);
  REQUIRE(all.size() == 2);
  CHECK(all[0].project == "other app");
  CHECK_THROWS_WITH(Resolve(all, "latest"), Catch::Contains("several installs (projects app, other app)"));
  auto only_mine = OfProject(all, "app");
  REQUIRE(only_mine.size() == 1);
  CHECK(Resolve(only_mine, "latest").id == "aaaa0001");
  CHECK(ToForget(OfProject(all, "app"), 0).empty());  // the other install's backup is not ours to forget
  CHECK(Resolve(all, "bbbb0002").id == "bbbb0002");   // an explicit id works across installs
}

TEST_CASE("catalog: tag values survive commas, spaces and percent signs") {
  for (std::string s : {"plain", "a, b", "100%", "tab\there", "ünï"}) CHECK(DecodeTagValue(EncodeTagValue(s)) == s);
  CHECK(EncodeTagValue("a, b").find(',') == std::string::npos);
  CHECK(ResticTime("2026-11-30t21-00-00") == "2026-11-30 21:00:00");
  CHECK(LooksLikeTimestamp(TimestampNow()));
}

TEST_CASE("manifest: written and read back the same; a damaged one is refused") {
  Manifest m;
  m.id = "3fa85f64";
  m.timestamp = "2026-11-30t21-00-00";
  m.status = "ready";
  m.version = "1.0.0";
  m.config = {".env", "VERSION"};
  m.files = 3;
  m.bytes = 99;
  DbPart d;
  d.major = 15;
  d.name = "appdb";
  d.locale = db::DbLocale{"UTF8", "C.UTF-8", "C.UTF-8"};
  d.roles = {{"app", true, true, false, false, true, false, false}};
  d.state.tables["public.users"] = 12;
  d.state.sequences["public.users_id_seq"] = "12";
  d.dump_bytes = 1000;
  m.db = d;
  Manifest back = ManifestFromJson(ToJson(m).dump());
  CHECK(ToJson(back) == ToJson(m));
  CHECK(back.total_bytes() == 1099);
  CHECK_THROWS_AS(ManifestFromJson("{\"format\": 1}"), Error);
  CHECK_THROWS_AS(ManifestFromJson("not json"), Error);
  nlohmann::json newer = ToJson(m);
  newer["format"] = 99;
  CHECK_THROWS_WITH(ManifestFromJson(newer.dump()), Catch::Contains("newer than this migrate reads"));
}

TEST_CASE("manifest: a stack on a Swarm, its nodes, placement and volumes, read back the same") {
  Manifest m;
  m.id = "3fa85f64", m.timestamp = "2026-11-30t21-00-00", m.status = "ready", m.bytes = 10;
  SwarmPart w;
  w.stack = "demo";
  w.nodes = {{"a3s5", "node1", "10.0.0.1", "manager", {}}, {"6yqq", "node2", "10.0.0.2", "worker", {{"disk", "ssd"}}}};
  SwarmPart::Service app;
  app.name = "app", app.replicas = 2, app.constraints = {"node.hostname == node2"}, app.nodes = {"node2"};
  SwarmPart::Service agent;
  agent.name = "agent", agent.global = true, agent.nodes = {"node1", "node2"};
  w.services = {app, agent};
  w.volumes = {{"demo_app_data", "app", "node2", 500, "volume-1", "ab12"}};
  m.swarm = w;
  Manifest back = ManifestFromJson(ToJson(m).dump());
  CHECK(ToJson(back) == ToJson(m));
  REQUIRE(back.swarm);
  CHECK(back.swarm->services[1].global);
  CHECK(back.swarm->nodes[1].labels.at("disk") == "ssd");
  CHECK(back.total_bytes() == 510);
  CHECK_FALSE(ManifestFromJson(ToJson(Manifest{}).dump()).swarm);
}
