#include "tests/e2e/spctl_e2e_util.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"

namespace sallyport::e2e {

using sallyport::testing::RunCommand;
using sallyport::testing::RunfilePath;
using sallyport::testing::RunOptions;
using sallyport::testing::TempDir;

absl::StatusOr<std::unique_ptr<SpctlEnv>> SpctlEnv::Start() {
  absl::StatusOr<TempDir> dir = TempDir::Create("spctl");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<SpctlEnv> env(new SpctlEnv(std::move(*dir)));
  env->admin_ = sallyport::testing::CurrentUserName();
  absl::StatusOr<std::unique_ptr<RunningCa>> ca = RunningCa::Start(env->admin_);
  if (!ca.ok()) return ca.status();
  env->ca_ = std::move(*ca);
  RunResult login = env->Login(env->admin_, env->ca_->password());
  if (!login.ok()) {
    return absl::InternalError(absl::StrCat("admin login: ", login.Describe()));
  }
  // The admin's login lives in Home("admin") for Spctl().
  if (rename(env->Home(env->admin_).c_str(), env->Home("admin").c_str()) != 0) {
    return absl::InternalError("cannot rename the admin's home");
  }
  return env;
}

std::string SpctlEnv::WriteFile(const std::string& name,
                                const std::string& contents) {
  const std::string path = dir_.File(name);
  (void)sallyport::testing::WriteFile(path, contents, 0600);
  return path;
}

RunResult SpctlEnv::Spctl(const std::vector<std::string>& args,
                          const std::string& who,
                          const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {"setsid", "-w", RunfilePath("cli/spctl")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.env = env;
  options.env["SALLYPORT_HOME"] = Home(who);
  absl::StatusOr<RunResult> r = RunCommand(argv, options);
  return r.ok() ? *r : RunResult();
}

RunResult SpctlEnv::Login(const std::string& user, const std::string& password,
                          const std::vector<std::string>& extra,
                          const std::map<std::string, std::string>& env) {
  std::vector<std::string> args = {"login",
                                   "--ca",
                                   ca_->address(),
                                   "--user",
                                   user,
                                   "--password-stdin",
                                   "--ca-fingerprint",
                                   ca_->fingerprint()};
  args.insert(args.end(), extra.begin(), extra.end());
  return Sp(user, args, password + "\n", env);
}

RunResult SpctlEnv::Sp(const std::string& who,
                       const std::vector<std::string>& args,
                       const std::string& stdin_data,
                       const std::map<std::string, std::string>& env) {
  absl::StatusOr<RunResult> r = RunSp(Home(who), args, stdin_data, env);
  return r.ok() ? *r : RunResult();
}

bool IsJson(const std::string& text) {
  RunOptions options;
  options.stdin_data = text;
  absl::StatusOr<RunResult> r = RunCommand(
      {"python3", "-c", "import json,sys; json.load(sys.stdin)"}, options);
  return r.ok() && r->ok();
}

void SpctlTestBase::SetUp() {
  auto env = SpctlEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  env_ = std::move(*env);
  pwfile_ = env_->WriteFile("pw", std::string(kPassword) + "\n");
}

void SpctlTestBase::TearDown() {
  if (HasFailure() && env_) std::cerr << "--- CA log ---\n" << env_->ca().Log();
}

void SpctlTestBase::AddUser(const std::string& user, const std::string& role) {
  auto r = env_->Spctl(
      {"users", "add", user, "--password-file", pwfile_, "--role", role});
  ASSERT_TRUE(r.ok()) << r.Describe();
}

}  // namespace sallyport::e2e
