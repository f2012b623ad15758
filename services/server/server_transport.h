#ifndef CALLGUARD_SERVER_SERVER_TRANSPORT_H_
#define CALLGUARD_SERVER_SERVER_TRANSPORT_H_

#include "grpcpp/server_builder.h"

namespace callguard {

// Every gRPC-level setting of callguard-server: channel arguments, health and reflection
// services (and so the server's threads). The load generator's echo baseline calls this too,
// so its figures are the floor of this very transport.
void ConfigureServerTransport(grpc::ServerBuilder* builder);

}  // namespace callguard

#endif  // CALLGUARD_SERVER_SERVER_TRANSPORT_H_
