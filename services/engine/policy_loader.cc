#include "policy_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

#ifndef CALLGUARD_DEFAULT_POLICY_DIR
#define CALLGUARD_DEFAULT_POLICY_DIR "policies"
#endif

namespace callguard {
namespace {

// Keeps the first error with its position; TextFormat reports 0-based lines and columns.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (!has_error_) {
      has_error_ = true;
      line_ = line + 1;
      column_ = column + 1;
      message_ = message;
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  bool has_error() const { return has_error_; }
  std::string Describe(absl::string_view name) const {
    return absl::StrCat(name, ":", line_, ":", column_, ": ", message_);
  }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

}  // namespace

absl::StatusOr<v1::Policy> ParsePolicyText(absl::string_view text, absl::string_view name) {
  v1::Policy policy;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &policy)) {
    if (errors.has_error()) return absl::InvalidArgumentError(errors.Describe(name));
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a valid policy"));
  }
  if (policy.id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ":1:1: policy has no id"));
  }
  return policy;
}

absl::StatusOr<PolicySource> ParsePolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open policy file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto policy = ParsePolicyText(buffer.str(), path);
  if (!policy.ok()) return policy.status();
  return PolicySource{*std::move(policy), path};
}

absl::StatusOr<std::vector<PolicySource>> LoadPolicyDirectory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": policy folder does not exist"));
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".textproto") files.push_back(entry.path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat(dir, ": ", ec.message()));
  if (files.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no *.textproto policy files"));
  std::sort(files.begin(), files.end());
  std::vector<PolicySource> out;
  absl::flat_hash_map<std::string, std::string> seen;
  for (const auto& f : files) {
    auto p = ParsePolicyFile(f);
    if (!p.ok()) return p.status();
    auto [it, inserted] = seen.emplace(p->policy.id(), f);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(f, ":1:1: policy id \"", p->policy.id(), "\" is already defined in ", it->second));
    }
    out.push_back(*std::move(p));
  }
  return out;
}

std::string DefaultPolicyDirectory() {
  if (const char* env = std::getenv("CALLGUARD_POLICY_DIR"); env != nullptr && *env != '\0') return env;
  return CALLGUARD_DEFAULT_POLICY_DIR;
}

}  // namespace callguard
