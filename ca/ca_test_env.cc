#include "ca/ca_test_env.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ca/password_hash.h"
#include "ca/tls_material.h"
#include "storage/open.h"

namespace sallyport::ca {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::unique_ptr<CaTestEnv> CaTestEnv::CreateOrNull() {
  absl::StatusOr<std::unique_ptr<CaTestEnv>> env = Create();
  if (env.ok()) return *std::move(env);
  fprintf(stderr, "CaTestEnv::Create: %s\n", env.status().ToString().c_str());
  return nullptr;
}

absl::StatusOr<std::unique_ptr<CaTestEnv>> CaTestEnv::Create(Options options) {
  ASSIGN_OR_RETURN(sallyport::testing::TempDir dir,
                   sallyport::testing::TempDir::Create("ca"));
  std::unique_ptr<CaTestEnv> env(new CaTestEnv(std::move(dir)));
  const std::string state = env->dir_.File("state");
  RETURN_IF_ERROR(PrepareStateDir(state));
  InitOptions init;
  init.state_dir = state;
  init.store_url =
      options.store_url.empty() ? DefaultStoreUrl(state) : options.store_url;
  init.scrypt.log_n = 10;  // fast tests; the format is the same
  init.session_ca = options.session_ca;
  init.clock = &env->clock_;
  storage::OpenOptions open;
  open.clock = &env->clock_;
  ASSIGN_OR_RETURN(env->store_, storage::OpenStore(init.store_url, open));
  ASSIGN_OR_RETURN(env->init_, InitializeCa(init, env->store_.get()));
  if (options.wrap_store) {
    env->store_ = options.wrap_store(std::move(env->store_));
  }
  if (!options.config_edits.empty()) {
    std::string config = ReadAll(env->init_.config_path);
    for (const auto& [from, to] : options.config_edits) {
      const size_t at = config.find(from);
      if (at == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("config_edits: \"", from, "\" is not in ca.yaml"));
      }
      config.replace(at, from.size(), to);
    }
    std::ofstream out(env->init_.config_path, std::ios::trunc);
    out << config;
    out.close();
    if (!out) return absl::InternalError("cannot rewrite ca.yaml");
  }

  ASSIGN_OR_RETURN(CaSettings settings, LoadCaSettings(env->init_.config_path));
  settings.lockout = options.lockout;
  settings.max_failures_per_address = options.max_failures_per_address;
  settings.failure_delay = options.failure_delay;
  settings.user_certificates.max_ttl = options.max_user_ttl;
  settings.gateway_egress_addresses = options.gateway_egress_addresses;
  for (const std::string& a : options.gateway_ssh_addresses) {
    ASSIGN_OR_RETURN(base::HostPort hp, ParseGatewaySshAddress(a));
    settings.gateway_ssh_addresses.push_back(hp);
  }
  CaServer::Options server;
  server.settings = settings;
  server.store = env->store_.get();
  server.clock = &env->clock_;
  server.listen = "127.0.0.1:0";
  server.revocation_poll = options.revocation_poll;
  server.keepalive_time = options.keepalive_time;
  server.keepalive_timeout = options.keepalive_timeout;
  env->client_keepalive_time_ = options.client_keepalive_time;
  CaTestEnv* raw = env.get();
  server.sleep = [raw](absl::Duration d) {
    absl::MutexLock lock(&raw->mu_);
    raw->sleeps_.push_back(d);
  };
  server.hash_limits = options.hash_limits;
  server.settings.log_format = options.log_format;
  server.write_log_line = [raw](std::string_view line) {
    absl::MutexLock lock(&raw->mu_);
    raw->log_lines_.emplace_back(line);
  };
  ASSIGN_OR_RETURN(env->server_, CaServer::Start(std::move(server)));
  env->tls_cert_pem_ = ReadAll(settings.tls_cert);
  return env;
}

CaTestEnv::~CaTestEnv() {
  if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  server_.reset();
  {
    absl::MutexLock lock(&mu_);
    relays_.clear();
  }
  store_.reset();
}

