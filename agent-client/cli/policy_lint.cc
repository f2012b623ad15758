#include "policy_lint.h"

#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace callguard::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Every `any_of` / `*_any_of` string field in the schema names phrase sets (rule checks, party
// inference, parameters). Walking them by reflection keeps the linter right when a check
// gains a field.
void CollectSetReferences(const Message& message, absl::flat_hash_set<std::string>* used) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && field->is_repeated() &&
        (field->name() == "any_of" || absl::EndsWith(field->name(), "_any_of"))) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        used->insert(reflection->GetRepeatedString(message, field, i));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CollectSetReferences(reflection->GetRepeatedMessage(message, field, i), used);
        }
      } else {
        CollectSetReferences(reflection->GetMessage(message, field), used);
      }
    }
  }
}

bool IsIdentifierChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

}  // namespace

int DeclarationLine(absl::string_view text, absl::string_view key, absl::string_view value) {
  const std::string quoted = absl::StrCat("\"", value, "\"");
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    for (size_t at = line.find(key); at != absl::string_view::npos; at = line.find(key, at + 1)) {
      if (at > 0 && IsIdentifierChar(line[at - 1])) continue;
      absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(at + key.size()));
      if (!absl::ConsumePrefix(&rest, ":")) continue;
      rest = absl::StripLeadingAsciiWhitespace(rest);
      if (absl::StartsWith(rest, quoted)) return line_number;
    }
  }
  return 0;
}

std::vector<LintWarning> LintPolicy(const v1::Policy& policy, absl::string_view source_text) {
  std::vector<LintWarning> warnings;

  absl::flat_hash_set<std::string> used;
  for (const v1::Rule& rule : policy.rules()) CollectSetReferences(rule, &used);
  CollectSetReferences(policy.party_inference(), &used);
  CollectSetReferences(policy.parameters(), &used);
  for (const v1::PhraseSet& set : policy.phrase_sets()) {
    if (!used.contains(set.name())) {
      warnings.push_back({DeclarationLine(source_text, "name", set.name()),
                          absl::StrCat("phrase set \"", set.name(), "\" is never used")});
    }
  }

  std::set<v1::ViolationKind> expected_kinds;
  for (const v1::PolicyExample& example : policy.examples()) {
    for (int kind : example.expect()) expected_kinds.insert(static_cast<v1::ViolationKind>(kind));
  }
  std::set<v1::ViolationKind> rule_kinds;
  for (const v1::Rule& rule : policy.rules()) {
    if (rule.disabled()) continue;
    rule_kinds.insert(rule.kind());
    const int line = DeclarationLine(source_text, "id", rule.id());
    const std::string name = absl::StrCat("rule \"", rule.id(), "\"");
    if (rule.citations_size() == 0) {
      warnings.push_back({line, absl::StrCat(name, " has no citation: alerts will not say which law applies")});
    }
    if (absl::StripAsciiWhitespace(rule.coaching()).empty()) {
      warnings.push_back({line, absl::StrCat(name, " has no coaching: alerts will not say what to say instead")});
    }
    if (!expected_kinds.contains(rule.kind())) {
      warnings.push_back({line, absl::StrCat(name, " (", v1::ViolationKind_Name(rule.kind()),
                                             ") has no example expecting its kind")});
    }
  }
  for (const v1::PolicyExample& example : policy.examples()) {
    for (int kind : example.expect()) {
      if (!rule_kinds.contains(static_cast<v1::ViolationKind>(kind))) {
        warnings.push_back({DeclarationLine(source_text, "name", example.name()),
                            absl::StrCat("example \"", example.name(), "\" expects ",
                                         v1::ViolationKind_Name(static_cast<v1::ViolationKind>(kind)),
                                         " but no enabled rule raises that kind")});
      }
    }
  }
  return warnings;
}

}  // namespace callguard::cli
