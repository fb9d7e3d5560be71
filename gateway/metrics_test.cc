// The metrics registry's text format, its bounds and thread safety, and the
// HTTP endpoint over real loopback sockets: scrapes, health, malformed
// requests and each limit.
#include "gateway/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gateway/metrics_server.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

TEST(MetricsRegistryTest, RendersTheTextFormat) {
  MetricsRegistry r;
  CounterFamily& c = r.AddCounter("t_requests_total", "Requests.", {"code"});
  Gauge& g = r.AddGauge("t_open", "Open things.\nSecond line \\.").Get();
  HistogramFamily& h =
      r.AddHistogram("t_latency_seconds", "Latency.", {0.1, 1}, {"method"});
  c.WithLabels({"200"}).Inc(3);
  c.WithLabels({"404"}).Inc();
  g.Set(7);
  g.Add(-2);
  Histogram& hm = h.WithLabels({"Get"});
  hm.Observe(0.05);
  hm.Observe(0.1);  // on the bound: counted in le="0.1"
  hm.Observe(0.5);
  hm.Observe(30);
  EXPECT_EQ(r.Render(),
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{code=\"200\"} 3\n"
            "t_requests_total{code=\"404\"} 1\n"
            "# HELP t_open Open things.\\nSecond line \\\\.\n"
            "# TYPE t_open gauge\n"
            "t_open 5\n"
            "# HELP t_latency_seconds Latency.\n"
            "# TYPE t_latency_seconds histogram\n"
            "t_latency_seconds_bucket{method=\"Get\",le=\"0.1\"} 2\n"
            "t_latency_seconds_bucket{method=\"Get\",le=\"1\"} 3\n"
            "t_latency_seconds_bucket{method=\"Get\",le=\"+Inf\"} 4\n"
            "t_latency_seconds_sum{method=\"Get\"} 30.65\n"
            "t_latency_seconds_count{method=\"Get\"} 4\n");
}

TEST(MetricsRegistryTest, LabelValuesFromPeersCannotBreakTheFormat) {
  MetricsRegistry r;
  CounterFamily& c = r.AddCounter("t_total", "T.", {"kind"});
  c.WithLabels({"a\"b\\c\nd\x01\xff"}).Inc();
  const std::string text = r.Render();
  EXPECT_TRUE(absl::StrContains(
      text, "t_total{kind=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"))
      << text;
  // Exactly one line per sample: no raw newline came through.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
}

TEST(MetricsRegistryTest, AFamilyHoldsAtMostTheSeriesLimit) {
  MetricsRegistry r;
  CounterFamily& c = r.AddCounter("t_total", "T.", {"kind"});
  for (size_t i = 0; i < kMaxSeriesPerFamily; ++i) {
    c.WithLabels({absl::StrCat("k", i)}).Inc();
  }
  EXPECT_EQ(c.series_count(), kMaxSeriesPerFamily);
  // Existing series still count on their own.
  c.WithLabels({"k0"}).Inc();
  EXPECT_EQ(c.WithLabels({"k0"}).value(), 2u);
  // New label sets beyond the limit share one overflow series.
  for (int i = 0; i < 1000; ++i) c.WithLabels({absl::StrCat("new", i)}).Inc();
  EXPECT_EQ(c.series_count(), kMaxSeriesPerFamily + 1);
  EXPECT_EQ(c.WithLabels({std::string(kOverflowLabelValue)}).value(), 1000u);
  EXPECT_TRUE(
      absl::StrContains(r.Render(), "t_total{kind=\"_overflow\"} 1000"));
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry r;
  CounterFamily& c = r.AddCounter("t_total", "T.", {"kind"});
  HistogramFamily& h = r.AddHistogram("t_seconds", "T.", LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        c.WithLabels({absl::StrCat("k", i % 3)}).Inc();
        h.Get().Observe(0.001 * t);
        if (i % 500 == 0) (void)r.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  uint64_t total = 0;
  for (int k = 0; k < 3; ++k)
    total += c.WithLabels({absl::StrCat("k", k)}).value();
  EXPECT_EQ(total, 20000u);
  EXPECT_EQ(h.Get().Read().count, 20000u);
}

TEST(MetricsRegistryTest, GatewayMetricsDeclareTheIssuesFamilies) {
  MetricsRegistry r;
  GatewayMetrics m(r);
  m.connections_accepted.Inc();
  m.connections_current.Add(1);
  m.connections_closed.WithLabels({"ok"}).Inc();
  m.auth_failures.WithLabels({"no-certificate"}).Inc();
  m.sessions_active.Add(1);
  m.channels_opened.WithLabels({"shell"}).Inc();
  m.channels_refused.WithLabels({"x11"}).Inc();
  m.channels_open.Add(1);
  m.bytes.WithLabels({"client_to_target"}).Inc(100);
  m.bytes.WithLabels({"target_to_client"}).Inc(200);
  m.upstream_connect_seconds.Get().Observe(0.004);
  m.ca_rpc_seconds.WithLabels({"AuthorizeChannel"}).Observe(0.002);
  m.recorder_backlog_bytes.Set(4096);
  const std::string text = r.Render();
  for (const char* line :
       {"sallyport_gateway_connections 1\n",
        "sallyport_gateway_connections_accepted_total 1\n",
        "sallyport_gateway_connections_closed_total{outcome=\"ok\"} 1\n",
        "sallyport_gateway_auth_failures_total{reason=\"no-certificate\"} 1\n",
        "sallyport_gateway_sessions_active 1\n",
        "sallyport_gateway_channels_opened_total{kind=\"shell\"} 1\n",
        "sallyport_gateway_channels_refused_total{kind=\"x11\"} 1\n",
        "sallyport_gateway_channels_open 1\n",
        "sallyport_gateway_bytes_total{direction=\"client_to_target\"} 100\n",
        "sallyport_gateway_bytes_total{direction=\"target_to_client\"} 200\n",
        "sallyport_gateway_upstream_connect_seconds_bucket{le=\"0.005\"} 1\n",
        "sallyport_gateway_ca_rpc_seconds_count{method=\"AuthorizeChannel\"} "
        "1\n",
        "sallyport_gateway_recorder_backlog_bytes 4096\n"}) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << "\n" << text;
  }
}

// A raw TCP client with a receive timeout, from 127.0.0.1 or from another
// loopback address (another peer).
class Client {
 public:
  explicit Client(uint16_t port, const char* from = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (from != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      inet_pton(AF_INET, from, &local.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        return;
      }
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    return write(fd_, data.data(), data.size()) ==
           static_cast<ssize_t>(data.size());
  }
  // Everything until the server closes (or the 10 s receive timeout).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) {
        closed_ = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // ReadAll ended because the server closed (not the receive timeout).
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

std::string Request(uint16_t port, std::string_view request) {
  Client c(port);
  EXPECT_TRUE(c.connected());
  EXPECT_TRUE(c.Send(request));
  return c.ReadAll();
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void Start(MetricsServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.health = [this] {
      absl::MutexLock lock(&mu_);
      return health_;
    };
    GatewayMetrics metrics(registry_);
    metrics.connections_accepted.Inc(42);
    auto server = MetricsServer::Start(std::move(options), &registry_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
  }
  void SetHealth(absl::Status st) {
    absl::MutexLock lock(&mu_);
    health_ = std::move(st);
  }
  bool WaitForActive(int n) {
    const absl::Time end = absl::Now() + absl::Seconds(10);
    while (absl::Now() < end) {
      if (server_->active_connections() == n) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }
  MetricsRegistry registry_;
  std::unique_ptr<MetricsServer> server_;
  absl::Mutex mu_;
  absl::Status health_ ABSL_GUARDED_BY(mu_);
};

TEST_F(MetricsServerTest, ServesAScrape) {
  Start();
  const std::string r =
      Request(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(
      r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_TRUE(absl::StrContains(r, "Connection: close\r\n"));
  EXPECT_TRUE(
      absl::StrContains(r, "\r\n\r\n# HELP sallyport_gateway_connections "));
  EXPECT_TRUE(absl::StrContains(
      r, "sallyport_gateway_connections_accepted_total 42\n"));
  const std::string body = r.substr(r.find("\r\n\r\n") + 4);
  EXPECT_TRUE(absl::StrContains(
      r, absl::StrCat("Content-Length: ", body.size(), "\r\n")));
  // A query string is ignored.
  EXPECT_TRUE(absl::StartsWith(
      Request(server_->port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
      "HTTP/1.1 200 OK"));
}

TEST_F(MetricsServerTest, HealthzFollowsTheHealthCallback) {
  Start();
  std::string r = Request(server_->port(), "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\nok\n")) << r;
  SetHealth(absl::UnavailableError("revocation stream down for 61s\n\x01"));
  r = Request(server_->port(), "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 503 Service Unavailable\r\n")) << r;
  EXPECT_TRUE(
      absl::EndsWith(r, "\r\n\r\nrevocation stream down for 61s\\x0a\\x01\n"))
      << r;
}

TEST_F(MetricsServerTest, EverythingElseIsRefused) {
  Start();
  struct Case {
    std::string request;
    std::string status;
  };
  for (const Case& c : std::vector<Case>{
           {"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "},
           {"HEAD /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "},
           {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
           {"GET /metrics/x HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
           {"GET /../metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
           {"HELLO\r\n\r\n", "HTTP/1.1 400 "},
           {"GET /metrics\r\n\r\n", "HTTP/1.1 400 "},
           {"GET metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
           {"GET  /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
           {"GET /metrics SSH-2.0\r\n\r\n", "HTTP/1.1 400 "},
           {std::string("\0\0\0\0\r\n\r\n", 8), "HTTP/1.1 400 "}}) {
    const std::string r = Request(server_->port(), c.request);
    EXPECT_TRUE(absl::StartsWith(r, c.status)) << c.request << " -> " << r;
  }
  EXPECT_TRUE(absl::StrContains(
      Request(server_->port(), "PUT /metrics HTTP/1.1\r\n\r\n"),
      "Allow: GET\r\n"));
}

TEST_F(MetricsServerTest, AnOversizedRequestIsRefusedAtTheLimit) {
  MetricsServerOptions o;
  o.max_request_bytes = 1024;
  Start(o);
  // Exactly at the limit: served.
  const std::string line = "GET /metrics HTTP/1.1\r\nX: ";
  std::string at = line + std::string(1024 - line.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(at.size(), 1024u);
  EXPECT_TRUE(absl::StartsWith(Request(server_->port(), at), "HTTP/1.1 200 "));
  // One byte more: 431, and the server did not wait for the rest.
  std::string over =
      line + std::string(1024 - line.size() - 3, 'a') + "\r\n\r\n";
  EXPECT_TRUE(
      absl::StartsWith(Request(server_->port(), over), "HTTP/1.1 431 "));
  Client endless(server_->port());
  ASSERT_TRUE(endless.Send(line + std::string(4000, 'a')));
  EXPECT_TRUE(absl::StartsWith(endless.ReadAll(), "HTTP/1.1 431 "));
}

TEST_F(MetricsServerTest, ASilentClientIsDroppedAfterTheTimeout) {
  MetricsServerOptions o;
  o.request_timeout = absl::Milliseconds(300);
  Start(o);
  Client c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /metr"));
  const absl::Time start = absl::Now();
  EXPECT_EQ(c.ReadAll(), "");  // closed without an answer
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(WaitForActive(0));
}

TEST_F(MetricsServerTest, ASilentConnectionIsClosedAtTheHeadTimeout) {
  Start();  // kMetricsHeadTimeout, request_timeout 10 s
  Client silent(server_->port());
  Client partial(server_->port());
  ASSERT_TRUE(silent.connected() && partial.connected());
  ASSERT_TRUE(partial.Send("GET /metrics HTTP/1.1\r\n"));
  const absl::Time start = absl::Now();
  EXPECT_EQ(silent.ReadAll(), "");
  EXPECT_EQ(partial.ReadAll(), "");
  EXPECT_TRUE(silent.closed() && partial.closed());
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, kMetricsHeadTimeout - absl::Milliseconds(200));
  EXPECT_LT(waited, absl::Seconds(8)) << "closed by request_timeout only";
  EXPECT_TRUE(WaitForActive(0));
  // A scrape that sends its request is answered as before.
  EXPECT_TRUE(absl::StartsWith(
      Request(server_->port(), "GET /metrics HTTP/1.1\r\n\r\n"),
      "HTTP/1.1 200 "));
}

TEST_F(MetricsServerTest, AFifthConnectionFromOnePeerEvictsItsOldestSilentOne) {
  MetricsServerOptions o;
  o.head_timeout = absl::Seconds(30);  // the silent ones stay for the test
  o.request_timeout = absl::Seconds(30);
  Start(o);
  // Another peer's connections, at its own limit.
  std::vector<std::unique_ptr<Client>> other;
  for (int i = 0; i < kMaxMetricsConnectionsPerPeer; ++i) {
    other.push_back(std::make_unique<Client>(server_->port(), "127.0.0.2"));
    ASSERT_TRUE(other.back()->connected());
  }
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < kMaxMetricsConnectionsPerPeer; ++i) {
    held.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(held.back()->connected());
  }
  // At the limit every connection is kept.
  ASSERT_TRUE(WaitForActive(2 * kMaxMetricsConnectionsPerPeer));
  // One more from 127.0.0.1: its oldest silent connection goes, the
  // scrape is answered.
  EXPECT_TRUE(absl::StartsWith(
      Request(server_->port(), "GET /metrics HTTP/1.1\r\n\r\n"),
      "HTTP/1.1 200 "));
  EXPECT_EQ(held[0]->ReadAll(), "");
  EXPECT_TRUE(held[0]->closed());
  // The others of both peers are still there and get their answers.
  for (size_t i = 1; i < held.size(); ++i) {
    ASSERT_TRUE(held[i]->Send("GET /healthz HTTP/1.1\r\n\r\n"));
    EXPECT_TRUE(absl::StartsWith(held[i]->ReadAll(), "HTTP/1.1 200 ")) << i;
  }
  for (auto& c : other) {
    ASSERT_TRUE(c->Send("GET /healthz HTTP/1.1\r\n\r\n"));
    EXPECT_TRUE(absl::StartsWith(c->ReadAll(), "HTTP/1.1 200 "));
  }
  EXPECT_TRUE(WaitForActive(0));
}

TEST_F(MetricsServerTest, ConnectionsBeyondTheLimitEvictTheOldestSilentOne) {
  MetricsServerOptions o;
  o.max_connections = 3;
  o.max_connections_per_peer = 10;
  o.head_timeout = absl::Seconds(30);
  o.request_timeout = absl::Seconds(30);
  Start(o);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  ASSERT_TRUE(WaitForActive(3));
  // The fourth is served; the oldest silent connection is closed.
  EXPECT_TRUE(absl::StartsWith(
      Request(server_->port(), "GET /metrics HTTP/1.1\r\n\r\n"),
      "HTTP/1.1 200 "));
  EXPECT_EQ(idle[0]->ReadAll(), "");
  EXPECT_TRUE(idle[0]->closed());
  // The other held connections still get their answers.
  ASSERT_TRUE(idle[1]->Send("GET /healthz HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(absl::StartsWith(idle[1]->ReadAll(), "HTTP/1.1 200 "));
  ASSERT_TRUE(idle[2]->Send("GET /healthz HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(absl::StartsWith(idle[2]->ReadAll(), "HTTP/1.1 200 "));
  EXPECT_TRUE(WaitForActive(0));
}

TEST_F(MetricsServerTest, StoppingClosesHeldConnections) {
  Start();
  Client held(server_->port());
  ASSERT_TRUE(held.connected());
  ASSERT_TRUE(WaitForActive(1));
  const absl::Time start = absl::Now();
  server_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(held.ReadAll(), "");
}

TEST(MetricsServerStartTest, BadAddressesAreRefused) {
  MetricsRegistry r;
  MetricsServerOptions o;
  o.listen = "127.0.0.1";
  EXPECT_EQ(MetricsServer::Start(o, &r).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A port in use.
  o.listen = "127.0.0.1:0";
  auto first = MetricsServer::Start(o, &r);
  ASSERT_TRUE(first.ok());
  o.listen = absl::StrCat("127.0.0.1:", (*first)->port());
  EXPECT_EQ(MetricsServer::Start(o, &r).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sallyport::gateway
