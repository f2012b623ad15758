#include "callguard_client.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

// Why the synchronous API with two threads per call (a sender and a reader) rather than a
// grpc::ClientBidiReactor: a call's life is a loop of connect, hand-shake, send, break and
// reconnect, which reads as straight-line code here and would be a state machine spread over
// reactor callbacks there, each new stream needing a new reactor whose lifetime overlaps the
// old one's teardown. A dialer process carries tens to a few hundred calls (one per agent
// seat), so two mostly-blocked threads per call are cheap; the sender blocking in Write is
// also the flow control we want, and the dialer's own threads never block on the network.

namespace callguard::client {
namespace {

absl::Duration Jittered(absl::Duration delay) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return delay * factor(random);
}

absl::Status StatusOfError(const v1::EventError& error) {
  const auto code = static_cast<absl::StatusCode>(error.code());
  if (error.field().empty() || absl::StartsWith(error.message(), error.field())) {
    return absl::Status(code, error.message());
  }
  return absl::Status(code, absl::StrCat(error.field(), ": ", error.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<CallguardClient>> CallguardClient::Create(Options options) {
  if (options.target.empty()) return absl::InvalidArgumentError("target: must name host:port");
  if (options.initial_backoff <= absl::ZeroDuration() || options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError("initial_backoff/max_backoff: need 0 < initial <= max");
  }
  if (options.max_buffered_events < kMinBufferedEvents) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_buffered_events: must be at least ", kMinBufferedEvents,
        " (the server acknowledges every 16 events)"));
  }
  if (!options.credentials) options.credentials = grpc::InsecureChannelCredentials();
  if (!options.clock) options.clock = [] { return absl::Now(); };
  grpc::ChannelArguments args;
  // The channel's own reconnects follow our backoff instead of gRPC's default (1 s to 120 s).
  const int initial_ms = static_cast<int>(absl::ToInt64Milliseconds(options.initial_backoff));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::max(initial_ms, 1));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::max(initial_ms, 1));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.max_backoff)));
  auto channel = grpc::CreateCustomChannel(options.target, options.credentials, args);
  return std::unique_ptr<CallguardClient>(new CallguardClient(std::move(options), std::move(channel)));
}

CallguardClient::CallguardClient(Options options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)), channel_(std::move(channel)), stub_(v1::CallGuard::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<CallHandle>> CallguardClient::OpenCall(const v1::CallStart& start,
                                                                      CallCallbacks callbacks) {
  if (start.call_id().empty()) return absl::InvalidArgumentError("start.call_id: must not be empty");
  v1::CallStart clean = start;
  clean.clear_resume();
  clean.clear_last_received_seq();
  std::unique_ptr<CallHandle> handle(new CallHandle(this, std::move(clean), std::move(callbacks)));
  handle->worker_ = std::thread([h = handle.get()] { h->Run(); });
  if (absl::Status status = handle->AwaitOpen(); !status.ok()) return status;
  return handle;
}

CallHandle::CallHandle(CallguardClient* client, v1::CallStart start, CallCallbacks callbacks)
    : client_(client), start_(std::move(start)), callbacks_(std::move(callbacks)) {}

CallHandle::~CallHandle() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (worker_.joinable()) worker_.join();
}

bool CallHandle::AwaitUntil(const absl::Condition& condition, absl::Time deadline) {
  // Waits in short slices so an injected clock decides when the deadline has passed.
  while (!condition.Eval()) {
    const absl::Duration left = deadline - client_->options_.clock();
    if (left <= absl::ZeroDuration()) return false;
    mu_.AwaitWithTimeout(condition, std::min(left, absl::Milliseconds(50)));
  }
  return true;
}

absl::Status CallHandle::AwaitOpen() {
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return start_accepted_ || !fatal_.ok(); };
  AwaitUntil(absl::Condition(&settled), client_->options_.clock() + client_->options_.open_timeout);
  if (!fatal_.ok()) return fatal_;
  if (!start_accepted_) {
    return absl::UnavailableError(absl::StrCat("callguard at ", client_->options_.target,
                                               " did not accept call \"", start_.call_id(), "\" within ",
                                               absl::FormatDuration(client_->options_.open_timeout)));
  }
  return absl::OkStatus();
}

