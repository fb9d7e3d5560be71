// The gateway's SSH proxy (DESIGN.md §7 path 1, issue 12): Proxy is the
// Listener's connection handler; each downstream connection becomes a
// GatewayConnection (gateway/gateway_connection.h) that authenticates the
// user's certificate, resolves LOGIN+HOST through the CA, connects to the
// host with a session certificate for a fresh ephemeral key, and bridges
// every channel under per-channel RBAC, through the Recorder.
//
// Threads: a connection's downstream, upstream and bridges run on the
// executor of the socket the Listener accepted (one io_context per core);
// the Proxy itself is shared by all threads (its methods are thread-safe).
#ifndef SALLYPORT_GATEWAY_PROXY_H_
#define SALLYPORT_GATEWAY_PROXY_H_

#include <asio.hpp>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "gateway/ca_client.h"
#include "gateway/jump_host_certs.h"
#include "gateway/observer.h"
#include "gateway/recorder.h"
#include "ssh/connection/messages.h"
#include "ssh/net/listener.h"
#include "ssh/transport/host_key.h"

namespace sallyport::gateway {

class GatewayConnection;

// GatewayLimits (proto/config.proto) in the proxy's terms, with the
// defaults of the issue.
struct ProxyLimits {
  int max_auth_tries = 6;
  size_t max_channels_per_connection = 64;
  // Counts jump-only connections and LOGIN+HOST sessions, and the recorded
  // ProxyJump sessions inside a jump connection: its first one uses the
  // jump connection's own count, each more one its own.
  int max_sessions_per_user = 50;
  // Time to authenticate (limits.login_grace): the listener's for a new
  // connection, and an inner (recorded ProxyJump) connection's from its
  // channel's opening.
  absl::Duration login_grace = absl::Seconds(30);
  absl::Duration idle_timeout = absl::ZeroDuration();  // off
  // Connecting to a host (TCP, handshake, authentication).
  absl::Duration upstream_connect_timeout = absl::Seconds(15);
  // "env" requests per channel (only LANG and LC_* pass) and their size.
  size_t max_env_requests = 32;
  size_t max_env_request_bytes = 4096;
  // Channel requests of one channel waiting behind an authorization.
  size_t max_queued_requests = 64;
  // `-R` forwards (tcpip-forward) per connection, accepted or pending;
  // also the cancel-tcpip-forward requests waiting for their answer.
  size_t max_remote_forwards = 16;
  // What one downstream connection's channel windows (its upstream's and
  // its recorded ProxyJumps' included) may hold together
  // (ssh::connection::WindowBudget; limits.max_buffered_bytes_per_connection).
  uint64_t max_buffered_bytes_per_connection = uint64_t{16} << 20;
  // How long a user's channel may wait to open (the CA's decision, the
  // host's connection, the host's open: sshd confirms a direct-tcpip once
  // it connected): then the user's client is told "open timed out" and the
  // channel is refused (channel.refused), also at the host. Not in the
  // config (the SSH library's default); tests shorten it.
  absl::Duration channel_open_timeout = absl::Seconds(30);
};

// AuthorizeChannel answers one connection keeps (GatewayConnection::
// AuthorizeFor's cache, by kind, host and destination). A client can ask
// for ever new destinations (direct-tcpip); past this many answers, new
// ones are not kept (each such request is asked of the CA again), so the
// cache cannot grow with the client's requests.
inline constexpr size_t kMaxCachedAuthorizations = 256;

// Bytes (type and data) of one channel's requests waiting behind an
// authorization or the recorder (ProxyLimits::max_queued_requests counts
// them): one more and the channel is closed, saying why. A request alone
// always fits (a packet is at most 256 KiB, its header included), so the
// cap never refuses a channel's first request. Neither cap counts the one
// request they wait behind (being authorized, or parked until the
// recorder has what came before it): a channel holds at most
// max_queued_requests + 1 requests, and this many bytes plus that one
// request's. There is only ever one such request per channel (the bridge
// is busy until it is sent or refused, and nothing is taken off the queue
// meanwhile), and it is at most one packet: the transport refuses a
// packet_length over ssh::transport::kMaxPacketLength (256 KiB) before
// reading it, with no compression, and the packet's own fields (padding
// length, at least 4 bytes of padding, message number, recipient channel,
// the type's length, want_reply) leave its type and data 15 bytes less.
// So a channel's requests hold under 512 KiB (a connection's, under
// max_channels_per_connection times that: 32 MiB by default). It is not
// counted on purpose: a request of nearly a packet being authorized (an
// exec of a long command line) would otherwise get its channel closed by
// anything sent behind it, such as a terminal's window-change.
inline constexpr size_t kMaxQueuedRequestBytes = size_t{256} << 10;

// The host's channel requests (exit-status, exit-signal, eow@openssh.com)
// one channel holds while the recorder has not recorded them yet (record
// before forward): at most this many, of at most this many bytes (type and
// data) together. A host that sends more is cut off: the channel is
// closed, saying why. As above, one request alone always fits.
inline constexpr size_t kMaxHeldHostRequests = 64;
inline constexpr size_t kMaxHeldHostRequestBytes = size_t{256} << 10;

// The extended data type code (RFC 4254 §5.2: the only one defined) that
// the host's side of a bridged channel may send: stderr. The code is the
// sender's choice, any uint32; every distinct code forwarded would be a
// stream of its own in the recording (state kept for the channel's life,
// a stream_summary at its close), so any other code from the host, and
// any extended data at all from the user, is given its window back and
// dropped: neither recorded nor forwarded, logged once per channel and
// side (event=channel.ext_data_dropped), counted in the metrics and in the
// channel's close event (channel.close, portforward.close,
// proxyjump.close: ext_dropped_bytes_in/out, never in bytes_in/out), so
// an auditor sees that bytes were sent that the other side never got.
// That is what OpenSSH does (channels.c: "bad ext data"): its client
// takes only stderr, and sshd takes no extended data from a client. The
// same holds on every channel, a direct-tcpip one included (ssh -L, -W):
// stderr from the host passes (counted in bytes_out); on the gateway's own
// relays (jump-only forwards, passthrough and recorded jumps) all the
// user's extended data is dropped, as a TCP connection or the inner SSH
// connection has no place for it.
inline constexpr uint32_t kHostExtendedDataCode =
    ssh::connection::kExtendedDataStderr;

// Recorded ProxyJumps (inner connections) one jump connection may have
// waiting for their user's login at once, counting those still waiting for
// their host certificate: each may connect to its host once it has seen
// the user's certificate (GatewayConnection::DecideInner), so without a
// limit one user could make the gateway open unauthenticated connections
// to a host by the hundred (its sshd's MaxStartups and PerSourcePenalties
// then refuse the gateway for everyone). More are refused, and audited as
// channel.refused.
inline constexpr size_t kMaxJumpsAwaitingLogin = 4;

// Why a connection ends when its user certificate is revoked.
inline constexpr char kCertificateRevoked[] =
    "your Sallyport certificate was revoked; run `sp login` for a new one "
    "(if that is refused, ask an administrator)";
// Why established connections end when the revocation list goes stale
// (CaClient::StaleReason) and revocation_fail_mode is end_sessions.
std::string RevocationsStaleReason(std::string_view why);

struct ProxyOptions {
  CaClient* ca = nullptr;        // required; outlives the Proxy
  Recorder* recorder = nullptr;  // required
  // The gateway's host key(s), with the host certificate from our CA.
  std::vector<ssh::transport::ServerHostKey> host_keys;
  // The initial limits; Proxy::SetLimits changes them for new connections
  // (read them with Proxy::limits()).
  ProxyLimits limits;
  const base::Clock* clock = nullptr;  // null: the real clock
  // The config's egress_addresses: every connection the gateway makes to a
  // host (recorded sessions, the recorded ProxyJump's inner connection,
  // passthrough and port-forward relays) leaves from the first of them of
  // the host address's family (ssh::net::Dial). Empty: the kernel chooses.
  std::vector<asio::ip::address> egress_addresses;
  // Operations hooks (log lines, metrics); null: none. Outlives the Proxy.
  ProxyObserver* observer = nullptr;
  // One line per event (connection, auth decision, channel open/close,
  // refusal, upstream connect); peer text is always escaped.
  std::function<void(std::string_view)> log;
};

class Proxy {
 public:
  explicit Proxy(ProxyOptions options);
  ~Proxy();

