// CaServer: the sallyport-ca gRPC server (ca.proto + admin.proto services)
// over TLS. Clients may present a client certificate from the internal TLS
// CA (REQUEST_CLIENT_CERTIFICATE_AND_VERIFY): Login works without one; the
// services check it for every other RPC.
#ifndef SALLYPORT_CA_SERVER_H_
#define SALLYPORT_CA_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/grpc_timers.h"
#include "ca/admin_service.h"
#include "ca/audit_service.h"
#include "ca/ca_config.h"
#include "ca/ca_service.h"
#include "ca/gateway_events_service.h"
#include "ca/gateway_service.h"
#include "ca/hash_gate.h"
#include "ca/issuance_workers.h"
#include "ca/login.h"
#include "ca/recording_service.h"
#include "storage/store.h"

namespace sallyport::ca {

class CaServer {
 public:
  // HTTP/2 keepalive of the server: a ping after this long without
  // traffic on a connection, which is closed when the ping is not
  // answered within kKeepaliveTimeout. A peer that died without a reset (a
  // gateway powered off, a network that drops its packets) has its calls
  // ended within about a minute, and its revocation streams and recording
  // uploads give back their handler threads and their places
  // (kMaxGatewayStreamsPerGateway), instead of holding them for gRPC's
  // default of two hours.
  static constexpr absl::Duration kKeepaliveTime = absl::Seconds(60);
  static constexpr absl::Duration kKeepaliveTimeout = absl::Seconds(20);

  struct Options {
    CaSettings settings;
    // Not owned; must outlive the server.
    storage::Store* store = nullptr;
    base::Clock* clock = base::Clock::Real();
    // Overrides settings.listen when non-empty ("HOST:PORT", port 0 picks a
    // free port).
    std::string listen;
    absl::Duration revocation_poll = absl::Seconds(1);
    // How failed logins wait (tests replace it).
    std::function<void(absl::Duration)> sleep = [](absl::Duration d) {
      absl::SleepFor(d);
    };
    // Concurrent password hashing (default: one per core).
    HashGate::Limits hash_limits;
    // Where the one-line log of every login, lockout and admin call goes
    // (settings.log_format); default: standard error, one write per line.
    std::function<void(std::string_view)> write_log_line;
    // Threads that read the store and sign for the issuance RPCs
    // (IssuanceWorkers); -1: by the store, kDefaultRemoteStoreThreads for
    // PostgreSQL (reads are round trips), none for SQLite.
    int issuance_threads = -1;
    // Issuance tasks run inline at most when the workers are idle
    // (IssuanceWorkers::Options::max_inline).
    int issuance_inline = IssuanceWorkers::kDefaultMaxInline;
    // The server's keepalive (tests shorten it).
    absl::Duration keepalive_time = kKeepaliveTime;
    absl::Duration keepalive_timeout = kKeepaliveTimeout;
  };

  // What a peer can make the server hold (DESIGN.md: every queue a peer can
  // grow has a named limit). Memory is bounded overall by the resource
  // quota and per call by the message size; HTTP/2 flow control keeps an
  // oversized message from being read faster than it is refused.
  static constexpr int kMaxReceiveMessageBytes = 1 << 20;
  static constexpr int kMaxConcurrentStreamsPerConnection = 16;
  static constexpr int kStreamWindowBytes = 64 << 10;
  static constexpr int kMaxMetadataBytes = 16 << 10;
  static constexpr int kMaxReadChunkBytes = 64 << 10;
  // HTTP/2 pings from a client (keepalive) at most this often: the
  // gateway's (gateway::CaChannelOptions::keepalive_time, 15 s) are well
  // above it.
  static constexpr int kMinClientPingIntervalMs = 1000;
  static constexpr size_t kResourceQuotaBytes = 4 << 20;
  // Handler threads (gRPC's sync server), which every call of a
  // synchronous method holds until its handler returns. The calls that
  // hold one for long have limits of their own, and a thread each here:
  // the gateways' streams (kMaxGatewayStreams), the gateways' unary calls
  // (kMaxGatewayCalls), the logins (kMaxLoginsInFlight) and the users'
  // revocation streams (kMaxUserRevocationStreams). kReservedThreads more
  // serve the calls no limit bounds, which are quick: the admin and audit
  // APIs, GetCaPublicKeys, ListRevocations, ListMyHosts,
  // IssueHostCertificate and EnrollGateway. So with every limited kind at
  // its limit those still get a thread. gRPC answers a call that finds no
  // thread RESOURCE_EXHAUSTED at once; it keeps one thread polling for
  // calls, so kReservedThreads - 1 of them run at once. (The callback
  // methods, IssueUserCertificate, IssueSessionCertificate and
  // grpc.health.v1.Health, hold none of these threads; the issuance
  // workers are threads of their own.)
  static constexpr int kReservedThreads = 32;
  static constexpr int kMaxThreads =
      kMaxGatewayStreams + kMaxGatewayCalls + kMaxLoginsInFlight +
      kMaxUserRevocationStreams + kReservedThreads;
  // Handler threads kept polling for calls when idle.
  static constexpr int kMinPollers = 2;

