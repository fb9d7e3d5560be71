// The fixture of the E2E tests that operate the real `sallyport-gateway
// serve` (gateway_ops_e2e_test.cc: metrics, JSON logs, threads, renewed
// certificates, drain; gateway_limits_e2e_test.cc: each limit reloaded by
// SIGHUP, at its limit): one BastionFixture with its gateway (log_format
// json, threads 0) for the suite, sessions through it as alice with stock
// `ssh`, and the reload and log helpers.
#ifndef SALLYPORT_TESTS_E2E_GATEWAY_OPS_E2E_FIXTURE_H_
#define SALLYPORT_TESTS_E2E_GATEWAY_OPS_E2E_FIXTURE_H_

#include <signal.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {

class GatewayOpsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"), {},
                               [](config::GatewayConfig* c) {
                                 c->set_log_format("json");
                                 c->set_threads(0);
                               });
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  static void TearDownTestSuite() {
    if (fixture_ != nullptr) (void)fixture_->StopGateway();
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fixture_, nullptr); }
  void TearDown() override {
    if (!HasFailure()) return;
    std::fprintf(stderr, "%s", fixture_->GatewayLog().c_str());
    // The target's side too: a session that stalls may stall there.
    if (BastionFixture::Target* t = fixture_->target("web01");
        t != nullptr && t->sshd != nullptr) {
      std::fprintf(stderr, "--- web01 sshd log ---\n%s--- end ---\n",
                   t->sshd->Log().c_str());
    }
  }

  static std::vector<std::string> GatewayArgs(
      const std::string& user, const std::vector<std::string>& options,
      const std::string& host = "web01") {
    auto args = fixture_->SshArgs(user);
    EXPECT_TRUE(args.ok()) << args.status();
    if (!args.ok()) return {};
    args->insert(args->end(), options.begin(), options.end());
    args->push_back("-l");
    args->push_back(absl::StrCat(fixture_->target_login(), "+", host));
    args->push_back("gateway");
    return *args;
  }

  static RunResult ViaGateway(const std::string& command,
                              const std::vector<std::string>& options = {}) {
    std::vector<std::string> args = GatewayArgs("alice", options);
    args.push_back(command);
    RunOptions ro;
    ro.timeout = absl::Seconds(90);
    auto r = RunCommand(args, ro);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }

  // A session running `command` in the background (its output in `log`).
  static std::unique_ptr<BackgroundProcess> StartSession(
      const std::string& command, const std::string& log) {
    std::vector<std::string> args = GatewayArgs("alice", {});
    args.push_back(command);
    BackgroundProcess::Options o;
    o.log_path = log;
    auto p = BackgroundProcess::Start(args, o);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  static std::string ReadLog(const std::string& path) {
    return ReadFileOrEmpty(path);
  }

  // Waits until `pred` holds (up to `limit`).
  template <typename Pred>
  static bool WaitFor(Pred pred, absl::Duration limit = absl::Seconds(60)) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return pred();
  }

  // Edits gateway.yaml, sends SIGHUP and waits for the reload line.
  static void Reload(const std::function<void(config::GatewayConfig*)>& edit) {
    const size_t before = CountInLog("\"message\":\"reloaded:");
    ASSERT_TRUE(fixture_->EditGatewayConfig(edit).ok());
    fixture_->gateway_process()->Signal(SIGHUP);
    ASSERT_TRUE(WaitFor([&] {
      return CountInLog("\"message\":\"reloaded:") > before;
    })) << fixture_->GatewayLog();
  }

  static size_t CountInLog(const std::string& needle) {
    const std::string log = fixture_->GatewayLog();
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos;
         at = log.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }

  // The lines of the gateway's log that are its own (JSON objects), parsed.
  static std::vector<google::protobuf::Struct> JsonLines(
      std::vector<std::string>* bad) {
    std::vector<google::protobuf::Struct> out;
    for (absl::string_view line :
         absl::StrSplit(fixture_->GatewayLog(), '\n', absl::SkipEmpty())) {
      google::protobuf::Struct s;
      if (google::protobuf::util::JsonStringToMessage(std::string(line), &s)
              .ok()) {
        out.push_back(std::move(s));
      } else {
        bad->push_back(std::string(line));
      }
    }
    return out;
  }

  static std::string Field(const google::protobuf::Struct& s,
                           const std::string& key) {
    auto it = s.fields().find(key);
    if (it == s.fields().end()) return "";
    if (it->second.has_string_value()) return it->second.string_value();
    if (it->second.has_number_value())
      return absl::StrCat(it->second.number_value());
    return "";
  }

  // One gateway for the whole suite (SetUpTestSuite).
  inline static BastionFixture* fixture_ = nullptr;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_E2E_GATEWAY_OPS_E2E_FIXTURE_H_