  // The Listener::Handler: runs one downstream connection to its end.
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket,
                              std::shared_ptr<ssh::net::PreAuthSlot> slot);

  // Ends every connection at `when` (now or later) with `reason`, and
  // tells its user beforehand (AnnounceEnd); each connection sees it on its
  // own executor. `outcome` (gateway/observer.h, e.g. kOutcomeDrained) is
  // what a session ended so reports (GatewayConnection::EndAt).
  void EndAll(absl::Time when, std::string reason, std::string_view outcome);
  // Ends at once every connection whose user certificate has this serial
  // (non-zero) or key fingerprint (non-empty), as kOutcomeRevoked, and
  // returns how many that is (each is told on its own executor). Only
  // those connections are disturbed: a catch-up of R revocations with C
  // connections open costs R look-ups, not R×C posts. Thread-safe.
  size_t EndRevoked(uint64_t serial, const std::string& key_fingerprint);
  // Ends at once every connection open now with `reason` and `outcome`
  // (unlike EndAll, connections that start later are not affected).
  // Thread-safe.
  void EndEstablished(std::string reason, std::string_view outcome);
  size_t active_connections() const;
  uint64_t total_connections() const { return total_.load(); }

  const ProxyOptions& options() const { return options_; }
  // The limits in force for new connections (SIGHUP may change them; a
  // connection keeps the limits it started with, except
  // max_sessions_per_user, which counts at each login).
  ProxyLimits limits() const;
  void SetLimits(const ProxyLimits& limits);
  // The host key(s) offered to new connections (SIGHUP re-reads the host
  // certificate).
  std::vector<ssh::transport::ServerHostKey> host_keys() const;
  void SetHostKeys(std::vector<ssh::transport::ServerHostKey> keys);
  ProxyObserver& observer() { return *observer_; }
  const base::Clock& clock() const { return *clock_; }
  void Log(std::string_view line) const;
  // A fresh session id ([A-Za-z0-9._-], ≤ 64 bytes): "s", 16 hex digits
  // drawn at random for each session, a 6-digit hex counter.
  std::string NewSessionId();
  // A fresh connection number for log lines (1, 2, ...).
  uint64_t NewConnectionId() { return next_conn_id_.fetch_add(1) + 1; }

