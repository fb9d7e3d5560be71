#include "gateway/log.h"

#include <unistd.h>

#include "absl/synchronization/mutex.h"

namespace sallyport::gateway {
namespace {

// Cuts at a UTF-8 boundary so the cut itself does not make U+FFFD.
std::string Cap(std::string_view v) {
  if (v.size() <= kMaxLogValueBytes) return std::string(v);
  size_t end = kMaxLogValueBytes;
  while (end > 0 && (static_cast<unsigned char>(v[end]) & 0xc0) == 0x80) {
    --end;
  }
  return std::string(v.substr(0, end)) + "...";
}

void CapAll(std::vector<base::LogField>* fields) {
  for (auto& [name, value] : *fields) {
    if (auto* s = std::get_if<std::string>(&value)) {
      *s = Cap(*s);
    } else if (auto* list = std::get_if<std::vector<std::string>>(&value)) {
      if (list->size() > 16) list->resize(16);
      for (std::string& item : *list) item = Cap(item);
    }
  }
}

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

absl::Mutex stderr_mu(absl::kConstInit);

void WriteStderr(std::string_view line) {
  std::string out(line);
  out.push_back('\n');
  absl::MutexLock lock(&stderr_mu);
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = write(2, out.data() + done, out.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

LogLevel DefaultLevel(bool success, const LogConnection& c) {
  if (c.id != 0 || !c.session.empty()) {
    return success ? LogLevel::kInfo : LogLevel::kWarn;
  }
  return success ? LogLevel::kWarn : LogLevel::kError;
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

GatewayLog::GatewayLog(base::LogFormat format, Sink sink,
                       const base::Clock* clock, LogLevel level)
    : format_(format),
      sink_(sink ? std::move(sink) : Sink(WriteStderr)),
      clock_(clock ? clock : base::Clock::Real()),
      level_(level) {}

void GatewayLog::Write(std::string_view event, bool success,
                       const LogConnection& c,
                       std::vector<base::LogField> fields,
                       std::optional<LogLevel> level) {
  if (level.value_or(DefaultLevel(success, c)) < this->level()) return;
  std::vector<base::LogField> all = {
      {"conn", static_cast<int64_t>(c.id)},
      {"peer", c.peer},
  };
  if (!c.session.empty()) all.emplace_back("session", c.session);
  if (!c.user.empty()) all.emplace_back("user", c.user);
  all.insert(all.end(), std::make_move_iterator(fields.begin()),
             std::make_move_iterator(fields.end()));
  CapAll(&all);
  sink_(base::FormatEventLine(format_, clock_->Now(), event,
                              success ? "success" : "failure", all));
}

void GatewayLog::Event(std::string_view event, bool success,
                       const LogConnection& c,
                       std::vector<base::LogField> fields,
                       std::optional<LogLevel> level) {
  Write(event, success, c, std::move(fields), level);
}

void GatewayLog::ConnectionOpened(const LogConnection& c) {
  Write(kLogConnectionOpen, true, c, {});
}

void GatewayLog::ConnectionClosed(const LogConnection& c,
                                  std::string_view outcome,
                                  absl::Duration duration, uint64_t bytes_in,
                                  uint64_t bytes_out, std::string_view reason) {
  std::vector<base::LogField> f = {
      {"result", std::string(outcome)},
      {"duration_ms", Millis(duration)},
      {"bytes_in", static_cast<int64_t>(bytes_in)},
      {"bytes_out", static_cast<int64_t>(bytes_out)}};
  if (!reason.empty()) f.emplace_back("reason", std::string(reason));
  Write(kLogConnectionClose, outcome == "ok", c, std::move(f));
}

void GatewayLog::AuthDecision(const LogConnection& c,
                              const LogAuthDecision& d) {
  std::vector<base::LogField> f = {
      {"login", d.login}, {"host", d.host}, {"method", d.method}};
  if (!d.key_id.empty()) f.emplace_back("key_id", d.key_id);
  if (d.serial != 0) {
    f.emplace_back("serial", std::to_string(d.serial));  // uint64 as text
  }
  if (!d.ca_fingerprint.empty()) f.emplace_back("ca", d.ca_fingerprint);
  if (!d.reason.empty()) f.emplace_back("reason", d.reason);
  Write(kLogAuth, d.allowed, c, std::move(f));
}

namespace {
std::vector<base::LogField> ChannelFields(const LogChannel& ch) {
  std::vector<base::LogField> f = {{"channel", static_cast<int64_t>(ch.id)},
                                   {"kind", ch.kind},
                                   {"login", ch.login},
                                   {"host", ch.host}};
  if (!ch.destination.empty()) f.emplace_back("destination", ch.destination);
  return f;
}
}  // namespace

void GatewayLog::ChannelOpened(const LogConnection& c, const LogChannel& ch) {
  Write(kLogChannelOpen, true, c, ChannelFields(ch));
}

void GatewayLog::ChannelRefused(const LogConnection& c, const LogChannel& ch,
                                std::string_view reason) {
  std::vector<base::LogField> f = ChannelFields(ch);
  f.emplace_back("reason", std::string(reason));
  Write(kLogChannelRefused, false, c, std::move(f));
}

void GatewayLog::ChannelClosed(const LogConnection& c, const LogChannel& ch,
                               uint64_t bytes_in, uint64_t bytes_out,
                               std::string_view exit_status) {
  std::vector<base::LogField> f = ChannelFields(ch);
  f.emplace_back("bytes_in", static_cast<int64_t>(bytes_in));
  f.emplace_back("bytes_out", static_cast<int64_t>(bytes_out));
  if (!exit_status.empty()) f.emplace_back("exit", std::string(exit_status));
  Write(kLogChannelClose, true, c, std::move(f));
}

void GatewayLog::UpstreamConnect(const LogConnection& c, const LogUpstream& u) {
  std::vector<base::LogField> f = {{"host", u.host},
                                   {"address", u.address},
                                   {"login", u.login},
                                   {"latency_ms", Millis(u.latency)}};
  if (!u.reason.empty()) f.emplace_back("reason", u.reason);
  Write(kLogUpstreamConnect, u.ok, c, std::move(f));
}

}  // namespace sallyport::gateway
