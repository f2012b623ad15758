#include "remote_guard.h"

#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "transcript_io.h"

namespace callguard::cli {
namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

std::unique_ptr<RemoteGuard> RemoteGuard::Create(const std::string& target) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  return std::unique_ptr<RemoteGuard>(new RemoteGuard(v1::CallGuard::NewStub(channel)));
}

absl::StatusOr<RemoteCallResult> RemoteGuard::ReplayCall(const v1::Transcript& transcript,
                                                         const ReplayOptions& options) {
  grpc::ClientContext context;
  auto stream = stub_->Converse(&context);
  RemoteCallResult result;

  // Read while writing: a server that answers faster than we send must never stall on a
  // full window while we block in Write.
  std::thread reader([&] {
    v1::GuardEvent event;
    while (stream->Read(&event)) {
      switch (event.event_case()) {
        case v1::GuardEvent::kAlert:
          result.alerts.push_back(event.alert());
          break;
        case v1::GuardEvent::kError:
          result.errors.push_back(event.error());
          break;
        case v1::GuardEvent::kSummary:
          result.has_summary = true;
          result.summary = event.summary();
          break;
        case v1::GuardEvent::EVENT_NOT_SET:
          break;
      }
    }
  });

  bool writable = true;
  auto send = [&](const v1::CallEvent& event) {
    if (writable) writable = stream->Write(event);
  };
  v1::CallEvent event;
  *event.mutable_start() = CallStartFromTranscript(transcript);
  send(event);
  for (int turn = 0; turn < transcript.turns_size() && writable; ++turn) {
    for (v1::Utterance& u : UtterancesForTurn(transcript, turn, options)) {
      *event.mutable_utterance() = std::move(u);
      send(event);
    }
  }
  event.mutable_end()->set_reason("replay finished");
  send(event);
  if (writable) stream->WritesDone();

  reader.join();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpc(status, absl::StrCat("call ", transcript.call_id()));
  return result;
}

absl::StatusOr<v1::CheckResponse> RemoteGuard::Check(const v1::CheckRequest& request) {
  grpc::ClientContext context;
  v1::CheckResponse response;
  grpc::Status status = stub_->Check(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, "Check");
  return response;
}

}  // namespace callguard::cli
