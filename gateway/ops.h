// The gateway's operations glue (issue 12 "Operations"): a ProxyObserver
// that writes each event as a GatewayLog line and counts it in
// GatewayMetrics. The log format and level can change at run time (SIGHUP).
// With an EventSender (issue 14), the audit events among them (session
// start/refused/end, channel open/refused/close, port forwards, upstream
// failures, AuditEvent) also go to the CA; the log line is written first
// and stays the source of truth when the sender's queue is full.
#ifndef SALLYPORT_GATEWAY_OPS_H_
#define SALLYPORT_GATEWAY_OPS_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/event_line.h"
#include "gateway/event_sender.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/observer.h"

namespace sallyport::gateway {

class GatewayOps : public ProxyObserver {
 public:
  // `sink` null: stderr. The registry gets the gateway's families.
  GatewayOps(base::LogFormat format, GatewayLog::Sink sink,
             const base::Clock* clock = nullptr,
             LogLevel level = LogLevel::kInfo);

  MetricsRegistry& registry() { return registry_; }
  GatewayMetrics& metrics() { return metrics_; }
  // Switches the log format (text/json) for the following lines.
  void SetLogFormat(base::LogFormat format);
  base::LogFormat log_format() const;
  // Drops lines below `level` from now on (gateway/log.h).
  void SetLogLevel(LogLevel level);

  // A line about the gateway itself ("listening", "reload", a CA client or
  // listener notice, or a free-form proxy detail), as event `event` with
  // the text in a `message` field.
  void Notice(std::string_view event, std::string_view message,
              bool success = true);
  // A connection limits.max_startups closed before its version line.
  void ConnectionDropped();
  // A line of the proxy's per-session trace (event "detail", level debug).
  void Detail(std::string_view message);
  // A CA RPC's latency (CaClient::Options::on_rpc).
  void CaRpc(std::string_view rpc, absl::Duration latency);
  // Audit events also go to `sender` (null: log lines only). The sender
  // must outlive the calls (set it to null before destroying it).
  void SetEventSender(EventSender* sender);
  // An audit event of a session that is no live connection's: the
  // shipper's recording.complete and recording.repaired (the shipper
  // logged the line already). Sent to the CA.
  void SessionEvent(std::string_view code, std::string_view session_id,
                    std::string_view user,
                    const std::vector<base::LogField>& fields);

  // ---- ProxyObserver
  void ConnectionOpened(const LogConnection& c) override;
  void ConnectionClosed(const LogConnection& c, std::string_view outcome,
                        absl::Duration d, uint64_t bytes_in, uint64_t bytes_out,
                        std::string_view reason) override;
  void AuthDecision(const LogConnection& c, const LogAuthDecision& d) override;
  void ChannelOpened(const LogConnection& c, const LogChannel& ch) override;
  void ChannelRefused(const LogConnection& c, const LogChannel& ch,
                      std::string_view reason) override;
  void ChannelRefusedUnreported(const LogChannel& ch) override;
  void ChannelRefusalsUnreported(const LogConnection& c, const LogChannel& ch,
                                 uint64_t count) override;
  void ChannelClosed(const LogConnection& c, const LogChannel& ch,
                     const ChannelBytes& bytes) override;
  void UpstreamConnect(const LogConnection& c, const LogUpstream& u) override;
  void Bytes(bool client_to_target, uint64_t n) override;
  void ExtendedDataDropped(bool from_user, uint64_t n) override;
  void JumpHostCertificate(std::string_view source) override;
  void AuditEvent(const LogConnection& c, std::string_view code,
                  const std::vector<base::LogField>& fields) override;
  // The connection already logged the line; this sends the event.
  void RecordingFailed(const LogConnection& c, const LogChannel& ch,
                       std::string_view record_mode, std::string_view outcome,
                       std::string_view reason) override;

 private:
  std::shared_ptr<GatewayLog> log() const;
  // Queues an audit event of the connection's session (no-op without a
  // sender or a session), as of `at` (InfinitePast: now).
  void Send(const LogConnection& c, std::string_view code,
            const std::vector<base::LogField>& fields,
            absl::Time at = absl::InfinitePast());

  const GatewayLog::Sink sink_;
  const base::Clock* const clock_;
  mutable absl::Mutex mu_;
  std::shared_ptr<GatewayLog> log_ ABSL_GUARDED_BY(mu_);
  base::LogFormat format_ ABSL_GUARDED_BY(mu_);
  MetricsRegistry registry_;
  GatewayMetrics metrics_{registry_};
  // Hot-path series, looked up once.
  Counter& bytes_in_;
  Counter& bytes_out_;
  Counter& ext_dropped_user_bytes_;
  Counter& ext_dropped_user_messages_;
  Counter& ext_dropped_host_bytes_;
  Counter& ext_dropped_host_messages_;
  Histogram& upstream_latency_;
  std::atomic<EventSender*> sender_{nullptr};
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_OPS_H_