absl::Status CallHandle::SendUtterance(v1::Utterance utterance) {
  v1::CallEvent event;
  *event.mutable_utterance() = std::move(utterance);
  return Enqueue(std::move(event));
}

absl::Status CallHandle::SendPartyUpdate(v1::PartyUpdate update) {
  v1::CallEvent event;
  *event.mutable_party_update() = std::move(update);
  return Enqueue(std::move(event));
}

absl::Status CallHandle::Enqueue(v1::CallEvent event) {
  absl::MutexLock lock(&mu_);
  if (!fatal_.ok()) return fatal_;
  if (ended_ || summary_.has_value() || closing_) {
    return absl::FailedPreconditionError(
        absl::StrCat("call \"", start_.call_id(), "\" has ended; open a new call"));
  }
  if (unacked_.size() >= client_->options_.max_buffered_events) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "call \"", start_.call_id(), "\": ", unacked_.size(),
        " events are waiting for the server (max_buffered_events); the connection is down"));
  }
  event.set_seq(next_seq_++);
  unacked_.push_back(std::move(event));
  return absl::OkStatus();
}

absl::StatusOr<v1::CallSummary> CallHandle::End(absl::string_view reason, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!fatal_.ok()) return fatal_;
  if (!ended_ && !summary_.has_value()) {
    // Never refused for a full buffer: the end must get through.
    v1::CallEvent event;
    event.mutable_end()->set_reason(std::string(reason));
    event.set_seq(next_seq_++);
    unacked_.push_back(std::move(event));
    ended_ = true;
  }
  auto over = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return summary_.has_value() || !fatal_.ok() || closing_;
  };
  AwaitUntil(absl::Condition(&over), client_->options_.clock() + timeout);
  if (summary_.has_value()) return *summary_;
  if (!fatal_.ok()) return fatal_;
  return absl::DeadlineExceededError(absl::StrCat("no summary for call \"", start_.call_id(),
                                                  "\" within ", absl::FormatDuration(timeout)));
}

absl::Status CallHandle::status() const {
  absl::MutexLock lock(&mu_);
  return fatal_;
}

CallHandle::Stats CallHandle::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void CallHandle::TrimLocked(uint64_t applied) {
  last_acked_ = std::max(last_acked_, applied);
  while (!unacked_.empty() && unacked_.front().seq() <= last_acked_) unacked_.pop_front();
}

void CallHandle::Run() {
  const CallguardClient::Options& options = client_->options_;
  int failures = 0;
  int fresh_starts = 0;
  for (;;) {
    grpc::ClientContext context;
    v1::CallEvent first;
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      if (OverLocked()) break;
      resume = start_sent_;
      *first.mutable_start() = start_;
      if (resume) {
        first.mutable_start()->set_resume(true);
        first.mutable_start()->set_last_received_seq(last_received_);
      } else {
        first.set_seq(1);
        start_sent_ = true;
        ++fresh_starts;
      }
      resuming_ = resume;
      handshake_ = Handshake::kWaiting;
      handshake_error_ = absl::OkStatus();
      stream_broken_ = false;
      context_ = &context;
    }
    std::unique_ptr<Stream> stream = client_->stub_->Converse(&context);
    const bool wrote = stream->Write(first);
    std::thread reader([this, s = stream.get()] { ReadLoop(s); });
    bool connected = false;
    bool retry_now = false;
    std::optional<v1::EventError> lost;  // told to on_error once the reader is gone
    if (wrote) {
      absl::MutexLock lock(&mu_);
      auto answered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return handshake_ != Handshake::kWaiting || stream_broken_ || OverLocked();
      };
      AwaitUntil(absl::Condition(&answered), options.clock() + options.open_timeout);
      connected = handshake_ == Handshake::kDone && !stream_broken_;
      if (handshake_ == Handshake::kFailed) {
        const absl::Status& error = handshake_error_;
        if (resume && error.code() == absl::StatusCode::kNotFound) {
          if (!start_accepted_) {
            start_sent_ = false;  // the server never had it: start it afresh
            retry_now = true;
          } else {
            fatal_ = absl::NotFoundError(absl::StrCat("call \"", start_.call_id(),
                                                      "\" could not be resumed after a broken stream: ",
                                                      error.message()));
            lost.emplace();
            lost->set_code(static_cast<int>(fatal_.code()));
            lost->set_message(std::string(fatal_.message()));
            lost->set_field("start.resume");
          }
        } else if (!resume && error.code() == absl::StatusCode::kAlreadyExists && fresh_starts > 1) {
          retry_now = true;  // an earlier start did arrive: resume it
        } else if (error.code() != absl::StatusCode::kUnavailable) {
          fatal_ = error;  // a refused start (bad policy, duplicate id, ...)
        }
      }
    }
    if (connected) {
      failures = 0;
      SendLoop(stream.get());
    }
    context.TryCancel();
    reader.join();
    (void)stream->Finish();  // the status says nothing the answers did not
    if (lost.has_value() && callbacks_.on_error) callbacks_.on_error(*lost);
    {
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
      if (OverLocked()) break;
      ++stats_.reconnects;
    }
    if (!retry_now) {
      absl::Duration delay = options.initial_backoff;
      for (int i = 0; i < failures && delay < options.max_backoff; ++i) delay *= 2;
      Backoff(Jittered(std::min(delay, options.max_backoff)));
      ++failures;
    }
  }
}

