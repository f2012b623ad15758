#ifndef CALLGUARD_CLI_SCORECARD_H_
#define CALLGUARD_CLI_SCORECARD_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/guard.pb.h"
#include "callguard/v1/training.pb.h"

namespace callguard::cli {

// The score of a training call (docs/training.md):
//   score = max(0, 100 - sum of violation penalties - 10 per required step not done)
// with a penalty per alert by severity: critical 30, high 20, medium 10, low 5. NO_VIOLATION
// is not penalized again as a step: its violations already are.
inline constexpr int kFullScore = 100;
inline constexpr int kMissingStepPenalty = 10;
int SeverityPenalty(v1::Severity severity);

// Fills score, violation_penalty and missing_step_penalty from violations and steps.
void ScoreScorecard(v1::Scorecard* card);

// The protobuf JSON mapping, pretty-printed; and back (unknown fields are errors).
std::string ScorecardToJson(const v1::Scorecard& card);
absl::StatusOr<v1::Scorecard> ScorecardFromJson(absl::string_view json, absl::string_view name);
absl::Status WriteScorecardFile(const std::string& path, const v1::Scorecard& card);
absl::StatusOr<v1::Scorecard> ReadScorecardFile(const std::string& path);

// How a step reads on the scorecard: "identified yourself (name and organization)".
std::string StepDescription(v1::RequiredStep step);

// An alert as shown inline on a training call and on the scorecard: rule, words, regulation,
// better phrasing. ANSI colors only with `color`.
std::string FormatAlert(const v1::Alert& alert, bool color);

// The end-of-call scorecard as text.
std::string FormatScorecard(const v1::Scorecard& card, bool color);

// Several runs (any order), per trainee in time order: score trend, repeated violations
// (rules broken in more than one run) and how often each step was done.
std::string FormatScorecardComparison(std::vector<v1::Scorecard> cards);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_SCORECARD_H_
