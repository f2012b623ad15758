#include "compiled_policy.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace callguard {
namespace {

// The 1-based line of `source_path` holding `needle` (after the first line holding `anchor`,
// if given), so compile errors point into the file like parse errors do. 0 if not found.
int FindLine(const std::string& source_path, absl::string_view anchor, absl::string_view needle) {
  if (source_path.empty()) return 0;
  std::ifstream in(source_path);
  if (!in) return 0;
  std::string line;
  int number = 0;
  bool anchored = anchor.empty();
  while (std::getline(in, line)) {
    ++number;
    if (!anchored) {
      anchored = absl::StrContains(line, anchor);
      if (!anchored) continue;
      if (needle.empty()) return number;
    }
    if (!needle.empty() && absl::StrContains(line, needle)) return number;
  }
  return 0;
}

std::string Where(const std::string& path, int line) {
  if (path.empty()) return "";
  return line > 0 ? absl::StrCat(path, ":", line, ": ") : absl::StrCat(path, ": ");
}

// Coaching may name the call's own people: CallSession fills these in.
absl::Status CheckCoachingPlaceholders(absl::string_view coaching) {
  static constexpr absl::string_view kKnown[] = {"agent", "agent_id", "agency", "debtor", "debtor_first"};
  for (size_t open = coaching.find('{'); open != absl::string_view::npos; open = coaching.find('{', open + 1)) {
    const size_t close = coaching.find('}', open);
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("has a \"{\" that is never closed");
    const absl::string_view name = coaching.substr(open + 1, close - open - 1);
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "names unknown placeholder {", name, "}; known: {agent}, {agent_id}, {agency}, {debtor}, {debtor_first}"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

SetId CompiledPolicy::FindSet(absl::string_view name) const {
  auto it = set_index_.find(std::string(name));
  return it == set_index_.end() ? -1 : it->second;
}

absl::StatusOr<std::unique_ptr<CompiledPolicy>> CompiledPolicy::Create(v1::Policy policy, std::string source_path,
                                                                       const CompileOptions& options) {
  std::unique_ptr<CompiledPolicy> cp(new CompiledPolicy());
  cp->policy_ = std::move(policy);
  cp->source_path_ = std::move(source_path);
  const v1::Policy& p = cp->policy_;
  const std::string& path = cp->source_path_;
  auto fail = [&](absl::string_view anchor, absl::string_view needle, absl::string_view message) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(path, FindLine(path, anchor, needle)), "policy \"", p.id(), "\": ", message));
  };

  if (p.id().empty()) return fail("", "", "policy has no id");
  if (p.language() != "en" && p.language() != "zh") {
    return fail("language", "", absl::StrCat("language must be \"en\" or \"zh\", not \"", p.language(), "\""));
  }

  PatternMatcher::Options matcher_options;
  matcher_options.cache_dir = options.cache_dir;
  for (const auto& set : p.phrase_sets()) {
    const std::string quoted_name = absl::StrCat("\"", set.name(), "\"");
    if (set.name().empty()) return fail("phrase_sets", "", "a phrase set has no name");
    if (cp->set_index_.contains(set.name())) {
      return fail(quoted_name, "", absl::StrCat("phrase set \"", set.name(), "\" is defined twice"));
    }
    if (set.patterns().empty()) {
      return fail(quoted_name, "", absl::StrCat("phrase set \"", set.name(), "\" has no patterns"));
    }
    const SetId id = static_cast<SetId>(cp->set_names_.size());
    cp->set_index_[set.name()] = id;
    cp->set_names_.push_back(set.name());
    for (int i = 0; i < set.patterns_size(); ++i) {
      matcher_options.patterns.push_back(set.patterns(i));
      matcher_options.labels.push_back(absl::StrCat("phrase set \"", set.name(), "\" pattern ", i + 1));
      cp->pattern_set_.push_back(id);
    }
  }

  NegationOptions negation;
  negation.cues.assign(p.parameters().negation_cues().begin(), p.parameters().negation_cues().end());
  negation.scope_breakers.assign(p.parameters().negation_scope_breakers().begin(),
                                 p.parameters().negation_scope_breakers().end());
  negation.fillers.assign(p.parameters().negation_fillers().begin(), p.parameters().negation_fillers().end());
  if (p.parameters().negation_window_words() > 0) negation.window_words = p.parameters().negation_window_words();
  if (p.parameters().negation_window_chars() > 0) negation.window_chars = p.parameters().negation_window_chars();
  auto scope = NegationScope::Create(negation);
  if (!scope.ok()) return fail("negation", "", scope.status().message());
  cp->negation_ = *std::move(scope);

