#include "gateway/serve.h"

#include <grpc/support/log.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/clock.h"
#include "base/notify.h"
#include "base/plural.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "gateway/enroll.h"
#include "gateway/recording_uploader.h"
#include "gateway/renew_host.h"
#include "gateway/serve_health.h"
#include "gateway/serve_internal.h"
#include "gateway/spool_tap.h"
#include "ssh/cert/certificate_file.h"
#include "ssh/crypto/keys.h"
#include "ssh/net/driver.h"
#include "ssh/net/listener.h"
#include "ssh/net/spawn.h"

namespace sallyport::gateway {
namespace {

// Drain: how long the last audit events may take to reach the CA: those
// queued before the recordings are shipped and those the shipping queued,
// together (EventSender::FlushAround; the shipping's time not counted).
constexpr absl::Duration kEventFlushTimeout = absl::Seconds(5);
// After a drain: how long the recordings may take to reach the CA.
constexpr absl::Duration kShipOnExitTimeout = absl::Seconds(5);
// After drain_timeout: how long the sessions ended then may take to write
// their last bytes (and the recorder its end of them).
constexpr absl::Duration kDrainLastWrites = absl::Seconds(5);
// What a drain tells the users whose sessions it ends.
constexpr char kDrainReason[] = "gateway shutting down";

bool SameFiles(const GatewayFileSettings& a, const GatewayFileSettings& b) {
  return a.host_key == b.host_key && a.host_certificate == b.host_certificate &&
         a.tls_key == b.tls_key && a.tls_certificate == b.tls_certificate &&
         a.ca_certificate == b.ca_certificate;
}

// gRPC's own log lines, as the gateway's (so a JSON log stays JSON).
std::atomic<GatewayOps*> grpc_log_ops{nullptr};

void GrpcLog(gpr_log_func_args* args) {
  GatewayOps* ops = grpc_log_ops.load();
  if (ops == nullptr) {
    std::fprintf(stderr, "grpc: %s %s\n",
                 gpr_log_severity_string(args->severity),
                 args->message != nullptr ? args->message : "");
    return;
  }
  ops->Notice("grpc",
              absl::StrCat(gpr_log_severity_string(args->severity), " ",
                           args->message != nullptr ? args->message : ""),
              args->severity != GPR_LOG_SEVERITY_ERROR);
}

// The egress addresses Dial binds to (the first of each family) that cannot
// be bound now, with the reason: every connection to a host of that family
// would be refused, so the operator hears of it at start. Not fatal: an
// address may come up later (a failover address).
std::vector<std::string> UnbindableEgress(
    const std::vector<asio::ip::address>& addresses) {
  std::vector<std::string> out;
  asio::io_context io;
  for (const asio::ip::address& family :
       {asio::ip::address(asio::ip::address_v4()),
        asio::ip::address(asio::ip::address_v6())}) {
    const asio::ip::address* local =
        ssh::net::LocalAddressFor(addresses, family);
    if (local == nullptr) continue;
    const asio::ip::address& a = *local;
    asio::ip::tcp::socket probe(io);
    asio::error_code ec;
    probe.open(a.is_v4() ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), ec);
    if (!ec) probe.bind(asio::ip::tcp::endpoint(a, 0), ec);
    if (ec) {
      out.push_back(absl::StrCat(
          "egress address ", a.to_string(), " cannot be bound (", ec.message(),
          "): connections to ", a.is_v4() ? "IPv4" : "IPv6",
          " hosts are refused until it can"));
    }
  }
  return out;
}

}  // namespace

