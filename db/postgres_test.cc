// The pure parts of the postgres layer: quoting, parsing psql output, comparing states.
#include "db/postgres.h"

#include <catch2/catch.hpp>

#include "db/replay.h"

namespace mig::db {

TEST_CASE("quote ident doubles double quotes") {
  CHECK(QuoteIdent("users") == "\"users\"");
  CHECK(QuoteIdent("we\"ird") == "\"we\"\"ird\"");
  CHECK(QuoteIdent("") == "\"\"");
}

TEST_CASE("quote literal doubles single quotes") {
  CHECK(QuoteLiteral("shop") == "'shop'");
  CHECK(QuoteLiteral("it's") == "'it''s'");
  CHECK(QuoteLiteral("''") == "''''''");
}

TEST_CASE("parse counts reads name and rows separated by 0x1f") {
  DbState st;
  ParseCounts({"public.users\x1f" "12", "shop.orders\x1f" "0", "no separator", "a\x1f" "1\x1f" "2"}, st);
  CHECK(st.tables == std::map<std::string, int64_t>{{"public.users", 12}, {"shop.orders", 0}});
}

TEST_CASE("parse counts reads counts beyond 32 bits") {
  DbState st;
  ParseCounts({"public.events\x1f" "5000000000"}, st);
  CHECK(st.tables.at("public.events") == 5000000000LL);
}

TEST_CASE("parse sequences keeps an unused sequence as empty") {
  DbState st;
  ParseSequences({"public.users_id_seq\x1f" "42", "public.fresh_seq\x1f"}, st);
  CHECK(st.sequences == std::map<std::string, std::string>{{"public.users_id_seq", "42"}, {"public.fresh_seq", ""}});
}

TEST_CASE("compare states finds nothing in equal states") {
  DbState a;
  a.tables = {{"public.users", 3}};
  a.sequences = {{"public.s", "3"}};
  CHECK(CompareStates(a, a).empty());
}

TEST_CASE("compare states gives a line per difference") {
  DbState src, dst;
  src.tables = {{"public.missing", 1}, {"public.users", 12}, {"public.same", 4}};
  dst.tables = {{"public.users", 11}, {"public.extra", 0}, {"public.same", 4}};
  src.sequences = {{"public.a_seq", "7"}, {"public.b_seq", ""}, {"public.gone_seq", "1"}};
  dst.sequences = {{"public.a_seq", "6"}, {"public.b_seq", "1"}};
  std::vector<std::string> d = CompareStates(src, dst);
  REQUIRE(d.size() == 6);
  CHECK(d[0] == "table public.missing is missing in the target");
  CHECK(d[1] == "table public.users: 12 rows in the source, 11 in the target");
  CHECK(d[2] == "table public.extra is in the target but not in the source");
  CHECK(d[3] == "sequence public.a_seq: 7 in the source, 6 in the target");
  CHECK(d[4] == "sequence public.b_seq: unused in the source, 1 in the target");
  CHECK(d[5] == "sequence public.gone_seq is missing in the target");
}

TEST_CASE("compare states after a physical copy: a sequence ahead of the source's is no difference") {
  DbState src, dst;
  src.sequences = {{"public.a_seq", "7"}, {"public.b_seq", ""}, {"public.c_seq", "40"}, {"public.d_seq", "5"}};
  dst.sequences = {{"public.a_seq", "39"}, {"public.b_seq", "32"}, {"public.c_seq", "39"}, {"public.d_seq", ""}};
  const std::vector<std::string> d = CompareStates(src, dst, true);
  REQUIRE(d.size() == 2);  // behind the source (a value would be used twice), and unused where it was used
  CHECK(d[0] == "sequence public.c_seq: 40 in the source, 39 in the target");
  CHECK(d[1] == "sequence public.d_seq: 5 in the source, unused in the target");
  CHECK(CompareStates(src, dst).size() == 4);  // the logical path wants them equal
}

TEST_CASE("compare states reports a sequence only the target has") {
  // Tables are compared both ways; sequences only from the source's side.
  DbState src, dst;
  dst.sequences = {{"public.extra_seq", "1"}};
  CHECK(CompareStates(src, dst).size() == 1);
}

TEST_CASE("staging and retired names stay under postgres's 63-byte limit") {
  std::string longname(200, 'x');
  CHECK(StagingName(longname).size() <= 63);
  CHECK(RetiredName(longname).size() <= 63);
  CHECK(StagingName(longname) != RetiredName(longname));
  CHECK(StagingName("shop") == "shop__migrate_new");
  CHECK(RetiredName("shop") == "shop__migrate_old");
  std::string limit(63, 'y');
  CHECK(StagingName(limit).size() <= 63);
  CHECK(StagingName(limit) != limit);
}

TEST_CASE("postgres tool runs the client inside the container with the password in its environment") {
  PgTarget t;
  t.container = "abc123";
  t.user = "alice";
  t.password = "s3cret";
  Postgres pg(t);
  CHECK(pg.Tool("psql", {"-d", "shop"}) ==
        std::vector<std::string>{"docker", "exec", "-e", "PGPASSWORD=s3cret", "abc123", "psql", "-U", "alice", "-d", "shop"});
  CHECK(pg.Tool("pg_restore", {}, true)[2] == "-i");
  t.app_name = "migrate-cutover";  // the cutover's own sessions, spared when it ends the others
  CHECK(Postgres(t).Tool("psql", {}) == std::vector<std::string>{"docker", "exec", "-e", "PGPASSWORD=s3cret", "-e",
                                                                   "PGAPPNAME=migrate-cutover", "abc123", "psql", "-U",
                                                                   "alice"});
}

}  // namespace mig::db
