#ifndef CALLGUARD_CLI_ROLE_PLAY_H_
#define CALLGUARD_CLI_ROLE_PLAY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "call_session.h"
#include "callguard/v1/training.pb.h"
#include "engine.h"
#include "trainee_intents.h"

namespace callguard::cli {

// One training call: the trainee's lines go through a real CallSession of the scenario's
// policy (as a live call's would), and the scripted counterparty answers from the scenario's
// state machine. Its replies are fed to the session too, so that the engine infers who is on
// the line from them as it does on a live call. Not thread-safe.
class RolePlay {
 public:
  struct Options {
    std::shared_ptr<const Engine> engine;
    v1::Scenario scenario;  // should have passed ValidateScenario()
    std::string trainee;
    std::function<absl::Time()> clock;  // default absl::Now
  };

  struct TurnResult {
    std::vector<v1::Alert> alerts;  // raised on the trainee's line
    std::vector<v1::TraineeIntent> intents;
    std::string reply;  // the counterparty's answer
    bool hung_up = false;
  };

  // Fails if the policy is unknown, a named phrase set is missing or the call start is invalid.
  static absl::StatusOr<std::unique_ptr<RolePlay>> Create(Options options);

  // What the counterparty said on picking up (already fed to the session).
  const std::string& opening_line() const { return scenario_.opening_line(); }

  // Judges one trainee line and answers it. Errors (empty or over-long text, a call already
  // ended) leave the call as it was.
  absl::StatusOr<TurnResult> Say(absl::string_view line);

  bool ended() const { return ended_; }
  const std::string& state() const { return state_; }
  const v1::Scenario& scenario() const { return scenario_; }
  const CallSession& session() const { return *session_; }

  // Ends the call (if the counterparty has not hung up) and scores it.
  v1::Scorecard Finish(absl::string_view end_reason);

 private:
  RolePlay() = default;
  absl::Status FeedCounterparty(const std::string& text);
  // The first branch whose intent the line shows; else the state's first OTHER branch (a
  // catch-all that, unlike default_reply, may move on or hang up); else none.
  const v1::Branch* ChooseBranch(const std::vector<v1::TraineeIntent>& intents) const;

  std::shared_ptr<const Engine> engine_;
  v1::Scenario scenario_;
  std::string trainee_;
  std::function<absl::Time()> clock_;
  absl::Time started_;
  std::unique_ptr<CallSession> session_;
  std::unique_ptr<IntentDetector> detector_;
  absl::flat_hash_map<std::string, const v1::ScenarioState*> states_;
  std::string state_;
  int trainee_lines_ = 0;
  int counterparty_lines_ = 0;
  bool ended_ = false;
  std::string end_reason_;

  // Party verification: asked for the debtor before any debt mention, and the party known
  // when the debt was first mentioned (or by the end, if it never was).
  bool asked_before_debt_ = false;
  bool debt_mentioned_ = false;
  bool party_known_at_first_debt_ = false;

  std::vector<v1::TrainingTurn> transcript_;
  std::vector<v1::Alert> violations_;
};

// Plays a scripted run (the scenario's example_run or a bad run) line by line and scores it.
// Fails if a line is refused or comes after the counterparty hung up.
absl::StatusOr<v1::Scorecard> AutoPlay(std::shared_ptr<const Engine> engine, const v1::Scenario& scenario,
                                       const v1::ScriptedRun& run);

// Plays the example run (must end with no violation, every required step done, and the guard
// knowing who answered, as the scenario's `truth` says) and each bad run (must raise every
// kind it expects). Returns what went wrong; empty when all is well.
std::vector<std::string> CheckScriptedRuns(std::shared_ptr<const Engine> engine, const v1::Scenario& scenario);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_ROLE_PLAY_H_
