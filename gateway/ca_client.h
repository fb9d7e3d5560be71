// The gateway's client of the CA (DESIGN.md §5): mutual TLS with the
// gateway's enrolled identity, the CA's TLS certificate pinned by
// fingerprint. Per-session calls (AuthorizeChannel,
// IssueSessionCertificate) use gRPC's callback API and complete on the
// executor the caller gives, so no I/O thread ever blocks. Two background
// threads of its own (never I/O threads) keep the user/host CA keys fresh
// (GetCaPublicKeys) and the revocation set current (ListRevocations to
// catch up, then the WatchRevocations stream, reconnecting with backoff).
//
// Revocation fails closed: once the stream has been down longer than
// `revocation_grace`, CheckNotRevoked refuses everything.
#ifndef SALLYPORT_GATEWAY_CA_CLIENT_H_
#define SALLYPORT_GATEWAY_CA_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/grpc_timers.h"
#include "base/secret_bytes.h"
#include "base/steady_mutex.h"
#include "proto/ca.grpc.pb.h"
#include "proto/gateway.grpc.pb.h"
#include "ssh/crypto/keys.h"

namespace sallyport::gateway {

namespace cav1 = ::sallyport::ca::v1;

// Where the CA is and who we are.
struct CaChannelOptions {
  // HOST:PORT, or several (HA): HOST:PORT,HOST:PORT, tried in order
  // (base/address_list.h).
  std::string address;
  std::string fingerprint;  // "SHA256:..." of the CA's TLS certificate
  // The gateway's TLS key and mTLS certificate (PEM files), read once, by
  // ReadCaIdentity: a channel presents what they held then for its whole
  // life, whatever lands on disk later. A renewed or replaced pair is used
  // by a new channel (GatewayServer::ReconnectCa).
  std::string tls_key_path;
  std::string tls_certificate_path;
  // The CA's TLS certificate as `enroll` pinned it (PEM, config
  // files.ca_certificate, default STATE_DIR/ca.pem). It must have
  // `fingerprint`, and it is the only root the channel trusts.
  std::string ca_certificate_path;
  // HTTP/2 keepalive: a ping after this long without traffic, and the
  // connection counts as lost when the ping is not answered within
  // keepalive_timeout. A hung CA, or a connection dropped on the way
  // without a reset, then ends the revocation stream (and revocation_grace
  // starts) instead of leaving it open and silent for hours.
  absl::Duration keepalive_time = absl::Seconds(15);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // The refusal of a TLS key and certificate that do not make a pair, for
  // the operator (GatewayServer: KeyPairMismatch, naming the config keys
  // and `enroll --force`), given why: OK when both parse and differ, else
  // "PATH: ..." of the one that does not parse. Unset: "KEY is not the key
  // that CERTIFICATE certifies (why)".
  std::function<absl::Status(const absl::Status& why)> key_pair_refusal;
};

// The gateway's mTLS identity as ReadCaIdentity read it: the bytes a
// channel made from it presents.
struct CaIdentity {
  std::string certificate;  // PEM, of tls_certificate_path
  base::SecretBytes key;    // PEM, of tls_key_path (wiped when destroyed)
};

// Reads tls_certificate_path and tls_key_path, once, and checks that the
// certificate certifies the key. kNotFound naming a file that cannot be
// read; kFailedPrecondition (key_pair_refusal's when set) when it does not
// ("KEY is not the key that CERTIFICATE certifies": a pair from two
// enrolments, or one half-written).
absl::StatusOr<CaIdentity> ReadCaIdentity(const CaChannelOptions& options);

// A TLS channel to the CA that presents the gateway's certificate and
// accepts the server only if its certificate chains to the pinned CA
// certificate (the only root; the system's roots are never consulted) and
// names "sallyport-ca". The three files are read here and never again
// (gRPC holds the bytes for the channel's life; the copy of the private
// key read here is wiped): ReadCaIdentity's errors, and kInvalidArgument
// for a malformed fingerprint or a missing ca_certificate_path, kNotFound
// when the CA certificate cannot be read, kFailedPrecondition when it does
// not have the pinned fingerprint.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeCaChannel(
    const CaChannelOptions& options);
// The same with the identity ReadCaIdentity read: only the CA certificate
// is read here.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeCaChannel(
    const CaChannelOptions& options, const CaIdentity& identity);

// "SHA256:" + unpadded base64 of SHA-256 over the DER of the first
// certificate in `pem`. kInvalidArgument when it does not parse.
absl::StatusOr<std::string> CertificatePemFingerprint(std::string_view pem);

// gRPC status → absl status (same codes, same message).
absl::Status FromGrpc(const grpc::Status& status);

