#include "tests/e2e/gateway_refusal_util.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace sallyport::testing {
namespace {

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

absl::Status FromGrpc(const std::string& what, const grpc::Status& st) {
  if (st.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      absl::StrCat(what, ": ", st.error_message()));
}

}  // namespace

RunResult ViaGateway(BastionFixture& f, const std::string& user,
                     const std::string& host, const std::string& command,
                     const std::vector<std::string>& options,
                     const RunOptions& ro) {
  auto args = f.SshArgs(user);
  EXPECT_TRUE(args.ok()) << args.status();
  if (!args.ok()) return RunResult();
  args->insert(args->end(), {"-o", "LogLevel=INFO"});
  args->insert(args->end(), options.begin(), options.end());
  args->push_back("-l");
  args->push_back(absl::StrCat(f.target_login(), "+", host));
  args->push_back("gateway");
  if (!command.empty()) args->push_back(command);
  auto r = RunCommand(*args, ro);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RunResult();
}

RunResult ViaGatewayWithKey(BastionFixture& f, const std::string& key,
                            const std::string& certificate,
                            const std::string& host, const std::string& command,
                            const RunOptions& ro) {
  std::vector<std::string> args = {
      "ssh",
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "LogLevel=INFO",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
      "-o",
      "IdentityFile=" + key,
      "-o",
      "CertificateFile=" + certificate,
      "-o",
      "UserKnownHostsFile=" + f.client_known_hosts(),
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "ConnectTimeout=20",
      "-p",
      absl::StrCat(f.gateway_port()),
      "-l",
      absl::StrCat(f.target_login(), "+", host),
      "127.0.0.1"};
  if (!command.empty()) args.push_back(command);
  auto r = RunCommand(args, ro);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RunResult();
}

RunOptions StdinOf(const std::string& data) {
  RunOptions ro;
  ro.stdin_data = data;
  return ro;
}

absl::Status RevokeUser(BastionFixture& f, const std::string& user,
                        const std::string& reason) {
  admin::v1::RevokeUserCertificatesRequest req;
  req.set_user(user);
  req.set_reason(reason);
  admin::v1::RevokeUserCertificatesResponse resp;
  absl::Status st =
      FromGrpc("RevokeUserCertificates " + user,
               f.admin().RevokeUserCertificates(Context().get(), req, &resp));
  if (st.ok() && resp.serials().empty()) {
    return absl::NotFoundError(user + " had no certificate to revoke");
  }
  return st;
}

namespace {

admin::v1::Host InventoryHost(const std::string& name, const std::string& trust,
                              uint16_t port, const std::string& host_key) {
  admin::v1::Host host;
  host.set_name(name);
  host.set_address("127.0.0.1");
  host.set_port(port);
  (*host.mutable_labels())["env"] = "dev";
  host.set_trust(trust);
  if (!host_key.empty()) host.set_host_key(host_key);
  return host;
}

}  // namespace

absl::Status AddInventoryHost(BastionFixture& f, const std::string& name,
                              const std::string& trust, uint16_t port,
                              const std::string& host_key) {
  admin::v1::Host stored;
  return FromGrpc("CreateHost " + name,
                  f.admin().CreateHost(
                      Context().get(),
                      InventoryHost(name, trust, port, host_key), &stored));
}

absl::Status UpdateInventoryHost(BastionFixture& f, const std::string& name,
                                 const std::string& trust, uint16_t port,
                                 const std::string& host_key) {
  admin::v1::Host stored;
  return FromGrpc("UpdateHost " + name,
                  f.admin().UpdateHost(
                      Context().get(),
                      InventoryHost(name, trust, port, host_key), &stored));
}

absl::StatusOr<std::unique_ptr<SshdFixture>> StartSshdWithHostCertificate(
    BastionFixture& f, const TempDir& dir, const std::string& name,
    const std::string& ca_key, const std::string& principal) {
  absl::StatusOr<KeyPair> key = GenerateKey(dir.path(), name + "_host");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> cert =
      SignWithSshKeygen(ca_key, key->public_path, name, principal, "-5m:+1h",
                        /*host=*/true);
  if (!cert.ok()) return cert.status();
  const std::string user_ca = dir.File(name + "_user_ca.pub");
  if (absl::Status st = WriteFile(user_ca, f.user_ca_public_key() + "\n");
      !st.ok()) {
    return st;
  }
  SshdFixture::Options so;
  so.config = {{"TrustedUserCAKeys", user_ca},
               {"HostKey", key->private_path},
               {"HostCertificate", *cert}};
  return SshdFixture::Start(so);
}

absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartAgent(
    const std::string& socket, const std::string& log) {
  BackgroundProcess::Options po;
  po.log_path = log;
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> agent =
      BackgroundProcess::Start({"ssh-agent", "-D", "-a", socket}, po);
  if (!agent.ok()) return agent.status();
  const absl::Time limit = absl::Now() + absl::Seconds(20);
  while (access(socket.c_str(), F_OK) != 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (access(socket.c_str(), F_OK) != 0) {
    return absl::UnavailableError("ssh-agent made no socket");
  }
  const std::string key_dir = socket + ".keys";
  if (mkdir(key_dir.c_str(), 0700) != 0) {
    return absl::InternalError("cannot create " + key_dir);
  }
  absl::StatusOr<KeyPair> key = GenerateKey(key_dir, "agent_key");
  if (!key.ok()) return key.status();
  RunOptions ro;
  ro.env["SSH_AUTH_SOCK"] = socket;
  absl::StatusOr<RunResult> added =
      RunCommandOk({"ssh-add", key->private_path}, ro);
  if (!added.ok()) return added.status();
  return agent;
}

}  // namespace sallyport::testing
