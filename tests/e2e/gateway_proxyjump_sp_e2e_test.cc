// Recorded ProxyJump the way a user sets it up (issue 13), end to end with
// the real binaries: `sp login` and `sp config` against the real CA (whose
// gateway.ssh_addresses names the real `sallyport-gateway`), a temporary
// HOME whose ssh config holds only the Include line `sp` printed, and stock
// `ssh web01 CMD` with StrictHostKeyChecking=yes and no SSH_AUTH_SOCK. The
// command's output is in the gateway's spool (audit/spool reader), in a
// web01 session of the user; stderr is empty (no prompt, no warning); the
// CA's event log has the jump as one "authz.jump" event with mode "record"
// and no "authz.denied".
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "audit/spool.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

namespace v1 = ::sallyport::audit::v1;

// The output of web01 sessions of `user` in the spool files of `dir`.
std::string SpooledOutput(const std::string& dir, const std::string& user) {
  std::string out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (!absl::EndsWith(name, ".spool")) continue;
    absl::StatusOr<audit::SpoolContents> c = audit::ReadSpool(dir + "/" + name);
    if (!c.ok() || c->session.user() != user || c->session.host() != "web01") {
      continue;
    }
    for (const v1::RecordingRecord& r : c->records) {
      if (r.has_data() && r.data().direction() == v1::RECORD_DIRECTION_OUTPUT) {
        out += r.data().bytes();
      }
    }
  }
  ::closedir(d);
  return out;
}

// The CA's audit events of `type` (`spctl audit export --json` as the
// admin), one JSON line each.
std::vector<std::string> Events(BastionFixture& f, const std::string& type) {
  std::vector<std::string> out;
  absl::StatusOr<const BastionFixture::User*> admin = f.user("admin");
  EXPECT_TRUE(admin.ok()) << admin.status();
  if (!admin.ok()) return out;
  RunOptions o;
  o.timeout = GatewayE2eEnv::kCommandTimeout;
  o.env["SALLYPORT_HOME"] = (*admin)->home;
  absl::StatusOr<RunResult> r = RunCommand(
      {"setsid", "-w", RunfilePath("cli/spctl"), "audit", "export", "--json"},
      o);
  EXPECT_TRUE(r.ok() && r->exit_code == 0)
      << (r.ok() ? r->Describe() : std::string(r.status().message()));
  if (!r.ok()) return out;
  for (absl::string_view line : absl::StrSplit(r->out, '\n')) {
    if (absl::StrContains(line, absl::StrCat("\"type\":\"", type, "\""))) {
      out.emplace_back(line);
    }
  }
  return out;
}

TEST(GatewayProxyJumpSpE2eTest, SpLoginConfigThenSshWeb01IsRecorded) {
  ASSERT_EQ(getenv("SSH_AUTH_SOCK"), nullptr);
  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.advertise_gateway = true;
  for (BastionUserSpec& u : options.users) u.log_in = false;
  absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> started =
      GatewayE2eEnv::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  GatewayE2eEnv& env = **started;
  BastionFixture& f = env.fixture();
  absl::StatusOr<const BastionFixture::User*> alice = f.user("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();

  // A temporary HOME: sp keeps its files in ~/.sallyport.
  const std::string home = env.File("home");
  ASSERT_EQ(mkdir(home.c_str(), 0700), 0);
  ASSERT_EQ(mkdir((home + "/.ssh").c_str(), 0700), 0);
  RunOptions ro;
  ro.timeout = GatewayE2eEnv::kCommandTimeout;
  ro.env["HOME"] = home;
  ro.env["SALLYPORT_HOME"] = "";

  // sp login (which runs sp config), then sp config again on its own.
  RunOptions login_options = ro;
  login_options.stdin_data = (*alice)->password + "\n";
  absl::StatusOr<RunResult> login =
      RunCommand({"setsid", "-w", RunfilePath("cli/sp"), "login", "--ca",
                  f.ca_address(), "--user", "alice", "--password-stdin",
                  "--ca-fingerprint", f.ca_fingerprint()},
                 login_options);
  ASSERT_TRUE(login.ok()) << login.status();
  ASSERT_EQ(login->exit_code, 0) << login->Describe();
  const std::string fragment = home + "/.sallyport/ssh_config";
  const std::string include = "Include \"" + fragment + "\"";
  EXPECT_TRUE(absl::StrContains(login->out, include)) << login->out;
  absl::StatusOr<RunResult> config =
      RunCommand({RunfilePath("cli/sp"), "config"}, ro);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->exit_code, 0) << config->Describe();
  EXPECT_TRUE(absl::StrContains(config->out, "Wrote " + fragment))
      << config->out;
  EXPECT_TRUE(absl::StrContains(config->out, include)) << config->out;
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(fragment),
                                absl::StrCat("Port ", f.gateway_port())))
      << ReadFileOrEmpty(fragment);

  // The user's ssh config: only the line sp printed. (Stock ssh reads
  // ~/.ssh/config from the passwd home, not $HOME, hence -F.)
  const std::string user_config = home + "/.ssh/config";
  ASSERT_TRUE(WriteFile(user_config, include + "\n", 0600).ok());
  const std::string marker = "sp-jump-marker-";
  absl::StatusOr<RunResult> ssh = RunCommand(
      {"ssh", "-F", user_config, "-o", "StrictHostKeyChecking=yes", "-o",
       "BatchMode=yes", "web01", "echo " + marker + "$((6*7))"},
      ro);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  ASSERT_EQ(ssh->exit_code, 0) << ssh->Describe() << f.GatewayLog();
  EXPECT_EQ(ssh->out, marker + "42\n");
  EXPECT_EQ(ssh->err, "") << "ssh printed a prompt or a warning";

  // Recorded by the real gateway: the output is in its spool.
  const std::string spool = f.gateway_state_dir() + "/spool";
  std::string spooled;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    spooled = SpooledOutput(spool, "alice");
    if (absl::StrContains(spooled, marker + "42")) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(absl::StrContains(spooled, marker + "42"))
      << spooled << f.GatewayLog();
  EXPECT_TRUE(absl::StrContains(f.GatewayLog(), "event=jump.record"))
      << f.GatewayLog();

  // The CA decided "record" once, and audited no denial for it.
  std::vector<std::string> jumps = Events(f, "authz.jump");
  ASSERT_EQ(jumps.size(), 1u);
  EXPECT_TRUE(absl::StrContains(jumps[0], "record")) << jumps[0];
  EXPECT_TRUE(absl::StrContains(jumps[0], "web01")) << jumps[0];
  EXPECT_TRUE(Events(f, "authz.denied").empty());
}

}  // namespace
}  // namespace sallyport::testing
