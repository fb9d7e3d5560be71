// The CertificateAuthority gRPC service (proto/ca.proto).
#ifndef SALLYPORT_CA_CA_SERVICE_H_
#define SALLYPORT_CA_CA_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/host_port.h"
#include "base/rpc_limits.h"
#include "ca/audit_log.h"
#include "ca/ca_config.h"
#include "ca/ca_keys.h"
#include "ca/client_ca.h"
#include "ca/in_flight_limiter.h"
#include "ca/issuance_workers.h"
#include "ca/issuer.h"
#include "ca/login.h"
#include "ca/refusal_reports.h"
#include "ca/revocation_feed.h"
#include "ca/service_util.h"
#include "ca/write_budget.h"
#include "proto/ca.grpc.pb.h"
#include "storage/store.h"

namespace sallyport::ca {

// Everything the services share; owned by the server.
struct CaContext {
  storage::Store* store = nullptr;
  base::Clock* clock = nullptr;
  AuditLog* audit = nullptr;
  CaKeyring* keyring = nullptr;
  CertificateIssuer* issuer = nullptr;
  LoginAuthenticator* login = nullptr;
  const ClientCertificateAuthority* client_ca = nullptr;
  const PasswordHasher* hasher = nullptr;
  PeerAuthenticator* peers = nullptr;
  RevocationFeed* revocations = nullptr;
  // Where the issuance RPCs (IssueUserCertificate, IssueSessionCertificate)
  // read the store and sign; null: on gRPC's callback thread.
  IssuanceWorkers* issuance_workers = nullptr;
  // How often WatchRevocations polls the store for revocations made by
  // other instances.
  absl::Duration revocation_poll = absl::Seconds(1);
  // Where users reach the gateway (CA config gateway.ssh_addresses), for
  // ListMyHosts.
  std::vector<base::HostPort> gateway_ssh_addresses;
  // The gateways' calls that last as long as their gateway keeps them
  // open (WatchRevocations, UploadRecording), keyed by gateway name:
  // kMaxGatewayStreams, kMaxGatewayStreamsPerGateway.
  InFlightLimiter* gateway_streams = nullptr;
  // The gateways' unary calls in progress, keyed by gateway name:
  // kMaxGatewayCalls, kMaxGatewayCallsPerGateway (EnterGatewayCall).
  InFlightLimiter* gateway_calls = nullptr;
  // What each gateway may make the CA write over time (CA config
  // gateway.write_rate_bytes_per_second, gateway.write_burst_bytes;
  // ChargeGatewayWrite). Null: no budget.
  GatewayWriteBudget* gateway_writes = nullptr;
  // The most sessions a gateway may have open at the CA (CA config
  // gateway.max_open_sessions): UploadRecording refuses a new session
  // beyond them (TooManyOpenSessions), and says its refusals in
  // `open_session_refusals`, at most once per gateway and
  // kGatewayWriteRefusalReportInterval. Null: reported every time.
  int64_t max_open_sessions_per_gateway = kDefaultMaxOpenSessionsPerGateway;
  RefusalReports* open_session_refusals = nullptr;
};

// The actor of audit events caused by gateway `name`: "gateway:NAME".
std::string GatewayActor(std::string_view name);

// ReachableHosts lists at most this many hosts (as many as sp reads).
using base::kMaxListedHosts;

// An inventory host and the logins RBAC allows `user` there.
struct ReachableHost {
  storage::Host host;
  std::vector<std::string> logins;  // sorted, at least one
};
// The hosts of `inventory` (by name) named after `after` on which some
// login of `roles` is allowed at least one channel kind
// (rbac::EffectivePermissions), by name, the first `max_hosts`. A disabled
// user reaches none.
absl::StatusOr<std::vector<ReachableHost>> ReachableHosts(
    const storage::User& user, const std::vector<storage::Role>& roles,
    const std::vector<storage::Host>& inventory, std::string_view after = "",
    size_t max_hosts = kMaxListedHosts);

// WatchRevocations streams of users: each holds one of the CA's handler
// threads for as long as it is open, and no client of ours opens one for
// a user; a user gets at most kMaxUserRevocationStreamsPerUser, all users
// kMaxUserRevocationStreams (RESOURCE_EXHAUSTED beyond), so users cannot
// take the threads the gateways' calls need.
inline constexpr int kMaxUserRevocationStreams = 16;
inline constexpr int kMaxUserRevocationStreamsPerUser = 2;
// A gateway's calls that hold a handler thread for as long as it keeps
// them open, sending or not: its revocation stream (WatchRevocations) and
// its recording uploads (UploadRecording). It keeps one of each open (and
// opens the next when it reconnects, before the CA noticed the last one
// went); it gets at most kMaxGatewayStreamsPerGateway (what one connection
// carries, CaServer::kMaxConcurrentStreamsPerConnection), all gateways
// kMaxGatewayStreams, counted apart from the users' (RESOURCE_EXHAUSTED
// beyond): a gateway that opens such calls without end holds its own
// share of the threads, not those the other gateways' AuthorizeChannel
// calls and the users' logins need.
inline constexpr int kMaxGatewayStreams = 64;
inline constexpr int kMaxGatewayStreamsPerGateway = 16;
// The refusal of a gateway's call beyond them.
absl::Status TooManyGatewayStreams(std::string_view what);

// A gateway's unary calls in progress: AuthorizeChannel,
// IssueSessionCertificate, IssueHostCertificateForTarget,
// RecordGatewayEvents, RenewGatewayIdentity and
// RenewGatewayHostCertificate. Each holds one of the CA's handler threads
// (IssueSessionCertificate: an issuance worker) until the Store answers,
// so while the Store is slow (PostgreSQL stalling) they pile up, and one
// gateway's burst (a compromised gateway, or a login storm behind one)
// would take every thread from the other gateways, the users' logins and
// the admin API. A gateway gets at most kMaxGatewayCallsPerGateway at
// once, all gateways kMaxGatewayCalls; one more is refused at once
// (RESOURCE_EXHAUSTED, TooManyGatewayCalls), nothing waits for a place.
// kMaxGatewayCallsPerGateway is what one connection carries at a time
// (CaServer::kMaxConcurrentStreamsPerConnection, 16; gRPC holds a
// client's further calls until one ends): a gateway on its one connection
// to the CA, whatever its load (a login storm), is never refused, its
// calls wait their turn in its channel; a gateway that opens more
// connections to get more threads (a compromised one) gets no more
// places. kMaxGatewayCalls is three of those; CaServer::kMaxThreads has a
// thread for each, beside those of the gateways' streams
// (kMaxGatewayStreams), the logins (kMaxLoginsInFlight) and the users'
// revocation streams (kMaxUserRevocationStreams), and keeps
// CaServer::kReservedThreads for the calls no limit bounds (the admin
// API among them), so those still get a thread with all of these at
// their limits. With a Store answering in about 10 ms a gateway's places
// carry some 1600 calls a second; beyond them a gateway is told at once
// that the CA is overloaded instead of its users waiting out their
// deadlines.
inline constexpr int kMaxGatewayCallsPerGateway = 16;
inline constexpr int kMaxGatewayCalls = 3 * kMaxGatewayCallsPerGateway;
// The refusal of a gateway's unary call `method` beyond them.
absl::Status TooManyGatewayCalls(std::string_view method);
// A place in ctx.gateway_calls for the call of `context`, keyed by the
// gateway identity its caller presents (`presented`: its client
// certificate checked against the TLS CA by
// PeerAuthenticator::VerifyPresented, no store read; the call hands the
// same answer to AuthenticateGateway, so it is verified once): taken before the
// call's first store read, so a call waiting on a slow Store holds its place,
// given back when the Ticket is destroyed; and `write_bytes` of that gateway's
// write budget (ChargeGatewayWrite). nullopt, nothing taken, when the caller
// presents no gateway identity (PeerAuthenticator::AuthenticateGateway
// refuses it). kResourceExhausted (TooManyGatewayCalls) when the gateway,
// or all gateways, have as many calls in progress as they may, or
// (OverWriteBudget) when the gateway is over its write budget.
absl::StatusOr<std::optional<InFlightLimiter::Ticket>> EnterGatewayCall(
    const CaContext& ctx, const grpc::ServerContextBase& context,
    const absl::StatusOr<ClientIdentity>& presented, std::string_view method,
    uint64_t write_bytes = kGatewayCallWriteBytes);

// The refusal of a write of `gateway` over its budget: kResourceExhausted
// "gateway 'NAME' is over its write budget at the CA (RATE bytes/s);
// retry later".
absl::Status OverWriteBudget(std::string_view gateway,
                             const GatewayWriteBudget::Policy& policy);
// Takes `bytes` of `gateway`'s write budget (ctx.gateway_writes, keyed by
// the gateway's name) for a write of `method`, before it is written: OK
// when taken; OverWriteBudget, nothing taken, otherwise. A gateway's
// refusals are said at most once per kGatewayWriteRefusalReportInterval,
// in one audit event (kEventGatewayWriteBudgetExceeded, with how many)
// and one log line, so that refusing writes writes little.
absl::Status ChargeGatewayWrite(const CaContext& ctx,
                                const grpc::ServerContextBase& context,
                                std::string_view gateway,
                                std::string_view method, uint64_t bytes);

// A gateway's unary call begun: its place (EnterGatewayCall) and its
// caller (PeerAuthenticator::AuthenticateGateway naming `method`), the
// presented certificate verified once for both. Refused as they refuse,
// the overload first; `write_bytes` as EnterGatewayCall takes them.
struct GatewayCall {
  std::optional<InFlightLimiter::Ticket> place;  // held until the call ends
  ClientIdentity peer;
};
absl::StatusOr<GatewayCall> BeginGatewayCall(
    const CaContext& ctx, const grpc::ServerContextBase& context,
    std::string_view method, uint64_t write_bytes = kGatewayCallWriteBytes);

// The caller of a long call (WatchRevocations, UploadRecording) checked
// again while the call is open: an identity revoked after the call began
// (`spctl revoke` of a gateway's or a user's TLS serial) must not keep
// the stream it opened before, which it could keep open for as long as it
// likes.
class OpenCallCaller {
 public:
  // `context` is the call's, whose caller authenticated at its start.
  OpenCallCaller(const CaContext& ctx, const grpc::ServerContextBase& context,
                 absl::Duration interval);
  // OK while the caller still authenticates
  // (PeerAuthenticator::Authenticate: its client certificate not revoked,
  // not expired). It is checked again, one Store read, when this CA
  // revoked something since the last check (RevocationFeed), when
  // `revoked_since` (the call saw revocations in the Store, e.g. another
  // instance's), or `interval` after the last check; otherwise nothing is
  // read. kPermissionDenied "<ended>: <why>" once it does not;
  // kUnavailable when the Store cannot say (fail closed).
  absl::Status Check(std::string_view ended, bool revoked_since = false);

