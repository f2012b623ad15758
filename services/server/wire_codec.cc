#include "wire_codec.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "status_util.h"

namespace callguard {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Nesting deeper than any of our messages means garbage, not a message.
constexpr int kMaxDepth = 16;

// The ValidateUtf8 error (naming the field path and the byte offset) of the first bad string
// field, or OK.
absl::Status CheckUtf8(const Descriptor& descriptor, absl::string_view wire, const std::string& prefix,
                       int depth) {
  if (depth > kMaxDepth) return absl::OkStatus();
  UnknownFieldSet fields;
  if (!fields.ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return absl::OkStatus();
  std::vector<int> seen(descriptor.field_count(), 0);
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& raw = fields.field(i);
    if (raw.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* field = descriptor.FindFieldByNumber(raw.number());
    if (field == nullptr) continue;
    std::string path = absl::StrCat(prefix, prefix.empty() ? "" : ".", field->name());
    if (field->is_repeated()) absl::StrAppend(&path, "[", seen[field->index()]++, "]");
    const std::string& value = raw.length_delimited();
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (auto status = ValidateUtf8(value, path); !status.ok()) return status;
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (auto status = CheckUtf8(*field->message_type(), value, path, depth + 1); !status.ok()) {
        return status;
      }
    }
  }
  return absl::OkStatus();
}

void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

}  // namespace

grpc::ByteBuffer WrapInEnvelope(absl::string_view call_id, const grpc::ByteBuffer& event) {
  std::string head;
  head.reserve(call_id.size() + 12);
  head.push_back(0x0A);  // field 1, length-delimited
  AppendVarint(&head, call_id.size());
  head.append(call_id.data(), call_id.size());
  head.push_back(0x12);  // field 2, length-delimited
  AppendVarint(&head, event.Length());
  std::vector<grpc::Slice> slices;
  slices.emplace_back(head);
  std::vector<grpc::Slice> body;
  if (event.Dump(&body).ok()) slices.insert(slices.end(), body.begin(), body.end());
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string ByteBufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer MessageToByteBuffer(const google::protobuf::Message& message) {
  const size_t size = message.ByteSizeLong();
  grpc::Slice slice(size);
  // The slice is new and ours alone until handed to the ByteBuffer.
  message.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(slice.begin()));
  return grpc::ByteBuffer(&slice, 1);
}

ReceivedBytes::ReceivedBytes(const grpc::ByteBuffer& buffer) {
  if (buffer.TrySingleSlice(&slice_).ok()) {
    view_ = absl::string_view(reinterpret_cast<const char*>(slice_.begin()), slice_.size());
  } else {
    copy_ = ByteBufferToString(buffer);
    view_ = copy_;
  }
}

absl::Status ParseMessage(absl::string_view wire, google::protobuf::Message* message) {
  if (message->ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return absl::OkStatus();
  if (auto status = CheckUtf8(*message->GetDescriptor(), wire, "", 0); !status.ok()) return status;
  return absl::InvalidArgumentError(
      absl::StrCat("not a well-formed ", message->GetDescriptor()->full_name(), " message"));
}

std::string FindInvalidUtf8Field(const Descriptor& descriptor, absl::string_view wire) {
  return FieldOf(CheckUtf8(descriptor, wire, "", 0));
}

std::string ReadStringAt(absl::string_view wire, std::initializer_list<int> field_numbers) {
  std::string current(wire);
  for (int number : field_numbers) {
    UnknownFieldSet fields;
    if (!fields.ParseFromArray(current.data(), static_cast<int>(current.size()))) return "";
    const UnknownField* found = nullptr;
    for (int i = 0; i < fields.field_count(); ++i) {
      const UnknownField& raw = fields.field(i);
      if (raw.number() == number && raw.type() == UnknownField::TYPE_LENGTH_DELIMITED) found = &raw;
    }
    if (found == nullptr) return "";
    current = found->length_delimited();
  }
  if (!ValidateUtf8(current, "").ok()) return "";
  return current;
}

}  // namespace callguard
