#include "tests/e2e/spctl_e2e_util.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "ca/tls_material.h"
#include "proto/gateway.grpc.pb.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"

namespace sallyport::e2e {

using sallyport::testing::RunCommand;
using sallyport::testing::RunfilePath;
using sallyport::testing::RunOptions;
using sallyport::testing::TempDir;

absl::StatusOr<std::unique_ptr<SpctlEnv>> SpctlEnv::Start(
    const std::string& store_url, const std::string& ca_config_append) {
  absl::StatusOr<TempDir> dir = TempDir::Create("spctl");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<SpctlEnv> env(new SpctlEnv(std::move(*dir)));
  env->admin_ = sallyport::testing::CurrentUserName();
  absl::StatusOr<std::unique_ptr<RunningCa>> ca =
      RunningCa::Start(env->admin_, store_url, {}, ca_config_append);
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
                          const std::map<std::string, std::string>& env,
                          const std::string& stdin_data) {
  std::vector<std::string> argv = {"setsid", "-w", RunfilePath("cli/spctl")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.stdin_data = stdin_data;
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

std::shared_ptr<grpc::Channel> SpctlEnv::CaChannel(
    const std::string& key_pem, const std::string& cert_pem) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs =
      sallyport::testing::ReadFileOrEmpty(Home("admin") + "/ca.pem");
  tls.pem_private_key = key_pem;
  tls.pem_cert_chain = cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("sallyport-ca");
  return grpc::CreateCustomChannel(ca_->address(), grpc::SslCredentials(tls),
                                   args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> SpctlEnv::EnrollGateway(
    const std::string& token, const std::string& name) {
  absl::StatusOr<base::EvpPkeyPtr> tls_key = ca::GenerateTlsKey();
  if (!tls_key.ok()) return tls_key.status();
  absl::StatusOr<sallyport::testing::KeyPair> host_key =
      sallyport::testing::GenerateKey(dir_.path(), name + "_host");
  if (!host_key.ok()) return host_key.status();
  absl::StatusOr<std::string> der = ca::PublicKeyToDer(tls_key->get());
  if (!der.ok()) return der.status();
  gateway::v1::EnrollGatewayRequest enroll;
  enroll.set_token(token);
  enroll.set_name(name);
  enroll.set_tls_public_key_der(*der);
  enroll.set_ssh_host_public_key(host_key->public_line);
  gateway::v1::EnrollGatewayResponse enrolled;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status st = gateway::v1::Gateway::NewStub(CaChannel())
                        ->EnrollGateway(&ctx, enroll, &enrolled);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        st.error_message());
  }
  auto key_pem = ca::PrivateKeyToPem(tls_key->get());
  if (!key_pem.ok()) return key_pem.status();
  return CaChannel(std::string(key_pem->view()),
                   enrolled.tls_client_certificate_pem());
}

bool IsJson(const std::string& text) {
  RunOptions options;
  options.stdin_data = text;
  absl::StatusOr<RunResult> r = RunCommand(
      {"python3", "-c", "import json,sys; json.load(sys.stdin)"}, options);
  return r.ok() && r->ok();
}

void SpctlTestBase::SetUp() {
  auto env = SpctlEnv::Start(store_url_, ca_config_append_);
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
