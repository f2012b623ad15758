#include "judge_utterance.h"

#include <chrono>
#include <utility>
#include <vector>

namespace callguard {

absl::StatusOr<v1::Verdict> JudgeUtterance(CallSession& session, CallRecorder& recorder,
                                           const v1::Utterance& utterance) {
  const auto eval_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<v1::Alert>> alerts = session.OnUtterance(utterance);
  const int64_t eval_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - eval_start).count();
  if (!alerts.ok()) return alerts.status();
  // The session numbers utterances (interim updates keep their utterance's turn).
  const int32_t turn = session.last_turn();
  recorder.OnUtterance(session, utterance, turn, eval_ns, *alerts);
  v1::Verdict verdict;
  verdict.set_utterance_id(utterance.utterance_id());
  verdict.set_turn(turn);
  verdict.set_is_final(utterance.is_final());
  verdict.set_eval_ns(eval_ns);
  verdict.mutable_alerts()->Reserve(static_cast<int>(alerts->size()));
  for (v1::Alert& alert : *alerts) *verdict.add_alerts() = std::move(alert);
  return verdict;
}

}  // namespace callguard
