// The real sallyport-ca binary against operator actions and a hostile
// client: SIGHUP, `sallyport-ca unlock`, an invalid --listen, and a 100 MiB
// unauthenticated Login message (the CA's peak memory must barely move).
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "tests/e2e/ca_e2e_util.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::ReadFileOrEmpty;
using sallyport::testing::RunCommand;
using sallyport::testing::RunfilePath;

bool WaitForLog(RunningCa& ca, const std::string& text,
                absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(ca.Log(), text)) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST(CaHardeningE2eTest, SighupReloadsAndNeverKills) {
  auto ca = RunningCa::Start("admin");
  ASSERT_TRUE(ca.ok()) << ca.status();
  (*ca)->process().Signal(SIGHUP);
  ASSERT_TRUE(WaitForLog(**ca, "SIGHUP: reloaded")) << (*ca)->Log();
  EXPECT_TRUE((*ca)->process().Running());

  // A config that no longer loads is logged; the CA keeps running.
  const std::string config = ReadFileOrEmpty((*ca)->config_path());
  {
    std::ofstream out((*ca)->config_path(), std::ios::app);
    out << "logging: {log_format: xml}\n";
  }
  (*ca)->process().Signal(SIGHUP);
  ASSERT_TRUE(WaitForLog(**ca, "not reloaded")) << (*ca)->Log();
  EXPECT_TRUE((*ca)->process().Running());
  {
    std::ofstream out((*ca)->config_path(), std::ios::trunc);
    out << config;
  }
  const int status = (*ca)->Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// The last admin can always be unlocked on the CA host: five wrong
// passwords from this address (login.max_failures, default 5) lock admin
// out here, even with the right one; `sallyport-ca unlock admin` (no network)
// lifts it while the CA runs, and the right password works at once.
TEST(CaHardeningE2eTest, UnlockCommandWorksLocally) {
  auto ca = RunningCa::Start("admin");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto home = sallyport::testing::TempDir::Create("unlock-home");
  ASSERT_TRUE(home.ok()) << home.status();
  const auto login = [&](const std::string& password) {
    auto r =
        RunSp(home->path(),
              {"login", "--ca", (*ca)->address(), "--user", "admin",
               "--password-stdin", "--ca-fingerprint", (*ca)->fingerprint()},
              password + "\n");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : sallyport::testing::RunResult();
  };
  for (int i = 0; i < 5; ++i) EXPECT_NE(login("not-the-password").exit_code, 0);
  sallyport::testing::RunResult locked = login((*ca)->password());
  EXPECT_NE(locked.exit_code, 0) << locked.Describe();
  EXPECT_TRUE(absl::StrContains(locked.err, "locked")) << locked.Describe();

  const std::string bin = RunfilePath("ca/sallyport-ca");
  auto ok =
      RunCommand({bin, "unlock", "admin", "--config", (*ca)->config_path()});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->exit_code, 0) << ok->out << ok->err;
  EXPECT_TRUE(absl::StrContains(ok->out, "unlocked admin")) << ok->out;
  sallyport::testing::RunResult after = login((*ca)->password());
  EXPECT_EQ(after.exit_code, 0) << after.Describe();

  auto unknown =
      RunCommand({bin, "unlock", "nobody", "--config", (*ca)->config_path()});
  ASSERT_TRUE(unknown.ok());
  EXPECT_NE(unknown->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(unknown->err, "nobody")) << unknown->err;
}

TEST(CaHardeningE2eTest, ServeRefusesAListenThatWraps) {
  auto ca = RunningCa::Start("admin");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto r = RunCommand({RunfilePath("ca/sallyport-ca"), "serve", "--config",
                       (*ca)->config_path(), "--listen", "127.0.0.1:99999"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r->err, "1..65535")) << r->err;
}

// A /proc/PID/status size ("VmHWM", the peak resident set, or "VmRSS"),
// in bytes.
int64_t StatusBytes(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field + ":")) {
      int64_t kib = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits.push_back(c);
      }
      if (absl::SimpleAtoi(digits, &kib)) return kib * 1024;
    }
  }
  return -1;
}

// gRPC 1.51 used to buffer a whole 100 MiB Login before refusing it.
TEST(CaHardeningE2eTest, HundredMebibyteLoginCostsAtMostEightMebibytes) {
  auto ca = RunningCa::Start("admin");
  ASSERT_TRUE(ca.ok()) << ca.status();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFileOrEmpty((*ca)->state_dir() + "/tls.crt");
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(std::string(ca::kServerTlsName));
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel((*ca)->address(),
                                           grpc::SslCredentials(tls), args);
  auto stub = ca::v1::CertificateAuthority::NewStub(channel);

  // Warm up the connection path with a small (refused) call first.
  {
    ca::v1::LoginRequest small;
    small.set_user("admin");
    grpc::ClientContext ctx;
    ca::v1::LoginResponse response;
    stub->Login(&ctx, small, &response);
  }
  // The peak is reset to the current resident set first (clear_refs 5), so
  // a peak from the CA's start cannot hide the growth.
  const pid_t pid = (*ca)->process().pid();
  {
    std::ofstream clear(absl::StrCat("/proc/", pid, "/clear_refs"));
    clear << "5\n";
    ASSERT_TRUE(clear.good());
  }
  const int64_t before = StatusBytes(pid, "VmHWM");
  ASSERT_GT(before, 0);
  {
    ca::v1::LoginRequest huge;
    huge.set_user("admin");
    huge.set_password(std::string(100 << 20, 'x'));
    for (int i = 0; i < 2; ++i) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      ca::v1::LoginResponse response;
      grpc::Status st = stub->Login(&ctx, huge, &response);
      EXPECT_FALSE(st.ok());
      std::printf("100 MiB Login: %d %s\n", st.error_code(),
                  st.error_message().c_str());
    }
  }
  const int64_t after = StatusBytes(pid, "VmHWM");
  std::printf(
      "CA peak RSS before %lld KiB, after two 100 MiB Logins "
      "%lld KiB (growth %lld KiB; bound 8192 KiB)\n",
      static_cast<long long>(before / 1024),
      static_cast<long long>(after / 1024),
      static_cast<long long>((after - before) / 1024));
  EXPECT_LE(after - before, int64_t{8} << 20);
  // Still serving: a small call gets its real answer.
  ca::v1::LoginRequest small;
  small.set_user("admin");
  grpc::ClientContext ctx;
  ca::v1::LoginResponse response;
  EXPECT_EQ(stub->Login(&ctx, small, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace sallyport::e2e
