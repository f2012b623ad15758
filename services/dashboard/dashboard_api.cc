#include "dashboard_api.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "alert_filter.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "web_assets.h"

namespace callguard::dashboard {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kJson[] = "application/json; charset=utf-8";
constexpr int kDefaultAlertPage = 50;
constexpr int kMaxPage = 1000;
constexpr size_t kMaxSupervisorBytes = 200;
constexpr size_t kMaxNoteBytes = 4000;

// Scripts and styles come only from this server; nothing inline, nothing remote. With every
// text inserted through textContent this makes stored text unable to run as script.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'";

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  // Explicit false/0/[] so the pages never have to guess a missing field's meaning.
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";
  return out;
}

// Prepends raw JSON members to a JSON object.
std::string WithMembers(const std::vector<std::pair<std::string, std::string>>& members,
                        absl::string_view object) {
  absl::string_view inner = absl::StripAsciiWhitespace(object);
  absl::ConsumePrefix(&inner, "{");
  absl::ConsumeSuffix(&inner, "}");
  inner = absl::StripAsciiWhitespace(inner);
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, JsonString(members[i].first), ":", members[i].second);
  }
  if (!members.empty() && !inner.empty()) out += ",";
  absl::StrAppend(&out, inner, "}");
  return out;
}

std::string TimeJson(absl::Time time) {
  return JsonString(absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone()));
}

HttpResponse JsonResponse(std::string body, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.content_type = kJson;
  response.body = std::move(body);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

absl::StatusOr<v1::ViolationKind> ParseKind(absl::string_view text) {
  std::string upper = absl::AsciiStrToUpper(text);
  v1::ViolationKind kind;
  if (v1::ViolationKind_Parse(upper, &kind) && kind != v1::VIOLATION_KIND_UNSPECIFIED) {
    return kind;
  }
  std::vector<std::string> names;
  for (int i = 1; i < v1::ViolationKind_ARRAYSIZE; ++i) {
    if (v1::ViolationKind_IsValid(i)) {
      names.push_back(v1::ViolationKind_Name(static_cast<v1::ViolationKind>(i)));
    }
  }
  return ParameterError("kind", absl::StrCat("unknown violation kind ", JsonString(text),
                                             "; one of ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<v1::Severity> ParseSeverity(absl::string_view text) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(upper, "SEVERITY_")) upper = absl::StrCat("SEVERITY_", upper);
  v1::Severity severity;
  if (v1::Severity_Parse(upper, &severity) && severity != v1::SEVERITY_UNSPECIFIED) {
    return severity;
  }
  return ParameterError("min_severity", absl::StrCat("unknown severity ", JsonString(text),
                                                     "; one of low, medium, high, critical"));
}

// A time as RFC 3339 or as Unix seconds.
absl::StatusOr<std::optional<absl::Time>> ParseTimeParam(const QueryParams& query,
                                                         absl::string_view name) {
  auto text = query.Single(name);
  if (!text.ok()) return text.status();
  if (!text->has_value() || (*text)->empty()) return std::optional<absl::Time>();
  int64_t seconds = 0;
  if (absl::SimpleAtoi(**text, &seconds)) return std::optional<absl::Time>(absl::FromUnixSeconds(seconds));
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, **text, &time, &error)) {
    return std::optional<absl::Time>(time);
  }
  return ParameterError(name, absl::StrCat("must be an RFC 3339 time (2026-01-02T15:04:05Z) or "
                                           "Unix seconds, got ", JsonString(**text)));
}

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

// The filter parameters every alert endpoint shares.
absl::StatusOr<v1::AlertFilter> ParseAlertFilter(const QueryParams& query, bool calls_only) {
  v1::AlertFilter filter;
  for (std::string& id : query.List("agency")) filter.add_agency_ids(std::move(id));
  for (std::string& id : query.List("agent")) filter.add_agent_ids(std::move(id));
  for (std::string& team : query.List("team")) filter.add_teams(std::move(team));
  if (calls_only) return filter;
  for (const std::string& name : query.List("kind")) {
    auto kind = ParseKind(name);
    if (!kind.ok()) return kind.status();
    filter.add_violations(*kind);
  }
  auto severity = query.Single("min_severity");
  if (!severity.ok()) return severity.status();
  if (severity->has_value() && !(*severity)->empty()) {
    auto parsed = ParseSeverity(**severity);
    if (!parsed.ok()) return parsed.status();
    filter.set_min_severity(*parsed);
  }
  auto call = query.Single("call");
  if (!call.ok()) return call.status();
  if (call->has_value()) filter.set_call_id(**call);
  return filter;
}

// The store names fields of its request ("filter.agent_ids[0]"); the page names parameters.
absl::Status FromStore(absl::Status status) {
  std::string field = ParameterOf(status);
  if (field.empty()) return status;
  static constexpr std::pair<const char*, const char*> kNames[] = {
      {"filter.agency_ids", "agency"}, {"filter.agent_ids", "agent"},
      {"filter.teams", "team"},        {"filter.violations", "kind"},
      {"filter.min_severity", "min_severity"}, {"filter.call_id", "call"},
      {"filter", "filter"}};
  for (const auto& [prefix, name] : kNames) {
    if (absl::StartsWith(field, prefix)) return WithParameter(status, name);
  }
  return WithParameter(status, field);
}

const WebAsset* FindAsset(absl::string_view name) {
  for (size_t i = 0; i < kWebAssetCount; ++i) {
    if (name == kWebAssets[i].name) return &kWebAssets[i];
  }
  return nullptr;
}

std::string ContentTypeOf(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  if (absl::EndsWith(name, ".png")) return "image/png";
  if (absl::EndsWith(name, ".ico")) return "image/x-icon";
  return "application/octet-stream";
}

HttpResponse MethodNotAllowed(absl::string_view method, absl::string_view allowed) {
  HttpResponse response = DashboardApi::Error(
      WithParameter(absl::InvalidArgumentError(absl::StrCat(
                        "method ", method, " is not allowed here; use ", allowed)),
                    "method"),
      405);
  response.headers.emplace_back("Allow", std::string(allowed));
  return response;
}

absl::StatusOr<uint64_t> ParseSequence(absl::string_view text) {
  uint64_t sequence = 0;
  if (text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text[0])) ||
      !absl::SimpleAtoi(text, &sequence) || sequence == 0) {
    return ParameterError("sequence", absl::StrCat("must be a positive integer (an alert's "
                                                   "sequence), got ", JsonString(text)));
  }
  return sequence;
}

}  // namespace

