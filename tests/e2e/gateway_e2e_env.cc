#include "tests/e2e/gateway_e2e_env.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/harness/listening_process.h"

namespace sallyport::testing {

absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> GatewayE2eEnv::Start(
    BastionFixture::Options options) {
  absl::StatusOr<std::unique_ptr<BastionFixture>> fixture =
      BastionFixture::Start(std::move(options));
  if (!fixture.ok()) return fixture.status();
  if (absl::Status st =
          (*fixture)->StartGateway(RunfilePath("gateway/sallyport-gateway"));
      !st.ok()) {
    return absl::Status(
        st.code(), absl::StrCat(st.message(), "\n", (*fixture)->GatewayLog()));
  }
  absl::StatusOr<TempDir> dir = TempDir::Create("gwe2e");
  if (!dir.ok()) return dir.status();
  // The targets' sshd runs commands as target_login(); root here, but keep
  // the directory reachable for any login.
  chmod(dir->path().c_str(), 0755);
  return std::unique_ptr<GatewayE2eEnv>(
      new GatewayE2eEnv(std::move(*fixture), std::move(*dir)));
}

GatewayE2eEnv::~GatewayE2eEnv() {
  if (fixture_ != nullptr) fixture_->StopGateway();
}

std::string GatewayE2eEnv::GatewayUser(const std::string& host) const {
  return absl::StrCat(fixture_->target_login(), "+", host);
}

std::string GatewayE2eEnv::SshConfig(const std::string& user) const {
  absl::StatusOr<const BastionFixture::User*> u = fixture_->user(user);
  return u.ok() ? (*u)->ssh_config : "/nonexistent-user-" + user;
}

std::vector<std::string> GatewayE2eEnv::Ssh(
    const std::string& user, const std::string& host,
    const std::vector<std::string>& options) {
  std::vector<std::string> argv = {"ssh", "-F", SshConfig(user)};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"-l", GatewayUser(host), "gateway"});
  return argv;
}

absl::StatusOr<SshEndpoint> GatewayE2eEnv::Endpoint(const std::string& user,
                                                    const std::string& host) {
  absl::StatusOr<const BastionFixture::User*> u = fixture_->user(user);
  if (!u.ok()) return u.status();
  absl::StatusOr<std::string> host_key = fixture_->GatewayHostPublicKey();
  if (!host_key.ok()) return host_key.status();
  SshEndpoint e;
  e.host = "127.0.0.1";
  e.port = fixture_->gateway_port();
  e.user = GatewayUser(host);
  e.key = (*u)->key;
  e.certificate = (*u)->certificate;
  e.host_public_key = *host_key;
  e.known_hosts = fixture_->client_known_hosts();
  return e;
}

RunResult GatewayE2eEnv::Run(const std::vector<std::string>& argv,
                             RunOptions options) {
  if (options.timeout == RunOptions().timeout) {
    options.timeout = kCommandTimeout;
  }
  absl::StatusOr<RunResult> r = RunCommand(argv, options);
  if (r.ok()) return *r;
  RunResult failed;
  failed.err = r.status().ToString();
  return failed;
}

RunResult GatewayE2eEnv::Shell(const std::string& script, RunOptions options) {
  return Run({"/bin/sh", "-c", script}, std::move(options));
}

absl::Status GatewayE2eEnv::RandomFile(const std::string& path, size_t bytes) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string buf(1 << 20, '\0');
  while (bytes > 0 && in && out) {
    const size_t n = std::min(bytes, buf.size());
    in.read(buf.data(), static_cast<std::streamsize>(n));
    out.write(buf.data(), static_cast<std::streamsize>(n));
    bytes -= n;
  }
  out.close();
  if (bytes != 0 || !out) {
    return absl::InternalError("cannot write random bytes to " + path);
  }
  return absl::OkStatus();
}

std::string GatewayE2eEnv::Sha256(const std::string& path) {
  RunResult r = Run({"sha256sum", path});
  // Never equal for two different files that both cannot be read.
  if (!r.ok()) return "unreadable " + path;
  return r.out.substr(0, r.out.find(' '));
}

}  // namespace sallyport::testing
