#ifndef CALLGUARD_ENGINE_SCORER_H_
#define CALLGUARD_ENGINE_SCORER_H_

#include <map>
#include <string>
#include <vector>

#include "callguard/v1/guard.pb.h"
#include "callguard/v1/transcript.pb.h"

namespace callguard {

struct KindScore {
  int true_positives = 0;
  int false_positives = 0;
  int false_negatives = 0;
  double precision() const;  // 1.0 when nothing was alerted
  double recall() const;     // 1.0 when nothing was expected
  double f1() const;
};

struct EvalReport {
  std::map<v1::ViolationKind, KindScore> by_kind;  // every kind, also those with no label
  int calls = 0;
  int compliant_calls = 0;
  int compliant_calls_with_alerts = 0;
  // "dev-en-007 turn 2 PROHIBITED_THREAT: missed" / "... false alarm", for policy authors.
  std::vector<std::string> mismatches;

  double compliant_alert_rate() const;  // compliant_calls_with_alerts / compliant_calls
  // Mean F1 of the four core kinds.
  double core_mean_f1() const;
};

// Scores alerts against a transcript's `expect` labels by FORMAT.md's rules: an alert is the
// triple (call, turn, kind), duplicates count once; for the two "missing ..." kinds an alert
// up to and including the next AGENT turn after the labelled one also matches.
class Scorer {
 public:
  void AddCall(const v1::Transcript& transcript, const std::vector<v1::Alert>& alerts);
  const EvalReport& report() const { return report_; }

 private:
  EvalReport report_;
};

// The table `callguard eval` prints (Markdown, one row per kind, then the headline figures).
std::string FormatReport(const EvalReport& report);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_SCORER_H_
