#include "call_session.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "status_util.h"

namespace callguard {
namespace {

bool Overlaps(const Span& a, const Span& b) { return a.first < b.second && b.first < a.second; }
bool Inside(const Span& inner, const Span& outer) { return inner.first >= outer.first && inner.second <= outer.second; }

void AppendSpans(const SetHits& hits, const std::vector<SetId>& ids, std::vector<Span>* out) {
  for (SetId id : ids) {
    if (hits.Has(id)) out->insert(out->end(), hits.spans[id].begin(), hits.spans[id].end());
  }
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t secs = absl::ToUnixSeconds(t);
  ts.set_seconds(secs);
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(secs)) / absl::Nanoseconds(1)));
  return ts;
}

absl::Status CheckName(absl::string_view value, absl::string_view field, size_t limit) {
  if (value.size() > limit) {
    return InvalidField(field, absl::StrCat(value.size(), " bytes exceeds the limit of ", limit));
  }
  return ValidateUtf8(value, field);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CallSession>> CallSession::Create(Options options) {
  if (options.engine == nullptr) return absl::InvalidArgumentError("CallSession needs an engine");
  const v1::CallStart& start = options.start;
  const CallLimits& limits = options.limits;
  if (start.call_id().empty()) return InvalidField("start.call_id", "must not be empty");
  if (auto s = CheckName(start.call_id(), "start.call_id", limits.max_call_id_bytes); !s.ok()) return s;
  const CompiledPolicy* policy = options.engine->FindPolicy(start.policy());
  if (policy == nullptr) return options.engine->UnknownPolicyError(start.policy(), "start.policy");
  if (!start.language().empty() && start.language() != policy->source().language()) {
    return InvalidField("start.language", absl::StrCat("policy \"", policy->id(), "\" is for language \"",
                                                       policy->source().language(), "\", not \"", start.language(), "\""));
  }
  if (!v1::DialedNumber_IsValid(start.dialed())) return InvalidField("start.dialed", "unknown value");
  for (const auto& [value, field] : std::initializer_list<std::pair<const std::string*, const char*>>{
           {&start.agency().name(), "start.agency.name"},
           {&start.agency().id(), "start.agency.id"},
           {&start.agent().name(), "start.agent.name"},
           {&start.agent().agent_id(), "start.agent.agent_id"},
           {&start.debtor().name(), "start.debtor.name"}}) {
    if (auto s = CheckName(*value, field, limits.max_name_bytes); !s.ok()) return s;
  }
  for (const auto& n : start.debtor().other_names()) {
    if (auto s = CheckName(n, "start.debtor.other_names", limits.max_name_bytes); !s.ok()) return s;
  }

  std::unique_ptr<CallSession> session(new CallSession());
  session->engine_ = std::move(options.engine);
  session->policy_ = policy;
  session->start_ = std::move(options.start);
  session->limits_ = limits;
  session->clock_ = options.clock ? std::move(options.clock) : [] { return absl::Now(); };
  const bool cjk = policy->is_cjk();
  const v1::CallStart& s = session->start_;
  session->agent_name_ = NameMatcher::Create(s.agent().name(), NameMatcher::Kind::kPerson, cjk);
  session->agent_number_ = NameMatcher::Create(s.agent().agent_id(), NameMatcher::Kind::kWorkNumber, cjk);
  session->agency_name_ = NameMatcher::Create(s.agency().name(), NameMatcher::Kind::kOrganization, cjk);
  std::vector<std::string> debtor_names{s.debtor().name()};
  debtor_names.insert(debtor_names.end(), s.debtor().other_names().begin(), s.debtor().other_names().end());
  session->party_.Init(policy, s.dialed(), debtor_names);
  for (const auto& rule : policy->rules()) {
    if (rule.rule->check_case() == v1::Rule::kIdentification) {
      session->organization_sets_.insert(session->organization_sets_.end(), rule.organization.begin(),
                                         rule.organization.end());
    }
  }
  session->last_counterparty_sets_.assign(policy->set_count(), false);
  session->debtor_seen_ = session->party_.DebtorVerified();
  return session;
}

absl::Status CallSession::Validate(const v1::Utterance& u) const {
  if (u.utterance_id().empty()) return InvalidField("utterance.utterance_id", "must not be empty");
  if (auto s = CheckName(u.utterance_id(), "utterance.utterance_id", limits_.max_utterance_id_bytes); !s.ok()) return s;
  if (u.speaker() != v1::AGENT && u.speaker() != v1::COUNTERPARTY) {
    return InvalidField("utterance.speaker", "must be AGENT or COUNTERPARTY");
  }
  if (u.text().size() > limits_.max_utterance_bytes) {
    return InvalidField("utterance.text",
                        absl::StrCat(u.text().size(), " bytes exceeds the limit of ", limits_.max_utterance_bytes));
  }
  if (absl::StripAsciiWhitespace(u.text()).empty()) return InvalidField("utterance.text", "must not be empty");
  if (auto s = ValidateUtf8(u.text(), "utterance.text"); !s.ok()) return s;
  auto it = utterances_.find(u.utterance_id());
  if (it == utterances_.end()) {
    if (utterances_.size() >= limits_.max_utterances_per_call) {
      return FieldError(absl::StatusCode::kResourceExhausted, "utterance.utterance_id",
                        absl::StrCat("the call has reached the limit of ", limits_.max_utterances_per_call,
                                     " utterances"));
    }
  } else if (it->second.speaker != u.speaker()) {
    return InvalidField("utterance.speaker", absl::StrCat("utterance \"", u.utterance_id(), "\" was started by ",
                                                          v1::Speaker_Name(it->second.speaker)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Alert>> CallSession::OnUtterance(const v1::Utterance& u) {
  if (auto s = Validate(u); !s.ok()) return s;
  // Reused across utterances of every call on this thread: no allocation in steady state.
  thread_local NormalizedText norm;
  thread_local std::vector<PatternMatch> matches;
  thread_local SetHits hits;
  if (auto s = Normalizer::Default().Normalize(u.text(), &norm); !s.ok()) {
    return InvalidField("utterance.text", s.message());
  }
  if (auto s = policy_->matcher().Scan(norm.text, &matches); !s.ok()) return s;
  hits.spans.resize(policy_->set_count());
  for (auto& v : hits.spans) v.clear();
  for (const auto& m : matches) hits.spans[policy_->set_of_pattern(m.pattern)].emplace_back(m.begin, m.end);

  auto [it, inserted] = utterances_.try_emplace(u.utterance_id());
  if (inserted) {
    it->second.turn = next_turn_++;
    it->second.speaker = u.speaker();
  }
  View view{&u, &it->second, &norm, &hits};
  std::vector<v1::Alert> alerts;
  if (u.speaker() == v1::COUNTERPARTY) {
    if (u.is_final()) {
      party_.OnCounterparty(norm.text, hits);
      for (size_t i = 0; i < last_counterparty_sets_.size(); ++i) last_counterparty_sets_[i] = hits.Has(i);
      if (party_.DebtorVerified() && !debtor_seen_) dc_disclosed_ = false;  // must come after verification
      debtor_seen_ = party_.DebtorVerified();
    }
    return alerts;
  }
  EvaluateAgent(view, &alerts);
  if (u.is_final()) party_.OnAgent(norm.text, hits);
  return alerts;
}

absl::Status CallSession::OnPartyUpdate(const v1::PartyUpdate& update) {
  if (!v1::Party_IsValid(update.party())) return InvalidField("party_update.party", "unknown value");
  party_.Assert(update.party());
  if (party_.DebtorVerified() && !debtor_seen_) dc_disclosed_ = false;
  debtor_seen_ = party_.DebtorVerified();
  return absl::OkStatus();
}

void CallSession::PresetState(v1::Party party, bool agent_identified, bool debt_collector_disclosed) {
  party_.Assert(party);
  identification_judged_ = agent_identified;
  agent_identified_ = agent_identified;
  dc_disclosed_ = debt_collector_disclosed;
  debtor_seen_ = party_.DebtorVerified();
}

absl::Status CallSession::PresetPreviousCounterparty(absl::string_view text) {
  auto norm = Normalizer::Default().Normalize(text);
  if (!norm.ok()) return InvalidField("context.previous_counterparty_text", norm.status().message());
  std::vector<PatternMatch> matches;
  if (auto s = policy_->matcher().Scan(norm->text, &matches); !s.ok()) return s;
  std::fill(last_counterparty_sets_.begin(), last_counterparty_sets_.end(), false);
  for (const auto& m : matches) last_counterparty_sets_[policy_->set_of_pattern(m.pattern)] = true;
  return absl::OkStatus();
}

bool CallSession::PartyAllows(v1::PartyScope scope) const {
  switch (scope) {
    case v1::NOT_ALLOWED_PARTY:
      return !party_.IsAllowedParty();
    case v1::ALLOWED_PARTY:
      return party_.IsAllowedParty();
    default:
      return true;
  }
}

void CallSession::EvaluateAgent(const View& v, std::vector<v1::Alert>* alerts) {
  for (const CompiledRule& rule : policy_->rules()) {
    if (v.state->raised.contains(rule.rule->id())) continue;
    switch (rule.rule->check_case()) {
      case v1::Rule::kIdentification:
        EvaluateIdentification(rule, v, alerts);
        break;
      case v1::Rule::kDebtCollectorStatement:
        EvaluateStatement(rule, v, alerts);
        break;
      default:
        EvaluatePhrases(rule, v, alerts);
        break;
    }
  }
}

void CallSession::EvaluatePhrases(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts) {
  if (!PartyAllows(rule.rule->party())) return;
  const SetHits& hits = *v.hits;
  if (!hits.HasAny(rule.any_of)) return;  // the common case: no candidate, nothing more to do
  std::vector<Span> evidence;
  if (rule.rule->check_case() == v1::Rule::kConfirmation) {
    bool guessed = false;
    for (SetId id : rule.counterparty_any_of) guessed |= last_counterparty_sets_[id];
    if (!guessed) return;
    AppendSpans(hits, rule.any_of, &evidence);
    Raise(rule, v, std::move(evidence), alerts);
    return;
  }
  const v1::PhraseCheck& check = rule.rule->phrases();
  std::vector<Span> unless;
  AppendSpans(hits, rule.unless_any_of, &unless);
  std::vector<Span> organization;
  if (check.ignore_inside_organization_name()) OrganizationSpans(v, &organization);
  for (SetId id : rule.any_of) {
    if (!hits.Has(id)) continue;
    for (const Span& span : hits.spans[id]) {
      if (check.negation() == v1::NEGATION_SUPPRESSES && policy_->negation().IsNegated(v.text->text, span.first)) {
        continue;
      }
      if (std::any_of(unless.begin(), unless.end(), [&](const Span& u) { return Overlaps(span, u); })) continue;
      if (std::any_of(organization.begin(), organization.end(), [&](const Span& o) { return Inside(span, o); })) {
        continue;
      }
      evidence.push_back(span);
    }
  }
  if (evidence.empty()) return;
  if (!rule.with_any_of.empty()) {
    if (!hits.HasAny(rule.with_any_of)) return;
    AppendSpans(hits, rule.with_any_of, &evidence);
  }
  Raise(rule, v, std::move(evidence), alerts);
}

bool CallSession::IsSubstantive(const CompiledRule& rule, const View& v) const {
  const std::string& text = v.text->text;
  std::vector<bool> covered(text.size(), false);
  for (SetId id : rule.greeting) {
    if (!v.hits->Has(id)) continue;
    for (const Span& s : v.hits->spans[id]) std::fill(covered.begin() + s.first, covered.begin() + s.second, true);
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (!covered[i] && text[i] != ' ' && text[i] != ',') return true;
  }
  return false;
}

void CallSession::OrganizationSpans(const View& v, std::vector<Span>* out) const {
  agency_name_.FindAll(v.text->text, out);
  AppendSpans(*v.hits, organization_sets_, out);
}

void CallSession::EvaluateIdentification(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts) {
  const std::string& text = v.text->text;
  const SetHits& hits = *v.hits;
  auto person_named = [&] {
    return agent_name_.ContainsNameOrShortForm(text) || agent_number_.Contains(text) || hits.HasAny(rule.person);
  };
  auto organization_named = [&] {
    if (agency_name_.Contains(text)) return true;
    std::vector<Span> refused;
    AppendSpans(hits, rule.not_organization, &refused);
    for (SetId id : rule.organization) {
      if (!hits.Has(id)) continue;
      for (const Span& s : hits.spans[id]) {
        if (std::none_of(refused.begin(), refused.end(), [&](const Span& r) { return Overlaps(s, r); })) return true;
      }
    }
    return false;
  };
  if (identification_judged_) {
    // Judged already; keep the summary's "identified" up to date for later turns.
    if (!agent_identified_ && v.utterance->is_final()) agent_identified_ = person_named() && organization_named();
    return;
  }
  if (identification_utterance_.empty()) {
    if (!IsSubstantive(rule, v)) return;
    identification_utterance_ = v.utterance->utterance_id();
  } else if (identification_utterance_ != v.utterance->utterance_id()) {
    // The judged turn never got a final result; the agent has moved on, so judge it unmet
    // on this turn rather than never.
    identification_judged_ = true;
    Raise(rule, v, {}, alerts);
    return;
  }
  if (!v.utterance->is_final()) return;
  identification_judged_ = true;
  agent_identified_ = person_named() && organization_named();
  if (!agent_identified_) Raise(rule, v, {Span{0, static_cast<uint32_t>(text.size())}}, alerts);
}

void CallSession::EvaluateStatement(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts) {
  if (!party_.DebtorVerified()) return;
  const SetHits& hits = *v.hits;
  if (hits.HasAny(rule.statement)) dc_disclosed_ = true;
  if (!v.utterance->is_final() || dc_judged_ || !hits.HasAny(rule.debt)) return;
  dc_judged_ = true;
  if (dc_disclosed_) return;
  std::vector<Span> evidence;
  AppendSpans(hits, rule.debt, &evidence);
  Raise(rule, v, std::move(evidence), alerts);
}

void CallSession::Raise(const CompiledRule& rule, const View& v, std::vector<Span> spans,
                        std::vector<v1::Alert>* alerts) {
  if (!v.state->raised.insert(rule.rule->id()).second) return;
  const v1::Rule& r = *rule.rule;
  v1::Alert a;
  a.set_alert_id(absl::StrCat(start_.call_id(), ":", ++alert_seq_));
  a.set_call_id(start_.call_id());
  a.set_turn(v.state->turn);
  a.set_utterance_id(v.utterance->utterance_id());
  a.set_violation(r.kind());
  a.set_rule_id(r.id());
  a.set_severity(r.severity());
  a.set_message(r.title());
  a.set_coaching(r.coaching());
  *a.mutable_citations() = r.citations();
  a.set_policy_id(policy_->id());
  a.set_policy_version(policy_->version());
  *a.mutable_time() = ToTimestamp(clock_());
  a.set_interim(!v.utterance->is_final());
  a.set_agent_id(start_.agent().agent_id());
  a.set_agency_id(start_.agency().id());

  std::sort(spans.begin(), spans.end());
  std::vector<Span> merged;
  for (const Span& s : spans) {
    if (s.first >= s.second) continue;
    if (!merged.empty() && s.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, s.second);
    } else {
      merged.push_back(s);
    }
  }
  const std::string& original = v.utterance->text();
  for (const Span& s : merged) {
    auto [begin, end] = v.text->ToOriginal(s.first, s.second);
    v1::Evidence* e = a.add_evidence();
    e->set_text(original.substr(begin, end - begin));
    e->set_begin(static_cast<int32_t>(begin));
    e->set_end(static_cast<int32_t>(end));
    e->set_begin_char(CodePointOffset(original, begin));
    e->set_end_char(CodePointOffset(original, end));
  }
  ++kind_counts_[r.kind()];
  ++alert_count_;
  alerts->push_back(std::move(a));
}

v1::CallSummary CallSession::End(absl::string_view reason) {
  v1::CallSummary s;
  s.set_call_id(start_.call_id());
  s.set_turns(next_turn_);
  s.set_alerts(alert_count_);
  std::vector<std::pair<int32_t, int32_t>> kinds(kind_counts_.begin(), kind_counts_.end());
  std::sort(kinds.begin(), kinds.end());
  for (const auto& [kind, count] : kinds) {
    auto* c = s.add_by_kind();
    c->set_violation(static_cast<v1::ViolationKind>(kind));
    c->set_count(count);
  }
  s.set_agent_identified(agent_identified_);
  s.set_debt_collector_disclosed(dc_disclosed_);
  s.set_party(party_.party());
  s.set_policy_id(policy_->id());
  s.set_policy_version(policy_->version());
  s.set_end_reason(std::string(reason));
  return s;
}

}  // namespace callguard
