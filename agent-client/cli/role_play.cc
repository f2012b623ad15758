#include "role_play.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "scorecard.h"
#include "training_scenario.h"

namespace callguard::cli {
namespace {

constexpr int kDefaultMaxTurns = 30;
constexpr char kDefaultHangUpLine[] = "(hangs up)";

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

bool Has(const std::vector<v1::TraineeIntent>& intents, v1::TraineeIntent intent) {
  return std::find(intents.begin(), intents.end(), intent) != intents.end();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RolePlay>> RolePlay::Create(Options options) {
  if (options.engine == nullptr) return absl::InvalidArgumentError("no engine");
  const CompiledPolicy* policy = options.engine->FindPolicy(options.scenario.policy());
  if (policy == nullptr) return options.engine->UnknownPolicyError(options.scenario.policy(), "policy");
  auto play = std::unique_ptr<RolePlay>(new RolePlay());
  play->engine_ = options.engine;
  play->scenario_ = std::move(options.scenario);
  play->trainee_ = std::move(options.trainee);
  play->clock_ = options.clock ? std::move(options.clock) : [] { return absl::Now(); };
  play->started_ = play->clock_();

  absl::StatusOr<IntentDetector> detector = IntentDetector::Create(play->scenario_, *policy);
  if (!detector.ok()) return detector.status();
  play->detector_ = std::make_unique<IntentDetector>(*std::move(detector));

  for (const v1::ScenarioState& state : play->scenario_.states()) play->states_[state.name()] = &state;
  play->state_ = InitialState(play->scenario_);
  if (!play->states_.contains(play->state_)) {
    return absl::InvalidArgumentError(absl::StrCat("scenario ", play->scenario_.id(), ": no state '", play->state_, "'"));
  }

  CallSession::Options session_options;
  session_options.engine = play->engine_;
  session_options.start = play->scenario_.call();
  session_options.start.set_call_id(absl::StrCat("training-", play->scenario_.id()));
  session_options.start.set_policy(play->scenario_.policy());
  session_options.clock = play->clock_;
  absl::StatusOr<std::unique_ptr<CallSession>> session = CallSession::Create(std::move(session_options));
  if (!session.ok()) return session.status();
  play->session_ = *std::move(session);

  if (!play->scenario_.opening_line().empty()) {
    absl::Status fed = play->FeedCounterparty(play->scenario_.opening_line());
    if (!fed.ok()) return fed;
  }
  return play;
}

absl::Status RolePlay::FeedCounterparty(const std::string& text) {
  v1::Utterance u;
  u.set_utterance_id(absl::StrCat("c", counterparty_lines_++));
  u.set_speaker(v1::COUNTERPARTY);
  u.set_text(text);
  u.set_is_final(true);
  absl::StatusOr<std::vector<v1::Alert>> alerts = session_->OnUtterance(u);
  if (!alerts.ok()) return alerts.status();
  v1::TrainingTurn& turn = transcript_.emplace_back();
  turn.set_speaker(v1::COUNTERPARTY);
  turn.set_text(text);
  return absl::OkStatus();
}

const v1::Branch* RolePlay::ChooseBranch(const std::vector<v1::TraineeIntent>& intents) const {
  const v1::Branch* catch_all = nullptr;
  for (const v1::Branch& branch : states_.at(state_)->on()) {
    if (branch.intent() == v1::OTHER) {
      if (catch_all == nullptr) catch_all = &branch;
    } else if (Has(intents, branch.intent())) {
      return &branch;
    }
  }
  return catch_all;
}

absl::StatusOr<RolePlay::TurnResult> RolePlay::Say(absl::string_view line) {
  if (ended_) return absl::FailedPreconditionError("the call has ended");
  const std::string text(absl::StripAsciiWhitespace(line));
  if (text.empty()) return absl::InvalidArgumentError("empty line");

  const v1::Party party_before = session_->party();
  const bool identified_before = session_->agent_identified();
  const bool disclosed_before = session_->debt_collector_disclosed();
  v1::Utterance u;
  u.set_utterance_id(absl::StrCat("t", trainee_lines_));
  u.set_speaker(v1::AGENT);
  u.set_text(text);
  u.set_is_final(true);
  absl::StatusOr<std::vector<v1::Alert>> alerts = session_->OnUtterance(u);
  if (!alerts.ok()) return alerts.status();
  ++trainee_lines_;

  TurnResult result;
  result.alerts = *std::move(alerts);
  EngineFindings findings;
  findings.alerts = &result.alerts;
  findings.became_identified = !identified_before && session_->agent_identified();
  findings.became_disclosed = !disclosed_before && session_->debt_collector_disclosed();
  absl::StatusOr<std::vector<v1::TraineeIntent>> intents = detector_->Detect(text, findings);
  if (!intents.ok()) return intents.status();
  result.intents = *std::move(intents);

  if (Has(result.intents, v1::MENTIONED_DEBT) && !debt_mentioned_) {
    debt_mentioned_ = true;
    party_known_at_first_debt_ = party_before != v1::PARTY_UNKNOWN;
  }
  if (Has(result.intents, v1::ASKED_FOR_DEBTOR) && !debt_mentioned_) asked_before_debt_ = true;

  v1::TrainingTurn& turn = transcript_.emplace_back();
  turn.set_speaker(v1::AGENT);
  turn.set_text(text);
  for (v1::TraineeIntent i : result.intents) turn.add_intents(i);
  for (const v1::Alert& a : result.alerts) {
    *turn.add_alerts() = a;
    violations_.push_back(a);
  }

  const v1::Branch* branch = ChooseBranch(result.intents);
  const int max_turns = scenario_.max_turns() > 0 ? scenario_.max_turns() : kDefaultMaxTurns;
  if (branch != nullptr) {
    result.reply = branch->reply();
    result.hung_up = branch->hang_up();
    if (!branch->next().empty()) state_ = branch->next();
  } else {
    result.reply = states_.at(state_)->default_reply();
  }
  if (!result.hung_up && trainee_lines_ >= max_turns) {
    result.hung_up = true;
    result.reply = scenario_.hang_up_line().empty() ? kDefaultHangUpLine : scenario_.hang_up_line();
  }
  absl::Status fed = FeedCounterparty(result.reply);
  if (!fed.ok()) return fed;
  if (branch != nullptr && branch->has_party()) {
    v1::PartyUpdate update;
    update.set_party(branch->party());
    update.set_note("scenario");
    absl::Status updated = session_->OnPartyUpdate(update);
    if (!updated.ok()) return updated;
  }
  if (result.hung_up) {
    ended_ = true;
    end_reason_ = "the counterparty hung up";
  }
  return result;
}

v1::Scorecard RolePlay::Finish(absl::string_view end_reason) {
  if (!ended_) {
    ended_ = true;
    end_reason_ = std::string(end_reason);
  }
  v1::CallSummary summary = session_->End(end_reason_);
  const CompiledPolicy& policy = session_->policy();

  v1::Scorecard card;
  card.set_trainee(trainee_);
  card.set_scenario_id(scenario_.id());
  card.set_scenario_title(scenario_.title());
  card.set_policy_id(policy.id());
  card.set_policy_version(policy.version());
  *card.mutable_started() = ToProto(started_);
  *card.mutable_ended() = ToProto(clock_());
  card.set_end_reason(end_reason_);
  card.set_truth(scenario_.truth());
  card.set_party(summary.party());
  for (v1::TrainingTurn& t : transcript_) *card.add_transcript() = t;
  for (const v1::Alert& a : violations_) *card.add_violations() = a;

  auto required = [&](v1::RequiredStep step) {
    return std::find(scenario_.required_steps().begin(), scenario_.required_steps().end(), step) !=
           scenario_.required_steps().end();
  };
  const bool verified =
      asked_before_debt_ && (debt_mentioned_ ? party_known_at_first_debt_ : session_->party() != v1::PARTY_UNKNOWN);
  auto add_step = [&](v1::RequiredStep step, bool is_required, bool done) {
    v1::StepResult* r = card.add_steps();
    r->set_step(step);
    r->set_required(is_required);
    r->set_done(done);
  };
  add_step(v1::SELF_IDENTIFICATION, required(v1::SELF_IDENTIFICATION), summary.agent_identified());
  add_step(v1::PARTY_VERIFICATION, required(v1::PARTY_VERIFICATION), verified);
  add_step(v1::COLLECTOR_DISCLOSURE, required(v1::COLLECTOR_DISCLOSURE), summary.debt_collector_disclosed());
  add_step(v1::NO_VIOLATION, true, violations_.empty());
  ScoreScorecard(&card);
  return card;
}

absl::StatusOr<v1::Scorecard> AutoPlay(std::shared_ptr<const Engine> engine, const v1::Scenario& scenario,
                                       const v1::ScriptedRun& run) {
  RolePlay::Options options;
  options.engine = std::move(engine);
  options.scenario = scenario;
  options.trainee = "scripted";
  absl::StatusOr<std::unique_ptr<RolePlay>> play = RolePlay::Create(std::move(options));
  if (!play.ok()) return play.status();
  for (int i = 0; i < run.lines_size(); ++i) {
    if ((*play)->ended()) {
      return absl::FailedPreconditionError(
          absl::StrCat("line ", i + 1, " (\"", run.lines(i), "\") comes after the counterparty hung up"));
    }
    absl::StatusOr<RolePlay::TurnResult> turn = (*play)->Say(run.lines(i));
    if (!turn.ok()) return absl::InvalidArgumentError(absl::StrCat("line ", i + 1, ": ", turn.status().message()));
  }
  return (*play)->Finish("end of the scripted run");
}

std::vector<std::string> CheckScriptedRuns(std::shared_ptr<const Engine> engine, const v1::Scenario& scenario) {
  std::vector<std::string> problems;
  if (!scenario.example_run().lines().empty()) {
    absl::StatusOr<v1::Scorecard> card = AutoPlay(engine, scenario, scenario.example_run());
    if (!card.ok()) {
      problems.push_back(absl::StrCat("example_run: ", card.status().message()));
    } else {
      for (const v1::Alert& a : card->violations()) {
        const std::string said = a.turn() < card->transcript_size() ? card->transcript(a.turn()).text() : "";
        problems.push_back(absl::StrCat("example_run: ", v1::ViolationKind_Name(a.violation()), " (", a.rule_id(),
                                        ") on \"", said, "\""));
      }
      for (const v1::StepResult& s : card->steps()) {
        if (s.required() && !s.done() && s.step() != v1::NO_VIOLATION) {
          problems.push_back(absl::StrCat("example_run: required step ", v1::RequiredStep_Name(s.step()), " not done"));
        }
      }
      // The replies must let the guard tell who answered, or the scenario teaches nothing
      // about verification.
      if (card->party() != scenario.truth()) {
        problems.push_back(absl::StrCat("example_run: the guard concluded ", v1::Party_Name(card->party()),
                                        " is on the line, but the scenario's truth is ", v1::Party_Name(scenario.truth())));
      }
    }
  }
  for (int i = 0; i < scenario.bad_runs_size(); ++i) {
    const v1::ScriptedRun& run = scenario.bad_runs(i);
    absl::StatusOr<v1::Scorecard> card = AutoPlay(engine, scenario, run);
    if (!card.ok()) {
      problems.push_back(absl::StrCat("bad_runs[", i, "]: ", card.status().message()));
      continue;
    }
    for (int kind : run.expect()) {
      const bool raised = std::any_of(card->violations().begin(), card->violations().end(),
                                      [&](const v1::Alert& a) { return a.violation() == kind; });
      if (!raised) {
        std::string got;
        for (const v1::Alert& a : card->violations()) absl::StrAppend(&got, got.empty() ? "" : ", ", a.rule_id());
        problems.push_back(absl::StrCat("bad_runs[", i, "]: expected ", v1::ViolationKind_Name(static_cast<v1::ViolationKind>(kind)),
                                        ", got [", got, "]"));
      }
    }
  }
  return problems;
}

}  // namespace callguard::cli
