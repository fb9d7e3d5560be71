#include "gateway/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/safe_text.h"

namespace sallyport::gateway {
namespace {

bool ValidName(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool ok = absl::ascii_isalpha(c) || c == '_' || (colon && c == ':') ||
                    (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

// A label value as the text format wants it: \\, \" and \n escaped; other
// control characters and invalid UTF-8 (which the format does not allow)
// become U+FFFD.
void AppendLabelValue(std::string* out, std::string_view v) {
  for (size_t i = 0; i < v.size();) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c < 0x20 || c == 0x7f) {
      out->append("\xef\xbf\xbd");
    } else {
      const size_t len = base::Utf8SequenceLength(v, i);
      if (len == 0) {
        out->append("\xef\xbf\xbd");
        ++i;
        continue;
      }
      out->append(v.substr(i, len));
      i += len;
      continue;
    }
    ++i;
  }
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double.
  for (int precision = 1; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, v);
    if (std::strtod(text.c_str(), nullptr) == v) return text;
  }
  return absl::StrFormat("%.17g", v);
}

std::string LabelText(const std::vector<std::string>& names,
                      const std::vector<std::string>& values,
                      std::string_view extra_name = "",
                      std::string_view extra_value = "") {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    absl::StrAppend(&out, names[i], "=\"");
    AppendLabelValue(&out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    out.append(extra_name);
    out.append("=\"");
    out.append(extra_value);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::string_view TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void Header(std::string* out, const std::string& name, const std::string& help,
            MetricType type) {
  std::string escaped;
  for (char c : help) {
    if (c == '\\') {
      escaped.append("\\\\");
    } else if (c == '\n') {
      escaped.append("\\n");
    } else {
      escaped.push_back(c);
    }
  }
  absl::StrAppend(out, "# HELP ", name, " ", escaped, "\n# TYPE ", name, " ");
  out->append(TypeName(type));
  out->push_back('\n');
}

void RenderSeries(std::string* out, const std::string& name,
                  const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const Counter& c) {
  absl::StrAppend(out, name, LabelText(names, values), " ", c.value(), "\n");
}

void RenderSeries(std::string* out, const std::string& name,
                  const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const Gauge& g) {
  absl::StrAppend(out, name, LabelText(names, values), " ", g.value(), "\n");
}

void RenderSeries(std::string* out, const std::string& name,
                  const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const Histogram& h) {
  const Histogram::Snapshot s = h.Read();
  for (size_t i = 0; i <= h.bounds().size(); ++i) {
    const std::string le = i < h.bounds().size() ? FormatNumber(h.bounds()[i])
                                                 : std::string("+Inf");
    absl::StrAppend(out, name, "_bucket", LabelText(names, values, "le", le),
                    " ", s.cumulative[i], "\n");
  }
  absl::StrAppend(out, name, "_sum", LabelText(names, values), " ",
                  FormatNumber(s.sum), "\n");
  absl::StrAppend(out, name, "_count", LabelText(names, values), " ", s.count,
                  "\n");
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 1; i < bounds_.size(); ++i) {
    if (!(bounds_[i - 1] < bounds_[i])) abort();  // our own constants
  }
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  absl::MutexLock lock(&mu_);
  ++counts_[bucket];
  ++count_;
  sum_ += v;
}

Histogram::Snapshot Histogram::Read() const {
  absl::MutexLock lock(&mu_);
  Snapshot s;
  s.count = count_;
  s.sum = sum_;
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,  0.5,    1,     2.5,  5,     10};
}

template <typename M>
std::unique_ptr<M> Family<M>::Make() const {
  if constexpr (std::is_same_v<M, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<M>();
  }
}

template <typename M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) abort();  // our own call sites
  absl::MutexLock lock(&mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  std::vector<std::string> key = values;
  if (series_.size() >= kMaxSeriesPerFamily) {
    key.assign(values.size(), std::string(kOverflowLabelValue));
    it = series_.find(key);
    if (it != series_.end()) return *it->second;
  }
  return *series_.emplace(std::move(key), Make()).first->second;
}

template <typename M>
size_t Family<M>::series_count() const {
  absl::MutexLock lock(&mu_);
  return series_.size();
}