  // Resolves set names, naming the rule (or section) and field that refers to a missing one.
  absl::Status status;
  std::string anchor;  // the text that locates the current section in the file
  auto resolve = [&](const google::protobuf::RepeatedPtrField<std::string>& names, absl::string_view owner,
                     absl::string_view field, std::vector<SetId>* out) {
    for (const auto& name : names) {
      const SetId id = cp->FindSet(name);
      if (id < 0) {
        if (status.ok()) {
          status = fail(anchor, absl::StrCat("\"", name, "\""),
                        absl::StrCat(owner, ": ", field, " names unknown phrase set \"", name, "\""));
        }
        continue;
      }
      out->push_back(id);
    }
  };

  anchor = "party_inference";
  const auto& pi = p.party_inference();
  CompiledPartyInference& party = cp->party_;
  resolve(pi.self_confirm_any_of(), "party_inference", "self_confirm_any_of", &party.self_confirm);
  resolve(pi.self_name_prefix_any_of(), "party_inference", "self_name_prefix_any_of", &party.self_name_prefix);
  resolve(pi.third_party_any_of(), "party_inference", "third_party_any_of", &party.third_party);
  resolve(pi.wrong_number_any_of(), "party_inference", "wrong_number_any_of", &party.wrong_number);
  resolve(pi.affirmative_any_of(), "party_inference", "affirmative_any_of", &party.affirmative);
  resolve(pi.identity_question_any_of(), "party_inference", "identity_question_any_of", &party.identity_question);
  resolve(pi.denial_any_of(), "party_inference", "denial_any_of", &party.denial);
  resolve(pi.voicemail_any_of(), "party_inference", "voicemail_any_of", &party.voicemail);
  anchor = "parameters";
  resolve(p.parameters().spouse_any_of(), "parameters", "spouse_any_of", &party.spouse);

  absl::flat_hash_set<std::string> rule_ids;
  for (const auto& rule : p.rules()) {
    const std::string owner = absl::StrCat("rule \"", rule.id(), "\"");
    anchor = absl::StrCat("\"", rule.id(), "\"");
    if (rule.id().empty()) return fail("rules", "", "a rule has no id");
    if (!rule_ids.insert(rule.id()).second) return fail(anchor, "", absl::StrCat(owner, " is defined twice"));
    if (rule.kind() == v1::VIOLATION_KIND_UNSPECIFIED) return fail(anchor, "", absl::StrCat(owner, " has no kind"));
    if (rule.title().empty()) return fail(anchor, "", absl::StrCat(owner, " has no title"));
    if (absl::Status s = CheckCoachingPlaceholders(rule.coaching()); !s.ok()) {
      return fail(anchor, "coaching", absl::StrCat(owner, ": coaching ", s.message()));
    }
    CompiledRule cr;
    cr.rule = &rule;
    switch (rule.check_case()) {
      case v1::Rule::kPhrases:
        resolve(rule.phrases().any_of(), owner, "phrases.any_of", &cr.any_of);
        resolve(rule.phrases().with_any_of(), owner, "phrases.with_any_of", &cr.with_any_of);
        resolve(rule.phrases().unless_any_of(), owner, "phrases.unless_any_of", &cr.unless_any_of);
        if (rule.phrases().any_of().empty()) return fail(anchor, "", absl::StrCat(owner, ": phrases.any_of is empty"));
        break;
      case v1::Rule::kConfirmation:
        resolve(rule.confirmation().counterparty_any_of(), owner, "confirmation.counterparty_any_of",
                &cr.counterparty_any_of);
        resolve(rule.confirmation().agent_any_of(), owner, "confirmation.agent_any_of", &cr.any_of);
        if (cr.any_of.empty() && status.ok()) {
          return fail(anchor, "", absl::StrCat(owner, ": confirmation.agent_any_of is empty"));
        }
        break;
      case v1::Rule::kIdentification:
        resolve(rule.identification().greeting_any_of(), owner, "identification.greeting_any_of", &cr.greeting);
        resolve(rule.identification().person_any_of(), owner, "identification.person_any_of", &cr.person);
        resolve(rule.identification().organization_any_of(), owner, "identification.organization_any_of",
                &cr.organization);
        resolve(rule.identification().not_organization_any_of(), owner, "identification.not_organization_any_of",
                &cr.not_organization);
        break;
      case v1::Rule::kDebtCollectorStatement:
        resolve(rule.debt_collector_statement().statement_any_of(), owner, "debt_collector_statement.statement_any_of",
                &cr.statement);
        resolve(rule.debt_collector_statement().debt_any_of(), owner, "debt_collector_statement.debt_any_of", &cr.debt);
        if ((cr.statement.empty() || cr.debt.empty()) && status.ok()) {
          return fail(anchor, "", absl::StrCat(owner, ": debt_collector_statement needs statement and debt sets"));
        }
        break;
      case v1::Rule::CHECK_NOT_SET:
        return fail(anchor, "", absl::StrCat(owner, " has no check (phrases, confirmation, identification or "
                                                    "debt_collector_statement)"));
    }
    if (!status.ok()) return status;
    if (!rule.disabled()) cp->rules_.push_back(std::move(cr));
  }
  if (!status.ok()) return status;