namespace serve_internal {

absl::StatusOr<ssh::transport::ServerHostKey> LoadHostKey(
    const GatewaySettings& settings) {
  absl::StatusOr<HostKeyPair> pair = ReadHostKeyPair(settings);
  if (!pair.ok()) {
    // A mismatch says what it is and what to do in a line of its own.
    if (absl::IsFailedPrecondition(pair.status())) return pair.status();
    return absl::InvalidArgumentError(
        absl::StrCat("host key: ", pair.status().message()));
  }
  ssh::transport::ServerHostKey server_key{pair->key, {}};
  if (pair->certificate.has_value()) {
    server_key.certificate = pair->certificate->blob;
  }
  return server_key;
}

absl::StatusOr<ssh::transport::ServerHostKey> LoadIdentity(
    const GatewaySettings& settings) {
  // A key others can read is no longer the gateway's alone: refuse to
  // present it (sshd refuses such host keys too).
  RETURN_IF_ERROR(CheckKeyFiles(settings.files));
  // The host key the one its certificate certifies: not a host
  // certificate clients would refuse.
  return LoadHostKey(settings);
}

int64_t CertificateNotAfter(const ssh::transport::ServerHostKey& key) {
  if (key.certificate.empty()) return 0;
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::Parse(key.certificate);
  if (!cert.ok() || cert->valid_before > uint64_t{INT64_MAX}) return 0;
  return static_cast<int64_t>(cert->valid_before);
}

}  // namespace serve_internal

absl::StatusOr<GatewaySettings> LoadServeConfig(const std::string& path) {
  absl::StatusOr<GatewaySettings> s = LoadGatewaySettings(path);
  if (!s.ok()) return s.status();
  if (s->ca.empty())
    return absl::InvalidArgumentError(path + ": ca is required");
  if (s->ca_fingerprint.empty())
    return absl::InvalidArgumentError(path + ": ca_fingerprint is required");
  return s;
}

ProxyLimits ToProxyLimits(const GatewayLimitSettings& l) {
  ProxyLimits p;
  p.max_auth_tries = l.max_auth_tries;
  p.max_channels_per_connection =
      static_cast<size_t>(l.max_channels_per_connection);
  p.max_sessions_per_user = l.max_sessions_per_user;
  p.login_grace = l.login_grace;
  p.idle_timeout = l.idle_timeout;
  p.max_buffered_bytes_per_connection =
      static_cast<uint64_t>(l.max_buffered_bytes_per_connection);
  return p;
}

void GatewayServer::Log(std::string_view line) {
  ops_->Notice("gateway", line);
}

