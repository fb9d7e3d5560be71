// `spctl access check` agrees with the CA's Gateway.AuthorizeChannel (what
// the gateway asks before every channel) on a table of 20 cases, against
// the real CA process (issue 15 "Done when"): same allow/deny and, when a
// role decided, the same role and rule. The gateway identity is enrolled
// with a join token from `spctl tokens create --kind gateway`.
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/gateway.grpc.pb.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::ReadFileOrEmpty;

constexpr char kDev[] = R"(name: dev
logins: [ubuntu, deploy]
hosts: [{labels: {env: dev}}]
channels: [shell, exec, sftp]
deny:
  - logins: [deploy]
    hosts: [{name_globs: ["api*"]}]
    channels: [exec]
)";
constexpr char kOps[] = R"(name: ops
logins: [ubuntu, admin]
hosts: [{labels: {env: prod}}]
channels: [shell, port-forward]
)";
// A role whose exec is always the backup script (Role.force_command).
constexpr char kBackup[] = R"(name: backup
logins: [backup]
hosts: [{labels: {env: prod}}]
channels: [exec]
force_command: "/usr/local/bin/backup --now"
)";

struct Case {
  std::string login, host, kind, destination;
};

class SpctlAccessTest : public SpctlTestBase {};

TEST_F(SpctlAccessTest, AgreesWithAuthorizeChannelOnTwentyCases) {
  SpctlEnv& env = *env_;
  for (const auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{
           {"dev", kDev}, {"ops", kOps}, {"backup", kBackup}}) {
    auto r = env.Spctl(
        {"roles", "create", "-f", env.WriteFile(name + ".yaml", text)});
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  for (const auto& [host, labels] :
       std::vector<std::pair<std::string, std::string>>{
           {"web01", "env=dev"}, {"api01", "env=dev"}, {"db01", "env=prod"}}) {
    auto r = env.Spctl(
        {"hosts", "add", host, "--address", "127.0.0.1", "--label", labels});
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  ASSERT_TRUE(env.Spctl({"users", "add", "erin", "--password-file", pwfile_,
                         "--role", "dev", "--role", "ops", "--role", "backup"})
                  .ok());
  auto login = env.Login("erin", kPassword);
  ASSERT_TRUE(login.ok()) << login.Describe();
  const std::string user_cert = ReadFileOrEmpty(env.CertPath("erin"));

  // Enrol a gateway with a token from spctl.
  auto token = env.Spctl({"tokens", "create", "--kind", "gateway"});
  ASSERT_TRUE(token.ok()) << token.Describe();
  auto gateway_channel = env.EnrollGateway(
      std::string(absl::StripTrailingAsciiWhitespace(token.out)), "gw1");
  ASSERT_TRUE(gateway_channel.ok()) << gateway_channel.status();
  auto gateway = gateway::v1::Gateway::NewStub(*gateway_channel);

  const std::vector<Case> cases = {
      {"ubuntu", "web01", "shell", ""},
      {"ubuntu", "web01", "exec", ""},
      {"ubuntu", "web01", "sftp", ""},
      {"ubuntu", "web01", "port-forward", "10.0.0.1:80"},
      {"deploy", "api01", "exec", ""},
      {"deploy", "api01", "shell", ""},
      {"ubuntu", "db01", "shell", ""},
      {"ubuntu", "db01", "exec", ""},
      {"admin", "db01", "port-forward", "localhost:5432"},
      {"admin", "web01", "shell", ""},
      {"ubuntu", "nohost", "shell", ""},
      {"ubuntu", "bad;host", "shell", ""},
      {"root", "web01", "shell", ""},
      {"deploy", "db01", "shell", ""},
      {"ubuntu", "api01", "agent-forward", ""},
      {"admin", "db01", "shell", ""},
      {"deploy", "web01", "sftp", ""},
      {"ubuntu", "web01", "proxyjump-passthrough", ""},
      {"admin", "db01", "exec", ""},
      {"deploy", "api01", "sftp", ""},
      {"backup", "db01", "exec", ""},
      {"backup", "db01", "shell", ""},
  };
  int allowed = 0, by_role = 0, forced = 0;
  for (const Case& c : cases) {
    const std::string what = absl::StrCat(c.login, "@", c.host, " ", c.kind);
    gateway::v1::AuthorizeChannelRequest req;
    req.set_user_certificate(user_cert);
    req.set_login(c.login);
    req.set_host(c.host);
    req.set_kind(c.kind);
    req.set_destination(c.destination);
    gateway::v1::AuthorizeChannelResponse ca_says;
    grpc::ClientContext ctx;
    grpc::Status st = gateway->AuthorizeChannel(&ctx, req, &ca_says);
    ASSERT_TRUE(st.ok()) << what << ": " << st.error_message();

    std::vector<std::string> args = {"access", "check", "erin",
                                     c.login,  c.host,  c.kind};
    if (!c.destination.empty()) {
      args.push_back("--destination");
      args.push_back(c.destination);
    }
    args.push_back("--output");
    args.push_back("json");
    auto r = env.Spctl(args);
    EXPECT_EQ(r.exit_code, ca_says.allowed() ? 0 : 4)
        << what << ": " << r.Describe();
    admin::v1::CheckAccessResponse spctl_says;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(r.out, &spctl_says).ok())
        << r.out;
    EXPECT_EQ(spctl_says.allowed(), ca_says.allowed())
        << what << ": spctl " << spctl_says.reason() << " / CA "
        << ca_says.reason();
    if (!ca_says.role().empty()) {
      EXPECT_EQ(spctl_says.role(), ca_says.role()) << what;
      EXPECT_EQ(spctl_says.rule(), ca_says.rule()) << what;
      ++by_role;
    }
    EXPECT_EQ(spctl_says.force_command(), ca_says.force_command()) << what;
    forced += ca_says.has_force_command() ? 1 : 0;
    allowed += ca_says.allowed() ? 1 : 0;
  }
  // The table covers both answers and role-decided refusals.
  EXPECT_EQ(allowed, 10);
  EXPECT_EQ(forced, 1);
  EXPECT_GE(by_role, 10);

  // The human form names the deciding role and rule.
  auto human =
      env.Spctl({"access", "check", "erin", "deploy", "api01", "exec"});
  EXPECT_EQ(human.exit_code, 4);
  EXPECT_TRUE(absl::StrContains(human.out, "Decided by role dev, rule deny[0]"))
      << human.out;
  human = env.Spctl({"access", "check", "erin", "backup", "db01", "exec"});
  EXPECT_EQ(human.exit_code, 0) << human.Describe();
  EXPECT_TRUE(absl::StrContains(
      human.out, "Forced command: /usr/local/bin/backup --now\n"))
      << human.out;

  // A host named by its address, as LOGIN+ADDRESS names it to the gateway
  // (which decides by the inventory host with that address): the answer
  // for its name, and the name shown. An address several hosts share is
  // refused as the gateway refuses it. (It was decided as an unknown
  // host name, or refused as an invalid one for IPv6.)
  ASSERT_TRUE(env.Spctl({"hosts", "add", "db02", "--address", "::1", "--label",
                         "env=prod"})
                  .ok());
  human = env.Spctl({"access", "check", "erin", "ubuntu", "::1", "shell"});
  EXPECT_EQ(human.exit_code, 0) << human.Describe();
  EXPECT_TRUE(
      absl::StrContains(human.out, "Host: db02 (the inventory host of ::1)"))
      << human.out;
  auto by_name = env.Spctl({"access", "check", "erin", "ubuntu", "db02",
                            "shell", "--output", "json"});
  auto by_address = env.Spctl({"access", "check", "erin", "ubuntu", "::1",
                               "shell", "--output", "json"});
  EXPECT_EQ(by_name.out, by_address.out);
  // A host name in capitals is the inventory's host (as for the gateway).
  auto upper = env.Spctl({"access", "check", "erin", "ubuntu", "DB02", "shell",
                          "--output", "json"});
  EXPECT_EQ(upper.out, by_name.out) << upper.Describe();
  auto shared = env.Spctl({"access", "check", "erin", "ubuntu", "127.0.0.1"});
  EXPECT_EQ(shared.exit_code, 4) << shared.Describe();
  EXPECT_TRUE(absl::StrContains(shared.out, "Code: ambiguous-address"))
      << shared.out;
  EXPECT_TRUE(absl::StrContains(shared.out, "several inventory hosts"))
      << shared.out;

  // A host name in another script is refused (host names are ASCII), and
  // the reason shows its letters, not their bytes as \xNN; a bidirectional
  // override in one is shown byte by byte, never as it is.
  auto cyrillic =
      env.Spctl({"access", "check", "erin", "ubuntu",
                 "\xd1\x81\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80-01"});
  EXPECT_EQ(cyrillic.exit_code, 4) << cyrillic.Describe();
  EXPECT_TRUE(absl::StrContains(
      cyrillic.out,
      "host name \"\xd1\x81\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80-01\" is "
      "not valid"))
      << cyrillic.out;
  auto rlo = env.Spctl({"access", "check", "erin", "ubuntu",
                        "db\xe2\x80\xae"
                        "10bew"});
  EXPECT_EQ(rlo.exit_code, 4) << rlo.Describe();
  EXPECT_TRUE(absl::StrContains(
      rlo.out, "host name \"db\\xe2\\x80\\xae10bew\" is not valid"))
      << rlo.out;
  EXPECT_FALSE(absl::StrContains(rlo.out, "\xe2\x80\xae")) << rlo.out;

  // An unknown user is "not found" (exit 3), not a refusal (it was 4).
  auto nobody = env.Spctl({"access", "check", "nobody", "ubuntu", "web01"});
  EXPECT_EQ(nobody.exit_code, 3) << nobody.Describe();
  EXPECT_TRUE(absl::StrContains(nobody.out, "Code: unknown-user"))
      << nobody.out;

  // A forced command is one line: a newline in it is refused, and says so.
  auto bad = env.Spctl({"roles", "create", "-f",
                        env.WriteFile("bad.yaml",
                                      "name: bad\nlogins: [x]\nforce_command: "
                                      "\"id\\nrm -rf /\"\n")});
  EXPECT_NE(bad.exit_code, 0) << bad.Describe();
  EXPECT_TRUE(absl::StrContains(bad.err, "force_command")) << bad.Describe();
}

}  // namespace
}  // namespace sallyport::e2e
