#ifndef CALLGUARD_AGENT_CLIENT_LIB_CALL_TRANSPORT_H_
#define CALLGUARD_AGENT_CLIENT_LIB_CALL_TRANSPORT_H_

#include <memory>
#include <thread>

#include "call_state.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "callguard_client.h"

namespace callguard::client::internal {

// What carries a call's events and answers for its CallHandle: a Converse stream of its own, or
// a ConverseMany stream shared with other calls. The handle talks to the CallState; the
// transport only has to be let go of.
class CallTransport {
 public:
  virtual ~CallTransport() = default;
  // The handle is going away (after End, or without it): stop carrying the call as that mode
  // documents (cancel the call's own stream, or end the call on the shared one). No callback
  // runs after this returns.
  virtual void Detach() = 0;
};

// One Converse stream per call at a time, and two threads: a sender running the connection loop
// (connect, hand-shake, send, reconnect) and a reader per stream.
//
// Why the synchronous API rather than a grpc::ClientBidiReactor: a call's life is a loop of
// connect, hand-shake, send, break and reconnect, which reads as straight-line code here and
// would be a state machine spread over reactor callbacks there, each new stream needing a new
// reactor whose lifetime overlaps the old one's teardown. The sender blocking in Write is also
// the flow control we want, and the dialer's own threads never block on the network.
class OwnStreamTransport : public CallTransport {
 public:
  OwnStreamTransport(v1::CallGuard::Stub* stub, const CallguardClient::Options& options,
                     std::shared_ptr<CallState> call);
  ~OwnStreamTransport() override;
  void Detach() override;

 private:
  void Run();

  v1::CallGuard::Stub* const stub_;
  const CallguardClient::Options& options_;
  const std::shared_ptr<CallState> call_;
  std::thread worker_;
};

}  // namespace callguard::client::internal

#endif  // CALLGUARD_AGENT_CLIENT_LIB_CALL_TRANSPORT_H_