void GatewayServer::LogFailure(std::string_view line) {
  ops_->Notice("gateway", line, /*success=*/false);
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    Options options) {
  std::unique_ptr<GatewayServer> s(new GatewayServer());
  s->options_ = std::move(options);
  const GatewaySettings& c = s->options_.config;
  s->ops_ = std::make_unique<GatewayOps>(
      c.log_format, s->options_.log, s->options_.clock,
      ParseLogLevel(c.log_level).value_or(LogLevel::kInfo));
  GatewayOps* ops = s->ops_.get();

  absl::StatusOr<ssh::transport::ServerHostKey> server_key =
      serve_internal::LoadIdentity(c);
  if (!server_key.ok()) return server_key.status();
  s->host_not_after_unix_ = serve_internal::CertificateNotAfter(*server_key);
  absl::StatusOr<asio::ip::tcp::endpoint> endpoint =
      ssh::net::ParseEndpoint(c.listen);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: ", endpoint.status().message()));
  }
  if (absl::StatusOr<CertificateLifetime> life =
          ReadTlsCertificateLifetime(c.files.tls_certificate);
      life.ok()) {
    s->tls_not_after_unix_ = absl::ToUnixSeconds(life->not_after);
  }

  if (absl::Status st = s->ConnectCa(c); !st.ok()) return st;

  ProxyOptions proxy_options;
  proxy_options.ca = s->ca_.get();
  absl::StatusOr<Recorder*> recorder = s->StartRecorder(c);
  if (!recorder.ok()) return recorder.status();
  proxy_options.recorder = *recorder;
  proxy_options.host_keys = {*server_key};
  proxy_options.limits = ToProxyLimits(c.limits);
  proxy_options.clock = s->options_.clock;
  for (const std::string& a : c.egress_addresses) {
    asio::error_code ec;
    asio::ip::address address = asio::ip::make_address(a, ec);
    // SettingsFromConfig let only addresses through.
    if (ec) return absl::InvalidArgumentError("config: egress_addresses: " + a);
    proxy_options.egress_addresses.push_back(address);
  }
  for (const std::string& line :
       UnbindableEgress(proxy_options.egress_addresses)) {
    ops->Notice("gateway", line, /*success=*/false);
  }
  proxy_options.observer = ops;
  proxy_options.log = [ops](std::string_view line) { ops->Detail(line); };
  s->proxy_ = std::make_unique<Proxy>(std::move(proxy_options));
  {
    absl::MutexLock lock(&s->revocation_sink_->mu);
    s->revocation_sink_->proxy = s->proxy_.get();
    s->revocation_sink_->end_sessions_when_stale =
        c.end_sessions_when_revocations_stale;
  }

  s->threads_ = std::make_unique<ssh::net::IoThreads>(c.threads);
  s->threads_->Start();
  Proxy* proxy = s->proxy_.get();
  s->listeners_ = std::make_unique<ServeListeners>(
      *s->threads_, ops,
      [proxy](asio::ip::tcp::socket socket,
              std::shared_ptr<ssh::net::PreAuthSlot> slot) {
        return proxy->Serve(std::move(socket), std::move(slot));
      });
  if (absl::Status st = s->listeners_->Start(*endpoint, c.limits); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("listen: ", st.message()));
  }
  const asio::ip::tcp::endpoint listening = s->listeners_->local_endpoint();
  {
    absl::MutexLock lock(&s->mu_);
    s->settings_ = c;
  }

  if (!c.metrics_listen.empty()) {
    MetricsServerOptions mo;
    mo.listen = c.metrics_listen;
    GatewayServer* self = s.get();
    mo.health = [self] { return self->Health(); };
    absl::StatusOr<std::unique_ptr<MetricsServer>> metrics =
        MetricsServer::Start(std::move(mo), &ops->registry());
    // Its errors start with "metrics_listen: " and name the address.
    if (!metrics.ok()) return metrics.status();
    s->metrics_ = std::move(*metrics);
  }
  s->renewal_thread_ = std::thread([p = s.get()] { p->RenewLoop(); });
  s->Log(absl::StrCat(
      "listening on ", listening.address().to_string(), ":", listening.port(),
      " threads=", s->threads_->size(), " metrics=",
      c.metrics_listen.empty()
          ? std::string("off")
          : absl::StrCat(
                c.metrics_listen.substr(0, c.metrics_listen.rfind(':')), ":",
                s->metrics_port())));
  return s;
}

GatewayServer::~GatewayServer() {
  // ship (#14): the shipper uses the CA channel and the spool recorder,
  // which tells it of failed recordings until then.
  if (spool_recorder_ != nullptr) spool_recorder_->SetClosedWithoutEnd(nullptr);
  shipper_.reset();
  {
    base::SteadyMutexLock lock(&stop_renewal_mu_);
    stop_renewal_ = true;
  }
  if (renewal_thread_.joinable()) renewal_thread_.join();
  // /healthz calls Health(), which uses the runtime and the CA client.
  metrics_.reset();
  if (listeners_ != nullptr) listeners_->Stop();
  if (threads_ != nullptr) threads_->Stop();
  listeners_.reset();
  {
    absl::MutexLock lock(&revocation_sink_->mu);
    revocation_sink_->proxy = nullptr;
  }
  // In-flight CA calls post to the (stopped, still existing) io_contexts.
  ca_.reset();
  // Destroys the connections' coroutines, which use the proxy.
  threads_.reset();
  proxy_.reset();
  // Unsent events stay in the log lines (Drain flushed what it could).
  if (ops_ != nullptr) ops_->SetEventSender(nullptr);
  event_sender_.reset();
  // The recorder last, once every session has ended (the I/O threads and
  // the proxy are gone), so none writes to a stopped recorder; and before
  // ops_, whose backlog gauge it sets while it writes what is queued.
  spool_taps_.reset();
  spool_recorder_.reset();
}

