// A stack running on an old Swarm as the source of a restore onto a (new) Swarm: `migrate --from`
// of a stack (docs/swarm.md "migrate --from of a stack"). Its manifest is what the old Swarm
// runs (no sizes); each volume is read on its old node over SSH as a tar stream, the database
// dumped live through its node, data/ copied from the old install's folder through the origin.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "backup/swarm_plan.h"
#include "db/postgres.h"
#include "docker/swarm.h"
#include "origin/node_access.h"
#include "origin/origin.h"
#include "pipeline/options.h"
#include "restore/source.h"

namespace mig {

// The stack `project` when the engine the origin's programs reach (the old server's docker) is a
// Swarm manager running it; nullopt for a compose install.
std::optional<docker::Swarm> OldStack(Origin& origin, const std::string& project);

class LiveSwarmSource : public RestoreSource {
 public:
  // Opens every old node it reads (the volumes', the database's) over SSH, as `nodes` says, and
  // the old database's snapshot-to-be. `o`: the migration's options (the merge's, --stop-old).
  // REQUIRES `origin` outlives this. Throws mig::Error. What StopWriters scaled to 0 is scaled
  // back by the destructor unless Keep() was called.
  LiveSwarmSource(const Options& o, Origin& origin, Install old, docker::Swarm swarm, NodeDefaults nodes,
                  std::string spool_dir);
  ~LiveSwarmSource() override;
  std::string Describe() const override;
  const backup::Manifest& manifest() const override { return m_; }
  void Config(const std::string& dir, const std::vector<std::string>& files) override;
  // Fails: a migration merges data/ (MergeData).
  void Data(const std::string& work_dir, const std::vector<std::string>& skip) override;
  std::unique_ptr<db::DumpSource> Dump() override;
  std::unique_ptr<Proc> Volume(const backup::SwarmPart::Volume& v) override;
  // The pipeline's data/ step (pipeline/merge_step.h) from the old install's folder.
  void MergeData(const Install& to, bool dry_run, Report& rep) override;
  // With --stop-old: the old stack's writers (docker::Writers), then its database, scaled to 0.
  std::string StopWriters(bool db_too) override;
  void Keep() override;
  std::vector<std::string> NextSteps() const override;

 private:
  Options o_;
  Origin& origin_;
  Install old_;
  docker::Swarm swarm_;
  std::string spool_;
  std::optional<backup::NodeHosts> hosts_;  // refers to swarm_
  std::optional<db::Postgres> pg_;
  backup::Manifest m_;
  docker::ScaledDown scaled_;  // on the old manager (the origin's docker)
  std::string scale_back_;     // set by Keep(): the command that brings the stopped services back
};

}  // namespace mig
