#ifndef CALLGUARD_ENGINE_REPLAY_H_
#define CALLGUARD_ENGINE_REPLAY_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "callguard/v1/guard.pb.h"
#include "callguard/v1/transcript.pb.h"
#include "engine.h"

namespace callguard {

struct ReplayOptions {
  // Also send growing interim results of each turn (word by word) before the final one, as a
  // recognizer would.
  bool interim_results = false;
};

// The utterance events a dialer would send for a transcript turn: utterance id "u<turn>".
std::vector<v1::Utterance> UtterancesForTurn(const v1::Transcript& transcript, int turn,
                                             const ReplayOptions& options);

// Runs a labelled call through a fresh CallSession on `engine` and returns its alerts.
absl::StatusOr<std::vector<v1::Alert>> ReplayTranscript(std::shared_ptr<const Engine> engine,
                                                        const v1::Transcript& transcript,
                                                        const ReplayOptions& options = {});

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_REPLAY_H_
