#include "engine.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "call_session.h"
#include "status_util.h"

namespace callguard {

absl::StatusOr<std::shared_ptr<const Engine>> Engine::Create(Options options) {
  std::shared_ptr<Engine> engine(new Engine());
  engine->generation_ = options.generation;
  const size_t n = options.policies.size();
  std::vector<absl::StatusOr<std::unique_ptr<CompiledPolicy>>> compiled;
  for (size_t i = 0; i < n; ++i) compiled.emplace_back(absl::UnknownError("not compiled"));
  // Policies compile independently; do them side by side to halve reload time on two cores.
  std::vector<std::thread> workers;
  for (size_t i = 0; i < n; ++i) {
    workers.emplace_back([&, i] {
      compiled[i] =
          CompiledPolicy::Create(std::move(options.policies[i].policy), options.policies[i].path, options.compile);
    });
  }
  for (auto& w : workers) w.join();
  for (auto& c : compiled) {
    if (!c.ok()) return c.status();
    const std::string id = (*c)->id();
    if (engine->by_id_.contains(id)) {
      return absl::InvalidArgumentError(absl::StrCat("policy id \"", id, "\" is defined twice"));
    }
    engine->by_id_[id] = c->get();
    engine->policies_.push_back(*std::move(c));
  }
  return std::shared_ptr<const Engine>(std::move(engine));
}

absl::StatusOr<std::shared_ptr<const Engine>> Engine::LoadFromDirectory(const std::string& dir, int64_t generation,
                                                                       const CompileOptions& compile) {
  auto sources = LoadPolicyDirectory(dir);
  if (!sources.ok()) return sources.status();
  return Create(Options{*std::move(sources), generation, compile});
}

const CompiledPolicy* Engine::FindPolicy(absl::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<std::string> Engine::PolicyIds() const {
  std::vector<std::string> ids;
  for (const auto& p : policies_) ids.push_back(p->id());
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<v1::PolicyInfo> Engine::PolicyInfos() const {
  std::vector<v1::PolicyInfo> infos;
  for (const auto& id : PolicyIds()) infos.push_back(FindPolicy(id)->Info());
  return infos;
}

absl::Status Engine::UnknownPolicyError(absl::string_view id, absl::string_view field) const {
  if (id.empty()) {
    return InvalidField(field, absl::StrCat("no policy given; known policies: ", absl::StrJoin(PolicyIds(), ", ")));
  }
  return InvalidField(field,
                      absl::StrCat("unknown policy \"", id, "\"; known policies: ", absl::StrJoin(PolicyIds(), ", ")));
}

absl::StatusOr<v1::CheckResponse> CheckUtterance(std::shared_ptr<const Engine> engine, const v1::CheckRequest& request) {
  if (engine->FindPolicy(request.policy()) == nullptr) return engine->UnknownPolicyError(request.policy(), "policy");
  if (request.text().empty()) return InvalidField("text", "must not be empty");
  const v1::CheckContext& ctx = request.context();
  CallSession::Options options;
  options.engine = engine;
  options.start.set_call_id("check");
  options.start.set_policy(request.policy());
  *options.start.mutable_agency() = ctx.agency();
  *options.start.mutable_agent() = ctx.agent();
  *options.start.mutable_debtor() = ctx.debtor();
  options.start.set_dialed(ctx.dialed());
  auto session = CallSession::Create(std::move(options));
  if (!session.ok()) return session.status();
  (*session)->PresetState(ctx.party(), ctx.agent_already_identified(), ctx.debt_collector_disclosed());
  if (!ctx.previous_counterparty_text().empty()) {
    if (auto s = (*session)->PresetPreviousCounterparty(ctx.previous_counterparty_text()); !s.ok()) return s;
  }
  v1::Utterance u;
  u.set_utterance_id("check");
  u.set_speaker(request.speaker() == v1::SPEAKER_UNSPECIFIED ? v1::AGENT : request.speaker());
  u.set_text(request.text());
  u.set_is_final(true);
  auto alerts = (*session)->OnUtterance(u);
  if (!alerts.ok()) {
    // Name the request's field, not the stream's.
    std::string field = FieldOf(alerts.status());
    if (field == "utterance.text") field = "text";
    if (field == "utterance.speaker") field = "speaker";
    return FieldError(alerts.status().code(), field.empty() ? "text" : field,
                      absl::StripPrefix(alerts.status().message(), absl::StrCat(FieldOf(alerts.status()), ": ")));
  }
  v1::CheckResponse response;
  response.set_policy_version((*session)->policy().version());
  for (auto& a : *alerts) *response.add_alerts() = std::move(a);
  return response;
}

}  // namespace callguard
