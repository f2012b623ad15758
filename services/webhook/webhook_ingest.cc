#include "webhook_ingest.h"

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "field_path.h"
#include "http_util.h"
#include "judge_utterance.h"
#include "status_util.h"
#include "transcript_io.h"

namespace callguard {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using dashboard::HttpResponse;

namespace {

constexpr absl::string_view kIdleTimeout = "idle timeout";  // as a Converse call's
constexpr absl::string_view kShuttingDown = "server shutting down";
constexpr absl::string_view kRoutes =
    "POST /v1/calls/{call_id}:start, /v1/calls/{call_id}/utterances, "
    "/v1/calls/{call_id}/party, /v1/calls/{call_id}:end";
// Nesting deeper than any of our messages means garbage, not an event.
constexpr int kMaxJsonDepth = 32;

// Replaces bytes that are not UTF-8, so an answer is always valid JSON.
std::string Utf8Safe(absl::string_view text) {
  if (ValidateUtf8(text, "").ok()) return std::string(text);
  std::string out;
  for (char c : text) out.push_back(static_cast<unsigned char>(c) < 0x80 ? c : '?');
  return out;
}

HttpResponse JsonAnswer(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

// The HTTP status of a failed event: the dashboard's mapping, except that the server's
// active-call cap (RESOURCE_EXHAUSTED on "start") is 503: the server is full, not the client
// too fast.
int HttpStatusOf(const absl::Status& status, absl::string_view field) {
  if (status.code() == absl::StatusCode::kResourceExhausted && field == "start") return 503;
  return dashboard::HttpStatusFor(status);
}

// The JSON error answer; `field` is the full path the dialer sees. `http_status` 0: by code.
HttpResponse ErrorAnswer(const absl::Status& status, absl::string_view field, int http_status = 0) {
  if (http_status == 0) http_status = HttpStatusOf(status, field);
  HttpResponse response = JsonAnswer(http_status, webhook::ErrorBody(status, field));
  if (http_status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

// For a status that names its field itself (FieldError).
HttpResponse ErrorAnswer(const absl::Status& status) { return ErrorAnswer(status, FieldOf(status)); }

// A failure of the engine or registry for a `prefix` event, answered with the field the
// Converse stream names ("text" -> "utterance.text"; "" -> "start") and the same message.
HttpResponse EventErrorAnswer(const absl::Status& status, absl::string_view prefix) {
  return ErrorAnswer(status, QualifyField(prefix, FieldOf(status)));
}

bool IsJson(absl::string_view content_type) {
  std::vector<absl::string_view> parts = absl::StrSplit(content_type, ';');
  if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parts[0]), "application/json")) return false;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
    if (absl::StartsWithIgnoreCase(param, "charset=")) {
      absl::string_view charset = absl::StripAsciiWhitespace(param.substr(8));
      charset = absl::StripPrefix(absl::StripSuffix(charset, "\""), "\"");
      if (!absl::EqualsIgnoreCase(charset, "utf-8")) return false;
    }
  }
  return true;
}

// The field at a dotted path of the JSON parser's ("agent.name", "debtor.other_names[1]").
const FieldDescriptor* FieldAt(const Descriptor& root, absl::string_view path) {
  const Descriptor* message = &root;
  const FieldDescriptor* field = nullptr;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (message == nullptr) return nullptr;
    part = part.substr(0, part.find('['));
    field = message->FindFieldByName(std::string(part));
    if (field == nullptr) return nullptr;
    message = field->message_type();
  }
  return field;
}

