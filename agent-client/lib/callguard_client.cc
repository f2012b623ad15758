#include "callguard_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "call_mux.h"
#include "call_state.h"
#include "call_transport.h"

namespace callguard::client {

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
  if (options.calls_per_stream < 0) {
    return absl::InvalidArgumentError("calls_per_stream: must be 0 (a stream per call) or more");
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
    : options_(std::move(options)), channel_(std::move(channel)), stub_(v1::CallGuard::NewStub(channel_)) {
  if (options_.calls_per_stream > 0) mux_ = std::make_unique<internal::CallMux>(stub_.get(), options_);
}

CallguardClient::~CallguardClient() = default;

int CallguardClient::shared_streams() const { return mux_ == nullptr ? 0 : mux_->streams(); }

absl::StatusOr<std::unique_ptr<CallHandle>> CallguardClient::OpenCall(const v1::CallStart& start,
                                                                      CallCallbacks callbacks) {
  if (start.call_id().empty()) return absl::InvalidArgumentError("start.call_id: must not be empty");
  v1::CallStart clean = start;
  clean.clear_resume();
  clean.clear_last_received_seq();
  auto state = std::make_shared<internal::CallState>(options_, std::move(clean), std::move(callbacks));
  std::unique_ptr<internal::CallTransport> transport;
  if (mux_ != nullptr) {
    transport = mux_->Add(state);
  } else {
    transport = std::make_unique<internal::OwnStreamTransport>(stub_.get(), options_, state);
  }
  std::unique_ptr<CallHandle> handle(new CallHandle(std::move(state), std::move(transport)));
  if (absl::Status status = handle->state_->AwaitOpen(); !status.ok()) return status;
  return handle;
}

CallHandle::CallHandle(std::shared_ptr<internal::CallState> state,
                       std::unique_ptr<internal::CallTransport> transport)
    : state_(std::move(state)), transport_(std::move(transport)) {}

CallHandle::~CallHandle() { transport_->Detach(); }

absl::Status CallHandle::SendUtterance(v1::Utterance utterance) {
  v1::CallEvent event;
  *event.mutable_utterance() = std::move(utterance);
  return state_->Enqueue(std::move(event));
}

absl::Status CallHandle::SendPartyUpdate(v1::PartyUpdate update) {
  v1::CallEvent event;
  *event.mutable_party_update() = std::move(update);
  return state_->Enqueue(std::move(event));
}

absl::StatusOr<v1::CallSummary> CallHandle::End(absl::string_view reason, absl::Duration timeout) {
  return state_->End(reason, timeout);
}

absl::Status CallHandle::status() const { return state_->status(); }

CallHandle::Stats CallHandle::stats() const { return state_->stats(); }

const std::string& CallHandle::call_id() const { return state_->call_id(); }

}  // namespace callguard::client
