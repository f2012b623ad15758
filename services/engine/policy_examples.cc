#include "policy_examples.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace callguard {

absl::StatusOr<std::vector<ExampleResult>> RunPolicyExamples(std::shared_ptr<const Engine> engine,
                                                             absl::string_view policy_id) {
  const CompiledPolicy* policy = engine->FindPolicy(policy_id);
  if (policy == nullptr) return engine->UnknownPolicyError(policy_id, "policy");
  std::vector<ExampleResult> results;
  int index = 0;
  for (const v1::PolicyExample& ex : policy->source().examples()) {
    ++index;
    v1::CheckRequest request;
    request.set_policy(policy->id());
    request.set_text(ex.text());
    request.set_speaker(ex.speaker() == v1::SPEAKER_UNSPECIFIED ? v1::AGENT : ex.speaker());
    v1::CheckContext* ctx = request.mutable_context();
    ctx->mutable_agency()->set_name(ex.agency_name());
    ctx->mutable_agent()->set_name(ex.agent_name());
    ctx->mutable_agent()->set_agent_id(ex.agent_id());
    ctx->mutable_debtor()->set_name(ex.debtor_name());
    ctx->set_dialed(ex.dialed() == v1::DIALED_NUMBER_UNSPECIFIED ? v1::DEBTOR_PHONE : ex.dialed());
    ctx->set_party(ex.party());
    ctx->set_agent_already_identified(!ex.first_agent_turn());
    ctx->set_debt_collector_disclosed(ex.debt_collector_disclosed());
    ctx->set_previous_counterparty_text(ex.previous_counterparty_text());

    ExampleResult r;
    r.policy_id = policy->id();
    r.name = ex.name().empty() ? absl::StrCat("example ", index) : ex.name();
    r.text = ex.text();
    for (int k : ex.expect()) r.expected.push_back(static_cast<v1::ViolationKind>(k));
    std::sort(r.expected.begin(), r.expected.end());
    r.expected.erase(std::unique(r.expected.begin(), r.expected.end()), r.expected.end());
    auto response = CheckUtterance(engine, request);
    if (!response.ok()) {
      return absl::Status(response.status().code(),
                          absl::StrCat("policy ", policy->id(), " ", r.name, ": ", response.status().message()));
    }
    for (const auto& a : response->alerts()) r.actual.push_back(a.violation());
    std::sort(r.actual.begin(), r.actual.end());
    r.actual.erase(std::unique(r.actual.begin(), r.actual.end()), r.actual.end());
    r.passed = r.actual == r.expected;
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace callguard
