#ifndef CALLGUARD_DASHBOARD_HTTP_UTIL_H_
#define CALLGUARD_DASHBOARD_HTTP_UTIL_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace callguard::dashboard {

// A request target split into decoded path segments and query parameters.
struct ParsedTarget {
  std::string path;                   // raw path, without the query
  std::vector<std::string> segments;  // percent-decoded, empty segments dropped
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

// Percent-decodes `text`; in a query, `+` is a space. INVALID_ARGUMENT for a broken escape or
// a result that is not UTF-8.
absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space);

// INVALID_ARGUMENT (parameter "path" or the query parameter's name) for broken encodings.
absl::StatusOr<ParsedTarget> ParseTarget(absl::string_view target);

// A quoted JSON string. Also escapes <, > and & so a body can never be read as markup.
std::string JsonString(absl::string_view text);

// An INVALID_ARGUMENT status that remembers which request parameter was wrong.
absl::Status ParameterError(absl::string_view parameter, absl::string_view message);
// `status` marked as being about `parameter` (e.g. a NOT_FOUND "call_id").
absl::Status WithParameter(absl::Status status, absl::string_view parameter);
// The parameter a status names: the one ParameterError attached, else the "name: ..." prefix
// the store uses in its messages; empty if none.
std::string ParameterOf(const absl::Status& status);

// The HTTP status for a non-OK status code.
int HttpStatusFor(const absl::Status& status);

// {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": ..., "parameter": ...}};
// `http_status` 0 means HttpStatusFor(status).
std::string ErrorJson(const absl::Status& status, int http_status = 0);

// The query parameters of one request, read by name. Values may repeat (`agent=a&agent=b`) or
// be comma-separated (`agent=a,b`).
class QueryParams {
 public:
  explicit QueryParams(std::vector<std::pair<std::string, std::string>> params)
      : params_(std::move(params)) {}

  // INVALID_ARGUMENT naming the first parameter not in `allowed`.
  absl::Status OnlyKnown(const std::vector<absl::string_view>& allowed) const;
  // Every value, comma-split, blanks dropped.
  std::vector<std::string> List(absl::string_view name) const;
  // The value if given once; INVALID_ARGUMENT if given more than once.
  absl::StatusOr<std::optional<std::string>> Single(absl::string_view name) const;
  // An integer in [min, max]; `fallback` when absent.
  absl::StatusOr<int64_t> Int(absl::string_view name, int64_t fallback, int64_t min,
                              int64_t max) const;
  // An unsigned integer; nullopt when absent.
  absl::StatusOr<std::optional<uint64_t>> Uint(absl::string_view name) const;
  // true/false/1/0/yes/no; `fallback` when absent.
  absl::StatusOr<bool> Bool(absl::string_view name, bool fallback) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// One Server-Sent Events message; `data` may span lines.
std::string SseMessage(absl::string_view event, absl::string_view id, absl::string_view data);

}  // namespace callguard::dashboard

#endif  // CALLGUARD_DASHBOARD_HTTP_UTIL_H_
