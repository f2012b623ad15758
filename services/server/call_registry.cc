#include "call_registry.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "status_util.h"

namespace callguard {
namespace {

constexpr absl::string_view kNotResumed = "stream broken, not resumed";

}  // namespace

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

void CallRegistry::Close(absl::string_view reason) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  std::vector<std::unique_ptr<Parked>> ended;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (it->second.parked != nullptr) {
        ended.push_back(std::move(it->second.parked));
        calls_.erase(it++);
      } else {
        ++it;
      }
    }
    parked_count_ = 0;
  }
  for (auto& parked : ended) parked->End(reason);
}

absl::StatusOr<CallRegistry::Ticket> CallRegistry::Register(const std::string& call_id,
                                                            IdleCallback on_idle,
                                                            TakeoverCallback on_takeover) {
  if (call_id.empty()) return InvalidField("start.call_id", "must not be empty");
  absl::MutexLock lock(&mu_);
  if (auto it = calls_.find(call_id); it != calls_.end()) {
    return FieldError(absl::StatusCode::kAlreadyExists, "start.call_id",
                      absl::StrCat("call \"", call_id, "\" is already ",
                                   it->second.parked != nullptr
                                       ? "parked after a broken stream (resume it with start.resume)"
                                       : "active on another stream"));
  }
  if (calls_.size() >= options_.max_active_calls) {
    return FieldError(absl::StatusCode::kResourceExhausted, "start",
                      absl::StrCat("too many active calls (limit ", options_.max_active_calls, ")"));
  }
  const Ticket ticket = next_ticket_++;
  Entry& entry = calls_[call_id];
  entry.ticket = ticket;
  entry.last_event = options_.clock();
  entry.on_idle = std::move(on_idle);
  entry.on_takeover = std::move(on_takeover);
  return ticket;
}

std::unique_ptr<CallRegistry::Parked> CallRegistry::Park(const std::string& call_id, Ticket ticket,
                                                         std::unique_ptr<Parked> parked,
                                                         absl::Duration grace) {
  IdleCallback released_idle;  // destroyed outside the lock
  TakeoverCallback released_takeover;
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(call_id);
  if (it == calls_.end() || it->second.ticket != ticket || it->second.parked != nullptr) return parked;
  Entry& entry = it->second;
  released_idle = std::move(entry.on_idle);
  released_takeover = std::move(entry.on_takeover);
  entry.on_idle = nullptr;
  entry.on_takeover = nullptr;
  entry.parked = std::move(parked);
  entry.resume_deadline = options_.clock() + grace;
  ++parked_count_;
  return nullptr;
}

absl::StatusOr<CallRegistry::Resumption> CallRegistry::Resume(const std::string& call_id,
                                                               IdleCallback on_idle,
                                                               TakeoverCallback on_takeover) {
  if (call_id.empty()) return InvalidField("start.call_id", "must not be empty");
  const auto not_found = [&] {
    return FieldError(absl::StatusCode::kNotFound, "start.resume",
                      absl::StrCat("no call \"", call_id,
                                   "\" is waiting to be resumed: it never started, it ended, or "
                                   "its resume grace ran out"));
  };
  for (int attempt = 0;; ++attempt) {
    TakeoverCallback takeover;
    {
      absl::MutexLock lock(&mu_);
      auto it = calls_.find(call_id);
      if (it == calls_.end()) return not_found();
      Entry& entry = it->second;
      if (entry.parked != nullptr) {
        Resumption resumption;
        resumption.ticket = next_ticket_++;
        resumption.parked = std::move(entry.parked);
        --parked_count_;
        entry.ticket = resumption.ticket;
        entry.last_event = options_.clock();
        entry.on_idle = std::move(on_idle);
        entry.on_takeover = std::move(on_takeover);
        return resumption;
      }
      if (attempt > 0 || !entry.on_takeover) {
        return FieldError(absl::StatusCode::kUnavailable, "start.resume",
                          absl::StrCat("call \"", call_id,
                                       "\" is still attached to a stream that would not let go; "
                                       "retry"));
      }
      takeover = entry.on_takeover;  // a copy: the entry may change once the lock is released
    }
    takeover();
  }
}

void CallRegistry::Touch(const std::string& call_id, Ticket ticket) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(call_id);
  if (it != calls_.end() && it->second.ticket == ticket) it->second.last_event = options_.clock();
}

void CallRegistry::Unregister(const std::string& call_id, Ticket ticket) {
  IdleCallback released;  // destroyed outside the lock: it may own the stream's state
  TakeoverCallback released_takeover;
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(call_id);
  if (it != calls_.end() && it->second.ticket == ticket && it->second.parked == nullptr) {
    released = std::move(it->second.on_idle);
    released_takeover = std::move(it->second.on_takeover);
    calls_.erase(it);
  }
}

int CallRegistry::SweepIdle() {
  std::vector<IdleCallback> dropped;
  std::vector<std::unique_ptr<Parked>> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = options_.clock();
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (it->second.parked != nullptr) {
        if (now >= it->second.resume_deadline) {
          expired.push_back(std::move(it->second.parked));
          --parked_count_;
          calls_.erase(it++);
        } else {
          ++it;
        }
      } else if (now - it->second.last_event > options_.idle_timeout) {
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
  for (auto& parked : expired) parked->End(kNotResumed);
  return static_cast<int>(dropped.size() + expired.size());
}

size_t CallRegistry::active_calls() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

size_t CallRegistry::parked_calls() const {
  absl::MutexLock lock(&mu_);
  return parked_count_;
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
