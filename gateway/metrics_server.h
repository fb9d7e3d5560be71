// GET /metrics and GET /healthz over HTTP/1.1 on `metrics_listen` (issue 12
// "Operations"). One request per connection (answered with
// "Connection: close"), on its own I/O thread so a scrape never runs on a
// session's thread. Bounded: the request head (kMaxMetricsRequestBytes),
// concurrent connections (kMaxMetricsConnections, and
// kMaxMetricsConnectionsPerPeer from one address), the time until the
// request head (kMetricsHeadTimeout) and the time a connection may take
// (request_timeout). Anything but GET on the two paths is 404 or 405; a
// malformed request is 400.
// A peer cannot keep the server busy without asking: a connection whose
// request head has not arrived within head_timeout is closed, one peer
// address holds at most max_connections_per_peer connections, and a new
// connection beyond either connection limit closes the oldest silent one
// (no complete request head yet; of the same peer for the per-peer limit)
// instead of being refused, so a scraper still gets through. Only when
// every connection holding the place is being answered is the new one
// closed at once.
#ifndef SALLYPORT_GATEWAY_METRICS_SERVER_H_
#define SALLYPORT_GATEWAY_METRICS_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/metrics.h"

namespace sallyport::gateway {

// The request line and headers together (431 beyond it).
inline constexpr size_t kMaxMetricsRequestBytes = 8 * 1024;
inline constexpr int kMaxMetricsConnections = 16;
inline constexpr int kMaxMetricsConnectionsPerPeer = 4;
// From accept to the end of the request head ("\r\n\r\n").
inline constexpr absl::Duration kMetricsHeadTimeout = absl::Seconds(2);

// What a request head asks for. Only the request line is read: "GET",
// one space, a path starting with '/' (a query after '?' is ignored), one
// space, "HTTP/1.x"; the headers are not looked at.
enum class MetricsRequest {
  kBadRequest,        // 400: not a request line of that shape
  kNotFound,          // 404: a path other than the two
  kMethodNotAllowed,  // 405: one of the two paths, not GET
  kMetrics,           // GET /metrics
  kHealth,            // GET /healthz
};
// `head`: the bytes up to and including "\r\n\r\n" (any bytes: they come
// from the network).
MetricsRequest ParseMetricsRequest(std::string_view head);

struct MetricsServerOptions {
  // HOST:PORT; port 0 picks a free port (see port()).
  std::string listen;
  size_t max_request_bytes = kMaxMetricsRequestBytes;
  int max_connections = kMaxMetricsConnections;
  // Per peer IP address.
  int max_connections_per_peer = kMaxMetricsConnectionsPerPeer;
  // From accept to the end of the request head.
  absl::Duration head_timeout = kMetricsHeadTimeout;
  // From accept to the last byte of the answer.
  absl::Duration request_timeout = absl::Seconds(10);
  // OK: /healthz answers 200 "ok". Otherwise 503 with the status message.
  // Called on the server's thread; it must be thread-safe and quick.
  std::function<absl::Status()> health;
};

class MetricsServer {
 public:
  // Binds and starts serving `registry` (which must outlive the server).
  // kInvalidArgument for a bad address, kUnavailable when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      MetricsServerOptions options, const MetricsRegistry* registry);
  // Stops: closes the listener and every connection, joins the thread.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;
  // Connections being served now (for tests and the limit).
  int active_connections() const;

 private:
  struct State;
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_METRICS_SERVER_H_
