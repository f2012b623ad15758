#ifndef CALLGUARD_SERVER_JUDGE_UTTERANCE_H_
#define CALLGUARD_SERVER_JUDGE_UTTERANCE_H_

#include "absl/status/statusor.h"
#include "call_recorder.h"
#include "call_session.h"
#include "callguard/v1/guard.pb.h"

namespace callguard {

// What every transport (the Converse stream, the webhook) does with one utterance: the call's
// session judges it, timed; the recorder stores it; the answer is its Verdict (utterance id,
// turn, final or not, the alerts raised, the engine's time). An utterance the session refuses
// comes back as the session's status and is not recorded. The caller holds the call's lock.
absl::StatusOr<v1::Verdict> JudgeUtterance(CallSession& session, CallRecorder& recorder,
                                           const v1::Utterance& utterance);

}  // namespace callguard

#endif  // CALLGUARD_SERVER_JUDGE_UTTERANCE_H_