void CallHandle::Backoff(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  AwaitUntil(absl::Condition(&closing_), client_->options_.clock() + delay);
}

void CallHandle::SendLoop(Stream* stream) {
  for (;;) {
    v1::CallEvent event;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return OverLocked() || stream_broken_ || std::max(sent_upto_, last_acked_) + 1 < next_seq_;
      };
      mu_.Await(absl::Condition(&ready));
      if (OverLocked() || stream_broken_) return;
      const uint64_t want = std::max(sent_upto_, last_acked_) + 1;
      event = unacked_[want - unacked_.front().seq()];
    }
    const bool ok = stream->Write(event);
    absl::MutexLock lock(&mu_);
    if (!ok) {
      stream_broken_ = true;
      return;
    }
    sent_upto_ = std::max(sent_upto_, event.seq());
  }
}

void CallHandle::ReadLoop(Stream* stream) {
  v1::GuardEvent event;
  while (stream->Read(&event)) {
    {
      absl::MutexLock lock(&mu_);
      if (event.has_ack()) {
        TrimLocked(event.ack().last_applied_seq());
        start_accepted_ = true;
        if (!resuming_ && handshake_ == Handshake::kWaiting) {
          handshake_ = Handshake::kDone;
          sent_upto_ = 1;
        }
        continue;
      }
      if (event.has_resumed()) {
        const uint64_t applied = event.resumed().last_applied_seq();
        TrimLocked(applied);
        start_accepted_ = true;
        sent_upto_ = applied;
        if (next_seq_ - 1 > applied) stats_.resent_events += static_cast<int>(next_seq_ - 1 - applied);
        handshake_ = Handshake::kDone;
        continue;
      }
      if (event.seq() == 0 && event.has_error() && handshake_ == Handshake::kWaiting &&
          absl::StartsWith(event.error().field(), "start")) {
        handshake_ = Handshake::kFailed;
        handshake_error_ = StatusOfError(event.error());
        continue;
      }
      if (event.seq() != 0) {
        if (event.seq() <= last_received_) {
          ++stats_.duplicate_answers;
          continue;
        }
        last_received_ = event.seq();
      }
      if (event.has_summary()) summary_ = event.summary();
    }
    // Outside the lock: a callback may send. Only this thread reads, so order is kept.
    switch (event.event_case()) {
      case v1::GuardEvent::kAlert:
        if (callbacks_.on_alert) callbacks_.on_alert(event.alert());
        break;
      case v1::GuardEvent::kError:
        if (callbacks_.on_error) callbacks_.on_error(event.error());
        break;
      case v1::GuardEvent::kVerdict:
        if (callbacks_.on_verdict) callbacks_.on_verdict(event.verdict());
        break;
      default:
        break;
    }
  }
  absl::MutexLock lock(&mu_);
  stream_broken_ = true;
}

}  // namespace callguard::client
