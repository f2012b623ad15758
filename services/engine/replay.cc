#include "replay.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "call_session.h"
#include "normalizer.h"
#include "transcript_io.h"

namespace callguard {
namespace {

// Cut points for interim results: after every word (Latin) or every few characters (CJK).
std::vector<size_t> InterimCuts(absl::string_view text) {
  std::vector<size_t> cuts;
  size_t pos = 0;
  int cjk_run = 0;
  while (pos < text.size()) {
    const size_t before = pos;
    const uint32_t cp = DecodeUtf8(text, &pos);
    if (cp == ' ' && before > 0) {
      cuts.push_back(before);
    } else if (IsCjkCodePoint(cp) && ++cjk_run % 4 == 0) {
      cuts.push_back(pos);
    }
  }
  return cuts;
}

}  // namespace

std::vector<v1::Utterance> UtterancesForTurn(const v1::Transcript& transcript, int turn, const ReplayOptions& options) {
  std::vector<v1::Utterance> out;
  const v1::Turn& t = transcript.turns(turn);
  auto make = [&](absl::string_view text, bool final) {
    v1::Utterance u;
    u.set_utterance_id(absl::StrCat("u", turn));
    u.set_speaker(t.speaker());
    u.set_text(std::string(text));
    u.set_is_final(final);
    // A nominal 3 s per turn keeps offsets plausible for tools that show them.
    u.set_start_ms(static_cast<int64_t>(turn) * 3000);
    u.set_end_ms(static_cast<int64_t>(turn) * 3000 + 2500);
    out.push_back(std::move(u));
  };
  if (options.interim_results) {
    for (size_t cut : InterimCuts(t.text())) {
      if (cut < t.text().size()) make(absl::string_view(t.text()).substr(0, cut), false);
    }
  }
  make(t.text(), true);
  return out;
}

absl::StatusOr<std::vector<v1::Alert>> ReplayTranscript(std::shared_ptr<const Engine> engine,
                                                        const v1::Transcript& transcript,
                                                        const ReplayOptions& options) {
  CallSession::Options session_options;
  session_options.engine = std::move(engine);
  session_options.start = CallStartFromTranscript(transcript);
  auto session = CallSession::Create(std::move(session_options));
  if (!session.ok()) return session.status();
  std::vector<v1::Alert> alerts;
  for (int turn = 0; turn < transcript.turns_size(); ++turn) {
    for (const v1::Utterance& u : UtterancesForTurn(transcript, turn, options)) {
      auto raised = (*session)->OnUtterance(u);
      if (!raised.ok()) {
        return absl::Status(raised.status().code(), absl::StrCat(transcript.call_id(), " turn ", turn, ": ",
                                                                 raised.status().message()));
      }
      for (auto& a : *raised) alerts.push_back(std::move(a));
    }
  }
  (*session)->End("replay");
  return alerts;
}

}  // namespace callguard
