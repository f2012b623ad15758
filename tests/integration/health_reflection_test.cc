// Health checking and server reflection, spoken on the wire: their protos ship inside gRPC's
// libraries without headers, so the requests and answers are encoded by hand here.
#include <string>
#include <vector>

#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "test_support.h"
#include "wire_codec.h"

namespace callguard::testing {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

grpc::ByteBuffer Bytes(const std::string& raw) {
  grpc::Slice slice(raw);
  return grpc::ByteBuffer(&slice, 1);
}

// A length-delimited field: tag, length (< 128), value.
std::string LengthDelimited(int number, const std::string& value) {
  return std::string{static_cast<char>((number << 3) | 2), static_cast<char>(value.size())} + value;
}

// grpc.health.v1.Health/Check for `service`; returns the ServingStatus (1 = SERVING).
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                 grpc::Status* status) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                                    Bytes(service.empty() ? "" : LengthDelimited(1, service)), &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  call->Finish(&response, status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok) && ok);
  UnknownFieldSet fields;
  const std::string wire = ByteBufferToString(response);
  if (!fields.ParseFromString(wire)) return -1;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == 1 && fields.field(i).type() == UnknownField::TYPE_VARINT) {
      return static_cast<int>(fields.field(i).varint());
    }
  }
  return 0;  // proto3 default: UNKNOWN
}

TEST(HealthTest, TheServerAndItsServicesAreServing) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto channel = ChannelTo(*server);
  for (const std::string service : {"", "callguard.v1.CallGuard", "callguard.v1.PolicyAdmin"}) {
    grpc::Status status;
    EXPECT_EQ(HealthStatus(channel, service, &status), 1) << service;
    EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
  }
  grpc::Status unknown;
  HealthStatus(channel, "no.such.Service", &unknown);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
}

// Asks grpc.reflection.v1alpha.ServerReflection to list the services.
std::vector<std::string> ReflectedServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t expected) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  EXPECT_TRUE(step(1));
  // ServerReflectionRequest{list_services: ""} is field 7.
  call->Write(Bytes(LengthDelimited(7, "")), reinterpret_cast<void*>(2));
  EXPECT_TRUE(step(2));
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  EXPECT_TRUE(step(3));
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // ServerReflectionResponse.list_services_response (6) -> service (1) -> name (1).
  std::vector<std::string> names;
  UnknownFieldSet top;
  if (!top.ParseFromString(ByteBufferToString(response))) return names;
  for (int i = 0; i < top.field_count(); ++i) {
    if (top.field(i).number() != 6 || top.field(i).type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    UnknownFieldSet list;
    if (!list.ParseFromString(top.field(i).length_delimited())) continue;
    for (int j = 0; j < list.field_count(); ++j) {
      UnknownFieldSet service;
      if (list.field(j).type() != UnknownField::TYPE_LENGTH_DELIMITED ||
          !service.ParseFromString(list.field(j).length_delimited())) {
        continue;
      }
      for (int k = 0; k < service.field_count(); ++k) {
        if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
      }
    }
  }
  return names;
}

TEST(ReflectionTest, ListsTheServices) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::vector<std::string> names = ReflectedServices(ChannelTo(*server));
  for (const char* expected : {"callguard.v1.CallGuard", "callguard.v1.PolicyAdmin", "grpc.health.v1.Health",
                               "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

}  // namespace
}  // namespace callguard::testing
