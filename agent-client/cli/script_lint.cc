#include "script_lint.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "call_session.h"
#include "normalizer.h"

namespace callguard::cli {
namespace {

struct ScriptLine {
  int line;
  int section;  // index into sections
  std::string text;
};

struct Section {
  std::string name;
  int line;
  bool verification;
};

bool HasCjk(absl::string_view text) {
  // Any byte of a 3-byte UTF-8 sequence starting in E3..E9 covers the CJK blocks used here.
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0xE3 && c <= 0xE9) return true;
  }
  return false;
}

bool IsVerificationName(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view word : {"verif", "identity", "核实", "确认身份", "验证", "身份"}) {
    if (absl::StrContains(lower, word)) return true;
  }
  return false;
}

// "## Opening" or "[Opening]": the section name, else empty.
std::string HeadingName(absl::string_view line) {
  if (absl::StartsWith(line, "#")) {
    absl::string_view rest = line;
    while (absl::ConsumePrefix(&rest, "#")) {
    }
    return std::string(absl::StripAsciiWhitespace(rest));
  }
  if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
    return std::string(absl::StripAsciiWhitespace(line.substr(1, line.size() - 2)));
  }
  return "";
}

bool IsStageDirection(absl::string_view line) {
  return (absl::StartsWith(line, "(") && absl::EndsWith(line, ")")) ||
         (absl::StartsWith(line, "（") && absl::EndsWith(line, "）"));
}

absl::string_view DropSpeakerLabel(absl::string_view line) {
  for (absl::string_view label : {"Agent:", "Collector:", "AGENT:", "COLLECTOR:", "坐席:", "坐席：", "催收员:", "催收员："}) {
    if (absl::ConsumePrefix(&line, label)) return absl::StripAsciiWhitespace(line);
  }
  return line;
}

std::string Regulations(const v1::Alert& alert) {
  std::vector<std::string> parts;
  for (const v1::Citation& c : alert.citations()) parts.push_back(absl::StrCat(c.authority(), " ", c.section()));
  return absl::StrJoin(parts, "; ");
}

}  // namespace

