// GatewayServer's wiring to the CA and the recording (split from serve.cc,
// no behaviour change): the CA channel with the audit event sender and the
// CA client; the recorder (spool + taps, or a refusing one) and the
// shipper that uploads the spool.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gateway/enroll.h"
#include "gateway/recording_uploader.h"
#include "gateway/serve.h"
#include "gateway/serve_internal.h"
#include "gateway/spool_tap.h"

namespace sallyport::gateway {

CaChannelOptions serve_internal::ChannelOptionsFor(const GatewaySettings& c) {
  CaChannelOptions o;
  o.address = c.ca;
  o.fingerprint = c.ca_fingerprint;
  o.tls_key_path = c.files.tls_key;
  o.tls_certificate_path = c.files.tls_certificate;
  o.ca_certificate_path = c.files.ca_certificate;
  o.key_pair_refusal = [c](const absl::Status& why) {
    return why.ok() ? KeyPairMismatch(c, IdentityPair::kTls) : why;
  };
  return o;
}

audit::RecorderOptions ToRecorderOptions(const GatewaySettings& c) {
  audit::RecorderOptions ro;
  ro.spool_dir = c.spool_dir;
  ro.gateway_id = c.name;
  ro.fsync_interval = c.spool_fsync_interval;
  ro.spool_max_bytes = c.spool_max_bytes;
  ro.max_session_backlog_bytes = SessionBacklogBytesFor(c.limits);
  return ro;
}

size_t SessionBacklogBytesFor(const GatewayLimitSettings& limits) {
  const size_t budget =
      static_cast<size_t>(limits.max_buffered_bytes_per_connection);
  return std::max(audit::kDefaultMaxSessionBacklogBytes,
                  2 * budget + (size_t{16} << 20));
}

absl::Status GatewayServer::ConnectCa(const GatewaySettings& c) {
  GatewayOps* ops = ops_.get();
  const CaChannelOptions channel_options = serve_internal::ChannelOptionsFor(c);
  absl::StatusOr<CaIdentity> identity = ReadCaIdentity(channel_options);
  if (!identity.ok()) return identity.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeCaChannel(channel_options, *identity);
  if (!channel.ok()) return channel.status();
  {
    absl::MutexLock lock(&mu_);
    channel_ = *channel;
    channel_certificate_ = identity->certificate;
  }
  // gwev (#14): the gateway's audit events go to the CA over this channel.
  EventSenderOptions event_options;
  event_options.registry = &ops->registry();
  event_options.log = [ops](std::string_view line) {
    ops->Notice("audit.events", line);
  };
  event_options.warn = [ops](std::string_view line) {
    ops->Notice("audit.events", line, /*success=*/false);
  };
  event_sender_ = std::make_unique<EventSender>(
      std::move(event_options),
      EventSender::GrpcSend([this] { return CaChannel(); }));
  ops->SetEventSender(event_sender_.get());
  CaClient::Options ca_options;
  ca_options.channel = *channel;
  ca_options.revocation_grace = c.revocation_grace;
  ca_options.clock = options_.clock;
  // Every line of the CA client is trouble: keys or revocations it cannot
  // fetch, a stream that is down, a list that is no longer current.
  ca_options.log = [ops](std::string_view line) {
    ops->Notice("ca", line, /*success=*/false);
  };
  ca_options.log_recovered = [ops](std::string_view line) {
    ops->Notice("ca", line, /*success=*/true);
  };
  ca_options.on_rpc = [ops](std::string_view rpc, absl::Duration latency) {
    ops->CaRpc(rpc, latency);
  };
  // Revocations end the connections that use the certificate; the proxy
  // exists only after the CA client, hence the indirection.
  ca_options.on_revocation = [sink = revocation_sink_](uint64_t serial,
                                                       const std::string& fp) {
    absl::MutexLock lock(&sink->mu);
    if (sink->proxy != nullptr) sink->proxy->EndRevoked(serial, fp);
  };
  // revocation_fail_mode end_sessions: a stale list ends the sessions too.
  ca_options.on_stale = [sink = revocation_sink_](const std::string& why) {
    absl::MutexLock lock(&sink->mu);
    if (sink->proxy != nullptr && sink->end_sessions_when_stale) {
      sink->proxy->EndEstablished(RevocationsStaleReason(why),
                                  kOutcomeRevocationsUnknown);
    }
  };
  absl::StatusOr<std::unique_ptr<CaClient>> ca =
      CaClient::Create(std::move(ca_options));
  if (!ca.ok()) return ca.status();
  ca_ = std::move(*ca);
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> GatewayServer::CaChannel() const {
  absl::MutexLock lock(&mu_);
  return channel_;
}

absl::Status GatewayServer::ReconnectCa(bool only_if_changed) {
  absl::StatusOr<CaIdentity> identity =
      ReadCaIdentity(serve_internal::ChannelOptionsFor(settings()));
  if (!identity.ok()) {
    LogFailure(absl::StrCat("mTLS certificate not re-read: ",
                            identity.status().message()));
    return identity.status();
  }
  return ReconnectCa(*identity, only_if_changed);
}

absl::Status GatewayServer::ReconnectCa(const CaIdentity& identity,
                                        bool only_if_changed) {
  const GatewaySettings s = settings();
  if (only_if_changed) {
    absl::MutexLock lock(&mu_);
    if (identity.certificate == channel_certificate_) return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeCaChannel(serve_internal::ChannelOptionsFor(s), identity);
  if (!channel.ok()) {
    LogFailure(absl::StrCat("mTLS certificate not re-read: ",
                            channel.status().message()));
    return channel.status();
  }
  {
    absl::MutexLock lock(&mu_);
    channel_ = *channel;
    channel_certificate_ = identity.certificate;
  }
  ca_->ReplaceChannel(*channel);
  if (absl::StatusOr<CertificateLifetime> life =
          ReadTlsCertificateLifetime(s.files.tls_certificate);
      life.ok()) {
    tls_not_after_unix_ = absl::ToUnixSeconds(life->not_after);
  }
  Log("CA channel reopened with the mTLS certificate on disk");
  return absl::OkStatus();
}

absl::StatusOr<Recorder*> GatewayServer::StartRecorder(
    const GatewaySettings& c) {
  GatewayOps* ops = ops_.get();
  Recorder* recorder = options_.recorder;
  if (recorder == nullptr) {
    audit::RecorderOptions ro = ToRecorderOptions(c);
    ro.clock = options_.clock;  // the proxy's: the taps' times are on it
    ro.backlog_changed = [gauge = &ops->metrics().recorder_backlog_bytes](
                             int64_t bytes) { gauge->Set(bytes); };
    absl::StatusOr<std::unique_ptr<audit::SpoolRecorder>> spool =
        audit::SpoolRecorder::Start(ro);
    // Another gateway records into spool_dir: this one does not start (it
    // would end that one's live sessions as interrupted).
    if (absl::IsFailedPrecondition(spool.status())) return spool.status();
    if (spool.ok()) {
      spool_recorder_ = std::move(*spool);
      SpoolTapOptions to;
      to.exec_output_limit = c.record_exec_output_limit;
      spool_taps_ = std::make_unique<SpoolTapRecorder>(*spool_recorder_, to);
      // ship (#14): before any session opens, so the spools there now are
      // the previous process's.
      absl::Status shipping = StartShipper(c);
      if (!shipping.ok()) return shipping;
    } else {
      // Fail closed: recorded sessions are refused with the reason, and
      // /healthz says so.
      spool_unusable_ = std::string(spool.status().message());
      ops->Notice(
          "recording",
          absl::StrCat("the spool cannot be used: ", spool.status().message()),
          /*success=*/false);
      spool_taps_ = std::make_unique<RefusingRecorder>(
          absl::StrCat("the recording spool cannot be used (",
                       spool.status().message(), ")"));
    }
    recorder = spool_taps_.get();
  }
  return recorder;
}

absl::Status GatewayServer::StartShipper(const GatewaySettings& c) {
  GatewayOps* ops = ops_.get();
  uploader_ =
      std::make_unique<GrpcRecordingUploader>([this] { return CaChannel(); });
  MetricsRegistry& registry = ops->registry();
  Gauge& spool_bytes =
      registry
          .AddGauge("sallyport_gateway_spool_bytes",
                    "Bytes in recording spool files (not yet deleted).")
          .Get();
  Gauge& backlog = registry
                       .AddGauge("sallyport_gateway_ship_backlog_bytes",
                                 "Spooled bytes the CA has not confirmed yet.")
                       .Get();
  Counter& errors =
      registry
          .AddCounter("sallyport_gateway_ship_errors_total",
                      "Failed recording uploads and unreadable spool files.")
          .Get();
  Counter& shipped =
      registry
          .AddCounter("sallyport_gateway_shipped_sessions_total",
                      "Spool files deleted after the CA confirmed them.")
          .Get();
  audit::ShipperOptions so;
  so.spool_dir = c.spool_dir;
  so.uploader = uploader_.get();
  so.on_deleted = [rec = spool_recorder_.get()](int64_t n) {
    rec->ForgetSpoolBytes(n);
  };
  // Live spools ship only as far as they are fsync'd: after a power loss
  // the CA holds nothing the spool lost.
  so.synced_bytes = [rec = spool_recorder_.get()](const std::string& id) {
    return rec->SyncedBytes(id);
  };
  so.log = [ops](std::string_view line) { ops->Notice("shipper", line); };
  so.warn = [ops](std::string_view line) {
    ops->Notice("shipper", line, /*success=*/false);
  };
  so.on_event = [ops](std::string_view code,
                      const audit::v1::RecordingSession& session,
                      const std::vector<base::LogField>& fields) {
    ops->SessionEvent(code, session.session_id(), session.user(), fields);
  };
  so.on_pass = [&spool_bytes, &backlog, &errors,
                &shipped](const audit::ShipperStats& st) {
    spool_bytes.Set(st.spool_bytes);
    backlog.Set(st.backlog_bytes);
    // The shipper's counts only grow.
    errors.Inc(st.errors_total - errors.value());
    shipped.Inc(st.shipped_sessions_total - shipped.value());
  };
  absl::StatusOr<std::unique_ptr<audit::Shipper>> shipper =
      audit::Shipper::Start(std::move(so));
  if (!shipper.ok()) {
    return absl::Status(shipper.status().code(),
                        absl::StrCat("spool_dir ", c.spool_dir, ": ",
                                     shipper.status().message()));
  }
  shipper_ = std::move(*shipper);
  // A session whose recording failed (a full spool disk) is ended at the
  // CA as failed and its spool deleted, rather than left active.
  spool_recorder_->SetClosedWithoutEnd(
      [s = shipper_.get()](const audit::ClosedWithoutEnd& closed) {
        s->Closed(closed);
      });
  return absl::OkStatus();
}

}  // namespace sallyport::gateway
