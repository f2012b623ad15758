#include "field_path.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace callguard {

std::string QualifyField(absl::string_view prefix, absl::string_view field) {
  if (field.empty()) return std::string(prefix);
  if (prefix.empty() || field == prefix || absl::StartsWith(field, absl::StrCat(prefix, "."))) {
    return std::string(field);
  }
  return absl::StrCat(prefix, ".", field);
}

}  // namespace callguard