 private:
  const CaContext& ctx_;
  const grpc::ServerContextBase& context_;
  const absl::Duration interval_;
  uint64_t seen_;
  // When the next check is due, on the real monotonic clock: a wall clock
  // set back must not put it off (nor the call's test clock, which may
  // never move).
  absl::Duration next_;
};

// IssueUserCertificate uses gRPC's callback API (as the gateway's
// IssueSessionCertificate): no thread waits for its record to commit.
class CaService final
    : public v1::CertificateAuthority::WithCallbackMethod_IssueUserCertificate<
          v1::CertificateAuthority::Service> {
 public:
  explicit CaService(CaContext ctx) : ctx_(ctx) {}

  grpc::Status Login(grpc::ServerContext* context,
                     const v1::LoginRequest* request,
                     v1::LoginResponse* response) override;
  grpc::ServerUnaryReactor* IssueUserCertificate(
      grpc::CallbackServerContext* context,
      const v1::IssueUserCertificateRequest* request,
      v1::IssueUserCertificateResponse* response) override;
  grpc::Status GetCaPublicKeys(grpc::ServerContext* context,
                               const v1::GetCaPublicKeysRequest* request,
                               v1::CaPublicKeys* response) override;
  grpc::Status ListRevocations(grpc::ServerContext* context,
                               const v1::ListRevocationsRequest* request,
                               v1::ListRevocationsResponse* response) override;
  grpc::Status WatchRevocations(
      grpc::ServerContext* context, const v1::WatchRevocationsRequest* request,
      grpc::ServerWriter<v1::Revocation>* writer) override;
  grpc::Status IssueHostCertificate(
      grpc::ServerContext* context,
      const v1::IssueHostCertificateRequest* request,
      v1::IssueHostCertificateResponse* response) override;
  grpc::Status ListMyHosts(grpc::ServerContext* context,
                           const v1::ListMyHostsRequest* request,
                           v1::ListMyHostsResponse* response) override;

 private:
  absl::Status FillCaPublicKeys(v1::CaPublicKeys* out);
  // IssueUserCertificate's work (on the issuance workers): finishes
  // `reactor`.
  void StartUserCertificate(const grpc::ServerContextBase& context,
                            const v1::IssueUserCertificateRequest& request,
                            v1::IssueUserCertificateResponse* response,
                            grpc::ServerUnaryReactor* reactor);
  CaContext ctx_;
  InFlightLimiter user_watches_{kMaxUserRevocationStreams,
                                kMaxUserRevocationStreamsPerUser};
};

// Revocation record → proto.
void RevocationToProto(const storage::Revocation& r, v1::Revocation* out);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_CA_SERVICE_H_