class CaClient {
 public:
  struct Options {
    std::shared_ptr<grpc::Channel> channel;  // required
    // Deadline of every unary call.
    absl::Duration rpc_deadline = absl::Seconds(10);
    // How often the CA keys are fetched again.
    absl::Duration keys_refresh = absl::Minutes(5);
    // gwrest: a certificate of an unknown CA key fetches the keys early
    // (RefreshUserCaKeysSoon), at most once per this interval; callers
    // waiting for one fetch are capped at max_key_waiters (beyond it they
    // get the current keys at once).
    absl::Duration unknown_key_refresh_interval = absl::Seconds(10);
    size_t max_key_waiters = 4096;
    // How long the revocation stream may be down before CheckNotRevoked
    // fails closed.
    absl::Duration revocation_grace = absl::Seconds(60);
    // Reconnect backoff of the revocation stream.
    absl::Duration reconnect_initial = absl::Milliseconds(500);
    absl::Duration reconnect_max = absl::Seconds(10);
    // While waiting to reconnect, how often the channel is asked whether
    // it is connected (again).
    absl::Duration reconnect_poll = absl::Milliseconds(250);
    // Revocations kept in memory; beyond it the set is considered not
    // current (fail closed) until the gateway restarts.
    size_t max_revocations = 1'000'000;
    const base::Clock* clock = nullptr;  // null: the real clock
    // Called (on a CaClient thread) with each RPC's name and latency.
    std::function<void(std::string_view rpc, absl::Duration latency)> on_rpc;
    std::function<void(std::string_view line)> log;
    // A line that says something `log` reported is fixed: the revocation
    // stream is back after a "stream down" line.
    std::function<void(std::string_view line)> log_recovered;
    // Called (on a CaClient thread) for each revocation that arrives on
    // the stream, or with the catch-up after the stream was down: a
    // serial (key_fingerprint empty) or a key fingerprint.
    std::function<void(uint64_t serial, const std::string& key_fingerprint)>
        on_revocation;
    // Called (on a CaClient thread) when the revocation list stops being
    // current, with StaleReason(). Once per outage: again only after the
    // list was current in between.
    std::function<void(const std::string& why)> on_stale;
  };

  // Starts the background threads after one synchronous attempt at the CA
  // keys and the revocation list (so a gateway that can reach the CA
  // serves at once). Never fails because the CA is down: calls then fail
  // with kUnavailable and revocation checks fail closed after the grace.
  static absl::StatusOr<std::unique_ptr<CaClient>> Create(Options options);
  // Cancels the stream and every call in flight and waits for them: the
  // executors given to the calls may be destroyed afterwards.
  ~CaClient();

  // The user CA keys (to trust user certificates) and host CA keys (to
  // trust internal hosts), as last fetched; empty before the first fetch.
  std::vector<ssh::crypto::PublicKey> user_ca_keys() const;
  std::vector<ssh::crypto::PublicKey> host_ca_keys() const;
  // Fetches the keys now (blocking; not on an I/O thread).
  absl::Status RefreshKeys();
  // gwrest: for a certificate whose CA key is not among user_ca_keys():
  // fetches the CA keys again asynchronously, unless a fetch is already in
  // flight (then `done` waits for it) or one started less than
  // unknown_key_refresh_interval ago (then `done` gets the keys held now).
  // `done` runs on `executor` (never inline) with the user CA keys.
  using UserCaKeysDone =
      std::function<void(std::vector<ssh::crypto::PublicKey>)>;
  void RefreshUserCaKeysSoon(asio::any_io_executor executor,
                             UserCaKeysDone done);
  // Early fetches started by RefreshUserCaKeysSoon (for tests).
  int early_key_fetches() const;

  // Why the revocation list is not current ("the CA has been unreachable
  // longer than revocation_grace", ...); empty while it is.
  std::string StaleReason() const ABSL_LOCKS_EXCLUDED(mu_);
  // The start of CheckNotRevoked's kUnavailable message (a stale list).
  static constexpr char kRevocationListStale[] =
      "the revocation list is not current";
  // kPermissionDenied when the serial or the key fingerprint is revoked;
  // kUnavailable when the revocation list is not current (the stream has
  // been down longer than revocation_grace, or it was never loaded).
  absl::Status CheckNotRevoked(uint64_t serial,
                               std::string_view key_fingerprint) const;
  // Whether the revocation list is current (see CheckNotRevoked).
  bool revocations_current() const;
  // Calls from now on go over `channel` (a new connection to the CA: an
  // open one keeps presenting the mTLS certificate it was opened with);
  // the revocation stream reconnects over it. Calls in flight finish on
  // the old one. Thread-safe.
  void ReplaceChannel(std::shared_ptr<grpc::Channel> channel);

  // Revocations held, and the times the stream connected (for tests).
  size_t revocation_count() const;
  int stream_connects() const;

