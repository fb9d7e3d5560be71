// End to end: `sallyport-ca init` (file modes, refusing to overwrite, a
// password from a file), `serve` refusing bad config files with the line,
// and turning the session CA key off (`retire-session-key`).
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/ca_e2e_util.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::ReadFileOrEmpty;
using sallyport::testing::RunCommand;
using sallyport::testing::RunfilePath;
using sallyport::testing::TempDir;
using sallyport::testing::WriteFile;

int Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

TEST(CaCommandsE2eTest, InitWritesPrivateFilesAndRefusesToOverwrite) {
  auto dir = TempDir::Create("cainit");
  ASSERT_TRUE(dir.ok());
  const std::string state = dir->File("state");
  const std::string pw_file = dir->File("pw");
  ASSERT_TRUE(WriteFile(pw_file, "correct horse battery\n", 0600).ok());
  const std::string bin = RunfilePath("ca/sallyport-ca");
  auto init = RunCommand({bin, "init", "--state-dir", state, "--admin", "ops",
                          "--admin-password-file", pw_file});
  ASSERT_TRUE(init.ok());
  ASSERT_TRUE(init->ok()) << init->Describe();
  EXPECT_TRUE(absl::StrContains(init->out, "admin user:      ops"));
  EXPECT_TRUE(absl::StrContains(init->out, "(from " + pw_file + ")"));
  EXPECT_FALSE(absl::StrContains(init->out, "correct horse"));
  EXPECT_EQ(Mode(state), 0700);
  for (const char* secret :
       {"user_ca", "host_ca", "tls.key", "client_ca.key", "ca.db", "ca.yaml"}) {
    EXPECT_EQ(Mode(state + "/" + secret), 0600) << secret;
  }
  EXPECT_TRUE(absl::StartsWith(ReadFileOrEmpty(state + "/user_ca"),
                               "-----BEGIN OPENSSH PRIVATE KEY-----"));
  const std::string user_ca_pub = ReadFileOrEmpty(state + "/user_ca.pub");
  auto again = RunCommand({bin, "init", "--state-dir", state});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(again->err, "already holds a CA"))
      << again->Describe();
  EXPECT_EQ(ReadFileOrEmpty(state + "/user_ca.pub"), user_ca_pub);

  // The password from the file works.
  auto server = sallyport::testing::ListeningProcess::Start(
      {bin, "serve", "--config", state + "/ca.yaml", "--listen", "127.0.0.1:0"},
      dir->File("serve.log"));
  ASSERT_TRUE(server.ok()) << server.status();
  const size_t at = init->out.find("SHA256:");
  ASSERT_NE(at, std::string::npos);
  const std::string fingerprint =
      init->out.substr(at, init->out.find('\n', at) - at);
  auto login = RunSp(
      dir->File("home"),
      {"login", "--ca", absl::StrCat("127.0.0.1:", (*server)->port()), "--user",
       "ops", "--password-stdin", "--ca-fingerprint", fingerprint},
      "correct horse battery\n");
  ASSERT_TRUE(login.ok());
  EXPECT_TRUE(login->ok()) << login->Describe();
}

// A password file init cannot read is named with the reason, before
// anything is created (it read a directory as an "empty first line").
TEST(CaCommandsE2eTest, InitNamesWhyItCannotReadThePasswordFile) {
  auto dir = TempDir::Create("cainitpw");
  ASSERT_TRUE(dir.ok());
  const std::string state = dir->File("state");
  const std::string bin = RunfilePath("ca/sallyport-ca");
  auto init = RunCommand({bin, "init", "--state-dir", state,
                          "--admin-password-file", dir->path()});
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->exit_code, 1) << init->Describe();
  EXPECT_EQ(init->err,
            "sallyport-ca: cannot read " + dir->path() + ": Is a directory\n")
      << init->Describe();
  EXPECT_FALSE(std::filesystem::exists(state));
}

TEST(CaCommandsE2eTest, ServeRefusesUnknownConfigKeysWithTheLine) {
  auto dir = TempDir::Create("cacfg");
  ASSERT_TRUE(dir.ok());
  const std::string config = dir->File("ca.yaml");
  ASSERT_TRUE(WriteFile(config,
                        "store: \"sqlite:///nonexistent/ca.db\"\n"
                        "login:\n"
                        "  max_failures: 5\n"
                        "  lockot: 15m\n")
                  .ok());
  auto serve =
      RunCommand({RunfilePath("ca/sallyport-ca"), "serve", "--config", config});
  ASSERT_TRUE(serve.ok());
  EXPECT_EQ(serve->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(
      serve->err, absl::StrCat(config, ":4: unknown key 'lockot'")))
      << serve->Describe();

  ASSERT_TRUE(WriteFile(config, "listen: [1, 2]\n").ok());
  serve =
      RunCommand({RunfilePath("ca/sallyport-ca"), "serve", "--config", config});
  ASSERT_TRUE(serve.ok());
  EXPECT_EQ(serve->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(serve->err, absl::StrCat(config, ":1:")))
      << serve->Describe();
}

