#include "call_state.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace callguard::client::internal {
namespace {

absl::Status StatusOfError(const v1::EventError& error) {
  const auto code = static_cast<absl::StatusCode>(error.code());
  if (error.field().empty() || absl::StartsWith(error.message(), error.field())) {
    return absl::Status(code, error.message());
  }
  return absl::Status(code, absl::StrCat(error.field(), ": ", error.message()));
}

}  // namespace

absl::Duration Jittered(absl::Duration delay) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return delay * factor(random);
}

absl::Duration BackoffDelay(const CallguardClient::Options& options, int failures) {
  absl::Duration delay = options.initial_backoff;
  for (int i = 0; i < failures && delay < options.max_backoff; ++i) delay *= 2;
  return std::min(delay, options.max_backoff);
}

bool AwaitUntilByClock(absl::Mutex& mu, const absl::Condition& condition, absl::Time deadline,
                       const std::function<absl::Time()>& clock) {
  while (!condition.Eval()) {
    const absl::Duration left = deadline - clock();
    if (left <= absl::ZeroDuration()) return false;
    mu.AwaitWithTimeout(condition, std::min(left, absl::Milliseconds(50)));
  }
  return true;
}

CallState::CallState(const CallguardClient::Options& options, v1::CallStart start, CallCallbacks callbacks)
    : options_(options), start_(std::move(start)), callbacks_(std::move(callbacks)) {}

absl::Status CallState::AwaitOpen() {
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return start_accepted_ || !fatal_.ok(); };
  AwaitUntil(absl::Condition(&settled), options_.clock() + options_.open_timeout);
  if (!fatal_.ok()) return fatal_;
  if (!start_accepted_) {
    return absl::UnavailableError(absl::StrCat("callguard at ", options_.target, " did not accept call \"",
                                               start_.call_id(), "\" within ",
                                               absl::FormatDuration(options_.open_timeout)));
  }
  return absl::OkStatus();
}

absl::Status CallState::Enqueue(v1::CallEvent event) {
  {
    absl::MutexLock lock(&mu_);
    if (!fatal_.ok()) return fatal_;
    if (ended_ || summary_.has_value() || closing_ || abandoned_) {
      return absl::FailedPreconditionError(
          absl::StrCat("call \"", start_.call_id(), "\" has ended; open a new call"));
    }
    if (unacked_.size() >= options_.max_buffered_events) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "call \"", start_.call_id(), "\": ", unacked_.size(),
          " events are waiting for the server (max_buffered_events); the connection is down"));
    }
    event.set_seq(next_seq_++);
    unacked_.push_back(std::move(event));
  }
  Wake();
  return absl::OkStatus();
}

bool CallState::QueueEndLocked(absl::string_view reason) {
  if (ended_ || summary_.has_value()) return false;
  // Never refused for a full buffer: the end must get through.
  v1::CallEvent event;
  event.mutable_end()->set_reason(std::string(reason));
  event.set_seq(next_seq_++);
  unacked_.push_back(std::move(event));
  ended_ = true;
  return true;
}

absl::StatusOr<v1::CallSummary> CallState::End(absl::string_view reason, absl::Duration timeout) {
  bool queued = false;
  {
    absl::MutexLock lock(&mu_);
    if (!fatal_.ok()) return fatal_;
    queued = QueueEndLocked(reason);
  }
  if (queued) Wake();  // outside the lock: a shared stream's lock comes before a call's
  absl::MutexLock lock(&mu_);
  auto over = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return summary_.has_value() || !fatal_.ok() || closing_;
  };
  AwaitUntil(absl::Condition(&over), options_.clock() + timeout);
  if (summary_.has_value()) return *summary_;
  if (!fatal_.ok()) return fatal_;
  return absl::DeadlineExceededError(absl::StrCat("no summary for call \"", start_.call_id(), "\" within ",
                                                  absl::FormatDuration(timeout)));
}

absl::Status CallState::status() const {
  absl::MutexLock lock(&mu_);
  return fatal_;
}

CallHandle::Stats CallState::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void CallState::Close() {
  absl::MutexLock lock(&mu_);
  closing_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

void CallState::Abandon(absl::string_view reason) {
  bool queued = false;
  {
    absl::MutexLock lock(&mu_);
    abandoned_ = true;
    if (fatal_.ok()) queued = QueueEndLocked(reason);
    // A callback running on the stream's reader thread may still use what the handle's owner
    // is about to free.
    mu_.Await(absl::Condition(
        +[](int* delivering) { return *delivering == 0; }, &delivering_));
  }
  if (queued) Wake();
}

bool CallState::abandoned() const {
  absl::MutexLock lock(&mu_);
  return abandoned_;
}

bool CallState::Over() const {
  absl::MutexLock lock(&mu_);
  return OverLocked();
}

void CallState::TrimLocked(uint64_t applied) {
  last_acked_ = std::max(last_acked_, applied);
  while (!unacked_.empty() && unacked_.front().seq() <= last_acked_) unacked_.pop_front();
}

bool CallState::BeginHandshake(v1::CallEvent* first, grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  // An abandoned call is not started again nor resumed: nobody waits for its answers.
  if (OverLocked() || abandoned_) return false;
  const bool resume = start_sent_;
  *first->mutable_start() = start_;
  if (resume) {
    first->mutable_start()->set_resume(true);
    first->mutable_start()->set_last_received_seq(last_received_);
  } else {
    first->set_seq(1);
    start_sent_ = true;
    ++fresh_starts_;
  }
  if (handshakes_++ > 0) ++stats_.reconnects;
  resuming_ = resume;
  handshake_ = Handshake::kWaiting;
  stream_broken_ = false;
  context_ = context;
  return true;
}

CallState::Next CallState::AwaitHandshake(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto answered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return handshake_ != Handshake::kWaiting || stream_broken_ || OverLocked();
  };
  AwaitUntil(absl::Condition(&answered), deadline);
  if (OverLocked()) return Next::kOver;
  if (handshake_ == Handshake::kFailed) return refused_next_;
  if (handshake_ == Handshake::kDone && !stream_broken_) return Next::kSend;
  return Next::kBackoff;
}

