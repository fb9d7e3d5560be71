#include "tests/harness/listening_process.h"

#include <cstdlib>
#include <iostream>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace sallyport::testing {

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return workspace_relative;
  return absl::StrCat(srcdir, "/",
                      workspace != nullptr ? workspace : "sallyport", "/",
                      workspace_relative);
}

absl::StatusOr<std::unique_ptr<ListeningProcess>> ListeningProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path,
    absl::Duration timeout) {
  std::unique_ptr<ListeningProcess> p(new ListeningProcess());
  p->log_path_ = log_path;
  BackgroundProcess::Options options;
  options.log_path = log_path;
  auto proc = BackgroundProcess::Start(argv, options);
  if (!proc.ok()) return proc.status();
  p->process_ = std::move(*proc);
  static const std::regex kListening(R"(listening on [^\s]*:(\d+))");
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::string log = p->Log();
    std::smatch m;
    if (std::regex_search(log, m, kListening)) {
      p->port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
      return p;
    }
    if (!p->process_->Running()) {
      return absl::UnavailableError(
          absl::StrCat(argv[0], " exited before listening:\n", log));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      argv[0], " did not print 'listening on' in time:\n", p->Log()));
}

ListeningProcess::~ListeningProcess() {
  if (process_) process_->Stop();
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- log of " << log_path_ << " ---\n"
              << Log() << "--- end ---\n";
  }
}

}  // namespace sallyport::testing
