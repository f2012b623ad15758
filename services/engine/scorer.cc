#include "scorer.h"

#include <algorithm>
#include <climits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace callguard {
namespace {

constexpr v1::ViolationKind kCoreKinds[] = {v1::MISSING_SELF_IDENTIFICATION, v1::THIRD_PARTY_DISCLOSURE,
                                            v1::PROHIBITED_THREAT, v1::NEW_DEBT_INDUCEMENT};

// A guard may only conclude that something was NOT said once the turn is over, so these kinds
// may be raised late (FORMAT.md "Scoring").
bool MayBeRaisedLate(v1::ViolationKind kind) {
  return kind == v1::MISSING_SELF_IDENTIFICATION || kind == v1::MISSING_DEBT_COLLECTOR_DISCLOSURE;
}

// The last turn whose alert still matches a label on `turn`: the next AGENT turn after it for
// the late kinds (or the rest of the call if the agent never speaks again), else `turn` itself.
int WindowEnd(const v1::Transcript& t, int turn, v1::ViolationKind kind) {
  if (!MayBeRaisedLate(kind)) return turn;
  for (int i = turn + 1; i < t.turns_size(); ++i) {
    if (t.turns(i).speaker() == v1::AGENT) return i;
  }
  return INT_MAX;
}

// Cuts on a UTF-8 character boundary so a Chinese turn is never split mid-character.
std::string Truncate(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

std::string TurnQuote(const v1::Transcript& t, int turn) {
  if (turn < 0 || turn >= t.turns_size()) return "(no such turn)";
  const v1::Turn& tr = t.turns(turn);
  return absl::StrCat(v1::Speaker_Name(tr.speaker()), ": \"", Truncate(tr.text(), 120), "\"");
}

double Ratio(int num, int den) { return den == 0 ? 1.0 : static_cast<double>(num) / den; }

}  // namespace

double KindScore::precision() const { return Ratio(true_positives, true_positives + false_positives); }
double KindScore::recall() const { return Ratio(true_positives, true_positives + false_negatives); }
double KindScore::f1() const {
  const double p = precision(), r = recall();
  return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
}

double EvalReport::compliant_alert_rate() const {
  return compliant_calls == 0 ? 0.0 : static_cast<double>(compliant_calls_with_alerts) / compliant_calls;
}

double EvalReport::core_mean_f1() const {
  double sum = 0;
  for (v1::ViolationKind kind : kCoreKinds) {
    auto it = by_kind.find(kind);
    sum += it == by_kind.end() ? KindScore{}.f1() : it->second.f1();
  }
  return sum / std::size(kCoreKinds);
}

void Scorer::AddCall(const v1::Transcript& transcript, const std::vector<v1::Alert>& alerts) {
  for (int k = v1::MISSING_SELF_IDENTIFICATION; k <= v1::MISSING_DEBT_COLLECTOR_DISCLOSURE; ++k) {
    report_.by_kind.try_emplace(static_cast<v1::ViolationKind>(k));
  }
  ++report_.calls;

  // The call is the transcript's, so an alert is scored as its (turn, kind) pair; the set
  // drops duplicates, which count once.
  std::map<v1::ViolationKind, std::set<int>> alerted;  // kind -> turns
  std::map<std::pair<int, v1::ViolationKind>, std::string> rule_of;
  for (const v1::Alert& a : alerts) {
    alerted[a.violation()].insert(a.turn());
    rule_of.try_emplace({a.turn(), a.violation()}, a.rule_id());
  }
  std::map<v1::ViolationKind, std::set<int>> expected;
  for (const v1::ExpectedViolation& e : transcript.expect()) expected[e.violation()].insert(e.turn());

  if (transcript.expect_size() == 0) {
    ++report_.compliant_calls;
    if (!alerts.empty()) ++report_.compliant_calls_with_alerts;
  }

  // Sorted by turn so a policy author reads the call in order.
  std::vector<std::pair<std::pair<int, v1::ViolationKind>, std::string>> mismatches;
  std::set<v1::ViolationKind> kinds;
  for (const auto& [kind, turns] : alerted) kinds.insert(kind);
  for (const auto& [kind, turns] : expected) kinds.insert(kind);

  for (v1::ViolationKind kind : kinds) {
    KindScore& score = report_.by_kind[kind];
    std::set<int> unmatched_alerts = alerted[kind];
    // Windows [turn, end] sorted by end, each taking the earliest free alert inside it: the
    // classic greedy that matches as many interval/point pairs as possible, one to one. An
    // alert on the labelled turn itself is the earliest, so it wins when present.
    std::vector<std::pair<int, int>> windows;  // (end, turn)
    for (int turn : expected[kind]) windows.emplace_back(WindowEnd(transcript, turn, kind), turn);
    std::sort(windows.begin(), windows.end());
    const std::string kind_name = v1::ViolationKind_Name(kind);
    for (const auto& [end, turn] : windows) {
      auto it = unmatched_alerts.lower_bound(turn);
      if (it != unmatched_alerts.end() && *it <= end) {
        ++score.true_positives;
        unmatched_alerts.erase(it);
        continue;
      }
      ++score.false_negatives;
      mismatches.push_back({{turn, kind}, absl::StrCat(transcript.call_id(), " turn ", turn, " ", kind_name,
                                                ": missed | ", TurnQuote(transcript, turn))});
    }
    for (int turn : unmatched_alerts) {
      ++score.false_positives;
      const std::string& rule = rule_of[{turn, kind}];
      mismatches.push_back({{turn, kind}, absl::StrCat(transcript.call_id(), " turn ", turn, " ", kind_name,
                                                       ": false alarm",
                                                       rule.empty() ? "" : absl::StrCat(" (rule ", rule, ")"),
                                                       " | ", TurnQuote(transcript, turn))});
    }
  }
  std::stable_sort(mismatches.begin(), mismatches.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& m : mismatches) report_.mismatches.push_back(std::move(m.second));
}

std::string FormatReport(const EvalReport& report) {
  std::string out =
      "| kind | expected | alerts | TP | FP | FN | precision | recall | F1 |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& [kind, s] : report.by_kind) {
    absl::StrAppendFormat(&out, "| %s | %d | %d | %d | %d | %d | %.3f | %.3f | %.3f |\n",
                          v1::ViolationKind_Name(kind), s.true_positives + s.false_negatives,
                          s.true_positives + s.false_positives, s.true_positives, s.false_positives,
                          s.false_negatives, s.precision(), s.recall(), s.f1());
  }
  absl::StrAppendFormat(&out, "\ncalls: %d\n", report.calls);
  absl::StrAppendFormat(&out, "core mean F1: %.3f\n", report.core_mean_f1());
  absl::StrAppendFormat(&out, "compliant calls with any alert: %d/%d (%.1f%%)\n",
                        report.compliant_calls_with_alerts, report.compliant_calls,
                        100.0 * report.compliant_alert_rate());
  return out;
}

}  // namespace callguard