std::string EventCursor::ToId() const { return absl::StrCat(alert_sequence, ":", ack_sequence); }

absl::StatusOr<EventCursor> EventCursor::FromId(absl::string_view id, uint64_t default_ack) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, ':');
  EventCursor cursor;
  cursor.ack_sequence = default_ack;
  bool ok = parts.size() <= 2 && !parts[0].empty() && absl::SimpleAtoi(parts[0], &cursor.alert_sequence);
  if (ok && parts.size() == 2) ok = absl::SimpleAtoi(parts[1], &cursor.ack_sequence);
  if (!ok) {
    return ParameterError("Last-Event-ID", absl::StrCat("must be ALERT_SEQUENCE[:ACK_SEQUENCE], "
                                                        "got ", JsonString(id)));
  }
  return cursor;
}

std::string EventStreamFormatter::Preamble() const {
  return absl::StrCat("retry: 1000\n",
                      SseMessage("ready", cursor_.ToId(),
                                 absl::StrCat("{\"alertSequence\":\"", cursor_.alert_sequence,
                                              "\",\"ackSequence\":\"", cursor_.ack_sequence,
                                              "\"}")));
}

std::string EventStreamFormatter::Format(const v1::WatchEvent& event, bool* last) {
  *last = false;
  switch (event.event_case()) {
    case v1::WatchEvent::kAlert:
      cursor_.alert_sequence = std::max(cursor_.alert_sequence, event.alert().sequence());
      return SseMessage("alert", cursor_.ToId(), ToJson(event.alert()));
    case v1::WatchEvent::kAcknowledgement:
      cursor_.ack_sequence =
          std::max(cursor_.ack_sequence, event.acknowledgement().ack_sequence());
      return SseMessage("ack", cursor_.ToId(), ToJson(event.acknowledgement()));
    case v1::WatchEvent::kCaughtUp:
      // Everything matching up to these sequences has been sent: resuming there is exact.
      cursor_.alert_sequence = std::max(cursor_.alert_sequence, event.caught_up().last_sequence());
      cursor_.ack_sequence = std::max(cursor_.ack_sequence, event.caught_up().last_ack_sequence());
      return SseMessage("caught_up", cursor_.ToId(), ToJson(event.caught_up()));
    case v1::WatchEvent::kFellBehind:
      // The browser reconnects by itself with Last-Event-ID and resumes where this ends.
      *last = true;
      cursor_.alert_sequence =
          std::max(cursor_.alert_sequence, event.fell_behind().resume_after_sequence());
      cursor_.ack_sequence =
          std::max(cursor_.ack_sequence, event.fell_behind().resume_after_ack_sequence());
      return SseMessage("fell_behind", cursor_.ToId(), ToJson(event.fell_behind()));
    case v1::WatchEvent::EVENT_NOT_SET:
      break;
  }
  return "";
}

