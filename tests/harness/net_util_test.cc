#include "tests/harness/net_util.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace sallyport::testing {
namespace {

// A scrape as the gateway's /metrics renders it.
constexpr char kScrape[] =
    "# HELP sallyport_gateway_jumps_total ProxyJumps started, by mode.\n"
    "# TYPE sallyport_gateway_jumps_total counter\n"
    "sallyport_gateway_jumps_total{mode=\"passthrough\"} 0\n"
    "sallyport_gateway_jumps_total{mode=\"recorded\"} 12\n"
    "sallyport_gateway_jump_connections_total_x 7\n"
    "sallyport_gateway_jump_connections_total 3\n"
    "sallyport_gateway_upstream_connect_seconds_sum 0.25\n";

TEST(MetricValueTest, ReadsTheSampleOfExactlyThatSeries) {
  EXPECT_EQ(
      MetricValue(kScrape, "sallyport_gateway_jumps_total{mode=\"recorded\"}"),
      12);
  EXPECT_EQ(MetricValue(kScrape,
                        "sallyport_gateway_jumps_total{mode=\"passthrough\"}"),
            0);
  // Not the longer name that starts with it.
  EXPECT_EQ(MetricValue(kScrape, "sallyport_gateway_jump_connections_total"),
            3);
  EXPECT_EQ(
      MetricValue(kScrape, "sallyport_gateway_upstream_connect_seconds_sum"),
      0.25);
}

TEST(MetricValueTest, AMissingSeriesOrValueIsMinusOne) {
  EXPECT_EQ(MetricValue(kScrape, "sallyport_gateway_jumps_total"), -1);
  EXPECT_EQ(MetricValue(kScrape, "sallyport_gateway_jumps_total{mode=\"x\"}"),
            -1);
  EXPECT_EQ(MetricValue("", "sallyport_gateway_jumps_total"), -1);
  EXPECT_EQ(MetricValue("a_total oops\n", "a_total"), -1);
}

TEST(HttpGetTest, ReturnsTheStatusAndTheBody) {
  const LoopbackListener l = ListenOnLoopback(1);
  ASSERT_GE(l.fd, 0);
  std::string request;
  std::thread server([&] {
    const int c = accept(l.fd, nullptr, nullptr);
    if (c < 0) return;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    const std::string reply =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nnope\n";
    (void)!write(c, reply.data(), reply.size());
    close(c);
  });
  const auto [code, body] = HttpGet(l.port, "/healthz");
  server.join();
  close(l.fd);
  EXPECT_EQ(code, 503);
  EXPECT_EQ(body, "nope\n");
  EXPECT_EQ(request.substr(0, request.find("\r\n")), "GET /healthz HTTP/1.1");
}

TEST(HttpGetTest, NothingListeningIsCodeZero) {
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(HttpGet(*port, "/metrics"), std::make_pair(0, std::string()));
}

}  // namespace
}  // namespace sallyport::testing
