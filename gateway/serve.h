// `sallyport-gateway serve`: the running gateway (issue 12). GatewayServer
// loads the gateway's identity (SSH host key + host certificate, mTLS key
// + certificate) from the settings' files, connects to the CA (CaClient),
// and listens with one io_context per core (ssh/net ServerRuntime; the
// `threads` setting, 0 = one per core), each accepted connection served by
// the Proxy on its thread.
//
// Operations: every log line goes through GatewayOps (text or JSON per
// log_format); /metrics and /healthz on metrics_listen (MetricsServer);
// Reload (SIGHUP) applies what can change live; a renewal thread renews
// the mTLS certificate (Gateway.RenewGatewayIdentity) once renew_fraction
// of its life has passed, and then opens a new CA channel with the renewed
// certificate (ReconnectCa). The CA channel never re-reads the TLS key
// and certificate files by itself: what lands there between a renewal
// and a SIGHUP (an `enroll --force` cut short, a copied file) is not
// presented until a reload checks it. The same thread renews the SSH host
// certificate (Gateway.RenewGatewayHostCertificate) once renew_fraction of its
// life has passed, writes it atomically into the state dir and presents it to
// new connections; SIGHUP renews whichever certificate is due before it
// re-reads the files.
#ifndef SALLYPORT_GATEWAY_SERVE_H_
#define SALLYPORT_GATEWAY_SERVE_H_

#include <asio.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/recorder.h"
#include "audit/shipper.h"
#include "base/steady_mutex.h"
#include "gateway/ca_client.h"
#include "gateway/config.h"
#include "gateway/event_sender.h"
#include "gateway/metrics_server.h"
#include "gateway/ops.h"
#include "gateway/proxy.h"
#include "gateway/recorder.h"
#include "gateway/serve_listeners.h"
#include "ssh/net/io_threads.h"

namespace sallyport::gateway {

// LoadGatewaySettings (gateway/config.h) plus what serving needs: `ca` and
// `ca_fingerprint` must be set. Errors start with `path`.
absl::StatusOr<GatewaySettings> LoadServeConfig(const std::string& path);

// The proxy's limits from the config's.
ProxyLimits ToProxyLimits(const GatewayLimitSettings& limits);

// The spool recorder's options from the config's (all but backlog_changed,
// which the server wires to its metrics).
audit::RecorderOptions ToRecorderOptions(const GatewaySettings& settings);

// What one recorded session may have parked in the recorder while its
// queue is full (audit::RecorderOptions::max_session_backlog_bytes): a
// session has at most its connection's window budget and queued requests
// in flight, so twice the budget plus 16 MiB, and at least the recorder's
// default. Beyond it the recording fails (fail closed).
size_t SessionBacklogBytesFor(const GatewayLimitSettings& limits);

class GatewayServer {
 public:
  struct Options {
    GatewaySettings config;
    // Null: recordings go to spool files under the config's spool_dir
    // (gateway/spool_tap.h).
    Recorder* recorder = nullptr;
    // Receives every log line (formatted per config.log_format); null:
    // stderr.
    std::function<void(std::string_view)> log;
    const base::Clock* clock = nullptr;
    // The mTLS certificate is renewed once this fraction of its life has
    // passed; checked every renew_check_interval.
    double renew_fraction = 2.0 / 3.0;
    absl::Duration renew_check_interval = absl::Minutes(1);
  };
  // kInvalidArgument / kNotFound for a bad config or unreadable identity
  // files, kPermissionDenied for a private key that group or others may
  // access or another user owns (CheckKeyFiles), kFailedPrecondition for a
  // key its certificate is not for (KeyPairMismatch, gateway/enroll.h,
  // checked before anything listens), kUnavailable when a port
  // cannot be bound ("listen: cannot listen on ADDR: Address already in
  // use", also when another process shares it with SO_REUSEPORT;
  // "metrics_listen: ..."); the CA may be down (the CaClient retries).
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(Options options);
  // Stops at once (ends every connection without draining).
  ~GatewayServer();