asio::ip::tcp::endpoint GatewayServer::local_endpoint() const {
  return listeners_->local_endpoint();
}

uint16_t GatewayServer::metrics_port() const {
  return metrics_ != nullptr ? metrics_->port() : 0;
}

GatewaySettings GatewayServer::settings() const {
  absl::MutexLock lock(&mu_);
  return settings_;
}

void GatewayServer::Drain(absl::Duration timeout) {
  draining_ = true;
  listeners_->Close();
  Log(absl::StrCat(
      "draining: ", base::Plural(proxy_->active_connections(), "connection"),
      ", up to ", absl::FormatDuration(timeout)));
  // The sessions are told when they end, a wall-clock time (as their
  // certificate's valid_before), and end then on their own.
  proxy_->EndAll(absl::Now() + timeout, kDrainReason, kOutcomeDrained);
  // The drain itself is timed on the steady clock: a wall clock set back
  // during it (NTP after a VM resume, `date -s`) puts the sessions' end
  // off by the step, and must not keep the gateway draining for it, nor
  // one set forward cut it short. What is left at the timeout is ended
  // now; the last writes get kDrainLastWrites.
  const base::Clock* real = base::Clock::Real();
  const absl::Duration start = real->Monotonic();
  const auto wait_until = [&](absl::Duration until) {
    while (proxy_->active_connections() > 0 && real->Monotonic() < until) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  };
  wait_until(start + timeout);
  if (proxy_->active_connections() > 0) {
    proxy_->EndAll(absl::Now(), kDrainReason, kOutcomeDrained);
  }
  wait_until(start + timeout + kDrainLastWrites);
  Log(absl::StrCat(
      "drained: ", base::Plural(proxy_->active_connections(), "connection"),
      " left"));
  // The sessions' last events (session.end) go out before the exit, and so
  // do those the shipping queues (recording.complete, ...): the sender's
  // destructor does not send. Both sends share kEventFlushTimeout.
  if (event_sender_ == nullptr) {
    ShipBeforeExit();
    return;
  }
  (void)event_sender_->FlushAround(kEventFlushTimeout,
                                   [this] { ShipBeforeExit(); });
}

void GatewayServer::ShipBeforeExit() {
  // The recordings of the sessions just ended go to the CA now, not at the
  // next start: a gateway drained to be retired may never start again.
  // Bounded, so the exit stays within drain_timeout + kDrainStopMargin
  // (5 s for the last writes + 5 s for the event flushes before and after
  // this + 5 s for this).
  if (shipper_ == nullptr || spool_recorder_ == nullptr) return;
  // On the steady clock, as the drain.
  const base::Clock* real = base::Clock::Real();
  const absl::Duration deadline = real->Monotonic() + kShipOnExitTimeout;
  while (spool_recorder_->spool_bytes() > 0 && real->Monotonic() < deadline) {
    shipper_->Wake();
    absl::SleepFor(absl::Milliseconds(100));
  }
  const int64_t left = spool_recorder_->spool_bytes();
  if (left <= 0) {
    Log("recordings shipped");
  } else {
    ops_->Notice(
        "shipper",
        absl::StrCat("recordings not all shipped before the exit: ", left,
                     " spool bytes stay in the spool directory and "
                     "are shipped at the next start"),
        /*success=*/false);
  }
}

absl::Status GatewayServer::Health() const {
  HealthFacts facts;
  facts.draining = draining_;
  facts.listening = listeners_->listening();
  facts.user_ca_keys = !ca_->user_ca_keys().empty();
  facts.revocations_current = ca_->revocations_current();
  facts.spool_unusable = spool_unusable_;
  facts.spool = spool_recorder_.get();
  facts.tls_not_after_unix = tls_not_after_unix_.load();
  facts.host_not_after_unix = host_not_after_unix_.load();
  return CheckHealth(facts, absl::Now());
}