DashboardApi::DashboardApi(Options options) : options_(std::move(options)) {
  if (!options_.active_calls && options_.store != nullptr) {
    AlertStore* store = options_.store;
    options_.active_calls = [store](const v1::ListActiveCallsRequest& request) {
      return store->ListActiveCalls(request);
    };
  }
  if (!options_.clock) options_.clock = [] { return absl::Now(); };
}

HttpResponse DashboardApi::Error(const absl::Status& status, int http_status) {
  if (http_status == 0) http_status = HttpStatusFor(status);
  return JsonResponse(ErrorJson(status, http_status), http_status);
}

bool DashboardApi::IsEventStream(const HttpRequest& request) {
  absl::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  return path == "/api/events";
}

absl::StatusOr<EventStreamRequest> DashboardApi::ParseEventStream(
    const HttpRequest& request) const {
  if (request.method != "GET") {
    return WithParameter(absl::InvalidArgumentError("the event stream takes GET"), "method");
  }
  if (options_.hub == nullptr) {
    return absl::UnavailableError("this server has no live alert stream");
  }
  auto target = ParseTarget(request.target);
  if (!target.ok()) return target.status();
  QueryParams query(target->query);
  if (auto known = query.OnlyKnown({"agent", "agency", "team", "kind", "min_severity", "call",
                                    "after_sequence", "after_ack_sequence"});
      !known.ok()) {
    return known;
  }
  auto filter = ParseAlertFilter(query, /*calls_only=*/false);
  if (!filter.ok()) return filter.status();
  if (auto valid = ValidateAlertFilter(*filter); !valid.ok()) return FromStore(valid);
  auto after = query.Uint("after_sequence");
  if (!after.ok()) return after.status();
  auto after_ack = query.Uint("after_ack_sequence");
  if (!after_ack.ok()) return after_ack.status();

  // "From now" is a cursor too, so even the first event carries an id that resumes exactly.
  EventCursor cursor;
  const uint64_t default_ack = after_ack->value_or(options_.store->LastAckSequence());
  if (!request.last_event_id.empty()) {
    auto resumed = EventCursor::FromId(request.last_event_id, default_ack);
    if (!resumed.ok()) return resumed.status();
    cursor = *resumed;
  } else {
    cursor.alert_sequence = after->value_or(options_.store->LastSequence());
    cursor.ack_sequence = default_ack;
  }
  EventStreamRequest parsed;
  *parsed.watch.mutable_filter() = *std::move(filter);
  parsed.watch.set_after_sequence(cursor.alert_sequence);
  parsed.watch.set_after_ack_sequence(cursor.ack_sequence);
  parsed.cursor = cursor;
  return parsed;
}