  asio::ip::tcp::endpoint local_endpoint() const;
  // 0 when metrics_listen is empty.
  uint16_t metrics_port() const;
  int threads() const { return threads_->size(); }
  Proxy& proxy() { return *proxy_; }
  CaClient& ca() { return *ca_; }
  // Null when recordings do not go to the spool (Options::recorder set).
  audit::Shipper* shipper() { return shipper_.get(); }
  GatewayOps& ops() { return *ops_; }

  // SIGTERM: stop accepting; let sessions go on for up to `timeout` (of
  // the steady clock: a wall-clock step does not stretch or cut it), then
  // end them with "gateway shutting down" and wait (briefly) for them;
  // then send the audit events, and ship the spooled recordings (up to
  // 5 s; what is left ships at the next start).
  void Drain(absl::Duration timeout);

  // SIGHUP with freshly loaded settings: applies limits (new connections;
  // max_startups and login_grace by replacing the listeners on the same
  // port), listen (new listeners on the new address, then the old ones
  // closed), log_format, log_level, drain_timeout, and re-reads the host
  // key and certificate; a changed mTLS certificate (checked with its key)
  // gets a new CA channel (ReconnectCa). The unauthenticated connections of old
  // and new listeners count against one max_startups. Keys that cannot change
  // live (ca, ca_fingerprint, state_dir, files, threads, metrics_listen, name,
  // egress_addresses, revocation_grace) are logged as needing a restart.
  // Returns an error (and changes nothing) when the new host certificate
  // cannot be read, or a private key is refused as at Start
  // (CheckKeyFiles, KeyPairMismatch): the running key and certificates
  // stay. When the new listen address cannot be bound (in use),
  // the old listeners stay, the rest is applied, and the error is logged
  // and returned (kUnavailable). A new address that the old listeners
  // overlap (127.0.0.1:2222 to 0.0.0.0:2222) is bound once they are closed;
  // when it cannot be bound then either, the old address is listened on
  // again (ServeListeners::Reload).
  // One at a time with the renewals (renew_mu_): a reload never reads a
  // key and certificate that a renewal is replacing, nor installs them
  // over the renewed ones.
  absl::Status Reload(const GatewaySettings& fresh)
      ABSL_LOCKS_EXCLUDED(renew_mu_);
  GatewaySettings settings() const;

  // /healthz: OK while serving (not draining), with the user CA keys
  // fetched, the revocation list current (the CA's stream has not been
  // down longer than revocation_grace), the spool usable and the mTLS and
  // SSH host certificates unexpired.
  absl::Status Health() const;

  // Renews the mTLS certificate now (what the renewal thread does when it
  // is due), one renewal at a time with the renewal thread: the CA renews
  // an identity once, so two renewals over the same one would see the
  // second refused. Returns the new certificate's expiry.
  absl::StatusOr<absl::Time> RenewIdentityNow();
  int renewals() const { return renewals_.load(); }
  // gwrest: renews the host certificate now and presents it to new
  // connections, one renewal (or reload) at a time like RenewIdentityNow.
  // Returns its expiry.
  absl::StatusOr<absl::Time> RenewHostCertificateNow()
      ABSL_LOCKS_EXCLUDED(renew_mu_);
  int host_renewals() const { return host_renewals_.load(); }
  // Renews the mTLS and host certificates that are due (SIGHUP).
  void RenewIfDue();

 private:
  GatewayServer() = default;
  void Log(std::string_view line);
  // A line about something that failed (outcome=failure, level error).
  void LogFailure(std::string_view line);
  void RenewLoop();
  // serve_wiring.cc: the CA channel, the audit event sender and the CA
  // client; the recorder (options_.recorder, else the spool's taps, else a
  // refusing one) and, with the spool, the shipper.
  absl::Status ConnectCa(const GatewaySettings& c);
  // A new channel with the mTLS key and certificate now on disk, for
  // every CA call from now on (CaClient, events, uploads, renewals); with
  // `only_if_changed`, only when that certificate differs from the
  // channel's.
  absl::Status ReconnectCa(bool only_if_changed);
  // The same with the key and certificate ReadCaIdentity read.
  absl::Status ReconnectCa(const CaIdentity& identity, bool only_if_changed);
  std::shared_ptr<grpc::Channel> CaChannel() const;
  absl::StatusOr<Recorder*> StartRecorder(const GatewaySettings& c);
  // The end of Drain: waits (bounded) for the shipper to empty the spool.
  void ShipBeforeExit();
  absl::Status StartShipper(const GatewaySettings& c);
  void CheckRenewal() ABSL_EXCLUSIVE_LOCKS_REQUIRED(renew_mu_);
  absl::StatusOr<absl::Time> RenewIdentityLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(renew_mu_);
  absl::StatusOr<absl::Time> RenewHostCertificateLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(renew_mu_);

