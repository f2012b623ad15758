#include "http_util.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/cord.h"

namespace callguard::dashboard {
namespace {

constexpr char kParameterPayload[] = "type.callguard.dev/dashboard.parameter";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    int extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && code < 0x10000) || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return absl::InvalidArgumentError("a % escape is cut short");
      }
      int high = HexValue(text[i + 1]);
      int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return absl::InvalidArgumentError("a % escape is not hexadecimal");
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (!IsValidUtf8(out)) return absl::InvalidArgumentError("not UTF-8 once decoded");
  return out;
}

absl::StatusOr<ParsedTarget> ParseTarget(absl::string_view target) {
  ParsedTarget parsed;
  absl::string_view path = target;
  absl::string_view query;
  if (size_t q = target.find('?'); q != absl::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  if (size_t hash = query.find('#'); hash != absl::string_view::npos) query = query.substr(0, hash);
  if (path.empty() || path[0] != '/') {
    return ParameterError("path", "the request target must start with /");
  }
  parsed.path = std::string(path);
  for (absl::string_view raw : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    auto segment = PercentDecode(raw, /*plus_is_space=*/false);
    if (!segment.ok()) return ParameterError("path", segment.status().message());
    parsed.segments.push_back(*std::move(segment));
  }
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    auto name = PercentDecode(kv.first, true);
    if (!name.ok()) return ParameterError("query", name.status().message());
    auto value = PercentDecode(kv.second, true);
    if (!value.ok()) return ParameterError(*name, value.status().message());
    parsed.query.emplace_back(*std::move(name), *std::move(value));
  }
  return parsed;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default:
        if (u < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", u);
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

absl::Status ParameterError(absl::string_view parameter, absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat(parameter, ": ", message));
  status.SetPayload(kParameterPayload, absl::Cord(parameter));
  return status;
}

absl::Status WithParameter(absl::Status status, absl::string_view parameter) {
  if (!status.ok()) status.SetPayload(kParameterPayload, absl::Cord(parameter));
  return status;
}

std::string ParameterOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kParameterPayload); payload.has_value()) {
    return std::string(*payload);
  }
  if (status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kOutOfRange) {
    return "";
  }
  absl::string_view message = status.message();
  size_t colon = message.find(':');
  if (colon == absl::string_view::npos || colon == 0) return "";
  absl::string_view name = message.substr(0, colon);
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '[' &&
        c != ']') {
      return "";
    }
  }
  return std::string(name);
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition: return 409;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

std::string ErrorJson(const absl::Status& status, int http_status) {
  if (http_status == 0) http_status = HttpStatusFor(status);
  std::string out = absl::StrCat("{\"error\":{\"code\":", http_status, ",\"status\":",
                                 JsonString(absl::StatusCodeToString(status.code())),
                                 ",\"message\":", JsonString(status.message()));
  if (std::string parameter = ParameterOf(status); !parameter.empty()) {
    absl::StrAppend(&out, ",\"parameter\":", JsonString(parameter));
  }
  out += "}}";
  return out;
}

absl::Status QueryParams::OnlyKnown(const std::vector<absl::string_view>& allowed) const {
  for (const auto& [name, value] : params_) {
    bool known = false;
    for (absl::string_view candidate : allowed) known = known || candidate == name;
    if (!known) {
      return ParameterError(name, absl::StrCat("unknown parameter; this endpoint takes ",
                                               absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> QueryParams::List(absl::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : params_) {
    if (key != name) continue;
    for (absl::string_view part : absl::StrSplit(value, ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (!part.empty()) values.emplace_back(part);
    }
  }
  return values;
}

absl::StatusOr<std::optional<std::string>> QueryParams::Single(absl::string_view name) const {
  std::optional<std::string> found;
  for (const auto& [key, value] : params_) {
    if (key != name) continue;
    if (found.has_value()) return ParameterError(name, "given more than once");
    found = value;
  }
  return found;
}

absl::StatusOr<int64_t> QueryParams::Int(absl::string_view name, int64_t fallback, int64_t min,
                                         int64_t max) const {
  auto text = Single(name);
  if (!text.ok()) return text.status();
  if (!text->has_value() || (*text)->empty()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(**text, &value) || value < min || value > max) {
    return ParameterError(name, absl::StrCat("must be an integer from ", min, " to ", max,
                                             ", got ", JsonString(**text)));
  }
  return value;
}

absl::StatusOr<std::optional<uint64_t>> QueryParams::Uint(absl::string_view name) const {
  auto text = Single(name);
  if (!text.ok()) return text.status();
  if (!text->has_value() || (*text)->empty()) return std::optional<uint64_t>();
  uint64_t value = 0;
  if ((**text)[0] == '-' || (**text)[0] == '+' || !absl::SimpleAtoi(**text, &value)) {
    return ParameterError(name, absl::StrCat("must be a non-negative integer, got ",
                                             JsonString(**text)));
  }
  return std::optional<uint64_t>(value);
}

absl::StatusOr<bool> QueryParams::Bool(absl::string_view name, bool fallback) const {
  auto text = Single(name);
  if (!text.ok()) return text.status();
  if (!text->has_value() || (*text)->empty()) return fallback;
  std::string lower = absl::AsciiStrToLower(**text);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return ParameterError(name, absl::StrCat("must be true or false, got ", JsonString(**text)));
}

std::string SseMessage(absl::string_view event, absl::string_view id, absl::string_view data) {
  std::string out;
  if (!event.empty()) absl::StrAppend(&out, "event: ", event, "\n");
  if (!id.empty()) absl::StrAppend(&out, "id: ", id, "\n");
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    absl::StrAppend(&out, "data: ", absl::StripSuffix(line, "\r"), "\n");
  }
  out += "\n";
  return out;
}

}  // namespace callguard::dashboard