// Turns a failure of JsonStringToMessage into a status naming the field the way the Converse
// path would ("utterance.speaker"). The parser says "(speaker): invalid value ..." for a bad
// value, "(agent) nam: Cannot find field." or "bogus: Cannot find field." for an unknown
// member, and a message with a context excerpt for broken JSON.
absl::Status FromParserError(absl::string_view error, absl::string_view prefix,
                             const Descriptor& descriptor) {
  absl::string_view line = error.substr(0, error.find('\n'));
  constexpr absl::string_view kUnknown = ": Cannot find field.";
  const std::string unknown_help =
      absl::StrCat("unknown field (the body is a ", descriptor.full_name(),
                   " in the protobuf JSON mapping)");
  absl::string_view path;
  if (absl::ConsumePrefix(&line, "(")) {
    const size_t close = line.find(')');
    if (close != absl::string_view::npos) {
      path = line.substr(0, close);
      line = line.substr(close + 1);
      if (absl::ConsumePrefix(&line, ": ")) {
        std::string text(line);
        absl::StrReplaceAll({{"type.googleapis.com/", ""}}, &text);
        if (const FieldDescriptor* field = FieldAt(descriptor, path);
            field != nullptr && field->enum_type() != nullptr) {
          std::vector<std::string> names;
          for (int i = 0; i < field->enum_type()->value_count(); ++i) {
            names.push_back(field->enum_type()->value(i)->name());
          }
          absl::StrAppend(&text, "; one of ", absl::StrJoin(names, ", "));
        }
        return InvalidField(QualifyField(prefix, path), text);
      }
      absl::ConsumePrefix(&line, " ");
    }
  }
  if (absl::EndsWith(line, kUnknown)) {
    absl::string_view name = line.substr(0, line.size() - kUnknown.size());
    const std::string where = path.empty() ? std::string(prefix) : QualifyField(prefix, path);
    return InvalidField(QualifyField(where, name), unknown_help);
  }
  line = absl::StripAsciiWhitespace(line);
  absl::ConsumePrefix(&line, ": ");
  return InvalidField(prefix, absl::StrCat("not valid JSON for ", descriptor.full_name(), ": ", line));
}

// Walks JSON text and checks each string value, decoded, as the Converse path checks each
// string field of a message: the first one that is not UTF-8 (raw bytes, or a lone surrogate
// escape) gives the status ValidateUtf8 gives, naming its field path. Stops quietly at
// anything that is not JSON (the parser reports that).
class Utf8Walker {
 public:
  explicit Utf8Walker(absl::string_view json) : json_(json) {}

  absl::Status Check(const Descriptor* root, const std::string& prefix) {
    return Value(root, prefix, 0);
  }

 private:
  absl::Status Value(const Descriptor* message, const std::string& path, int depth) {
    SkipSpace();
    if (broken_ || pos_ >= json_.size() || depth > kMaxJsonDepth) return Broken();
    switch (json_[pos_]) {
      case '{':
        return Object(message, path, depth);
      case '[':
        return Array(message, path, depth);
      case '"': {
        std::string text;
        if (!String(&text)) return Broken();
        return ValidateUtf8(text, path);
      }
      default:
        while (pos_ < json_.size() && !absl::StrContains(",}] \t\r\n", json_[pos_])) ++pos_;
        return absl::OkStatus();
    }
  }

  absl::Status Object(const Descriptor* message, const std::string& path, int depth) {
    ++pos_;  // {
    for (;;) {
      SkipSpace();
      if (Take('}')) return absl::OkStatus();
      std::string key;
      if (pos_ >= json_.size() || json_[pos_] != '"' || !String(&key)) return Broken();
      if (!ValidateUtf8(key, "").ok()) return InvalidField(path, "a member name is not valid UTF-8");
      SkipSpace();
      if (!Take(':')) return Broken();
      const FieldDescriptor* field = nullptr;
      if (message != nullptr) {
        field = message->FindFieldByName(key);
        if (field == nullptr) field = message->FindFieldByCamelcaseName(key);
      }
      const std::string child = QualifyField(path, field != nullptr ? field->name() : key);
      const Descriptor* child_message = field != nullptr ? field->message_type() : nullptr;
      if (absl::Status s = Value(child_message, child, depth + 1); !s.ok()) return s;
      SkipSpace();
      if (Take(',')) continue;
      if (Take('}')) return absl::OkStatus();
      return Broken();
    }
  }

