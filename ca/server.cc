#include "ca/server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"

namespace sallyport::ca {
namespace {

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Private keys must not be readable by group or others (sshd refuses such
// keys the same way).
absl::Status CheckPrivateFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s is accessible by group or others (mode %04o): a private key must "
        "be mode 0600 (chmod 600 %s)",
        path, st.st_mode & 07777, path));
  }
  return absl::OkStatus();
}

void WriteStderrLine(std::string_view line) {
  std::string out = absl::StrCat(std::string(line), "\n");
  // One write per line, so lines of concurrent calls do not interleave.
  (void)!write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<CaServer>> CaServer::Start(Options options) {
  if (options.store == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("CaServer: store and clock required");
  }
  std::unique_ptr<CaServer> s(new CaServer());
  s->options_ = std::move(options);
  const CaSettings& cfg = s->options_.settings;
  storage::Store* store = s->options_.store;
  base::Clock* clock = s->options_.clock;

  const std::string listen =
      s->options_.listen.empty() ? cfg.listen : s->options_.listen;
  RETURN_IF_ERROR(
      ValidateListen("listen", listen,
                     /*allow_port_zero=*/!s->options_.listen.empty()));
  for (const std::string* key :
       {&cfg.user_ca_key, &cfg.host_ca_key, &cfg.tls_key, &cfg.client_ca_key}) {
    RETURN_IF_ERROR(CheckPrivateFile(*key));
  }
  if (!cfg.session_ca_key.empty()) {
    RETURN_IF_ERROR(CheckPrivateFile(cfg.session_ca_key));
  }
  ASSIGN_OR_RETURN(s->hasher_, PasswordHasher::Create(cfg.scrypt));
  s->hash_gate_ = std::make_unique<HashGate>(s->options_.hash_limits);
  s->audit_ = std::make_unique<AuditLog>(store);
  s->audit_->SetLineLog(
      cfg.log_format == "json" ? LogFormat::kJson : LogFormat::kText,
      s->options_.write_log_line ? s->options_.write_log_line
                                 : WriteStderrLine);
  ASSIGN_OR_RETURN(
      s->keyring_,
      CaKeyring::Create(
          {.user_key_path = cfg.user_ca_key,
           .host_key_path = cfg.host_ca_key,
           .session_key_path = cfg.session_ca_key,
           .store = store,
           .clock = clock,
           .user_trust_window = cfg.user_certificates.max_ttl,
           .host_trust_window = cfg.host_certificate_ttl,
           // As long as a retired user key (which signed sessions before):
           // instances of an HA CA sign with a rotated key until each one
           // restarts.
           .session_trust_window = cfg.user_certificates.max_ttl}));
  s->issuer_ = std::make_unique<CertificateIssuer>(
      CertificateIssuer::Options{.store = store,
                                 .keyring = s->keyring_.get(),
                                 .audit = s->audit_.get(),
                                 .clock = clock,
                                 .user_policy = cfg.user_certificates,
                                 .host_ttl = cfg.host_certificate_ttl});
  LoginAuthenticator::Options login;
  login.store = store;
  login.hasher = s->hasher_.get();
  login.audit = s->audit_.get();
  login.clock = clock;
  login.lockout = cfg.lockout;
  login.max_failures_per_address = cfg.max_failures_per_address;
  login.failure_delay = cfg.failure_delay;
  login.sleep = s->options_.sleep;
  login.hash_gate = s->hash_gate_.get();
  s->login_ = std::make_unique<LoginAuthenticator>(std::move(login));
  ASSIGN_OR_RETURN(s->client_ca_, ClientCertificateAuthority::Load(
                                      cfg.client_ca_cert, cfg.client_ca_key));
  s->peers_ = std::make_unique<PeerAuthenticator>(s->client_ca_.get(), store,
                                                  s->audit_.get(), clock);
  s->revocations_ = std::make_unique<RevocationFeed>();
  s->gateway_streams_ = std::make_unique<InFlightLimiter>(
      kMaxGatewayStreams, kMaxGatewayStreamsPerGateway);
  s->gateway_calls_ = std::make_unique<InFlightLimiter>(
      kMaxGatewayCalls, kMaxGatewayCallsPerGateway);
  GatewayWriteBudget::Policy writes;
  writes.rate_bytes_per_second = cfg.gateway_write_rate_bytes_per_second;
  writes.burst_bytes = cfg.gateway_write_burst_bytes;
  s->gateway_writes_ = std::make_unique<GatewayWriteBudget>(writes);
  s->open_session_refusals_ =
      std::make_unique<RefusalReports>(writes.report_interval);
  int issuance_threads = s->options_.issuance_threads;
  if (issuance_threads < 0) {
    issuance_threads = absl::StartsWith(cfg.store_url, "postgres")
                           ? IssuanceWorkers::kDefaultRemoteStoreThreads
                           : 0;
  }
  s->issuance_workers_ = std::make_unique<IssuanceWorkers>(
      IssuanceWorkers::Options{.threads = issuance_threads,
                               .max_inline = s->options_.issuance_inline});

  CaContext ctx;
  ctx.store = store;
  ctx.clock = clock;
  ctx.audit = s->audit_.get();
  ctx.keyring = s->keyring_.get();
  ctx.issuer = s->issuer_.get();
  ctx.login = s->login_.get();
  ctx.client_ca = s->client_ca_.get();
  ctx.hasher = s->hasher_.get();
  ctx.peers = s->peers_.get();
  ctx.revocations = s->revocations_.get();
  ctx.gateway_streams = s->gateway_streams_.get();
  ctx.gateway_calls = s->gateway_calls_.get();
  ctx.gateway_writes = s->gateway_writes_.get();
  ctx.max_open_sessions_per_gateway = cfg.gateway_max_open_sessions;
  ctx.open_session_refusals = s->open_session_refusals_.get();
  ctx.issuance_workers = s->issuance_workers_.get();
  ctx.revocation_poll = s->options_.revocation_poll;
  ctx.gateway_ssh_addresses = cfg.gateway_ssh_addresses;
  s->ca_service_ = std::make_unique<CaService>(ctx);
  s->admin_service_ = std::make_unique<AdminService>(ctx);
  s->audit_service_ = std::make_unique<AuditService>(ctx);
  s->gateway_events_service_ = std::make_unique<GatewayEventsService>(ctx);
  s->recording_service_ = std::make_unique<RecordingService>(ctx);
  GatewayService::Settings gateway;
  gateway.egress_addresses = cfg.gateway_egress_addresses;
  gateway.host_certificate_ttl = cfg.host_certificate_ttl;
  s->gateway_service_ = std::make_unique<GatewayService>(ctx, gateway);

  ASSIGN_OR_RETURN(std::string cert_pem, ReadText(cfg.tls_cert));
  ASSIGN_OR_RETURN(std::string key_pem, ReadText(cfg.tls_key));
  grpc::SslServerCredentialsOptions tls(
      GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = s->client_ca_->ca_pem();
  tls.pem_key_cert_pairs.push_back({key_pem, cert_pem});
  OPENSSL_cleanse(key_pem.data(), key_pem.size());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::SslServerCredentials(tls), &s->port_);
  builder.RegisterService(s->ca_service_.get());
  builder.RegisterService(s->admin_service_.get());
  builder.RegisterService(s->audit_service_.get());
  builder.RegisterService(s->gateway_events_service_.get());
  builder.RegisterService(s->recording_service_.get());
  builder.RegisterService(s->gateway_service_.get());
  // Without this gRPC sets SO_REUSEPORT and a second CA on the same port
  // would start and take half of the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             kMaxConcurrentStreamsPerConnection);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                             kStreamWindowBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  // Clients may check that the CA still answers with HTTP/2 pings (the
  // gateway does, every 15 s, to notice a hung CA or a silently dropped
  // connection under its revocation stream): accepted down to one a
  // second, also on an idle connection, where gRPC's default would answer
  // pings more often than every 5 minutes with GOAWAY.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      kMinClientPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // The server's own pings, which find a peer that died (kKeepaliveTime).
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIME_MS,
      static_cast<int>(absl::ToInt64Milliseconds(s->options_.keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(
                                 s->options_.keepalive_timeout)));
  // Small reads, so the quota is checked often while a message arrives.
  builder.AddChannelArgument(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE,
                             kMaxReadChunkBytes);
  // A thread for every call a limit bounds, and the reserve for the rest
  // (of which gRPC keeps one polling, so it needs two to serve one).
  static_assert(kMaxThreads >=
                kMaxGatewayStreams + kMaxGatewayCalls + kMaxLoginsInFlight +
                    kMaxUserRevocationStreams + kReservedThreads);
  static_assert(kReservedThreads >= 2);
  grpc::ResourceQuota quota("sallyport-ca");
  quota.Resize(kResourceQuotaBytes);
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  // Keep idle handler threads instead of ending every thread beyond two
  // idle pollers: with calls that wait for a group commit, gRPC's default
  // (at most 2 idle pollers) started and ended about one thread per call.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, kMinPollers);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kMaxThreads);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen,
        " (is another process, perhaps another sallyport-ca, using the "
        "port?)"));
  }
  const size_t colon = listen.rfind(':');
  s->address_ = absl::StrCat(
      colon == std::string::npos ? listen : listen.substr(0, colon), ":",
      s->port_);
  return s;
}

CaServer::~CaServer() { Shutdown(absl::Seconds(1)); }

void CaServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&shutdown_mu_);
  if (server_ == nullptr || shut_down_) return;
  shut_down_ = true;
  revocations_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

void CaServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace sallyport::ca