  // Each speaker's words are scanned only for the sets something reads of that speaker: the
  // rules judge the agent; party inference and the rules' guesses read the counterparty.
  // Sets that nothing reads (e.g. only disabled rules') are in neither scope.
  std::vector<bool> agent_sets(cp->set_names_.size()), counterparty_sets(cp->set_names_.size());
  auto mark = [](const std::vector<SetId>& ids, std::vector<bool>* sets) {
    for (SetId id : ids) (*sets)[id] = true;
  };
  for (const CompiledRule& rule : cp->rules_) {
    for (const auto* ids : {&rule.any_of, &rule.with_any_of, &rule.unless_any_of, &rule.greeting, &rule.person,
                            &rule.organization, &rule.not_organization, &rule.statement, &rule.debt}) {
      mark(*ids, &agent_sets);
    }
    mark(rule.counterparty_any_of, &counterparty_sets);
  }
  mark(party.identity_question, &agent_sets);
  for (const auto* ids : {&party.self_confirm, &party.self_name_prefix, &party.third_party, &party.wrong_number,
                          &party.affirmative, &party.denial, &party.voicemail, &party.spouse}) {
    mark(*ids, &counterparty_sets);
  }
  matcher_options.scopes.resize(2);
  // The counterparty's interim results are not scanned (CallSession), so no streaming twin.
  matcher_options.scopes[kCounterpartyScope].growing = false;
  for (size_t i = 0; i < cp->pattern_set_.size(); ++i) {
    const SetId set = cp->pattern_set_[i];
    if (agent_sets[set]) matcher_options.scopes[kAgentScope].patterns.push_back(static_cast<uint32_t>(i));
    if (counterparty_sets[set]) {
      matcher_options.scopes[kCounterpartyScope].patterns.push_back(static_cast<uint32_t>(i));
    }
  }
  auto matcher = PatternMatcher::Create(std::move(matcher_options));
  if (!matcher.ok()) {
    // Point at the offending pattern's line: labels name the set and pattern.
    const std::string msg(matcher.status().message());
    int line = 0;
    for (const auto& set : p.phrase_sets()) {
      if (!absl::StrContains(msg, absl::StrCat("\"", set.name(), "\" pattern"))) continue;
      for (const auto& pattern : set.patterns()) {
        if (absl::StrContains(msg, absl::StrCat("\"", pattern, "\""))) {
          line = FindLine(path, absl::StrCat("\"", set.name(), "\""), absl::CEscape(pattern));
        }
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(Where(path, line), "policy \"", p.id(), "\": ", msg));
  }
  cp->matcher_ = *std::move(matcher);
  if (options.warm_up) {
    if (auto s = cp->matcher_->WarmUp(1); !s.ok()) return fail("", "", s.message());
  }

  return cp;
}

v1::PolicyInfo CompiledPolicy::Info() const {
  v1::PolicyInfo info;
  info.set_id(policy_.id());
  info.set_version(policy_.version());
  info.set_title(policy_.title());
  info.set_language(policy_.language());
  info.set_rules(static_cast<int32_t>(rules_.size()));
  info.set_patterns(static_cast<int32_t>(matcher_->pattern_count()));
  info.set_source(source_path_);
  return info;
}

}  // namespace callguard
