// The gateway's metrics (issue 12 "Operations"): a small thread-safe
// registry of counters, gauges and fixed-bucket histograms with labels,
// rendered in the Prometheus text exposition format (version 0.0.4), and
// the metric families the issue asks for (GatewayMetrics). The HTTP
// endpoint that serves them is gateway/metrics_server.h.
#ifndef SALLYPORT_GATEWAY_METRICS_H_
#define SALLYPORT_GATEWAY_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sallyport::gateway {

// Label sets per family. Label values may come from peers (a channel kind,
// a refusal reason), so a family holds at most this many series; further
// label sets all land in one series whose label values are "_overflow".
inline constexpr size_t kMaxSeriesPerFamily = 256;
inline constexpr std::string_view kOverflowLabelValue = "_overflow";

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing (+Inf is
  // implicit).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // bounds + 1
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

// Latency buckets in seconds, 1 ms .. 10 s.
std::vector<double> LatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric name with its label names and a series per label set.
// Pointers returned by WithLabels stay valid as long as the family.
template <typename M>
class Family {
 public:
  // `values` must have one value per label name (our own invariant: a
  // mismatch aborts).
  M& WithLabels(const std::vector<std::string>& values);
  // The series without labels (for a family with no label names).
  M& Get() { return WithLabels({}); }
  size_t series_count() const;

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, MetricType type,
         std::vector<std::string> label_names, std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}
  std::unique_ptr<M> Make() const;
  void Render(std::string* out) const;

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> series_
      ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  // Registers a family. Names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* and not "le"; a bad or duplicate name aborts
  // (names are the program's own constants).
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<double> bounds,
                                std::vector<std::string> label_names = {});

  // Every family in registration order, series sorted by label values.
  // Label values are escaped (\\, \", \n) and invalid UTF-8 replaced, so a
  // peer's text cannot break the format.
  std::string Render() const;

 private:
  void CheckNew(const std::string& name,
                const std::vector<std::string>& label_names)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<CounterFamily>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<GaugeFamily>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<HistogramFamily>> histograms_
      ABSL_GUARDED_BY(mu_);
  // Registration order: (type, index in its vector).
  std::vector<std::pair<MetricType, size_t>> order_ ABSL_GUARDED_BY(mu_);
};

// The gateway's metric families (issue 12), registered on construction.
// Label values used by the gateway: outcome ("ok", "revoked", "expired",
// "idle-timeout", "drained", "recording-failed", "revocations-unknown",
// "auth-failed", "refused", "error", "timeout", "limit": gateway/observer.h),
// reason (a stable refusal code),
// kind (a channel kind as in AuthorizeChannel), direction
// ("client_to_target", "target_to_client"), method (the CA RPC name),
// from ("user", "host"), mode ("recorded", "passthrough"), source
// ("issued", "cached").
struct GatewayMetrics {
  explicit GatewayMetrics(MetricsRegistry& registry);

  Gauge& connections_current;         // open downstream connections
  Counter& connections_accepted;      // ..._connections_accepted_total
  Counter& connections_dropped;       // ..._connections_dropped_total
  CounterFamily& connections_closed;  // {outcome}
  CounterFamily& auth_failures;       // {reason}
  Gauge& sessions_active;             // sessions to a host, not jump-only
  CounterFamily& channels_opened;     // {kind}
  CounterFamily& channels_refused;    // {kind}
  Gauge& channels_open;               // currently open channels
  CounterFamily& bytes;               // {direction}
  HistogramFamily& upstream_connect_seconds;
  HistogramFamily& ca_rpc_seconds;  // {method}
  Gauge& recorder_backlog_bytes;
  // Extended data dropped unforwarded (kHostExtendedDataCode in
  // gateway/proxy.h), {from}.
  CounterFamily& extended_data_dropped_bytes;
  CounterFamily& extended_data_dropped_messages;
  // ProxyJump (issue 13): jump-only connections authenticated, the jumps
  // through them {mode}, and where a recorded jump's host certificate for
  // its target came from {source}.
  Counter& jump_connections;
  CounterFamily& jumps;
  CounterFamily& jump_host_certificates;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_METRICS_H_
