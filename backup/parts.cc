#include "backup/parts.h"

#include "backup/catalog.h"
#include "backup/volume.h"
#include "core/error.h"
#include "core/log.h"

namespace mig::backup {

namespace {
struct Cancelled {};  // thrown from a volume's stream to stop its restic
}  // namespace

StopDbAgain::~StopDbAgain() {
  if (!started) return;
  try {
    stack.Stop({service});
  } catch (const std::exception& e) {
    TheLog().warn(e.what());
  } catch (...) {
  }
}

void SharedProgress::Files(const restic::BackupStatus& st) {
  std::lock_guard<std::mutex> g(mu_);
  files_ = st;
  Show();
}

void SharedProgress::Dump(uint64_t bytes) {
  std::lock_guard<std::mutex> g(mu_);
  dump_ = bytes;
  Show();
}

void SharedProgress::Done() {
  std::lock_guard<std::mutex> g(mu_);
  p_.Done();
}

void SharedProgress::Show() {
  if (files_.total_bytes) p_.SetTotal(files_.total_bytes + dump_);
  p_.Update(files_.files_done, files_.bytes_done + dump_, files_.bytes_done + dump_);
}

db::PgTarget DbTarget(const Install& in, const std::string& container, const Host* host) {
  db::PgTarget t = in.pg;
  t.container = container;
  t.label = "database";
  t.host = host;
  return t;
}

OpenDb::OpenDb(const Install& in, const std::string& container, const Host* host,
               std::unique_ptr<db::OpeningSession> started)
    : pg(DbTarget(in, container, host)), dump(pg, "the database", std::move(started)) {
  part.major = dump.Major();
  part.name = in.pg.db;
  part.user = in.pg.user;
  part.service = in.db_service;
  part.roles = dump.Roles();
  part.locale = dump.Locale();
}

DbPart BackupDatabase(OpenDb& d, restic::StdinBackup& out, SharedProgress& progress) {
  db::LiveDump& dump = d.dump;
  DbPart p = d.part;
  dump.Start();
  std::vector<char> buf(1 << 20);
  for (;;) {
    size_t n = 0;
    try {
      n = dump.Read(buf.data(), buf.size());
    } catch (...) {
      out.Abort();  // never a snapshot of a dump cut short
      throw;
    }
    if (n == 0) break;
    try {
      out.write(buf.data(), n);
    } catch (const Error&) {
      dump.Abort();
      out.Finish();  // restic stopped: its error is the cause
      throw;
    }
    p.dump_bytes += n;
    progress.Dump(p.dump_bytes);
  }
  try {
    p.state = dump.End();
  } catch (const Error&) {
    out.Abort();  // never a snapshot of a dump cut short
    throw;
  }
  p.snapshot = out.Finish().snapshot_id;
  return p;
}

void RepositoryOnDemand::Make() {
  std::lock_guard<std::mutex> g(mu_);
  if (made_) return;
  try {
    repo_.Init();
  } catch (const Error&) {
    if (!repo_.Initialized()) throw;  // made meanwhile by another run: fine
  }
  made_ = true;
  TheLog().info("created a restic repository at " + repo_.repo().where());
}

void StreamParts::StartDb() {
  has_db_ = true;
  db_ = std::thread([this, go = go_]() mutable {
    try {
      // restic starts now; the dump, once the database is open, is held until restic is ready.
      auto out = repo_.BackupStdin("db.dump", Meta("db"), [this] { made_.Make(); });
      const GoSignal g = go.get();
      if (!g.go) return;  // stopped: restic killed, no snapshot
      if (!g.db) Fail("the database was not opened, so it was not dumped");  // never `ready` without it
      db_part_ = BackupDatabase(*g.db, *out, progress_);
    } catch (...) {
      db_error_ = std::current_exception();
    }
  });
}

void StreamParts::StartVolume(const Host& host, const std::string& dir, const SwarmPart::Volume& v) {
  auto& r = volumes_.emplace_back(std::make_unique<VolumeRun>());
  r->thread = std::thread([this, &host, dir, v, run = r.get()] {
    try {
      auto out = repo_.BackupStdin(v.name + ".tar", Meta(v.part.c_str()), [this] { made_.Make(); });
      bool restic_gone = false;
      try {
        run->bytes = StreamTreeOut(host, dir, [&](const char* b, size_t n) {
          if (cancel_) throw Cancelled{};
          try {
            out->write(b, n);
          } catch (const Error&) {
            restic_gone = true;
            throw;
          }
        });
      } catch (...) {
        if (restic_gone) out->Finish();  // restic stopped: its error is the cause
        out->Abort();  // never a snapshot of a volume cut short
        throw;
      }
      run->snapshot = out->Finish().snapshot_id;
    } catch (const Cancelled&) {
    } catch (...) {
      run->error = std::current_exception();
    }
  });
}

void StreamParts::Join() {
  Release({});
  if (db_.joinable()) db_.join();
  for (auto& v : volumes_)
    if (v->thread.joinable()) v->thread.join();
}

std::exception_ptr StreamParts::Fill(Manifest& m) const {
  if (has_db_ && !db_error_) m.db = db_part_;
  std::vector<std::exception_ptr> errors{db_error_};
  for (size_t i = 0; m.swarm && i < volumes_.size() && i < m.swarm->volumes.size(); ++i) {
    m.swarm->volumes[i].bytes = volumes_[i]->bytes;
    m.swarm->volumes[i].snapshot = volumes_[i]->snapshot;
    errors.push_back(volumes_[i]->error);
  }
  for (const auto& e : errors)
    if (e) return e;
  return nullptr;
}

restic::SnapshotMeta StreamParts::Meta(const char* part) const {
  return {PartTags(id_, ts_, part, project_), ResticTime(ts_), host_};
}

void StreamParts::Release(GoSignal g) {
  if (released_) return;
  released_ = true;
  go_promise_.set_value(g);
}

}  // namespace mig::backup