  // Host certificates for inventory names (recorded ProxyJump).
  TargetCertificateCache& target_certificates() { return target_certs_; }

  // Per-user connection count (max_sessions_per_user): counts one more for
  // `user`, or kResourceExhausted when the user already has that many,
  // saying so ("you already have 1 session open through this gateway
  // (limits.max_sessions_per_user is 1)").
  absl::Status AcquireUser(const std::string& user);
  void ReleaseUser(const std::string& user);

 private:
  friend class GatewayConnection;
  void Register(GatewayConnection* c);
  void Unregister(GatewayConnection* c);
  // The registered connection `c` authenticates with a certificate of
  // this serial and key fingerprint (its signed request, before it is
  // decided): EndRevoked finds `c` by either from now on (it replaces the
  // certificate `c` noted before). Then checks the certificate against the
  // revocation list again (CaClient::CheckNotRevoked's kPermissionDenied or
  // kUnavailable): a revocation that arrived after the library's own check
  // and before `c` was indexed is seen here, one that arrives later finds
  // `c`. kInternal when `c` is not registered.
  absl::Status UseCertificate(GatewayConnection* c, uint64_t serial,
                              const std::string& key_fingerprint);

  // What a connection authenticates with (UseCertificate); serial 0 and an
  // empty fingerprint are not indexed.
  struct CertificateInUse {
    uint64_t serial = 0;
    std::string key_fingerprint;
  };
  void IndexLocked(GatewayConnection* c, const CertificateInUse& cert, bool add)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ProxyOptions options_;
  const base::Clock* clock_;
  ProxyObserver null_observer_;
  ProxyObserver* observer_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> next_id_{0};
  std::atomic<uint64_t> next_conn_id_{0};
  uint64_t id_salt_;
  mutable absl::Mutex mu_;
  std::map<GatewayConnection*, CertificateInUse> connections_
      ABSL_GUARDED_BY(mu_);
  // connections_ by the serial and by the key fingerprint of their
  // certificate, for EndRevoked.
  std::set<std::pair<uint64_t, GatewayConnection*>> by_serial_
      ABSL_GUARDED_BY(mu_);
  std::set<std::pair<std::string, GatewayConnection*>> by_key_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> per_user_ ABSL_GUARDED_BY(mu_);
  ProxyLimits limits_ ABSL_GUARDED_BY(mu_);
  std::vector<ssh::transport::ServerHostKey> host_keys_ ABSL_GUARDED_BY(mu_);
  // EndAll before a connection registered still applies to it.
  absl::Time end_all_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::string end_all_reason_ ABSL_GUARDED_BY(mu_);
  std::string_view end_all_outcome_ ABSL_GUARDED_BY(mu_);
  TargetCertificateCache target_certs_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_PROXY_H_
