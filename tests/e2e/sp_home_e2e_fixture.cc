#include "tests/e2e/sp_home_e2e_fixture.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace sallyport::testing {

std::vector<std::string> Events(BastionFixture& f, const std::string& type) {
  std::vector<std::string> out;
  RunResult r = Spctl(f, {"audit", "export", "--json"});
  EXPECT_TRUE(r.ok()) << r.Describe();
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::StrContains(line, absl::StrCat("\"type\":\"", type, "\""))) {
      out.emplace_back(line);
    }
  }
  return out;
}

void ExpectQuietSuccess(const RunResult& r) {
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.err, "") << "a prompt or a warning";
}

BastionFixture::Options SpHomeE2eTest::Options() {
  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.advertise_gateway = true;
  for (BastionUserSpec& u : options.users) u.log_in = false;
  return options;
}

void SpHomeE2eTest::SetUp() {
  ASSERT_EQ(getenv("SSH_AUTH_SOCK"), nullptr);
  absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> started =
      GatewayE2eEnv::Start(Options());
  ASSERT_TRUE(started.ok()) << started.status();
  env_ = *std::move(started);
  BastionFixture& f = env_->fixture();
  absl::StatusOr<const BastionFixture::User*> me = f.user(user());
  ASSERT_TRUE(me.ok()) << me.status();

  // sp keeps its files in ~/.sallyport.
  home_ = env_->File("home");
  ASSERT_EQ(mkdir(home_.c_str(), 0700), 0);
  ASSERT_EQ(mkdir((home_ + "/.ssh").c_str(), 0700), 0);
  RunOptions login_options;
  login_options.stdin_data = (*me)->password + "\n";
  RunResult login = Run({"setsid", "-w", RunfilePath("cli/sp"), "login", "--ca",
                         f.ca_address(), "--user", user(), "--password-stdin",
                         "--ca-fingerprint", f.ca_fingerprint()},
                        login_options);
  ASSERT_EQ(login.exit_code, 0) << login.Describe();
  const std::string fragment = home_ + "/.sallyport/ssh_config";
  const std::string include = "Include \"" + fragment + "\"";
  EXPECT_TRUE(absl::StrContains(login.out, include)) << login.out;
  RunResult config = Run({RunfilePath("cli/sp"), "config"});
  ASSERT_EQ(config.exit_code, 0) << config.Describe();
  EXPECT_TRUE(absl::StrContains(config.out, "Wrote " + fragment)) << config.out;
  EXPECT_TRUE(absl::StrContains(config.out, include)) << config.out;
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(fragment),
                                absl::StrCat("Port ", f.gateway_port())))
      << ReadFileOrEmpty(fragment);

  // The user's ssh config: only the line sp printed. (Stock ssh reads
  // ~/.ssh/config from the passwd home, not $HOME, hence -F.)
  user_config_ = home_ + "/.ssh/config";
  ASSERT_TRUE(WriteFile(user_config_, include + "\n", 0600).ok());
}

RunResult SpHomeE2eTest::Run(const std::vector<std::string>& argv,
                             RunOptions options) const {
  options.env["HOME"] = home_;
  options.env["SALLYPORT_HOME"] = "";
  return GatewayE2eEnv::Run(argv, std::move(options));
}

std::vector<std::string> SpHomeE2eTest::Client(
    const std::string& program, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {
      program, "-F",           user_config_, "-o", "StrictHostKeyChecking=yes",
      "-o",    "BatchMode=yes"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string SpHomeE2eTest::SshCommand() const {
  return absl::StrJoin(Client("ssh", {}), " ");
}

std::vector<RecordedChannel> SpHomeE2eTest::Channels() const {
  return RecordedChannels(
      "sqlite://" + env_->fixture().ca_state_dir() + "/ca.db",
      env_->fixture().gateway_state_dir() + "/spool", user(), "web01");
}

std::optional<RecordedChannel> SpHomeE2eTest::WaitForChannel(
    const std::function<bool(const RecordedChannel&)>& match) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    for (RecordedChannel& c : Channels()) {
      if (c.closed && !seen_.contains({c.session_id, c.channel_id}) &&
          match(c)) {
        seen_.insert({c.session_id, c.channel_id});
        return std::move(c);
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  ADD_FAILURE() << "no such recorded channel\n" << env_->fixture().GatewayLog();
  return std::nullopt;
}

}  // namespace sallyport::testing