std::optional<CallState::Next> CallState::HandshakeOutcome() const {
  absl::MutexLock lock(&mu_);
  if (OverLocked()) return Next::kOver;
  switch (handshake_) {
    case Handshake::kDone:
      return Next::kSend;
    case Handshake::kFailed:
      return refused_next_;
    case Handshake::kWaiting:
      break;
  }
  return std::nullopt;
}

CallState::Next CallState::SettleRefusalLocked(const absl::Status& error, std::optional<v1::EventError>* lost) {
  if (resuming_ && error.code() == absl::StatusCode::kNotFound) {
    if (!start_accepted_) {
      start_sent_ = false;  // the server never had it: start it afresh
      return Next::kRetryNow;
    }
    fatal_ = absl::NotFoundError(absl::StrCat("call \"", start_.call_id(),
                                              "\" could not be resumed after a broken stream: ", error.message()));
    lost->emplace();
    (*lost)->set_code(static_cast<int>(fatal_.code()));
    (*lost)->set_message(std::string(fatal_.message()));
    (*lost)->set_field("start.resume");
    return Next::kOver;
  }
  if (!resuming_ && error.code() == absl::StatusCode::kAlreadyExists && fresh_starts_ > 1) {
    return Next::kRetryNow;  // an earlier start did arrive: resume it
  }
  if (error.code() == absl::StatusCode::kUnavailable) return Next::kBackoff;
  fatal_ = error;  // a refused start (bad policy, duplicate id, ...)
  return Next::kOver;
}

bool CallState::TakeNextToSend(v1::CallEvent* event) {
  absl::MutexLock lock(&mu_);
  if (OverLocked() || stream_broken_ || handshake_ != Handshake::kDone) return false;
  const uint64_t want = NextWantedLocked();
  if (want >= next_seq_) return false;
  *event = unacked_[want - unacked_.front().seq()];
  // Counted as sent when taken: if the write fails the stream is broken, and the next
  // hand-shake says again what the server has.
  sent_upto_ = want;
  return true;
}

bool CallState::AwaitNextToSend(v1::CallEvent* event) {
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return OverLocked() || stream_broken_ || NextWantedLocked() < next_seq_;
    };
    mu_.Await(absl::Condition(&ready));
  }
  return TakeNextToSend(event);
}

void CallState::OnAnswer(const v1::GuardEvent& answer) {
  bool wake = false;
  bool deliver = false;
  std::optional<v1::EventError> lost;
  {
    absl::MutexLock lock(&mu_);
    if (answer.has_ack()) {
      TrimLocked(answer.ack().last_applied_seq());
      start_accepted_ = true;
      if (!resuming_ && handshake_ == Handshake::kWaiting) {
        handshake_ = Handshake::kDone;
        sent_upto_ = 1;
        wake = true;
      }
    } else if (answer.has_resumed()) {
      const uint64_t applied = answer.resumed().last_applied_seq();
      TrimLocked(applied);
      start_accepted_ = true;
      sent_upto_ = applied;
      if (next_seq_ - 1 > applied) stats_.resent_events += static_cast<int>(next_seq_ - 1 - applied);
      handshake_ = Handshake::kDone;
      wake = true;
    } else if (answer.seq() == 0 && answer.has_error() && handshake_ == Handshake::kWaiting &&
               absl::StartsWith(answer.error().field(), "start")) {
      handshake_ = Handshake::kFailed;
      refused_next_ = SettleRefusalLocked(StatusOfError(answer.error()), &lost);
      wake = true;
    } else {
      deliver = true;
      if (answer.seq() != 0) {
        if (answer.seq() <= last_received_) {
          ++stats_.duplicate_answers;
          return;
        }
        last_received_ = answer.seq();
      }
      if (answer.has_summary()) {
        summary_ = answer.summary();
        wake = true;
      }
    }
  }
  if (lost.has_value()) {
    v1::GuardEvent told;
    *told.mutable_error() = *std::move(lost);
    Deliver(told);
  } else if (deliver) {
    Deliver(answer);
  }
  if (wake) Wake();
}

void CallState::Deliver(const v1::GuardEvent& answer) {
  {
    absl::MutexLock lock(&mu_);
    if (abandoned_) return;
    ++delivering_;
  }
  // Outside the lock: a callback may send. Only the stream's reader calls this, so order is kept.
  switch (answer.event_case()) {
    case v1::GuardEvent::kAlert:
      if (callbacks_.on_alert) callbacks_.on_alert(answer.alert());
      break;
    case v1::GuardEvent::kError:
      if (callbacks_.on_error) callbacks_.on_error(answer.error());
      break;
    case v1::GuardEvent::kVerdict:
      if (callbacks_.on_verdict) callbacks_.on_verdict(answer.verdict());
      break;
    default:
      break;
  }
  absl::MutexLock lock(&mu_);
  --delivering_;
}

void CallState::OnStreamBroken() {
  absl::MutexLock lock(&mu_);
  stream_broken_ = true;
}

void CallState::OnStreamGone() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

void CallState::Backoff(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  AwaitUntil(absl::Condition(&closing_), options_.clock() + delay);
}

}  // namespace callguard::client::internal