  using AuthorizeDone = std::function<void(
      absl::StatusOr<gateway::v1::AuthorizeChannelResponse>)>;
  using IssueDone = std::function<void(
      absl::StatusOr<gateway::v1::IssueSessionCertificateResponse>)>;
  // Asynchronous calls: `done` runs on `executor` (never inline). The
  // caller makes sure whatever `done` touches is still alive (e.g. with a
  // weak_ptr), or that the CaClient is destroyed first.
  void AuthorizeChannel(gateway::v1::AuthorizeChannelRequest request,
                        asio::any_io_executor executor, AuthorizeDone done);
  // `deadline`: when the caller stops waiting for the CA; the login path
  // passes the connection's login grace deadline so that a CA slowed by
  // load (disk, recordings being stored) is waited for as long as the
  // client may still be logging in. InfiniteFuture: rpc_deadline from now.
  void IssueSessionCertificate(
      gateway::v1::IssueSessionCertificateRequest request,
      asio::any_io_executor executor, IssueDone done,
      absl::Time deadline = absl::InfiniteFuture());
  // rpj (recorded ProxyJump): a host certificate for an inventory host's
  // name, for the gateway's inner SSH server (gateway/jump_inner.cc).
  using HostCertificateDone = std::function<void(
      absl::StatusOr<gateway::v1::IssueHostCertificateForTargetResponse>)>;
  void IssueHostCertificateForTarget(
      gateway::v1::IssueHostCertificateForTargetRequest request,
      asio::any_io_executor executor, HostCertificateDone done);

 private:
  explicit CaClient(Options options);
  void WatchLoop();
  void RefreshLoop();
  // Fetches the revocations after last_revocation_id_; once the list was
  // loaded, each one fetched is also reported (on_revocation).
  absl::Status CatchUp();
  // Passes a revocation to on_revocation (without mu_ held).
  void Report(const cav1::Revocation& r) ABSL_LOCKS_EXCLUDED(mu_);
  void AddRevocation(const cav1::Revocation& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkDown() ABSL_LOCKS_EXCLUDED(mu_);
  bool CurrentLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string StaleReasonLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls on_stale when the list is no longer current and it was not
  // called since the list was last current.
  void MaybeReportStale() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits `backoff` (or until stopping), waking when the grace runs out
  // to report the list stale on time. Returns early, though not before
  // 500 ms, once the channel was seen without a connection and
  // is connected again: the CA is back, and the channel's own reconnect
  // backoff (at most 10 s, base/address_list.h) already paced the
  // attempts. False when stopping.
  bool WaitToReconnect(absl::Duration backoff) ABSL_LOCKS_EXCLUDED(mu_);
  void Log(std::string_view line);
  // Parses and stores fetched keys (kInternal when there is no user key).
  absl::Status StoreKeys(const cav1::CaPublicKeys& keys);
  template <typename Response, typename Start>
  void Call(std::string_view rpc, asio::any_io_executor executor,
            std::function<void(absl::StatusOr<Response>)> done, Start start,
            absl::Time deadline = absl::InfiniteFuture());

  // First, so it goes last: gRPC's timers (the calls' deadlines) stay on
  // time across wall-clock steps while the calls run (base/grpc_timers.h).
  const std::shared_ptr<const void> grpc_timers_ = base::KeepGrpcTimersOnTime();
  Options options_;
  const base::Clock* clock_;
  // The stubs of the current channel; each call holds them until done.
  struct Stubs {
    explicit Stubs(std::shared_ptr<grpc::Channel> c)
        : channel(c),
          ca(cav1::CertificateAuthority::NewStub(c)),
          gateway(v1::Gateway::NewStub(c)) {}
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<cav1::CertificateAuthority::Stub> ca;
    std::unique_ptr<v1::Gateway::Stub> gateway;
  };
  std::shared_ptr<const Stubs> stubs() const ABSL_LOCKS_EXCLUDED(mu_);

  // Timed waits (the key refresh, the revocation stream's reconnect) on
  // the steady clock: a wall clock set back does not stretch them.
  mutable base::SteadyMutex mu_;
  std::shared_ptr<const Stubs> stubs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<ssh::crypto::PublicKey> user_cas_ ABSL_GUARDED_BY(mu_);
  std::vector<ssh::crypto::PublicKey> host_cas_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> revoked_serials_ ABSL_GUARDED_BY(mu_);
  std::set<std::string, std::less<>> revoked_keys_ ABSL_GUARDED_BY(mu_);
  int64_t last_revocation_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
  // The whole list was fetched at least once.
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  // Unset while the stream is up; when it went down (or we started), on
  // clock_->Monotonic().
  std::optional<absl::Duration> down_since_ ABSL_GUARDED_BY(mu_);
  // on_stale was called and the list has not been current since.
  bool stale_reported_ ABSL_GUARDED_BY(mu_) = false;
  int stream_connects_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ClientContext* stream_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  // gwrest: the early key fetch (RefreshUserCaKeysSoon).
  struct EarlyFetch;
  std::shared_ptr<EarlyFetch> early_fetch_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<asio::any_io_executor, UserCaKeysDone>> key_waiters_
      ABSL_GUARDED_BY(mu_);
  // When the last early fetch started, on clock_->Monotonic().
  std::optional<absl::Duration> last_early_fetch_ ABSL_GUARDED_BY(mu_);
  int early_key_fetches_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread watch_thread_;
  std::thread refresh_thread_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_CA_CLIENT_H_