  struct RevocationSink {
    absl::Mutex mu;
    Proxy* proxy ABSL_GUARDED_BY(mu) = nullptr;
    // revocation_fail_mode: end_sessions (SIGHUP may change it).
    bool end_sessions_when_stale ABSL_GUARDED_BY(mu) = false;
  };

  Options options_;
  NullRecorder null_recorder_;
  // rec (#14): the spool recorder (when Options::recorder is null); it
  // outlives the I/O threads and the proxy (declared before them).
  std::unique_ptr<audit::SpoolRecorder> spool_recorder_;
  std::unique_ptr<Recorder> spool_taps_;
  // Set once at start when the spool could not be set up (why).
  std::string spool_unusable_;
  std::unique_ptr<GatewayOps> ops_;
  // gwev (#14): audit events to the CA; outlives the proxy.
  std::unique_ptr<EventSender> event_sender_;
  std::shared_ptr<RevocationSink> revocation_sink_ =
      std::make_shared<RevocationSink>();
  std::unique_ptr<ssh::net::IoThreads> threads_;
  // The SSH listeners on `listen`, on threads_ (stopped before them).
  std::unique_ptr<ServeListeners> listeners_;
  std::unique_ptr<CaClient> ca_;
  // ship (#14): uploads the spool to the CA (with the spool recorder only);
  // stopped first in the destructor.
  std::unique_ptr<audit::RecordingUploader> uploader_;
  std::unique_ptr<audit::Shipper> shipper_;
  std::unique_ptr<Proxy> proxy_;
  std::unique_ptr<MetricsServer> metrics_;
  std::atomic<bool> draining_{false};
  std::atomic<int> renewals_{0};
  std::atomic<int> host_renewals_{0};
  std::atomic<int64_t> tls_not_after_unix_{0};
  // The presented host certificate's valid_before (0: none, or forever).
  std::atomic<int64_t> host_not_after_unix_{0};

  mutable absl::Mutex mu_;
  GatewaySettings settings_ ABSL_GUARDED_BY(mu_);
  // The mTLS channel to the CA, and the certificate (PEM) it was opened
  // with: an HTTP/2 connection keeps presenting the certificate it was
  // opened with, and the CA checks that one on every call, so a renewed
  // or replaced certificate needs a new channel (ReconnectCa).
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  std::string channel_certificate_ ABSL_GUARDED_BY(mu_);

  // The renewal thread's stop; its wait between checks is on the steady
  // clock (a wall clock set back does not hold off the checks).
  base::SteadyMutex stop_renewal_mu_;
  bool stop_renewal_ ABSL_GUARDED_BY(stop_renewal_mu_) = false;
  // One renewal or reload at a time (the renewal thread, SIGHUP and the
  // *Now calls): each writes or reads the key and certificate files.
  absl::Mutex renew_mu_;
  std::thread renewal_thread_;
};

// What a stop may take beyond drain_timeout: the last writes after the
// drain, the audit event flushes and the recordings' shipping (5 s each,
// GatewayServer::Drain), with room to spare. On SIGTERM the gateway tells
// systemd (STOPPING=1, EXTEND_TIMEOUT_USEC) to wait drain_timeout plus
// this before killing it; deploy/systemd's TimeoutStopSec is the default
// drain_timeout (30 s) plus this.
inline constexpr absl::Duration kDrainStopMargin = absl::Seconds(20);

// The `serve` subcommand: runs until SIGTERM/SIGINT (drain), reloads on
// SIGHUP, and returns the exit code. `listen` (non-empty) overrides the
// config's listen.
int RunServe(const std::string& config_path, const std::string& listen);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_SERVE_H_
