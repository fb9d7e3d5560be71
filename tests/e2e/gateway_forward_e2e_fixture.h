// The fixture of the forwarding E2E tests through the real
// `sallyport-gateway` (gateway_forward_e2e_test.cc: ssh -J and ssh -L;
// gateway_reverse_forward_e2e_test.cc: ssh -R, agent forwarding and the
// channels the host opens): one BastionFixture with its gateway for the
// suite, stock `ssh` per user, helpers to run it in the foreground or in
// the background.
// Roles (BastionFixture::DefaultOptions, plus a deny of agent-forward in
// prod-readonly): alice [dev] has no port-forward, agent-forward or
// proxyjump-passthrough (her certificate has no permit-port-forwarding or
// permit-agent-forwarding); olivia [ops] has every kind on env=dev and
// env=prod; rita [ops, prod-readonly] has ops' kinds, but prod-readonly's
// deny rule refuses port-forward, agent-forward and proxyjump-passthrough
// on env=prod (web02).
#ifndef SALLYPORT_TESTS_E2E_GATEWAY_FORWARD_E2E_FIXTURE_H_
#define SALLYPORT_TESTS_E2E_GATEWAY_FORWARD_E2E_FIXTURE_H_

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {

// Waits up to 30 s for `text` in a file.
inline bool WaitForText(const std::string& path, const std::string& text) {
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (absl::Now() < limit) {
    if (absl::StrContains(ReadFileOrEmpty(path), text)) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return false;
}

class GatewayForwardE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    BastionFixture::Options o = BastionFixture::DefaultOptions();
    // A role's deny rule that refuses agent forwarding on env=prod.
    for (auto& role : o.roles) {
      if (role.name() == "prod-readonly")
        role.mutable_deny(0)->add_channels("agent-forward");
    }
    auto f = BastionFixture::Start(o);
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  static void TearDownTestSuite() {
    if (fixture_ != nullptr) {
      EXPECT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
    }
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fixture_, nullptr); }
  void TearDown() override {
    if (HasFailure())
      std::fprintf(stderr, "%s", fixture_->GatewayLog().c_str());
  }

  // `ssh -F CONFIG` for `user`: the fixture's ssh_config with LogLevel
  // INFO first (the default of a user's ssh, so the reasons of refused
  // channel opens are printed), for the ProxyJump hop as well.
  static std::vector<std::string> Args(const std::string& user) {
    auto u = fixture_->user(user);
    EXPECT_TRUE(u.ok()) << u.status();
    if (!u.ok()) return {"false"};
    const std::string config =
        absl::StrCat(::testing::TempDir(), "/", user, "_ssh_config");
    EXPECT_TRUE(
        WriteFile(config, absl::StrCat("Host *\n  LogLevel INFO\n", "Include ",
                                       (*u)->ssh_config, "\n"))
            .ok());
    return {"ssh", "-F", config};
  }
  static std::string Login(const std::string& host) {
    return absl::StrCat(fixture_->target_login(), "+", host);
  }
  static RunResult Run(const std::vector<std::string>& args,
                       const RunOptions& o = {}) {
    auto r = RunCommand(args, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }
  // `ssh -J gateway -o HostName=HOST HOST COMMAND` as `user`.
  static RunResult Jump(const std::string& user, const std::string& host,
                        const std::string& command) {
    std::vector<std::string> args = Args(user);
    args.insert(args.end(), {"-J", "gateway", "-o",
                             absl::StrCat("HostName=", host), host, command});
    return Run(args);
  }
  // `ssh OPTIONS -l LOGIN+HOST gateway ...` in the background (for -L and
  // -R), its output in a log file.
  static std::unique_ptr<BackgroundProcess> Background(
      const std::string& user, const std::string& host,
      const std::vector<std::string>& options, const std::string& log_name) {
    std::vector<std::string> args = Args(user);
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"-N", "-l", Login(host), "gateway"});
    BackgroundProcess::Options o;
    o.log_path = absl::StrCat(::testing::TempDir(), "/", log_name, ".log");
    auto p = BackgroundProcess::Start(args, o);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }
  static bool WaitForGatewayLog(const std::string& text) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit) {
      if (absl::StrContains(fixture_->GatewayLog(), text)) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  }

  // One gateway for the whole suite (SetUpTestSuite).
  inline static BastionFixture* fixture_ = nullptr;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_E2E_GATEWAY_FORWARD_E2E_FIXTURE_H_