  absl::Status Array(const Descriptor* element, const std::string& path, int depth) {
    ++pos_;  // [
    for (int i = 0;; ++i) {
      SkipSpace();
      if (Take(']')) return absl::OkStatus();
      if (absl::Status s = Value(element, absl::StrCat(path, "[", i, "]"), depth + 1); !s.ok()) {
        return s;
      }
      SkipSpace();
      if (Take(',')) continue;
      if (Take(']')) return absl::OkStatus();
      return Broken();
    }
  }

  // Decodes the string at pos_ (escapes included; a lone surrogate becomes the three bytes
  // that ValidateUtf8 refuses, as raw bytes would).
  bool String(std::string* out) {
    ++pos_;  // "
    while (pos_ < json_.size()) {
      const char c = json_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= json_.size()) return false;
      const char escaped = json_[pos_++];
      switch (escaped) {
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && json_.substr(pos_, 2) == "\\u") {
            const size_t save = pos_;
            pos_ += 2;
            uint32_t low = 0;
            if (Hex4(&low) && low >= 0xDC00 && low < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              pos_ = save;
            }
          }
          AppendUtf8(cp, out);
          break;
        }
        default: out->push_back(escaped); break;  // " \ /
      }
    }
    return false;
  }

  bool Hex4(uint32_t* cp) {
    if (pos_ + 4 > json_.size()) return false;
    for (int i = 0; i < 4; ++i) {
      const char h = json_[pos_++];
      *cp <<= 4;
      if (h >= '0' && h <= '9') {
        *cp |= h - '0';
      } else if (h >= 'a' && h <= 'f') {
        *cp |= h - 'a' + 10;
      } else if (h >= 'A' && h <= 'F') {
        *cp |= h - 'A' + 10;
      } else {
        return false;
      }
    }
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  void SkipSpace() {
    while (pos_ < json_.size() && absl::StrContains(" \t\r\n", json_[pos_])) ++pos_;
  }
  bool Take(char c) {
    if (pos_ < json_.size() && json_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Broken() {
    broken_ = true;
    return absl::OkStatus();
  }

  absl::string_view json_;
  size_t pos_ = 0;
  bool broken_ = false;
};

// A route of the webhook, parsed from the request path.
struct Route {
  enum class Kind { kStart, kUtterance, kParty, kEnd };
  Kind kind;
  std::string call_id;
};

// NOT_FOUND (field "path") for a path that is no route; INVALID_ARGUMENT (field "call_id") for a
// call id that is not percent-encoded UTF-8. The verb of `{id}:start` is split off before
// decoding, so an id may contain an encoded ':' (%3A).
absl::StatusOr<Route> ParseRoute(absl::string_view target) {
  absl::string_view path = target.substr(0, target.find_first_of("?#"));
  std::vector<absl::string_view> segments = absl::StrSplit(path, '/', absl::SkipEmpty());
  auto no_route = [&] {
    return FieldError(absl::StatusCode::kNotFound, "path",
                      absl::StrCat("no webhook route at ", Utf8Safe(path), "; the routes are ", kRoutes));
  };
  if (segments.size() < 3 || segments[0] != "v1" || segments[1] != "calls") return no_route();
  Route route;
  absl::string_view raw_id = segments[2];
  if (segments.size() == 3) {
    const size_t colon = raw_id.rfind(':');
    if (colon == absl::string_view::npos) return no_route();
    const absl::string_view verb = raw_id.substr(colon + 1);
    raw_id = raw_id.substr(0, colon);
    if (verb == "start") {
      route.kind = Route::Kind::kStart;
    } else if (verb == "end") {
      route.kind = Route::Kind::kEnd;
    } else {
      return no_route();
    }
  } else if (segments.size() == 4 && segments[3] == "utterances") {
    route.kind = Route::Kind::kUtterance;
  } else if (segments.size() == 4 && segments[3] == "party") {
    route.kind = Route::Kind::kParty;
  } else {
    return no_route();
  }
  auto id = dashboard::PercentDecode(raw_id, /*plus_is_space=*/false);
  if (!id.ok()) return InvalidField("call_id", id.status().message());
  route.call_id = *std::move(id);
  return route;
}

// The call ended (its end, the idle sweep) while this request waited for its lock.
absl::Status EndedMeanwhile(const std::string& call_id) {
  return FieldError(absl::StatusCode::kNotFound, "call_id",
                    absl::StrCat("call \"", call_id, "\" ended while this request waited for it"));
}

std::string StateJson(const std::string& call_id, const CallSession& session) {
  return absl::StrCat("{\"callId\":", dashboard::JsonString(call_id),
                      ",\"party\":", dashboard::JsonString(v1::Party_Name(session.party())),
                      ",\"agentIdentified\":", session.agent_identified() ? "true" : "false",
                      ",\"debtCollectorDisclosed\":",
                      session.debt_collector_disclosed() ? "true" : "false", "}");
}

}  // namespace

namespace webhook {

absl::Status ParseJsonEvent(absl::string_view json, absl::string_view prefix,
                            google::protobuf::Message* message) {
  if (absl::StripAsciiWhitespace(json).empty()) json = "{}";
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (parsed.ok()) return absl::OkStatus();
  message->Clear();
  // Text that is not UTF-8 is named by its field, as on the Converse stream.
  if (absl::Status utf8 = Utf8Walker(json).Check(message->GetDescriptor(), std::string(prefix));
      !utf8.ok()) {
    return utf8;
  }
  if (absl::Status utf8 = ValidateUtf8(json, prefix); !utf8.ok()) return utf8;
  return FromParserError(absl::string_view(parsed.message().data(), parsed.message().size()),
                         prefix, *message->GetDescriptor());
}

std::string ErrorBody(const absl::Status& status, absl::string_view field) {
  std::string body = absl::StrCat(
      "{\"code\":", dashboard::JsonString(absl::StatusCodeToString(status.code())),
      ",\"message\":", dashboard::JsonString(Utf8Safe(status.message())));
  if (!field.empty()) absl::StrAppend(&body, ",\"field\":", dashboard::JsonString(Utf8Safe(field)));
  body += "}";
  return body;
}

}  // namespace webhook

absl::StatusOr<std::unique_ptr<WebhookIngest>> WebhookIngest::Create(Options options) {
  if (options.engines == nullptr || options.registry == nullptr) {
    return absl::InvalidArgumentError("webhook: an engine holder and a call registry are required");
  }
  if (options.max_body_bytes == 0) {
    return absl::InvalidArgumentError("webhook: max_body_bytes must be positive");
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };
  return std::unique_ptr<WebhookIngest>(new WebhookIngest(std::move(options)));
}

WebhookIngest::WebhookIngest(Options options)
    : options_(std::move(options)), idle_handle_(std::make_shared<IdleHandle>()) {
  absl::MutexLock lock(&idle_handle_->mu);
  idle_handle_->ingest = this;
}

WebhookIngest::~WebhookIngest() {
  {
    // Waits for an idle callback in progress; later ones find nothing.
    absl::MutexLock lock(&idle_handle_->mu);
    idle_handle_->ingest = nullptr;
  }
  absl::flat_hash_map<std::string, std::shared_ptr<Call>> open;
  {
    absl::MutexLock lock(&mu_);
    open.swap(calls_);
  }
  for (auto& [id, call] : open) {
    absl::MutexLock lock(&call->mu);
    if (call->session != nullptr) EndLocked(*call, kShuttingDown, /*unregister=*/true);
  }
}

DashboardServer::ExtraRoutes WebhookIngest::Routes(std::shared_ptr<WebhookIngest> ingest) {
  DashboardServer::ExtraRoutes routes;
  routes.path_prefix = std::string(kPathPrefix);
  routes.handle = [ingest](const dashboard::HttpRequest& request) {
    return ingest->Handle(request.method, request.target, request.content_type, request.body);
  };
  routes.body_too_large = [ingest](const dashboard::HttpRequest&) { return ingest->BodyTooLarge(); };
  return routes;
}

size_t WebhookIngest::open_calls() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

HttpResponse WebhookIngest::BodyTooLarge() const {
  return ErrorAnswer(InvalidField("body", absl::StrCat("larger than the limit of ",
                                                       options_.max_body_bytes, " bytes")),
                     "body", 413);
}

HttpResponse WebhookIngest::Handle(absl::string_view method, absl::string_view target,
                                   absl::string_view content_type, absl::string_view body) {
  auto route = ParseRoute(target);
  if (!route.ok()) return ErrorAnswer(route.status());
  if (method != "POST") {
    HttpResponse answer = ErrorAnswer(
        InvalidField("method", absl::StrCat(Utf8Safe(method), " is not allowed here; use POST")),
        "method", 405);
    answer.headers.emplace_back("Allow", "POST");
    return answer;
  }
  if (body.size() > options_.max_body_bytes) return BodyTooLarge();
  // A body must say it is JSON; a bodiless POST (an :end without reason) need not.
  if (!absl::StripAsciiWhitespace(body).empty() && !IsJson(content_type)) {
    return ErrorAnswer(
        InvalidField("Content-Type",
                     absl::StrCat("must be application/json (UTF-8), got \"",
                                  Utf8Safe(content_type), "\"")),
        "Content-Type", 415);
  }
  switch (route->kind) {
    case Route::Kind::kStart:
      return Start(route->call_id, body);
    case Route::Kind::kUtterance:
      return Utterance(route->call_id, body);
    case Route::Kind::kParty:
      return Party(route->call_id, body);
    case Route::Kind::kEnd:
      return End(route->call_id, body);
  }
  return ErrorAnswer(absl::InternalError("unhandled route"));
}

HttpResponse WebhookIngest::Start(const std::string& call_id, absl::string_view body) {
  v1::CallStart start;
  if (absl::Status parsed = webhook::ParseJsonEvent(body, "start", &start); !parsed.ok()) {
    return ErrorAnswer(parsed);
  }
  if (!start.call_id().empty() && start.call_id() != call_id) {
    return ErrorAnswer(InvalidField(
        "start.call_id", absl::StrCat("the body names call \"", start.call_id(),
                                      "\" but the path names \"", call_id, "\"")));
  }
  start.set_call_id(call_id);

  CallSession::Options session_options;
  session_options.engine = options_.engines->Current();
  session_options.start = start;
  session_options.limits = options_.limits;
  session_options.clock = options_.clock;
  auto session = CallSession::Create(std::move(session_options));
  if (!session.ok()) return EventErrorAnswer(session.status(), "start");

  auto call = std::make_shared<Call>(call_id, options_);
  absl::MutexLock call_lock(&call->mu);  // nobody sees the call before its start is recorded
  std::weak_ptr<IdleHandle> handle = idle_handle_;
  std::weak_ptr<Call> weak_call = call;
  auto ticket = options_.registry->Register(call_id, [handle, weak_call] {
    if (auto h = handle.lock()) {
      absl::MutexLock lock(&h->mu);
      if (h->ingest != nullptr) h->ingest->OnIdle(weak_call);
    }
  });
  if (!ticket.ok()) return EventErrorAnswer(ticket.status(), "start");
  call->ticket = *ticket;
  call->session = *std::move(session);
  call->recorder.OnStart(start, *call->session);
  {
    absl::MutexLock lock(&mu_);
    // An entry left by a call the idle sweep just dropped is replaced; its callback checks.
    calls_[call_id] = call;
    ended_.erase(call_id);
  }
  const CompiledPolicy& policy = call->session->policy();
  return JsonAnswer(
      200, absl::StrCat("{\"callId\":", dashboard::JsonString(call_id),
                        ",\"policyId\":", dashboard::JsonString(policy.id()),
                        ",\"policyVersion\":", dashboard::JsonString(policy.source().version()),
                        ",\"language\":", dashboard::JsonString(policy.source().language()),
                        ",\"idleTimeoutSeconds\":",
                        absl::ToInt64Seconds(options_.registry->idle_timeout()), "}"));
}

template <typename Event, typename Fn>
HttpResponse WebhookIngest::OnOpenCall(const std::string& call_id, absl::string_view body,
                                       absl::string_view field, Fn handle) {
  Event event;
  if (absl::Status parsed = webhook::ParseJsonEvent(body, field, &event); !parsed.ok()) {
    return ErrorAnswer(parsed);
  }
  auto call = Find(call_id);
  if (!call.ok()) return ErrorAnswer(call.status());
  Call& c = **call;
  absl::MutexLock lock(&c.mu);
  if (c.session == nullptr) return ErrorAnswer(EndedMeanwhile(call_id));
  return handle(c, event);
}

HttpResponse WebhookIngest::Utterance(const std::string& call_id, absl::string_view body) {
  return OnOpenCall<v1::Utterance>(call_id, body, "utterance", [&](Call& c, const v1::Utterance& utterance) {
    options_.registry->Touch(call_id, c.ticket);
    absl::StatusOr<v1::Verdict> verdict = JudgeUtterance(*c.session, c.recorder, utterance);
    if (!verdict.ok()) return EventErrorAnswer(verdict.status(), "utterance");
    return JsonAnswer(200, ToJsonLine(*verdict));
  });
}

HttpResponse WebhookIngest::Party(const std::string& call_id, absl::string_view body) {
  return OnOpenCall<v1::PartyUpdate>(call_id, body, "party_update", [&](Call& c, const v1::PartyUpdate& update) {
    options_.registry->Touch(call_id, c.ticket);
    if (absl::Status status = c.session->OnPartyUpdate(update); !status.ok()) {
      return EventErrorAnswer(status, "party_update");
    }
    c.recorder.OnPartyUpdate(*c.session, update);
    return JsonAnswer(200, StateJson(call_id, *c.session));
  });
}

HttpResponse WebhookIngest::End(const std::string& call_id, absl::string_view body) {
  return OnOpenCall<v1::CallEnd>(call_id, body, "end", [&](Call& c, const v1::CallEnd& end) {
    return JsonAnswer(200, ToJsonLine(EndLocked(c, end.reason(), /*unregister=*/true)));
  });
}

absl::StatusOr<std::shared_ptr<WebhookIngest::Call>> WebhookIngest::Find(
    const std::string& call_id) const {
  absl::MutexLock lock(&mu_);
  if (auto it = calls_.find(call_id); it != calls_.end()) return it->second;
  constexpr absl::string_view start_route = "POST /v1/calls/{call_id}:start";
  if (auto it = ended_.find(call_id); it != ended_.end()) {
    return FieldError(absl::StatusCode::kNotFound, "call_id",
                      absl::StrCat("call \"", call_id, "\" has ended (", it->second.reason,
                                   "); a new call starts with ", start_route));
  }
  return FieldError(absl::StatusCode::kNotFound, "call_id",
                    absl::StrCat("no active call \"", call_id, "\"; a call starts with ", start_route));
}

v1::CallSummary WebhookIngest::EndLocked(Call& call, absl::string_view reason, bool unregister) {
  v1::CallSummary summary = call.session->End(reason);
  if (summary.call_id().empty()) summary.set_call_id(call.call_id);
  if (summary.end_reason().empty()) summary.set_end_reason(std::string(reason));
  call.recorder.OnEnd(summary);
  if (unregister) options_.registry->Unregister(call.call_id, call.ticket);
  call.session.reset();
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(call.call_id);
  if (it != calls_.end() && it->second.get() == &call) calls_.erase(it);
  const uint64_t serial = next_serial_++;
  ended_[call.call_id] = Ended{std::string(reason.empty() ? "ended by the dialer" : reason), serial};
  ended_order_.emplace_back(call.call_id, serial);
  while (ended_order_.size() > kRememberedEndedCalls) {
    auto& [id, oldest] = ended_order_.front();
    if (auto old = ended_.find(id); old != ended_.end() && old->second.serial == oldest) {
      ended_.erase(old);
    }
    ended_order_.pop_front();
  }
  return summary;
}

void WebhookIngest::OnIdle(const std::weak_ptr<Call>& weak_call) {
  std::shared_ptr<Call> call = weak_call.lock();
  if (call == nullptr) return;
  absl::MutexLock lock(&call->mu);
  // The registry has dropped the entry already.
  if (call->session != nullptr) EndLocked(*call, kIdleTimeout, /*unregister=*/false);
}

}  // namespace callguard