HttpResponse DashboardApi::Handle(const HttpRequest& request) const {
  auto target = ParseTarget(request.target);
  if (!target.ok()) return Error(target.status());
  const std::vector<std::string>& path = target->segments;
  const bool read = request.method == "GET" || request.method == "HEAD";
  auto only_get = [&](auto&& answer) -> HttpResponse {
    if (!read) return MethodNotAllowed(request.method, "GET, HEAD");
    absl::StatusOr<HttpResponse> response = answer();
    if (!response.ok()) return Error(response.status());
    return *std::move(response);
  };
  QueryParams query(target->query);
  auto page = [&](absl::string_view asset) {
    return only_get([&]() -> absl::StatusOr<HttpResponse> { return Page(asset); });
  };

  if (path.empty()) return page("index.html");
  const std::string& root = path[0];
  if (root == "calls" && path.size() == 1) return page("calls.html");
  if (root == "calls" && path.size() == 2) return page("call.html");
  if (root == "charts" && path.size() == 1) return page("charts.html");
  if (root == "assets" && path.size() == 2) {
    return only_get([&]() -> absl::StatusOr<HttpResponse> { return Asset(path[1]); });
  }
  if (root == "favicon.ico" && path.size() == 1) {
    return only_get([&]() -> absl::StatusOr<HttpResponse> { return Asset("favicon.svg"); });
  }
  if (root == "healthz" && path.size() == 1) {
    return only_get([&]() -> absl::StatusOr<HttpResponse> { return Health(); });
  }
  if (root == "metrics" && path.size() == 1) {
    return only_get([&]() -> absl::StatusOr<HttpResponse> { return Metrics(); });
  }
  if (root == "api" && path.size() >= 2) {
    const std::string& what = path[1];
    if (what == "alerts" && path.size() == 2) {
      return only_get([&] { return ListAlerts(query); });
    }
    if (what == "alerts" && path.size() == 3) {
      return only_get([&] { return GetAlert(path[2]); });
    }
    if (what == "alerts" && path.size() == 4 &&
        (path[3] == "ack" || path[3] == "acknowledge")) {
      if (request.method != "POST") return MethodNotAllowed(request.method, "POST");
      absl::StatusOr<HttpResponse> response = Acknowledge(path[2], request);
      if (!response.ok()) return Error(response.status());
      return *std::move(response);
    }
    if (what == "calls" && path.size() == 2) return only_get([&] { return ListCalls(query); });
    if (what == "calls" && path.size() == 3) return only_get([&] { return GetCall(path[2]); });
    if (what == "stats" && path.size() == 2) return only_get([&] { return Stats(query); });
  }
  return Error(WithParameter(
      absl::NotFoundError(absl::StrCat("no page or API at ", target->path)), "path"));
}

