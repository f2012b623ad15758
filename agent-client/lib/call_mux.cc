#include "call_mux.h"

#include <utility>

namespace callguard::client::internal {

SharedCallStream::SharedCallStream(v1::CallGuard::Stub* stub, const CallguardClient::Options& options,
                                   int capacity)
    : stub_(stub), options_(options), capacity_(capacity) {
  writer_ = std::thread([this] { Run(); });
}

SharedCallStream::~SharedCallStream() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  writer_.join();
}

bool SharedCallStream::TryAdd(const std::shared_ptr<CallState>& call) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || static_cast<int>(members_.size()) >= capacity_ || members_.count(call->call_id()) > 0) {
    return false;
  }
  call->set_wake([this] { Wake(); });
  members_[call->call_id()].call = call;
  ++wakes_;
  return true;
}

void SharedCallStream::Wake() {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

int SharedCallStream::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(members_.size());
}

int SharedCallStream::connections() const {
  absl::MutexLock lock(&mu_);
  return connections_;
}

void SharedCallStream::Run() {
  int failures = 0;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto wanted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !members_.empty(); };
      mu_.Await(absl::Condition(&wanted));
      if (stopping_) return;
    }
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      context_ = &context;
      broken_ = false;
      answered_ = false;
      ++connections_;
    }
    std::unique_ptr<Stream> stream = stub_->ConverseMany(&context);
    std::thread reader([this, s = stream.get()] { ReadLoop(s); });
    const bool broke = Serve(stream.get());
    context.TryCancel();
    reader.join();
    (void)stream->Finish();  // the status says nothing the answers did not
    bool backoff = false;
    {
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
      if (stopping_) return;
      for (auto it = members_.begin(); it != members_.end();) {
        CallState& call = *it->second.call;
        call.OnStreamBroken();
        // An abandoned call is not resumed: the server parks it, then ends it after its grace.
        if (call.Over() || call.abandoned()) {
          it = members_.erase(it);
          continue;
        }
        it->second.phase = Phase::kHandshake;
        ++it;
      }
      if (answered_) failures = 0;
      // Broken with calls to resume (not closed for want of calls).
      backoff = broke && !members_.empty();
    }
    if (backoff) {
      absl::MutexLock lock(&mu_);
      AwaitUntilByClock(mu_, absl::Condition(&stopping_),
                        options_.clock() + Jittered(BackoffDelay(options_, failures++)), options_.clock);
    }
  }
}

bool SharedCallStream::StepLocked(const std::string& call_id, Member& member, absl::Time now,
                                  std::vector<v1::CallEventEnvelope>* out) {
  using Next = CallState::Next;
  CallState& call = *member.call;
  for (;;) {
    switch (member.phase) {
      case Phase::kRetry:
        if (now < member.deadline) return true;
        member.phase = Phase::kHandshake;
        break;
      case Phase::kHandshake: {
        v1::CallEventEnvelope envelope;
        envelope.set_call_id(call_id);
        if (!call.BeginHandshake(envelope.mutable_event())) return false;
        out->push_back(std::move(envelope));
        member.phase = Phase::kAnswer;
        member.deadline = now + options_.open_timeout;
        return true;
      }
      case Phase::kAnswer: {
        const std::optional<Next> next = call.HandshakeOutcome();
        if (!next.has_value()) {
          // A server that answers the other calls' starts in milliseconds but not this one's for
          // open_timeout: the connection is hung, as it would be for a stream of its own.
          if (now >= member.deadline) broken_ = true;
          return true;
        }
        switch (*next) {
          case Next::kSend:
            member.phase = Phase::kAttached;
            member.failures = 0;
            break;
          case Next::kRetryNow:
            member.phase = Phase::kHandshake;
            break;
          case Next::kBackoff:
            member.phase = Phase::kRetry;
            member.deadline = now + Jittered(BackoffDelay(options_, member.failures++));
            break;
          case Next::kOver:
            return false;
        }
        break;
      }
      case Phase::kAttached: {
        if (call.Over()) return false;
        // One event per call per round, so a busy call does not hold up the others.
        v1::CallEventEnvelope envelope;
        if (call.TakeNextToSend(envelope.mutable_event())) {
          envelope.set_call_id(call_id);
          out->push_back(std::move(envelope));
        }
        return true;
      }
    }
  }
}

bool SharedCallStream::Serve(Stream* stream) {
  uint64_t seen = 0;
  bool more = true;  // the last round wrote something: there may be more at once
  for (;;) {
    std::vector<v1::CallEventEnvelope> batch;
    {
      absl::MutexLock lock(&mu_);
      if (!more) {
        auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return wakes_ != seen || stopping_ || broken_;
        };
        // In slices: hand-shake deadlines and retries come due without a wake.
        mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(50));
      }
      seen = wakes_;
      if (stopping_) return false;
      if (broken_) return true;
      const absl::Time now = options_.clock();
      for (auto it = members_.begin(); it != members_.end();) {
        if (StepLocked(it->first, it->second, now, &batch)) {
          ++it;
        } else {
          it = members_.erase(it);
        }
      }
      if (broken_) return true;
      if (members_.empty()) return false;  // nothing to carry: close until a call comes
    }
    more = !batch.empty();
    for (const v1::CallEventEnvelope& envelope : batch) {
      if (!stream->Write(envelope)) {
        absl::MutexLock lock(&mu_);
        broken_ = true;
        return true;
      }
    }
  }
}

void SharedCallStream::ReadLoop(Stream* stream) {
  v1::GuardEventEnvelope envelope;
  while (stream->Read(&envelope)) {
    std::shared_ptr<CallState> call;
    {
      absl::MutexLock lock(&mu_);
      answered_ = true;
      auto it = members_.find(envelope.call_id());
      if (it != members_.end()) call = it->second.call;
    }
    // An answer for no call we carry (an error about an envelope naming none) has nobody to go to.
    if (call != nullptr) call->OnAnswer(envelope.event());
  }
  absl::MutexLock lock(&mu_);
  broken_ = true;
}

CallMux::CallMux(v1::CallGuard::Stub* stub, const CallguardClient::Options& options)
    : stub_(stub), options_(options) {}

std::unique_ptr<CallTransport> CallMux::Add(const std::shared_ptr<CallState>& call) {
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<SharedCallStream>& stream : streams_) {
    if (stream->TryAdd(call)) return std::make_unique<SharedStreamTransport>(stream.get(), call);
  }
  streams_.push_back(std::make_unique<SharedCallStream>(stub_, options_, options_.calls_per_stream));
  SharedCallStream* stream = streams_.back().get();
  stream->TryAdd(call);  // a new stream has room
  return std::make_unique<SharedStreamTransport>(stream, call);
}

int CallMux::streams() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

void SharedStreamTransport::Detach() {
  call_->Abandon(CallHandle::kAbandonedReason);
  stream_->Wake();
}

}  // namespace callguard::client::internal
