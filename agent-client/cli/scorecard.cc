#include "scorecard.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace callguard::cli {
namespace {

constexpr char kReset[] = "\x1b[0m";
constexpr char kBold[] = "\x1b[1m";
constexpr char kGreen[] = "\x1b[32m";
constexpr char kRed[] = "\x1b[31m";

const char* SeverityColor(v1::Severity severity) {
  switch (severity) {
    case v1::SEVERITY_CRITICAL:
      return "\x1b[1;97;41m";
    case v1::SEVERITY_HIGH:
      return "\x1b[1;31m";
    case v1::SEVERITY_MEDIUM:
      return "\x1b[33m";
    default:
      return "\x1b[36m";
  }
}

std::string SeverityName(v1::Severity severity) {
  std::string name = v1::Severity_Name(severity);
  if (absl::StartsWith(name, "SEVERITY_")) name = name.substr(9);
  return name;
}

std::string Regulations(const v1::Alert& alert) {
  std::vector<std::string> parts;
  for (const v1::Citation& c : alert.citations()) parts.push_back(absl::StrCat(c.authority(), " ", c.section()));
  return parts.empty() ? "(none cited)" : absl::StrJoin(parts, "; ");
}

std::string Words(const v1::Alert& alert) {
  std::vector<std::string> words;
  for (const v1::Evidence& e : alert.evidence()) words.push_back(absl::StrCat("\"", e.text(), "\""));
  return words.empty() ? "(the whole line)" : absl::StrJoin(words, ", ");
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

std::string UtcTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", FromProto(t), absl::UTCTimeZone());
}

std::string PartyName(v1::Party party) {
  std::string name = v1::Party_Name(party);
  if (absl::StartsWith(name, "PARTY_")) name = name.substr(6);
  return absl::AsciiStrToLower(name);
}

std::string ShortStepName(v1::RequiredStep step) {
  switch (step) {
    case v1::SELF_IDENTIFICATION:
      return "identified";
    case v1::PARTY_VERIFICATION:
      return "verified";
    case v1::COLLECTOR_DISCLOSURE:
      return "disclosure";
    case v1::NO_VIOLATION:
      return "clean";
    default:
      return "?";
  }
}

}  // namespace

int SeverityPenalty(v1::Severity severity) {
  switch (severity) {
    case v1::SEVERITY_CRITICAL:
      return 30;
    case v1::SEVERITY_HIGH:
      return 20;
    case v1::SEVERITY_MEDIUM:
      return 10;
    case v1::SEVERITY_LOW:
      return 5;
    default:
      return 10;  // an unrated alert counts as medium
  }
}

void ScoreScorecard(v1::Scorecard* card) {
  int violation_penalty = 0;
  for (const v1::Alert& a : card->violations()) violation_penalty += SeverityPenalty(a.severity());
  int step_penalty = 0;
  for (const v1::StepResult& s : card->steps()) {
    if (s.required() && !s.done() && s.step() != v1::NO_VIOLATION) step_penalty += kMissingStepPenalty;
  }
  card->set_violation_penalty(violation_penalty);
  card->set_missing_step_penalty(step_penalty);
  card->set_score(std::max(0, kFullScore - violation_penalty - step_penalty));
}

std::string ScorecardToJson(const v1::Scorecard& card) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Cannot fail for a message without Any fields.
  (void)google::protobuf::util::MessageToJsonString(card, &json, options);
  return json;
}

absl::StatusOr<v1::Scorecard> ScorecardFromJson(absl::string_view json, absl::string_view name) {
  v1::Scorecard card;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &card, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a scorecard: ", std::string(status.message())));
  }
  return card;
}

absl::Status WriteScorecardFile(const std::string& path, const v1::Scorecard& card) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write the scorecard"));
  out << ScorecardToJson(card);
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

absl::StatusOr<v1::Scorecard> ReadScorecardFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open scorecard"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ScorecardFromJson(buffer.str(), path);
}

std::string StepDescription(v1::RequiredStep step) {
  switch (step) {
    case v1::SELF_IDENTIFICATION:
      return "identified yourself (name and organization)";
    case v1::PARTY_VERIFICATION:
      return "verified who is on the line before any debt talk";
    case v1::COLLECTOR_DISCLOSURE:
      return "made the debt-collector statement";
    case v1::NO_VIOLATION:
      return "no violation";
    default:
      return "unknown step";
  }
}

std::string FormatAlert(const v1::Alert& alert, bool color) {
  const char* on = color ? SeverityColor(alert.severity()) : "";
  const char* off = color ? kReset : "";
  return absl::StrCat("  ", on, "!! ", SeverityName(alert.severity()), " ", v1::ViolationKind_Name(alert.violation()),
                      off, "  rule ", alert.rule_id(), "\n", "     words: ", Words(alert), "\n",
                      "     regulation: ", Regulations(alert), "\n", "     say instead: ", alert.coaching(), "\n");
}