HttpResponse DashboardApi::Page(absl::string_view asset) const {
  HttpResponse response = Asset(asset);
  if (response.status == 200) {
    response.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
    response.headers.emplace_back("X-Frame-Options", "DENY");
    response.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return response;
}

HttpResponse DashboardApi::Asset(absl::string_view name) const {
  const WebAsset* asset = FindAsset(name);
  if (asset == nullptr) {
    return Error(WithParameter(absl::NotFoundError(absl::StrCat("no asset ", JsonString(name))),
                               "path"));
  }
  HttpResponse response;
  response.content_type = ContentTypeOf(name);
  response.body.assign(reinterpret_cast<const char*>(asset->data), asset->size);
  // The files change only with the binary; revalidating costs little on a LAN.
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

HttpResponse DashboardApi::Health() const {
  StoreStats stats = options_.store->Stats();
  std::string body = absl::StrCat(
      "{\"status\":\"ok\",\"lastSequence\":\"", stats.last_sequence, "\",\"lastAckSequence\":\"",
      stats.last_ack_sequence, "\",\"storeQueueDepth\":", stats.queue_depth,
      ",\"watchers\":", options_.hub == nullptr ? 0 : options_.hub->watcher_count(), "}");
  return JsonResponse(std::move(body));
}

HttpResponse DashboardApi::Metrics() const {
  std::string text = options_.metrics != nullptr ? options_.metrics->RenderPrometheus() : "";
  StoreStats stats = options_.store->Stats();
  auto gauge = [&text](const char* name, const char* type, const char* help, auto value) {
    absl::StrAppend(&text, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name,
                    " ", value, "\n");
  };
  gauge("callguard_store_queue_depth", "gauge", "Records waiting for the store's writer.",
        stats.queue_depth);
  gauge("callguard_store_rows_dropped_total", "counter",
        "Utterances not stored because the write queue was full.", stats.rows_dropped);
  gauge("callguard_store_rows_failed_total", "counter",
        "Records whose transaction failed or whose call was unknown.", stats.rows_failed);
  gauge("callguard_store_rows_pruned_total", "counter", "Alerts and calls deleted by retention.",
        stats.rows_pruned);
  gauge("callguard_store_last_sequence", "gauge", "The newest alert sequence committed.",
        stats.last_sequence);
  if (options_.hub != nullptr) {
    gauge("callguard_watchers", "gauge",
          "Live alert watchers (gRPC streams and dashboard event streams).",
          options_.hub->watcher_count());
  }
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = std::move(text);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

absl::StatusOr<HttpResponse> DashboardApi::ListAlerts(const QueryParams& query) const {
  if (auto known = query.OnlyKnown({"agent", "agency", "team", "kind", "min_severity", "call",
                                    "since", "until", "page_size", "page_token", "order",
                                    "unacknowledged"});
      !known.ok()) {
    return known;
  }
  v1::ListAlertsRequest request;
  auto filter = ParseAlertFilter(query, /*calls_only=*/false);
  if (!filter.ok()) return filter.status();
  *request.mutable_filter() = *std::move(filter);
  auto since = ParseTimeParam(query, "since");
  if (!since.ok()) return since.status();
  if (since->has_value()) *request.mutable_since() = ToProto(**since);
  auto until = ParseTimeParam(query, "until");
  if (!until.ok()) return until.status();
  if (until->has_value()) *request.mutable_until() = ToProto(**until);
  auto page_size = query.Int("page_size", kDefaultAlertPage, 1, kMaxPage);
  if (!page_size.ok()) return page_size.status();
  request.set_page_size(static_cast<int>(*page_size));
  auto token = query.Single("page_token");
  if (!token.ok()) return token.status();
  if (token->has_value()) request.set_page_token(**token);
  auto order = query.Single("order");
  if (!order.ok()) return order.status();
  if (order->has_value() && **order != "newest" && **order != "oldest") {
    return ParameterError("order", absl::StrCat("must be newest or oldest, got ",
                                                JsonString(**order)));
  }
  request.set_oldest_first(order->has_value() && **order == "oldest");
  auto unacknowledged = query.Bool("unacknowledged", false);
  if (!unacknowledged.ok()) return unacknowledged.status();
  request.set_unacknowledged_only(*unacknowledged);

  // Read before the query: a page that lists these alerts and then streams events after these
  // sequences misses nothing (it may see an alert twice, and keys them by sequence).
  const uint64_t last_sequence = options_.store->LastSequence();
  const uint64_t last_ack_sequence = options_.store->LastAckSequence();
  auto response = options_.store->ListAlerts(request);
  if (!response.ok()) return FromStore(response.status());
  return JsonResponse(WithMembers({{"lastSequence", absl::StrCat("\"", last_sequence, "\"")},
                                   {"lastAckSequence", absl::StrCat("\"", last_ack_sequence, "\"")}},
                                  ToJson(*response)));
}

absl::StatusOr<HttpResponse> DashboardApi::GetAlert(absl::string_view sequence_text) const {
  auto sequence = ParseSequence(sequence_text);
  if (!sequence.ok()) return sequence.status();
  auto alert = options_.store->GetAlert(*sequence);
  if (!alert.ok()) return WithParameter(alert.status(), "sequence");
  return JsonResponse(ToJson(*alert));
}

absl::StatusOr<HttpResponse> DashboardApi::Acknowledge(absl::string_view sequence_text,
                                                       const HttpRequest& request) const {
  auto sequence = ParseSequence(sequence_text);
  if (!sequence.ok()) return sequence.status();
  // A cross-site form cannot send this type without a preflight the server never grants.
  absl::string_view type = request.content_type;
  type = absl::StripAsciiWhitespace(type.substr(0, type.find(';')));
  if (!absl::EqualsIgnoreCase(type, "application/json")) {
    absl::Status status = WithParameter(
        absl::InvalidArgumentError(
            "the body must be JSON ({\"supervisor\": \"...\", \"note\": \"...\"}) sent as "
            "Content-Type: application/json"),
        "Content-Type");
    return Error(status, 415);
  }
  v1::AcknowledgeAlertRequest body;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(request.body, &body, options);
  if (!parsed.ok()) {
    return ParameterError("body", absl::StrCat("not a JSON object {\"supervisor\": \"...\", "
                                               "\"note\": \"...\"}: ",
                                               std::string(parsed.message())));
  }
  if (body.sequence() != 0 && body.sequence() != *sequence) {
    return ParameterError("sequence", "the body names another alert than the path");
  }
  std::string supervisor(absl::StripAsciiWhitespace(body.supervisor()));
  if (supervisor.empty()) {
    return ParameterError("supervisor", "required: who handles the alert");
  }
  if (supervisor.size() > kMaxSupervisorBytes) {
    return ParameterError("supervisor",
                          absl::StrCat("at most ", kMaxSupervisorBytes, " bytes"));
  }
  if (body.note().size() > kMaxNoteBytes) {
    return ParameterError("note", absl::StrCat("at most ", kMaxNoteBytes, " bytes"));
  }
  auto stored = options_.store->Acknowledge(*sequence, supervisor, body.note());
  if (stored.status().code() == absl::StatusCode::kAlreadyExists) {
    // Say who was first, so the page can show it instead of just failing.
    HttpResponse response = Error(WithParameter(stored.status(), "sequence"));
    if (auto existing = options_.store->GetAlert(*sequence); existing.ok()) {
      response.body = WithMembers({{"alert", ToJson(*existing)}}, response.body);
    }
    return response;
  }
  if (!stored.ok()) return WithParameter(stored.status(), "sequence");
  return JsonResponse(ToJson(*stored));
}

absl::StatusOr<HttpResponse> DashboardApi::ListCalls(const QueryParams& query) const {
  if (auto known = query.OnlyKnown({"agent", "agency", "team", "page_size", "page_token"});
      !known.ok()) {
    return known;
  }
  v1::ListActiveCallsRequest request;
  auto filter = ParseAlertFilter(query, /*calls_only=*/true);
  if (!filter.ok()) return filter.status();
  *request.mutable_filter() = *std::move(filter);
  auto page_size = query.Int("page_size", 0, 0, kMaxPage);
  if (!page_size.ok()) return page_size.status();
  request.set_page_size(static_cast<int>(*page_size));
  auto token = query.Single("page_token");
  if (!token.ok()) return token.status();
  if (token->has_value()) request.set_page_token(**token);
  auto response = options_.active_calls(request);
  if (!response.ok()) return FromStore(response.status());
  // The page counts elapsed time from the server's clock, not the viewer's.
  return JsonResponse(WithMembers({{"serverTime", TimeJson(options_.clock())}}, ToJson(*response)));
}

absl::StatusOr<HttpResponse> DashboardApi::GetCall(absl::string_view call_id) const {
  auto timeline = options_.store->GetCall(call_id);
  if (!timeline.ok()) return WithParameter(timeline.status(), "call_id");
  return JsonResponse(WithMembers({{"serverTime", TimeJson(options_.clock())}}, ToJson(*timeline)));
}

absl::StatusOr<HttpResponse> DashboardApi::Stats(const QueryParams& query) const {
  if (auto known = query.OnlyKnown({"agent", "agency", "team", "kind", "min_severity", "hours",
                                    "since", "until", "bucket_seconds"});
      !known.ok()) {
    return known;
  }
  v1::AlertStatsRequest request;
  auto filter = ParseAlertFilter(query, /*calls_only=*/false);
  if (!filter.ok()) return filter.status();
  *request.mutable_filter() = *std::move(filter);
  auto bucket = query.Int("bucket_seconds", 3600, 60, 7 * 86400);
  if (!bucket.ok()) return bucket.status();
  auto hours = query.Int("hours", 24, 1, 24 * 31);
  if (!hours.ok()) return hours.status();
  auto since = ParseTimeParam(query, "since");
  if (!since.ok()) return since.status();
  auto until = ParseTimeParam(query, "until");
  if (!until.ok()) return until.status();
  const absl::Time end = until->value_or(options_.clock());
  absl::Time start = since->value_or(end - absl::Hours(*hours));
  if (!since->has_value()) {
    // Whole buckets, so the first bar of a chart is not a partial one.
    const int64_t width = *bucket;
    start = absl::FromUnixSeconds(absl::ToUnixSeconds(start) / width * width);
  }
  if (start >= end) return ParameterError("since", "must be before until");
  *request.mutable_since() = ToProto(start);
  *request.mutable_until() = ToProto(end);
  request.set_bucket_seconds(*bucket);
  auto response = options_.store->AlertStats(request);
  if (!response.ok()) return FromStore(response.status());
  return JsonResponse(WithMembers({{"since", TimeJson(start)},
                                   {"until", TimeJson(end)},
                                   {"bucketSeconds", absl::StrCat(*bucket)}},
                                  ToJson(*response)));
}

}  // namespace callguard::dashboard
