// A dialer integration in a few lines: streams one sample call to callguard with the
// callguard_client library and prints each alert as it arrives.
//
//   stream_call --target 127.0.0.1:50051 [--calls examples/calls-en.jsonl] [--call-id ID]
//
// Without --call-id it streams the first call of the file.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "callguard/v1/transcript.pb.h"
#include "callguard_client.h"
#include "google/protobuf/util/json_util.h"

namespace {

using callguard::client::CallCallbacks;
using callguard::client::CallguardClient;
namespace v1 = callguard::v1;

int Fail(const std::string& message) {
  std::cerr << "stream_call: " << message << std::endl;
  return 1;
}

void PrintAlert(const v1::Alert& alert) {
  std::vector<std::string> words;
  for (const v1::Evidence& e : alert.evidence()) words.push_back(absl::StrCat("\"", e.text(), "\""));
  std::vector<std::string> citations;
  for (const v1::Citation& c : alert.citations()) citations.push_back(absl::StrCat(c.authority(), " ", c.section()));
  std::cout << "ALERT " << v1::ViolationKind_Name(alert.violation()) << " rule=" << alert.rule_id()
            << " turn=" << alert.turn() << " words=" << absl::StrJoin(words, ", ") << "\n"
            << "  citation: " << absl::StrJoin(citations, "; ") << "\n"
            << "  better: " << alert.coaching() << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target;
  std::string calls_path = "examples/calls-en.jsonl";
  std::string call_id;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--target") {
      target = argv[i + 1];
    } else if (flag == "--calls") {
      calls_path = argv[i + 1];
    } else if (flag == "--call-id") {
      call_id = argv[i + 1];
    } else {
      return Fail("usage: stream_call --target HOST:PORT [--calls FILE] [--call-id ID]");
    }
  }
  if (target.empty()) return Fail("--target HOST:PORT is required");

  // The sample file is labelled calls in the protobuf JSON mapping, one per line.
  std::ifstream in(calls_path);
  if (!in) return Fail(absl::StrCat("cannot open ", calls_path));
  v1::Transcript call;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    v1::Transcript t;
    if (auto status = google::protobuf::util::JsonStringToMessage(line, &t); !status.ok()) {
      return Fail(absl::StrCat(calls_path, ": ", status.ToString()));
    }
    if (call_id.empty() || t.call_id() == call_id) {
      call = std::move(t);
      found = true;
      break;
    }
  }
  if (!found) return Fail(absl::StrCat("no call \"", call_id, "\" in ", calls_path));

  CallguardClient::Options options;
  options.target = target;
  auto client = CallguardClient::Create(options);
  if (!client.ok()) return Fail(client.status().ToString());

  v1::CallStart start;
  start.set_call_id(call.call_id());
  start.set_policy(call.policy());
  start.set_language(call.language());
  *start.mutable_agency() = call.agency();
  *start.mutable_agent() = call.agent();
  *start.mutable_debtor() = call.debtor();
  start.set_dialed(call.dialed());

  CallCallbacks callbacks;
  callbacks.on_alert = PrintAlert;  // runs on the call's reader thread, one at a time
  callbacks.on_error = [](const v1::EventError& error) {
    std::cout << "ERROR " << error.field() << ": " << error.message() << std::endl;
  };
  auto handle = (*client)->OpenCall(start, callbacks);
  if (!handle.ok()) return Fail(handle.status().ToString());
  std::cout << "CALL " << call.call_id() << " policy=" << call.policy() << std::endl;

  for (int turn = 0; turn < call.turns_size(); ++turn) {
    v1::Utterance utterance;
    utterance.set_utterance_id(absl::StrCat("u", turn));
    utterance.set_speaker(call.turns(turn).speaker());
    utterance.set_text(call.turns(turn).text());
    utterance.set_is_final(true);
    if (absl::Status status = (*handle)->SendUtterance(utterance); !status.ok()) {
      return Fail(status.ToString());
    }
  }
  auto summary = (*handle)->End("call finished");
  if (!summary.ok()) return Fail(summary.status().ToString());
  std::cout << "SUMMARY turns=" << summary->turns() << " alerts=" << summary->alerts()
            << " identified=" << (summary->agent_identified() ? "yes" : "no") << std::endl;
  return 0;
}