std::vector<absl::Duration> CaTestEnv::sleeps() {
  absl::MutexLock lock(&mu_);
  return sleeps_;
}

std::vector<std::string> CaTestEnv::log_lines() {
  absl::MutexLock lock(&mu_);
  return log_lines_;
}

std::shared_ptr<grpc::Channel> CaTestEnv::AnonymousChannel() {
  return ClientChannel("", "");
}

std::shared_ptr<grpc::Channel> CaTestEnv::ClientChannel(
    const std::string& key_pem, const std::string& cert_pem,
    const std::string& source) {
  std::string target = server_->address();
  if (!source.empty()) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<SourceRelay>& relay = relays_[source];
    if (relay == nullptr) {
      absl::StatusOr<std::unique_ptr<SourceRelay>> started =
          SourceRelay::Start(source, server_->port());
      if (started.ok()) relay = std::move(*started);
    }
    if (relay != nullptr) target = relay->address();
  }
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = tls_cert_pem_;
  tls.pem_private_key = key_pem;
  tls.pem_cert_chain = cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(std::string(kServerTlsName));
  // A new connection per channel: each test's identity is its own.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (client_keepalive_time_ > absl::ZeroDuration()) {
    args.SetInt(
        GRPC_ARG_KEEPALIVE_TIME_MS,
        static_cast<int>(absl::ToInt64Milliseconds(client_keepalive_time_)));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(tls), args);
}

SourceRelay* CaTestEnv::Relay(const std::string& source) {
  absl::MutexLock lock(&mu_);
  auto it = relays_.find(source);
  return it == relays_.end() ? nullptr : it->second.get();
}

CaTestEnv::LoginResult CaTestEnv::Login(const std::string& user,
                                        const std::string& password,
                                        const std::string& otp,
                                        const std::string& source) {
  LoginResult result;
  auto ssh_key = ssh::crypto::PrivateKey::GenerateEd25519();
  auto tls_key = GenerateTlsKey();
  if (!ssh_key.ok() || !tls_key.ok()) {
    result.status = grpc::Status(grpc::StatusCode::INTERNAL, "keygen");
    return result;
  }
  result.ssh_public_key = ssh_key->public_key().ToAuthorizedKeysLine();
  result.ssh_private_key = std::string(ssh_key->ToOpenSshFormat()->view());
  result.tls_key_pem = std::string(PrivateKeyToPem(tls_key->get())->view());
  v1::LoginRequest request;
  request.set_user(user);
  request.set_password(password);
  request.set_otp(otp);
  request.set_ssh_public_key(result.ssh_public_key);
  request.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
  auto stub = v1::CertificateAuthority::NewStub(ClientChannel("", "", source));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  result.status = stub->Login(&ctx, request, &result.response);
  if (result.status.ok()) {
    result.channel = ClientChannel(
        result.tls_key_pem, result.response.tls_client_certificate_pem());
  }
  return result;
}

absl::Status CaTestEnv::AddRole(const std::string& name,
                                const std::vector<std::string>& logins,
                                absl::Duration max_ttl) {
  storage::Role role;
  role.name = name;
  role.logins = logins;
  role.channels = {storage::ChannelKind::kShell,
                   storage::ChannelKind::kPortForward};
  role.max_ttl = max_ttl;
  return store_->CreateRole(role).status();
}

absl::Status CaTestEnv::AddUser(const std::string& name,
                                const std::string& password,
                                const std::vector<std::string>& roles) {
  storage::User user;
  user.name = name;
  RETURN_IF_ERROR(store_->CreateUser(user).status());
  ASSIGN_OR_RETURN(auto hasher, PasswordHasher::Create({.log_n = 10}));
  ASSIGN_OR_RETURN(std::string hash,
                   hasher->Hash(base::SecretBytes::FromString(password)));
  RETURN_IF_ERROR(store_->SetPasswordHash(name, hash));
  for (const std::string& role : roles) {
    RETURN_IF_ERROR(store_->BindRole(name, role).status());
  }
  return absl::OkStatus();
}

}  // namespace sallyport::ca