template <typename M>
void Family<M>::Render(std::string* out) const {
  absl::MutexLock lock(&mu_);
  if (series_.empty()) return;  // nothing observed yet: no sample
  Header(out, name_, help_, type_);
  for (const auto& [values, m] : series_) {
    RenderSeries(out, name_, label_names_, values, *m);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void MetricsRegistry::CheckNew(const std::string& name,
                               const std::vector<std::string>& label_names) {
  if (!ValidName(name, true)) abort();
  for (const std::string& l : label_names) {
    if (!ValidName(l, false) || l == "le" || l.starts_with("__")) abort();
  }
  for (const auto& f : counters_) {
    if (f->name_ == name) abort();
  }
  for (const auto& f : gauges_) {
    if (f->name_ == name) abort();
  }
  for (const auto& f : histograms_) {
    if (f->name_ == name) abort();
  }
}

CounterFamily& MetricsRegistry::AddCounter(
    std::string name, std::string help, std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNew(name, label_names);
  counters_.push_back(std::unique_ptr<CounterFamily>(
      new CounterFamily(std::move(name), std::move(help), MetricType::kCounter,
                        std::move(label_names), {})));
  order_.emplace_back(MetricType::kCounter, counters_.size() - 1);
  return *counters_.back();
}

GaugeFamily& MetricsRegistry::AddGauge(std::string name, std::string help,
                                       std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNew(name, label_names);
  gauges_.push_back(std::unique_ptr<GaugeFamily>(
      new GaugeFamily(std::move(name), std::move(help), MetricType::kGauge,
                      std::move(label_names), {})));
  order_.emplace_back(MetricType::kGauge, gauges_.size() - 1);
  return *gauges_.back();
}

HistogramFamily& MetricsRegistry::AddHistogram(
    std::string name, std::string help, std::vector<double> bounds,
    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNew(name, label_names);
  histograms_.push_back(std::unique_ptr<HistogramFamily>(new HistogramFamily(
      std::move(name), std::move(help), MetricType::kHistogram,
      std::move(label_names), std::move(bounds))));
  order_.emplace_back(MetricType::kHistogram, histograms_.size() - 1);
  return *histograms_.back();
}

std::string MetricsRegistry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [type, i] : order_) {
    switch (type) {
      case MetricType::kCounter:
        counters_[i]->Render(&out);
        break;
      case MetricType::kGauge:
        gauges_[i]->Render(&out);
        break;
      case MetricType::kHistogram:
        histograms_[i]->Render(&out);
        break;
    }
  }
  return out;
}

GatewayMetrics::GatewayMetrics(MetricsRegistry& r)
    : connections_current(r.AddGauge("sallyport_gateway_connections",
                                     "Open downstream (client) connections.")
                              .Get()),
      connections_accepted(
          r.AddCounter("sallyport_gateway_connections_accepted_total",
                       "Downstream connections accepted.")
              .Get()),
      connections_dropped(
          r.AddCounter("sallyport_gateway_connections_dropped_total",
                       "Downstream connections closed before the SSH "
                       "version line by limits.max_startups (not accepted).")
              .Get()),
      connections_closed(r.AddCounter(
          "sallyport_gateway_connections_closed_total",
          "Downstream connections ended, by outcome.", {"outcome"})),
      auth_failures(r.AddCounter("sallyport_gateway_auth_failures_total",
                                 "Failed user authentications, by reason.",
                                 {"reason"})),
      sessions_active(r.AddGauge("sallyport_gateway_sessions_active",
                                 "Open sessions to a host (LOGIN+HOST and "
                                 "recorded ProxyJumps; not jump-only "
                                 "connections).")
                          .Get()),
      channels_opened(r.AddCounter("sallyport_gateway_channels_opened_total",
                                   "Channels opened, by kind.", {"kind"})),
      channels_refused(r.AddCounter("sallyport_gateway_channels_refused_total",
                                    "Channel opens and requests refused, by "
                                    "kind.",
                                    {"kind"})),
      channels_open(r.AddGauge("sallyport_gateway_channels_open",
                               "Channels currently open.")
                        .Get()),
      bytes(r.AddCounter("sallyport_gateway_bytes_total",
                         "Channel payload bytes relayed, by direction.",
                         {"direction"})),
      upstream_connect_seconds(
          r.AddHistogram("sallyport_gateway_upstream_connect_seconds",
                         "Time to connect and authenticate to a target host.",
                         LatencyBuckets())),
      ca_rpc_seconds(r.AddHistogram("sallyport_gateway_ca_rpc_seconds",
                                    "Latency of calls to the CA, by method.",
                                    LatencyBuckets(), {"method"})),
      recorder_backlog_bytes(
          r.AddGauge("sallyport_gateway_recorder_backlog_bytes",
                     "Recorded bytes not yet written by the recorder.")
              .Get()),
      extended_data_dropped_bytes(r.AddCounter(
          "sallyport_gateway_extended_data_dropped_bytes_total",
          "Extended data bytes dropped unforwarded (all from the user, all "
          "but stderr from the host), by side.",
          {"from"})),
      extended_data_dropped_messages(r.AddCounter(
          "sallyport_gateway_extended_data_dropped_messages_total",
          "Extended data messages dropped unforwarded, by side.", {"from"})),
      jump_connections(
          r.AddCounter("sallyport_gateway_jump_connections_total",
                       "Jump-only (ssh -J) connections authenticated.")
              .Get()),
      jumps(r.AddCounter("sallyport_gateway_jumps_total",
                         "ProxyJumps started through jump-only connections, "
                         "by mode.",
                         {"mode"})),
      jump_host_certificates(r.AddCounter(
          "sallyport_gateway_jump_host_certificates_total",
          "Host certificates a recorded ProxyJump presented for its target, "
          "by source (issued by the CA, or cached).",
          {"source"})) {}

}  // namespace sallyport::gateway
