// gtest's main, plus a symbolized stack trace when a test dies of a signal
// (absl's failure signal handler, which then re-raises to the previous
// handler, e.g. a sanitizer's), so a crash in CI says where it happened.
#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/symbolize.h"
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  absl::InitializeSymbolizer(argv[0]);
  absl::InstallFailureSignalHandler(absl::FailureSignalHandlerOptions());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