absl::StatusOr<ScriptLintResult> LintScript(const std::shared_ptr<const Engine>& engine, absl::string_view text,
                                            const ScriptLintOptions& options) {
  const bool cjk = HasCjk(text);
  std::string policy_id = options.policy_id;
  if (policy_id.empty()) {
    for (const std::string& id : engine->PolicyIds()) {
      if (engine->FindPolicy(id)->source().language() == (cjk ? "zh" : "en")) {
        policy_id = id;
        break;
      }
    }
    if (policy_id.empty()) return absl::NotFoundError("no loaded policy for the script's language: give --policy");
  }
  const CompiledPolicy* policy = engine->FindPolicy(policy_id);
  if (policy == nullptr) return engine->UnknownPolicyError(policy_id, "--policy");
  const bool zh = policy->source().language() == "zh";

  // Sample values for the placeholders, in the policy's language.
  const std::string agency = !options.agency.empty() ? options.agency : zh ? "安信资产管理有限公司" : "Summit Recovery Services";
  const std::string agent = !options.agent.empty() ? options.agent : zh ? "王磊" : "Alex Morgan";
  const std::string agent_id = !options.agent_id.empty() ? options.agent_id : "8021";
  const std::string debtor = !options.debtor.empty() ? options.debtor : zh ? "张伟" : "John Smith";
  const std::vector<std::pair<std::string, std::string>> placeholders = {
      {"{agent}", agent},
      {"{agent_id}", agent_id},
      {"{agency}", agency},
      {"{debtor}", debtor},
      {"{creditor}", zh ? "恒通银行" : "Northstar Bank"},
      {"{amount}", zh ? "3200元" : "$1,240"},
      {"{callback}", zh ? "400-800-1234" : "866-555-0131"}};

  std::vector<Section> sections;
  std::vector<ScriptLine> lines;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || absl::StartsWith(line, "//") || absl::StartsWith(line, ">") || IsStageDirection(line)) continue;
    if (std::string name = HeadingName(line); !name.empty()) {
      sections.push_back({name, number, IsVerificationName(name)});
      continue;
    }
    line = DropSpeakerLabel(line);
    if (line.empty()) continue;
    if (sections.empty()) sections.push_back({"(untitled)", number, false});
    lines.push_back({number, static_cast<int>(sections.size()) - 1, absl::StrReplaceAll(line, placeholders)});
  }

  CallSession::Options session_options;
  session_options.engine = engine;
  session_options.start.set_call_id("script-lint");
  session_options.start.set_policy(policy_id);
  session_options.start.mutable_agency()->set_name(agency);
  session_options.start.mutable_agent()->set_name(agent);
  session_options.start.mutable_agent()->set_agent_id(agent_id);
  session_options.start.mutable_debtor()->set_name(debtor);
  session_options.start.set_dialed(v1::DEBTOR_PHONE);
  absl::StatusOr<std::unique_ptr<CallSession>> session = CallSession::Create(std::move(session_options));
  if (!session.ok()) return session.status();

  ScriptLintResult result;
  result.policy_id = policy_id;
  int verification_section = -1;
  for (size_t i = 0; i < sections.size(); ++i) {
    if (sections[i].verification) {
      verification_section = static_cast<int>(i);
      break;
    }
  }
  bool debtor_verified = false;
  bool identification_alerted = false, statement_alerted = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const ScriptLine& line = lines[i];
    if (!debtor_verified && verification_section >= 0 && line.section > verification_section) {
      v1::PartyUpdate update;
      update.set_party(v1::PARTY_DEBTOR);
      update.set_note("verification section done");
      if (absl::Status s = (*session)->OnPartyUpdate(update); !s.ok()) return s;
      debtor_verified = true;
    }
    v1::Utterance u;
    u.set_utterance_id(absl::StrCat("line", line.line));
    u.set_speaker(v1::AGENT);
    u.set_text(line.text);
    u.set_is_final(true);
    absl::StatusOr<std::vector<v1::Alert>> alerts = (*session)->OnUtterance(u);
    if (!alerts.ok()) return absl::InvalidArgumentError(absl::StrCat("line ", line.line, ": ", alerts.status().message()));
    ++result.lines_checked;
    for (const v1::Alert& a : *alerts) {
      ScriptFinding f;
      f.line = line.line;
      f.rule = a.rule_id();
      f.kind = v1::ViolationKind_Name(a.violation());
      std::vector<std::string> words;
      for (const v1::Evidence& e : a.evidence()) words.push_back(absl::StrCat("\"", e.text(), "\""));
      f.words = absl::StrJoin(words, ", ");
      f.regulation = Regulations(a);
      f.better = a.coaching();
      identification_alerted |= a.violation() == v1::MISSING_SELF_IDENTIFICATION;
      statement_alerted |= a.violation() == v1::MISSING_DEBT_COLLECTOR_DISCLOSURE;
      result.findings.push_back(std::move(f));
    }
  }

  auto missing = [&](int line, std::string rule, std::string what, std::string better) {
    ScriptFinding f;
    f.line = line;
    f.rule = std::move(rule);
    f.kind = "MISSING_ELEMENT";
    f.words = std::move(what);
    f.better = std::move(better);
    result.findings.push_back(std::move(f));
  };
  const int opening_line = sections.empty() ? 1 : sections.front().line;
  if (!(*session)->agent_identified() && !identification_alerted) {
    missing(opening_line, "script.opening", "the opening never identifies the agent and the organization",
            zh ? "开场先表明身份：“您好，我是{agency}的{agent}，工号{agent_id}。”"
               : "Open with: 'Hi, this is {agent} with {agency}.'");
  }
  if (verification_section < 0) {
    missing(opening_line, "script.verification", "no verification section (## Verification) before the debt is discussed",
            zh ? "加一节“## 身份核实”：“请问您是{debtor}本人吗？”，确认本人后再谈欠款。"
               : "Add a '## Verification' section: 'Am I speaking with {debtor}?' and discuss the account only after that.");
  }
  const bool statement_rule = std::any_of(policy->source().rules().begin(), policy->source().rules().end(),
                                          [](const v1::Rule& r) { return r.kind() == v1::MISSING_DEBT_COLLECTOR_DISCLOSURE; });
  if (statement_rule && !(*session)->debt_collector_disclosed() && !statement_alerted) {
    const int line = verification_section >= 0 ? sections[verification_section].line : opening_line;
    missing(line, "script.disclosure", "the debt-collector statement (mini-Miranda) is missing",
            "Right after verification say: 'This is {agency}, a debt collector. This is an attempt to collect a debt "
            "and any information obtained will be used for that purpose.'");
  }
  std::stable_sort(result.findings.begin(), result.findings.end(),
                   [](const ScriptFinding& a, const ScriptFinding& b) { return a.line < b.line; });
  return result;
}

std::string FormatScriptFinding(absl::string_view path, const ScriptFinding& f) {
  if (f.kind == "MISSING_ELEMENT") return absl::StrCat(path, ":", f.line, ": ", f.rule, ": missing: ", f.words, " -> ", f.better);
  return absl::StrCat(path, ":", f.line, ": ", f.rule, ": ", f.words, " (", f.regulation, ") -> ", f.better);
}

}  // namespace callguard::cli
