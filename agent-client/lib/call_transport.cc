#include "call_transport.h"

#include <utility>

namespace callguard::client::internal {

OwnStreamTransport::OwnStreamTransport(v1::CallGuard::Stub* stub, const CallguardClient::Options& options,
                                       std::shared_ptr<CallState> call)
    : stub_(stub), options_(options), call_(std::move(call)) {
  worker_ = std::thread([this] { Run(); });
}

OwnStreamTransport::~OwnStreamTransport() { Detach(); }

void OwnStreamTransport::Detach() {
  // Cancelling the stream (not ending the call) leaves the server parking it, as a fault would.
  call_->Close();
  if (worker_.joinable()) worker_.join();
}

void OwnStreamTransport::Run() {
  using Next = CallState::Next;
  int failures = 0;
  for (;;) {
    grpc::ClientContext context;
    v1::CallEvent first;
    if (!call_->BeginHandshake(&first, &context)) break;
    std::unique_ptr<grpc::ClientReaderWriter<v1::CallEvent, v1::GuardEvent>> stream = stub_->Converse(&context);
    const bool wrote = stream->Write(first);
    std::thread reader([this, s = stream.get()] {
      v1::GuardEvent answer;
      while (s->Read(&answer)) call_->OnAnswer(answer);
      call_->OnStreamBroken();
    });
    const Next next = wrote ? call_->AwaitHandshake(options_.clock() + options_.open_timeout) : Next::kBackoff;
    if (next == Next::kSend) {
      failures = 0;
      v1::CallEvent event;
      while (call_->AwaitNextToSend(&event)) {
        if (!stream->Write(event)) break;
      }
    }
    context.TryCancel();
    reader.join();
    (void)stream->Finish();  // the status says nothing the answers did not
    call_->OnStreamGone();
    if (next == Next::kOver || call_->Over()) break;
    if (next != Next::kRetryNow) call_->Backoff(Jittered(BackoffDelay(options_, failures++)));
  }
}

}  // namespace callguard::client::internal
