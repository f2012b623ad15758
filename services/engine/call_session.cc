#include "call_session.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "status_util.h"

namespace callguard {
namespace {

bool Overlaps(const Span& a, const Span& b) { return a.first < b.second && b.first < a.second; }
bool Inside(const Span& inner, const Span& outer) { return inner.first >= outer.first && inner.second <= outer.second; }

void AppendSpans(const SetHits& hits, const std::vector<SetId>& ids, std::vector<Span>* out) {
  for (SetId id : ids) {
    if (!hits.Has(id)) continue;
    const std::vector<Span>& spans = hits.SpansOf(id);
    out->insert(out->end(), spans.begin(), spans.end());
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
  session->call_id_ = start.call_id();
  session->agent_id_ = start.agent().agent_id();
  session->agency_id_ = start.agency().id();
  session->coaching_names_ = {start.agent().name(), start.agency().name(), start.debtor().name()};
  session->limits_ = limits;
  session->clock_ = options.clock ? std::move(options.clock) : [] { return absl::Now(); };
  session->incremental_updates_ = options.incremental_updates;
  const bool cjk = policy->is_cjk();
  const v1::CallStart& s = start;
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
      session->not_organization_sets_.insert(session->not_organization_sets_.end(), rule.not_organization.begin(),
                                             rule.not_organization.end());
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
  // UTF-8 is checked by the normalizer, in the same pass that folds the text.
  return absl::OkStatus();
}

CallSession::UtteranceState* CallSession::FindRecent(absl::string_view id, uint64_t id_hash) {
  // Newest first: updates mostly concern the utterance in progress.
  const size_t n = recent_.size();
  const size_t newest = recent_oldest_ == 0 ? n - 1 : recent_oldest_ - 1;
  for (size_t k = 0, i = newest; k < n; ++k, i = i == 0 ? n - 1 : i - 1) {
    if (recent_[i].id_hash == id_hash && recent_[i].id == id) return &recent_[i];
  }
  return nullptr;
}

CallSession::UtteranceState* CallSession::AddRecent(absl::string_view id, uint64_t id_hash, v1::Speaker speaker) {
  UtteranceState* state;
  if (recent_.size() < std::max<size_t>(limits_.recent_utterances, 1)) {
    state = &recent_.emplace_back();
  } else {
    state = &recent_[recent_oldest_];
    recent_oldest_ = (recent_oldest_ + 1) % recent_.size();
  }
  state->id_hash = id_hash;
  state->id.assign(id.data(), id.size());
  state->turn = next_turn_++;
  state->speaker = speaker;
  state->raised = 0;
  return state;
}

bool CallSession::Raised(const UtteranceState& state, size_t rule_index) const {
  if (rule_index < 64) return (state.raised >> rule_index) & 1;
  return std::find(raised_beyond_64_.begin(), raised_beyond_64_.end(),
                   std::make_pair(state.turn, static_cast<uint32_t>(rule_index))) != raised_beyond_64_.end();
}

bool CallSession::MarkRaised(UtteranceState* state, size_t rule_index) {
  if (Raised(*state, rule_index)) return false;
  if (rule_index < 64) {
    state->raised |= uint64_t{1} << rule_index;
  } else {
    raised_beyond_64_.emplace_back(state->turn, static_cast<uint32_t>(rule_index));
  }
  return true;
}

absl::StatusOr<CallSession::UtteranceState*> CallSession::Admit(const v1::Utterance& u, uint64_t id_hash) {
  UtteranceState* state = FindRecent(u.utterance_id(), id_hash);
  if (state == nullptr) {
    if (static_cast<size_t>(next_turn_) >= limits_.max_utterances_per_call) {
      return FieldError(absl::StatusCode::kResourceExhausted, "utterance.utterance_id",
                        absl::StrCat("the call has reached the limit of ", limits_.max_utterances_per_call,
                                     " utterances"));
    }
  } else if (state->speaker != u.speaker()) {
    return InvalidField("utterance.speaker", absl::StrCat("utterance \"", u.utterance_id(), "\" was started by ",
                                                          v1::Speaker_Name(state->speaker)));
  }
  return state;
}

absl::StatusOr<std::vector<v1::Alert>> CallSession::OnUtterance(const v1::Utterance& u) {
  if (auto s = Validate(u); !s.ok()) return s;
  const uint64_t id_hash = absl::Hash<absl::string_view>{}(u.utterance_id());
  if (u.speaker() == v1::COUNTERPARTY && !u.is_final()) {
    // Nothing reads what the counterparty is still saying (no rule judges the counterparty;
    // party inference waits for the final result): such an update is checked and numbered,
    // not normalized nor scanned.
    if (absl::Status utf8 = ValidateUtf8(u.text(), "utterance.text"); !utf8.ok()) return utf8;
    absl::StatusOr<UtteranceState*> state = Admit(u, id_hash);
    if (!state.ok()) return state.status();
    last_turn_ = (*state != nullptr ? *state : AddRecent(u.utterance_id(), id_hash, u.speaker()))->turn;
    return std::vector<v1::Alert>();
  }
  // Reused across utterances of every call on this thread: no allocation in steady state.
  thread_local NormalizedText norm;
  thread_local std::vector<uint32_t> candidates;
  thread_local SetHits hits;
  // The agent's interim results grow word by word: those normalize and scan only what is new.
  // A final result goes on from its interims, then frees their state.
  const bool growing = incremental_updates_ && u.speaker() == v1::AGENT;
  const NormalizedText* text = &norm;
  absl::Status normalized;
  bool whole = true;
  if (growing && (!u.is_final() || agent_text_.active())) {
    normalized = Normalizer::Default().NormalizeGrowing(u.text(), &agent_text_);
    // Over the bounds on kept state: the whole text, the same answer.
    whole = absl::IsResourceExhausted(normalized);
    if (!whole) {
      if (!normalized.ok() || !u.is_final()) {
        text = &agent_text_.normalized();
      } else {
        agent_text_.Release(&norm);
      }
    }
  }
  if (whole) normalized = Normalizer::Default().Normalize(u.text(), &norm);
  if (const absl::Status& s = normalized; !s.ok()) {
    // Worded as a check of the text itself, not of the normalizer's input.
    if (absl::Status utf8 = ValidateUtf8(u.text(), "utterance.text"); !utf8.ok()) return utf8;
    return InvalidField("utterance.text", s.message());
  }
  absl::StatusOr<UtteranceState*> admitted = Admit(u, id_hash);
  if (!admitted.ok()) return admitted.status();
  UtteranceState* state = *admitted;
  // One scan says which patterns matched; spans are located later, only where a rule asks.
  const int scope =
      u.speaker() == v1::AGENT ? CompiledPolicy::kAgentScope : CompiledPolicy::kCounterpartyScope;
  absl::Status scanned = growing && (!u.is_final() || agent_scan_.active())
                             ? policy_->matcher().CandidatesGrowing(text->text, scope, &agent_scan_, &candidates)
                             : policy_->matcher().Candidates(text->text, scope, &candidates);
  if (u.is_final() && growing) agent_scan_.Reset();
  if (!scanned.ok()) return scanned;
  if (auto s = hits.Reset(policy_, text->text, candidates); !s.ok()) return s;

  if (state == nullptr) state = AddRecent(u.utterance_id(), id_hash, u.speaker());
  last_turn_ = state->turn;
  View view{&u, state, text, &hits};
  std::vector<v1::Alert> alerts;
  if (u.speaker() == v1::COUNTERPARTY) {
    if (u.is_final()) {
      party_.OnCounterparty(text->text, hits);
      for (size_t i = 0; i < last_counterparty_sets_.size(); ++i) last_counterparty_sets_[i] = hits.Has(i);
      if (party_.DebtorVerified() && !debtor_seen_) dc_disclosed_ = false;  // must come after verification
      debtor_seen_ = party_.DebtorVerified();
    }
  } else {
    EvaluateAgent(view, &alerts);
    if (u.is_final()) party_.OnAgent(text->text, hits);
  }
  // Spans are located after Reset() made them ready, so this is a Vectorscan failure.
  if (!hits.status().ok()) return hits.status();
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
  // Only which sets matched counts here, so no spans are needed.
  std::vector<uint32_t> candidates;
  if (auto s = policy_->matcher().Candidates(norm->text, CompiledPolicy::kCounterpartyScope, &candidates); !s.ok()) {
    return s;
  }
  std::fill(last_counterparty_sets_.begin(), last_counterparty_sets_.end(), false);
  for (uint32_t p : candidates) last_counterparty_sets_[policy_->set_of_pattern(p)] = true;
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
  const std::vector<CompiledRule>& rules = policy_->rules();
  for (size_t i = 0; i < rules.size(); ++i) {
    const CompiledRule& rule = rules[i];
    if (Raised(*v.state, i)) continue;
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
  // Reused on this thread: a rule that fires allocates nothing here in steady state.
  thread_local std::vector<Span> evidence, unless, organization;
  evidence.clear();
  if (rule.rule->check_case() == v1::Rule::kConfirmation) {
    bool guessed = false;
    for (SetId id : rule.counterparty_any_of) guessed |= last_counterparty_sets_[id];
    if (!guessed) return;
    AppendSpans(hits, rule.any_of, &evidence);
    Raise(rule, v, &evidence, alerts);
    return;
  }
  const v1::PhraseCheck& check = rule.rule->phrases();
  unless.clear();
  AppendSpans(hits, rule.unless_any_of, &unless);
  organization.clear();
  if (check.ignore_inside_organization_name()) OrganizationSpans(v, &organization);
  for (SetId id : rule.any_of) {
    if (!hits.Has(id)) continue;
    for (const Span& span : hits.SpansOf(id)) {
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
  Raise(rule, v, &evidence, alerts);
}

bool CallSession::IsSubstantive(const CompiledRule& rule, const View& v) const {
  const std::string& text = v.text->text;
  std::vector<bool> covered(text.size(), false);
  for (SetId id : rule.greeting) {
    for (const Span& s : v.hits->SpansOf(id)) std::fill(covered.begin() + s.first, covered.begin() + s.second, true);
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (!covered[i] && text[i] != ' ' && text[i] != ',') return true;
  }
  return false;
}

void CallSession::OrganizationSpans(const View& v, std::vector<Span>* out) const {
  agency_name_.FindAll(v.text->text, out);
  // "on behalf of the county court" is an impersonation, not an organization.
  thread_local std::vector<Span> phrases, refused;
  phrases.clear();
  refused.clear();
  AppendSpans(*v.hits, organization_sets_, &phrases);
  AppendSpans(*v.hits, not_organization_sets_, &refused);
  for (const Span& s : phrases) {
    if (std::none_of(refused.begin(), refused.end(), [&](const Span& r) { return Overlaps(s, r); })) out->push_back(s);
  }
}

void CallSession::EvaluateIdentification(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts) {
  const std::string& text = v.text->text;
  const SetHits& hits = *v.hits;
  auto person_named = [&] {
    return agent_name_.ContainsNameOrShortForm(text) || agent_number_.Contains(text) || hits.HasAny(rule.person);
  };
  auto organization_named = [&] {
    std::vector<Span> spans;
    OrganizationSpans(v, &spans);
    return !spans.empty();
  };
  if (identification_judged_) {
    if (!v.utterance->is_final()) return;
    if (organization_deferred_) {
      // The policy lets the organization wait until the debtor is verified; the first agent
      // turn after that is when it must have been named.
      organization_named_ = organization_named_ || organization_named();
      if (party_.IsAllowedParty()) {
        organization_deferred_ = false;
        agent_identified_ = organization_named_;
        if (!organization_named_) {
          std::vector<Span> whole{Span{0, static_cast<uint32_t>(text.size())}};
          Raise(rule, v, &whole, alerts);
        }
      }
      return;
    }
    // Judged already; keep the summary's "identified" up to date for later turns.
    if (!agent_identified_) agent_identified_ = person_named() && organization_named();
    return;
  }
  if (identification_utterance_.empty()) {
    if (!IsSubstantive(rule, v)) return;
    identification_utterance_ = v.utterance->utterance_id();
  } else if (identification_utterance_ != v.utterance->utterance_id()) {
    // The judged turn never got a final result; the agent has moved on, so judge it unmet
    // on this turn rather than never.
    identification_judged_ = true;
    std::vector<Span> none;
    Raise(rule, v, &none, alerts);
    return;
  }
  if (!v.utterance->is_final()) return;
  identification_judged_ = true;
  const bool person = person_named();
  organization_named_ = organization_named();
  agent_identified_ = person && organization_named_;
  if (person && !organization_named_ && policy_->source().parameters().organization_after_verification()) {
    organization_deferred_ = true;
    return;
  }
  if (!agent_identified_) {
    std::vector<Span> whole{Span{0, static_cast<uint32_t>(text.size())}};
    Raise(rule, v, &whole, alerts);
  }
}

void CallSession::EvaluateStatement(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts) {
  if (!party_.DebtorVerified()) return;
  const SetHits& hits = *v.hits;
  if (hits.HasAny(rule.statement)) dc_disclosed_ = true;
  if (!v.utterance->is_final() || dc_judged_ || !hits.HasAny(rule.debt)) return;
  dc_judged_ = true;
  if (dc_disclosed_) return;
  thread_local std::vector<Span> evidence;
  evidence.clear();
  AppendSpans(hits, rule.debt, &evidence);
  Raise(rule, v, &evidence, alerts);
}

std::string CallSession::FillCoaching(absl::string_view coaching) const {
  if (!absl::StrContains(coaching, '{')) return std::string(coaching);
  const bool zh = policy_->is_cjk();
  // What stands in for a name the dialer did not give.
  const auto or_else = [](const std::string& value, absl::string_view fallback) {
    return value.empty() ? std::string(fallback) : value;
  };
  const std::string& debtor = coaching_names_.debtor;
  std::string debtor_first = debtor;
  if (!zh) debtor_first = std::string(debtor.substr(0, std::min(debtor.find(' '), debtor.size())));
  return absl::StrReplaceAll(
      coaching, {{"{agent}", or_else(coaching_names_.agent, zh ? "张三" : "your name")},
                 {"{agent_id}", or_else(agent_id_, zh ? "1234" : "your ID")},
                 {"{agency}", or_else(coaching_names_.agency, zh ? "XX公司" : "your agency")},
                 {"{debtor}", or_else(debtor, zh ? "XX" : "the consumer")},
                 {"{debtor_first}", or_else(debtor_first, zh ? "XX" : "the consumer")}});
}

void CallSession::Raise(const CompiledRule& rule, const View& v, std::vector<Span>* spans,
                        std::vector<v1::Alert>* alerts) {
  if (!MarkRaised(v.state, static_cast<size_t>(&rule - policy_->rules().data()))) return;
  const v1::Rule& r = *rule.rule;
  v1::Alert& a = alerts->emplace_back();
  a.set_alert_id(absl::StrCat(call_id_, ":", ++alert_seq_));
  a.set_call_id(call_id_);
  a.set_turn(v.state->turn);
  a.set_utterance_id(v.utterance->utterance_id());
  a.set_violation(r.kind());
  a.set_rule_id(r.id());
  a.set_severity(r.severity());
  a.set_message(r.title());
  a.set_coaching(FillCoaching(r.coaching()));
  *a.mutable_citations() = r.citations();
  a.set_policy_id(policy_->id());
  a.set_policy_version(policy_->version());
  *a.mutable_time() = ToTimestamp(clock_());
  a.set_interim(!v.utterance->is_final());
  a.set_agent_id(agent_id_);
  a.set_agency_id(agency_id_);

  // Sorted, then merged in place where spans touch or overlap.
  std::sort(spans->begin(), spans->end());
  size_t merged = 0;
  for (const Span& s : *spans) {
    if (s.first >= s.second) continue;
    if (merged > 0 && s.first <= (*spans)[merged - 1].second) {
      (*spans)[merged - 1].second = std::max((*spans)[merged - 1].second, s.second);
    } else {
      (*spans)[merged++] = s;
    }
  }
  spans->resize(merged);
  const std::string& original = v.utterance->text();
  for (const Span& s : *spans) {
    auto [begin, end] = v.text->ToOriginal(s.first, s.second);
    v1::Evidence* e = a.add_evidence();
    e->set_text(original.substr(begin, end - begin));
    e->set_begin(static_cast<int32_t>(begin));
    e->set_end(static_cast<int32_t>(end));
    // Counted once up to the start, then only across the evidence itself.
    const int32_t begin_char = CodePointOffset(original, begin);
    e->set_begin_char(begin_char);
    e->set_end_char(begin_char + CodePointOffset(absl::string_view(original).substr(begin), end - begin));
  }
  auto kind = std::find_if(kind_counts_.begin(), kind_counts_.end(),
                           [&](const auto& k) { return k.first == r.kind(); });
  if (kind == kind_counts_.end()) {
    kind_counts_.emplace_back(r.kind(), 1);
  } else {
    ++kind->second;
  }
  ++alert_count_;
}

v1::CallSummary CallSession::End(absl::string_view reason) {
  v1::CallSummary s;
  s.set_call_id(call_id_);
  s.set_turns(next_turn_);
  s.set_alerts(alert_count_);
  std::vector<std::pair<int32_t, int32_t>> kinds = kind_counts_;
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