// A CA made with --session-ca refuses to start once keys.session_ca is
// taken out of ca.yaml (it would sign sessions with the user key, which
// targets trusting only the session key refuse) until `retire-session-key`
// retires the key; then it starts and the key file cannot come back.
TEST(CaCommandsE2eTest, TheSessionKeyIsTurnedOffOnlyByRetiringIt) {
  auto dir = TempDir::Create("casession");
  ASSERT_TRUE(dir.ok());
  const std::string state = dir->File("state");
  const std::string config = state + "/ca.yaml";
  const std::string pw_file = dir->File("pw");
  ASSERT_TRUE(WriteFile(pw_file, "correct horse battery\n", 0600).ok());
  const std::string bin = RunfilePath("ca/sallyport-ca");
  auto init = RunCommand({bin, "init", "--state-dir", state,
                          "--admin-password-file", pw_file, "--session-ca"});
  ASSERT_TRUE(init.ok());
  ASSERT_TRUE(init->ok()) << init->Describe();
  EXPECT_TRUE(absl::StrContains(init->out, "session CA:      ssh-ed25519 "))
      << init->out;
  EXPECT_EQ(Mode(state + "/session_ca"), 0600);
  const std::string yaml = ReadFileOrEmpty(config);
  ASSERT_TRUE(absl::StrContains(yaml, "  session_ca: session_ca\n")) << yaml;

  auto serve = [&](const std::string& log) {
    return sallyport::testing::ListeningProcess::Start(
        {bin, "serve", "--config", config, "--listen", "127.0.0.1:0"},
        dir->File(log));
  };
  auto retire_session_key = [&] {
    return RunCommand({bin, "retire-session-key", "--config", config});
  };

  // retire-session-key refuses while ca.yaml still names the key.
  auto retire = retire_session_key();
  ASSERT_TRUE(retire.ok());
  EXPECT_EQ(retire->exit_code, 1) << retire->Describe();
  EXPECT_TRUE(absl::StrContains(retire->err, "still names keys.session_ca"))
      << retire->Describe();

  // Taken out of ca.yaml: serve refuses to start, naming the way out.
  std::string without = yaml;
  without.replace(without.find("  session_ca: session_ca\n"),
                  std::string("  session_ca: session_ca\n").size(), "");
  ASSERT_TRUE(WriteFile(config, without, 0600).ok());
  auto refused = serve("serve1.log");
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir->File("serve1.log")),
                                "retire-session-key"))
      << ReadFileOrEmpty(dir->File("serve1.log"));

  retire = retire_session_key();
  ASSERT_TRUE(retire.ok());
  EXPECT_TRUE(retire->ok()) << retire->Describe();
  EXPECT_TRUE(
      absl::StrContains(retire->out, "retired the session CA key SHA256:"))
      << retire->Describe();
  retire = retire_session_key();
  ASSERT_TRUE(retire.ok());
  EXPECT_TRUE(retire->ok()) << retire->Describe();
  EXPECT_TRUE(absl::StrContains(retire->out, "nothing to do"))
      << retire->Describe();
  {
    auto started = serve("serve2.log");
    ASSERT_TRUE(started.ok()) << started.status();
    // What targets must trust now: the user CA key first (it signs
    // sessions again), then the retired session key while it is trusted.
    const size_t at = init->out.find("TLS fingerprint: ");
    ASSERT_NE(at, std::string::npos);
    const std::string fingerprint =
        init->out.substr(at + 17, init->out.find('\n', at) - at - 17);
    const std::string home = dir->File("home");
    auto login =
        RunSp(home,
              {"login", "--ca", absl::StrCat("127.0.0.1:", (*started)->port()),
               "--user", "admin", "--password-stdin", "--ca-fingerprint",
               fingerprint},
              "correct horse battery\n");
    ASSERT_TRUE(login.ok());
    ASSERT_TRUE(login->ok()) << login->Describe();
    auto keys = RunCommand({"env", "SALLYPORT_HOME=" + home,
                            RunfilePath("cli/spctl"), "ca", "target-keys"});
    ASSERT_TRUE(keys.ok());
    ASSERT_TRUE(keys->ok()) << keys->Describe();
    EXPECT_EQ(keys->out, ReadFileOrEmpty(state + "/user_ca.pub") +
                             ReadFileOrEmpty(state + "/session_ca.pub"))
        << keys->Describe();
  }

  // The retired key file named again: refused.
  ASSERT_TRUE(WriteFile(config, yaml, 0600).ok());
  auto again = serve("serve3.log");
  EXPECT_FALSE(again.ok());
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir->File("serve3.log")),
                                "was retired"))
      << ReadFileOrEmpty(dir->File("serve3.log"));
}

}  // namespace
}  // namespace sallyport::e2e
