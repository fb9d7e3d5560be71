// direct-tcpip destinations example_server accepts: loopback only, and no
// name resolution (so a refused request never causes network traffic).
#include "ssh/examples/tcp_forward.h"

#include "gtest/gtest.h"

namespace sallyport::ssh::examples {
namespace {

absl::StatusOr<asio::ip::tcp::endpoint> Destination(const std::string& host,
                                                    uint32_t port = 80) {
  connection::DirectTcpip d;
  d.host = host;
  d.port = port;
  return LoopbackDestination(d);
}

TEST(LoopbackDestinationTest, LoopbackAddressesAreAllowed) {
  for (const char* host :
       {"127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "localhost"}) {
    SCOPED_TRACE(host);
    auto d = Destination(host, 8080);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_TRUE(d->address().is_loopback());
    EXPECT_EQ(d->port(), 8080);
  }
}

TEST(LoopbackDestinationTest, EverythingElseIsRefused) {
  for (const char* host :
       {"10.0.0.1", "192.168.1.1", "128.0.0.1", "0.0.0.0", "::", "::2",
        "::ffff:127.0.0.1", "example.com", "localhost.", "127.0.0.1.nip.io", "",
        "127.0.0.1 ", "fe80::1"}) {
    SCOPED_TRACE(host);
    auto d = Destination(host);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), absl::StatusCode::kPermissionDenied);
  }
}

TEST(LoopbackDestinationTest, BadPortsAreRefused) {
  EXPECT_EQ(Destination("127.0.0.1", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Destination("127.0.0.1", 65536).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Destination("127.0.0.1", 65535).ok());
}

}  // namespace
}  // namespace sallyport::ssh::examples
