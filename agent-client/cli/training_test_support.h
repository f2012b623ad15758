#ifndef CALLGUARD_CLI_TRAINING_TEST_SUPPORT_H_
#define CALLGUARD_CLI_TRAINING_TEST_SUPPORT_H_

#include <memory>
#include <string>

#include "engine.h"
#include "gtest/gtest.h"

namespace callguard::cli::testing_support {

inline std::string SourcePath(const std::string& relative) { return std::string(CALLGUARD_SOURCE_DIR) + "/" + relative; }

// The shipped policies, compiled once per test binary.
inline std::shared_ptr<const Engine> ShippedEngine() {
  static const std::shared_ptr<const Engine>* engine = [] {
    auto loaded = Engine::LoadFromDirectory(SourcePath("policies"));
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const Engine>(loaded.ok() ? *loaded : nullptr);
  }();
  return *engine;
}

}  // namespace callguard::cli::testing_support

#endif  // CALLGUARD_CLI_TRAINING_TEST_SUPPORT_H_