absl::Status GatewayServer::Reload(const GatewaySettings& fresh) {
  // Not while a renewal writes the files this reads (or the other way).
  absl::MutexLock renew_lock(&renew_mu_);
  const GatewaySettings old = settings();
  // The keys' modes and the two key pairs first: a bad file (a key its
  // certificate is not for) changes nothing, and the running key and
  // certificates stay.
  absl::StatusOr<ssh::transport::ServerHostKey> host_key =
      serve_internal::LoadIdentity(old);
  // The TLS pair as a new CA channel would present it.
  absl::StatusOr<CaIdentity> tls =
      host_key.ok() ? ReadCaIdentity(serve_internal::ChannelOptionsFor(old))
                    : absl::StatusOr<CaIdentity>(host_key.status());
  if (!tls.ok()) {
    // A failure (logged at every level but none): the old files stay.
    ops_->Notice("gateway",
                 absl::StrCat("reload refused: ", tls.status().message()),
                 /*success=*/false);
    return tls.status();
  }
  std::vector<std::string> restart;
  if (fresh.ca != old.ca) restart.push_back("ca");
  if (fresh.ca_fingerprint != old.ca_fingerprint)
    restart.push_back("ca_fingerprint");
  if (fresh.state_dir != old.state_dir) restart.push_back("state_dir");
  if (!SameFiles(fresh.files, old.files)) restart.push_back("files");
  if (fresh.threads != old.threads) restart.push_back("threads");
  if (fresh.metrics_listen != old.metrics_listen)
    restart.push_back("metrics_listen");
  if (fresh.name != old.name) restart.push_back("name");
  if (fresh.egress_addresses != old.egress_addresses)
    restart.push_back("egress_addresses");
  if (fresh.revocation_grace != old.revocation_grace)
    restart.push_back("revocation_grace");
  // The recorder and the shipper are made once, at start.
  if (fresh.spool_dir != old.spool_dir) restart.push_back("spool_dir");
  if (fresh.spool_fsync_interval != old.spool_fsync_interval)
    restart.push_back("spool_fsync_interval");
  if (fresh.spool_max_bytes != old.spool_max_bytes)
    restart.push_back("spool_max_bytes");
  if (fresh.record_exec_output_limit != old.record_exec_output_limit)
    restart.push_back("record_exec_output_limit");

  GatewaySettings applied = old;
  applied.limits = fresh.limits;
  const absl::Status listen_status = listeners_->Reload(old, fresh, &applied);
  proxy_->SetLimits(ToProxyLimits(applied.limits));
  if (spool_recorder_ != nullptr) {
    spool_recorder_->RaiseMaxSessionBacklogBytes(
        SessionBacklogBytesFor(applied.limits));
  }
  proxy_->SetHostKeys({*host_key});
  host_not_after_unix_ = serve_internal::CertificateNotAfter(*host_key);
  // A new mTLS certificate on disk (renewed or replaced by the operator):
  // CA calls present it from now on. Failing, the old channel stays.
  (void)ReconnectCa(*tls, /*only_if_changed=*/true);
  applied.log_format = fresh.log_format;
  ops_->SetLogFormat(fresh.log_format);
  applied.log_level = fresh.log_level;
  ops_->SetLogLevel(ParseLogLevel(fresh.log_level).value_or(LogLevel::kInfo));
  applied.drain_timeout = fresh.drain_timeout;
  applied.end_sessions_when_revocations_stale =
      fresh.end_sessions_when_revocations_stale;
  {
    absl::MutexLock lock(&revocation_sink_->mu);
    revocation_sink_->end_sessions_when_stale =
        applied.end_sessions_when_revocations_stale;
  }
  // Switched to end_sessions while the list is already stale: the outage's
  // one report has passed, so the sessions end now.
  if (applied.end_sessions_when_revocations_stale &&
      !old.end_sessions_when_revocations_stale) {
    if (std::string why = ca_->StaleReason(); !why.empty()) {
      proxy_->EndEstablished(RevocationsStaleReason(why),
                             kOutcomeRevocationsUnknown);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    settings_ = applied;
  }
  const GatewayLimitSettings& l = applied.limits;
  Log(absl::StrCat(
      "reloaded: host key and certificate, mTLS certificate re-read; limits "
      "max_startups=",
      l.max_startups.start, ":", l.max_startups.rate, ":", l.max_startups.full,
      " login_grace=", absl::FormatDuration(l.login_grace),
      " max_auth_tries=", l.max_auth_tries,
      " max_channels_per_connection=", l.max_channels_per_connection,
      " max_sessions_per_user=", l.max_sessions_per_user,
      " idle_timeout=", absl::FormatDuration(l.idle_timeout), "; log_format=",
      applied.log_format == base::LogFormat::kJson ? "json" : "text",
      " log_level=", applied.log_level,
      " drain_timeout=", absl::FormatDuration(applied.drain_timeout)));
  if (applied.end_sessions_when_revocations_stale !=
      old.end_sessions_when_revocations_stale) {
    Log(absl::StrCat("reload: revocation_fail_mode is now ",
                     applied.end_sessions_when_revocations_stale
                         ? "end_sessions"
                         : "refuse_new"));
  }
  if (!restart.empty()) {
    Log(absl::StrCat("reload: changed but needs a restart to take effect: ",
                     absl::StrJoin(restart, ", ")));
  }
  return listen_status;
}

int RunServe(const std::string& config_path, const std::string& listen) {
  const sigset_t signals = base::BlockLifecycleSignals();

  absl::StatusOr<GatewaySettings> config = LoadServeConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "sallyport-gateway: %s\n",
                 std::string(config.status().message()).c_str());
    return 1;
  }
  // The file's listen, which --listen overrides (for the reload's note).
  std::string file_listen = config->listen;
  if (!listen.empty()) config->listen = listen;
  GatewayServer::Options options;
  options.config = *config;
  absl::StatusOr<std::unique_ptr<GatewayServer>> server =
      GatewayServer::Start(std::move(options));
  if (!server.ok()) {
    std::fprintf(stderr, "sallyport-gateway: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  grpc_log_ops = &(*server)->ops();
  gpr_set_log_function(GrpcLog);
  base::NotifyReady(absl::StrCat("listening on ", config->listen));
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      base::NotifyReloading();
      absl::StatusOr<GatewaySettings> fresh = LoadServeConfig(config_path);
      if (!fresh.ok()) {
        (*server)->ops().Notice("gateway",
                                absl::StrCat("SIGHUP: config not reloaded: ",
                                             fresh.status().message()),
                                false);
        base::NotifyReady("config not reloaded; running on the old one");
        continue;
      }
      if (!listen.empty()) {
        // --listen wins over the file's, at start and at each reload: say
        // so when the file's changed (it was ignored without a word, while
        // the log said the config was reloaded).
        if (fresh->listen != file_listen && fresh->listen != listen) {
          (*server)->ops().Notice(
              "gateway",
              absl::StrCat("SIGHUP: listen \"",
                           base::EscapeControls(fresh->listen),
                           "\" in the config is not applied: --listen ", listen,
                           " overrides it (restart without --listen "
                           "to use the config's)"),
              false);
        }
        file_listen = fresh->listen;
        fresh->listen = listen;
      }
      // Certificates that are due are renewed first, then re-read.
      (*server)->RenewIfDue();
      const absl::Status reloaded = (*server)->Reload(*fresh);
      const std::string ready =
          absl::StrCat("listening on ", (*server)->settings().listen);
      base::NotifyReady(reloaded.ok()
                            ? ready
                            : absl::StrCat(ready, "; ", reloaded.message()));
      continue;
    }
    break;
  }
  const absl::Duration drain_timeout = (*server)->settings().drain_timeout;
  base::NotifyStopping(drain_timeout + kDrainStopMargin);
  (*server)->Drain(drain_timeout);
  grpc_log_ops = nullptr;
  server->reset();
  return 0;
}

}  // namespace sallyport::gateway