std::string FormatScorecard(const v1::Scorecard& card, bool color) {
  const char* bold = color ? kBold : "";
  const char* off = color ? kReset : "";
  std::string out = absl::StrCat(bold, "=== Scorecard: ", card.scenario_id(), off, " (", card.scenario_title(), ")\n");
  if (!card.trainee().empty()) absl::StrAppend(&out, "trainee: ", card.trainee(), "\n");
  absl::StrAppend(&out, "policy: ", card.policy_id(), " ", card.policy_version(), "; ended: ", card.end_reason(), "\n");
  absl::StrAppend(&out, "who answered: ", PartyName(card.truth()), "; the guard saw: ", PartyName(card.party()), "\n");
  const char* score_color = !color ? "" : card.score() == kFullScore ? kGreen : kRed;
  absl::StrAppend(&out, bold, "score: ", score_color, card.score(), "/", kFullScore, off, "  (100 - ",
                  card.violation_penalty(), " for violations - ", card.missing_step_penalty(), " for missing steps)\n");
  absl::StrAppend(&out, "steps:\n");
  for (const v1::StepResult& s : card.steps()) {
    std::string mark;
    if (!s.required()) {
      mark = "[ n/a ]";
    } else if (s.done()) {
      mark = absl::StrCat(color ? kGreen : "", "[ done]", off);
    } else {
      mark = absl::StrCat(color ? kRed : "", s.step() == v1::NO_VIOLATION ? "[ FAILED]" : "[MISSING]", off);
    }
    absl::StrAppend(&out, "  ", mark, " ", StepDescription(s.step()), "\n");
  }
  absl::StrAppend(&out, "violations: ", card.violations_size(), "\n");
  for (int i = 0; i < card.violations_size(); ++i) {
    const v1::Alert& a = card.violations(i);
    std::string said;
    if (a.turn() >= 0 && a.turn() < card.transcript_size()) said = card.transcript(a.turn()).text();
    absl::StrAppend(&out, " ", i + 1, ". you said: \"", said, "\"  (-", SeverityPenalty(a.severity()), ")\n",
                    FormatAlert(a, color));
  }
  return out;
}

std::string FormatScorecardComparison(std::vector<v1::Scorecard> cards) {
  std::stable_sort(cards.begin(), cards.end(), [](const v1::Scorecard& a, const v1::Scorecard& b) {
    if (a.trainee() != b.trainee()) return a.trainee() < b.trainee();
    return FromProto(a.ended()) < FromProto(b.ended());
  });
  std::string out;
  size_t begin = 0;
  while (begin < cards.size()) {
    size_t end = begin;
    while (end < cards.size() && cards[end].trainee() == cards[begin].trainee()) ++end;
    const std::string trainee = cards[begin].trainee().empty() ? "(unnamed)" : cards[begin].trainee();
    absl::StrAppend(&out, "trainee ", trainee, ": ", end - begin, " run(s)\n");
    std::vector<std::string> scores;
    // rule id -> (kind, runs in which it occurred, total alerts)
    std::map<std::string, std::tuple<std::string, int, int>> rules;
    std::map<v1::RequiredStep, std::pair<int, int>> steps;  // done, required
    for (size_t i = begin; i < end; ++i) {
      const v1::Scorecard& c = cards[i];
      std::vector<std::string> step_marks;
      for (const v1::StepResult& s : c.steps()) {
        if (s.step() == v1::NO_VIOLATION) continue;
        if (!s.required()) {
          step_marks.push_back(absl::StrCat(ShortStepName(s.step()), " n/a"));
          continue;
        }
        step_marks.push_back(absl::StrCat(ShortStepName(s.step()), s.done() ? " yes" : " NO"));
        auto& [done, required] = steps[s.step()];
        ++required;
        if (s.done()) ++done;
      }
      absl::StrAppend(&out, absl::StrFormat("  %s  %-28s score %3d  violations %d  %s\n", UtcTime(c.ended()),
                                            c.scenario_id(), c.score(), c.violations_size(),
                                            absl::StrJoin(step_marks, ", ")));
      scores.push_back(absl::StrCat(c.score()));
      std::map<std::string, int> in_run;
      for (const v1::Alert& a : c.violations()) {
        auto& entry = rules[a.rule_id()];
        std::get<0>(entry) = v1::ViolationKind_Name(a.violation());
        ++std::get<2>(entry);
        if (in_run[a.rule_id()]++ == 0) ++std::get<1>(entry);
      }
    }
    const int first = cards[begin].score(), last = cards[end - 1].score();
    absl::StrAppend(&out, "  score trend: ", absl::StrJoin(scores, " -> "), " (", last >= first ? "+" : "",
                    last - first, ")\n");
    std::vector<std::string> repeated;
    for (const auto& [rule, entry] : rules) {
      if (std::get<1>(entry) >= 2) {
        repeated.push_back(absl::StrCat(rule, " (", std::get<0>(entry), ") in ", std::get<1>(entry), " of ", end - begin,
                                        " runs"));
      }
    }
    absl::StrAppend(&out, "  repeated violations: ", repeated.empty() ? "none" : "", "\n");
    for (const std::string& r : repeated) absl::StrAppend(&out, "    ", r, "\n");
    std::vector<std::string> step_totals;
    for (const auto& [step, counts] : steps) {
      step_totals.push_back(absl::StrCat(ShortStepName(step), " ", counts.first, "/", counts.second));
    }
    absl::StrAppend(&out, "  steps done (of runs requiring them): ",
                    step_totals.empty() ? "none required" : absl::StrJoin(step_totals, ", "), "\n");
    begin = end;
  }
  return out;
}

}  // namespace callguard::cli
