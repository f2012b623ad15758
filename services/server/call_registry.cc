#include "call_registry.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "status_util.h"

namespace callguard {

CallRegistry::CallRegistry(Options options) : options_([&] {
  if (!options.clock) options.clock = [] { return absl::Now(); };
  return std::move(options);
}()) {
  if (options_.sweep_interval > absl::ZeroDuration()) sweeper_ = std::thread([this] { SweepLoop(); });
}

CallRegistry::~CallRegistry() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
}

absl::StatusOr<CallRegistry::Ticket> CallRegistry::Register(const std::string& call_id,
                                                            IdleCallback on_idle) {
  if (call_id.empty()) return InvalidField("start.call_id", "must not be empty");
  absl::MutexLock lock(&mu_);
  if (calls_.contains(call_id)) {
    return FieldError(absl::StatusCode::kAlreadyExists, "start.call_id",
                      absl::StrCat("call \"", call_id, "\" is already active on another stream"));
  }
  if (calls_.size() >= options_.max_active_calls) {
    return FieldError(absl::StatusCode::kResourceExhausted, "start",
                      absl::StrCat("too many active calls (limit ", options_.max_active_calls, ")"));
  }
  const Ticket ticket = next_ticket_++;
  calls_.emplace(call_id, Entry{ticket, options_.clock(), std::move(on_idle)});
  return ticket;
}

void CallRegistry::Touch(const std::string& call_id, Ticket ticket) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(call_id);
  if (it != calls_.end() && it->second.ticket == ticket) it->second.last_event = options_.clock();
}

void CallRegistry::Unregister(const std::string& call_id, Ticket ticket) {
  IdleCallback released;  // destroyed outside the lock: it may own the stream's state
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(call_id);
  if (it != calls_.end() && it->second.ticket == ticket) {
    released = std::move(it->second.on_idle);
    calls_.erase(it);
  }
}

int CallRegistry::SweepIdle() {
  std::vector<IdleCallback> dropped;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = options_.clock();
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (now - it->second.last_event > options_.idle_timeout) {
        dropped.push_back(std::move(it->second.on_idle));
        calls_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& on_idle : dropped) {
    if (on_idle) on_idle();
  }
  return static_cast<int>(dropped.size());
}

size_t CallRegistry::active_calls() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

void CallRegistry::SweepLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.sweep_interval);
      if (stopping_) return;
    }
    SweepIdle();
  }
}

}  // namespace callguard
