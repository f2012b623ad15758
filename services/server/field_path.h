#ifndef CALLGUARD_SERVER_FIELD_PATH_H_
#define CALLGUARD_SERVER_FIELD_PATH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace callguard {

// The path of `field` inside the event part `prefix`: the engine names fields relative to the
// message it validates ("text"), the dialer needs them from the event ("utterance.text").
// Shared by the gRPC and webhook transports.
std::string QualifyField(absl::string_view prefix, absl::string_view field);

}  // namespace callguard

#endif  // CALLGUARD_SERVER_FIELD_PATH_H_
