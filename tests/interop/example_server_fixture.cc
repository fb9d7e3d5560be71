#include "tests/interop/example_server_fixture.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace sallyport::testing {

std::string Sha256OfFile(const std::string& path) {
  auto r = RunCommand({"sha256sum", path}, {});
  if (!r.ok() || !r->ok() || r->out.size() < 64) return "";
  return r->out.substr(0, 64);
}

void MakeRandomFile(const std::string& path, const std::string& size) {
  auto r = RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("head -c ", size, " /dev/urandom > ", ShellQuote(path))});
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->Describe() : "");
}

void ExpectContains(const std::string& haystack, const std::string& needle) {
  EXPECT_NE(haystack.find(needle), std::string::npos)
      << "missing: " << needle << "\nin:\n"
      << haystack;
}

void ExampleServerTest::SetUp() {
  auto dir = TempDir::Create("exsrv");
  ASSERT_TRUE(dir.ok()) << dir.status();
  dir_ = std::make_unique<TempDir>(std::move(*dir));
  auto host = GenerateKey(dir_->path(), "host_key");
  ASSERT_TRUE(host.ok()) << host.status();
  host_ = *host;
  auto user = GenerateKey(dir_->path(), "user_key");
  ASSERT_TRUE(user.ok()) << user.status();
  user_ = *user;
  login_ = CurrentUserName();
  ASSERT_TRUE(
      WriteFile(dir_->File("authorized_keys"), user_.public_line + "\n").ok());
}

void ExampleServerTest::StartServer(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {RunfilePath("ssh/examples/example_server"),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--host-key",
                                   host_.private_path,
                                   "--authorized-keys",
                                   dir_->File("authorized_keys")};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto server = ListeningProcess::Start(argv, dir_->File("server.log"));
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  ASSERT_TRUE(WriteFile(dir_->File("known_hosts"),
                        absl::StrCat("[127.0.0.1]:", server_->port(), " ",
                                     host_.public_line, "\n"))
                  .ok());
}

std::vector<std::string> ExampleServerTest::SshArgs(
    const std::string& identity, const std::string& certificate) const {
  return SshClientArgs(server_->port(), dir_->File("known_hosts"),
                       identity.empty() ? user_.private_path : identity,
                       certificate);
}

RunResult ExampleServerTest::Ssh(const std::string& command,
                                 const std::vector<std::string>& options,
                                 const RunOptions& run) const {
  std::vector<std::string> argv = SshArgs();
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(Destination());
  argv.push_back(command);
  auto r = RunCommand(argv, run);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RunResult{};
}

RunResult ExampleServerTest::Shell(const std::string& script,
                                   absl::Duration timeout) const {
  RunOptions run;
  run.timeout = timeout;
  auto r = RunCommand({"/bin/sh", "-c", script}, run);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RunResult{};
}

bool ExampleServerTest::WaitForLog(const std::string& text,
                                   absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (ServerLog().find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

}  // namespace sallyport::testing
