#ifndef CALLGUARD_ENGINE_STATUS_UTIL_H_
#define CALLGUARD_ENGINE_STATUS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace callguard {

// An INVALID_ARGUMENT (or other code) status that names the offending field, so the service
// can answer with a message and a field ("utterance.text") the dialer can act on.
absl::Status FieldError(absl::StatusCode code, absl::string_view field, absl::string_view message);
inline absl::Status InvalidField(absl::string_view field, absl::string_view message) {
  return FieldError(absl::StatusCode::kInvalidArgument, field, message);
}

// The field a FieldError named, or "" if none.
std::string FieldOf(const absl::Status& status);

// Checks that `text` is valid UTF-8; on failure names `field` and the byte offset.
absl::Status ValidateUtf8(absl::string_view text, absl::string_view field);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_STATUS_UTIL_H_