  // Loads keys and TLS material, registers the CA keys in the store, binds
  // and starts serving (with grpc.health.v1.Health answering SERVING).
  // kFailedPrecondition / kInvalidArgument naming the file for bad material
  // or a private key file that group or others may read (like sshd);
  // kInvalidArgument for a listen address that is not HOST:PORT;
  // kUnavailable when the address cannot be bound, e.g. the port is in use
  // (SO_REUSEPORT is off, so a second CA cannot share it).
  static absl::StatusOr<std::unique_ptr<CaServer>> Start(Options options);
  ~CaServer();

  // "HOST:PORT" with the port actually bound.
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // Stops accepting calls, ends revocation streams, and waits up to `grace`
  // for running calls before cancelling them; returns once every handler has
  // returned. Idempotent and safe to call from several threads at once: a
  // concurrent caller waits for the shutdown in progress to finish.
  void Shutdown(absl::Duration grace = absl::Seconds(5))
      ABSL_LOCKS_EXCLUDED(shutdown_mu_);
  // Blocks until the server has shut down.
  void Wait();

  // For tests: the login authenticator, the client CA, the hasher, the
  // gateway service, the CA keys, the places of the gateways' unary
  // calls (kMaxGatewayCalls) and their write budgets.
  LoginAuthenticator& login() { return *login_; }
  const PasswordHasher& hasher() const { return *hasher_; }
  const ClientCertificateAuthority& client_ca() const { return *client_ca_; }
  HashGate& hash_gate() { return *hash_gate_; }
  GatewayService& gateway_service() { return *gateway_service_; }
  CaKeyring& keyring() { return *keyring_; }
  InFlightLimiter& gateway_calls() { return *gateway_calls_; }
  GatewayWriteBudget& gateway_writes() { return *gateway_writes_; }

 private:
  CaServer() = default;

  // First, so it goes last: gRPC's timers (keepalive pings, the calls'
  // deadlines) stay on time across wall-clock steps (base/grpc_timers.h).
  const std::shared_ptr<const void> grpc_timers_ = base::KeepGrpcTimersOnTime();
  Options options_;
  std::unique_ptr<PasswordHasher> hasher_;
  std::unique_ptr<HashGate> hash_gate_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<CaKeyring> keyring_;
  std::unique_ptr<CertificateIssuer> issuer_;
  std::unique_ptr<LoginAuthenticator> login_;
  std::unique_ptr<ClientCertificateAuthority> client_ca_;
  std::unique_ptr<PeerAuthenticator> peers_;
  std::unique_ptr<RevocationFeed> revocations_;
  std::unique_ptr<InFlightLimiter> gateway_streams_;
  std::unique_ptr<InFlightLimiter> gateway_calls_;
  std::unique_ptr<GatewayWriteBudget> gateway_writes_;
  std::unique_ptr<RefusalReports> open_session_refusals_;
  std::unique_ptr<CaService> ca_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<AuditService> audit_service_;
  std::unique_ptr<GatewayEventsService> gateway_events_service_;
  std::unique_ptr<RecordingService> recording_service_;  // ship (#14)
  std::unique_ptr<GatewayService> gateway_service_;
  // After the services (its tasks use them), before the server (stopped
  // first); its destructor runs what is queued.
  std::unique_ptr<IssuanceWorkers> issuance_workers_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
  // Held for the whole of Shutdown, so that no caller (the destructor
  // included) returns while another thread is still stopping the server.
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_SERVER_H_
