#ifndef CALLGUARD_SERVER_CONVERSE_DEPS_H_
#define CALLGUARD_SERVER_CONVERSE_DEPS_H_

#include <functional>

#include "absl/time/time.h"
#include "alert_store.h"
#include "call_registry.h"
#include "call_session.h"
#include "engine_holder.h"
#include "metrics.h"

namespace callguard {

// What every call stream (Converse, ConverseMany) shares; owned by the server, outlives every
// stream.
struct ConverseDeps {
  EngineHolder* engines = nullptr;
  CallRegistry* registry = nullptr;
  CallLimits limits;
  std::function<absl::Time()> clock;
  AlertStore* store = nullptr;  // optional: every call is recorded there (CallRecorder)
  MetricsRegistry* metrics = nullptr;  // optional: calls, utterances, alerts counted there
  // How long a sequenced call whose stream broke waits in the registry to be resumed; zero:
  // a broken stream ends its call at once.
  absl::Duration resume_grace = absl::ZeroDuration();
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CONVERSE_DEPS_H_
