// ListenersOverlap against the kernel's own answer where loopback allows
// (a listener bound, a second socket bound beside it), and by the rule for
// the wildcard addresses, which the tests do not bind.
#include "gateway/serve_listeners.h"

#include <asio.hpp>
#include <string>

#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

asio::ip::tcp::endpoint At(const std::string& address, uint16_t port) {
  return asio::ip::tcp::endpoint(asio::ip::make_address(address), port);
}

// Whether the kernel refuses to bind `second` (SO_REUSEADDR, as the
// free-port check does) while a listener is bound to `first` (its port
// taken for both).
bool KernelRefuses(const std::string& first, const std::string& second,
                   uint16_t* port) {
  asio::io_context io;
  asio::ip::tcp::acceptor listener(io, At(first, 0), /*reuse_addr=*/true);
  *port = listener.local_endpoint().port();
  asio::ip::tcp::acceptor probe(io);
  asio::error_code ec;
  const asio::ip::tcp::endpoint b = At(second, *port);
  probe.open(b.protocol(), ec);
  EXPECT_FALSE(ec) << ec.message();
  probe.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  probe.bind(b, ec);
  return ec == asio::error::address_in_use;
}

TEST(ListenersOverlapTest, AgreesWithTheKernelOnLoopback) {
  struct Case {
    const char* first;
    const char* second;
    bool overlap;
  };
  for (const Case& c : {Case{"127.0.0.1", "127.0.0.1", true},
                        Case{"127.0.0.1", "127.0.0.2", false},
                        Case{"127.0.0.1", "::ffff:127.0.0.1", true},
                        Case{"::ffff:127.0.0.1", "127.0.0.1", true},
                        Case{"::ffff:127.0.0.1", "127.0.0.2", false},
                        Case{"::1", "127.0.0.1", false}}) {
    SCOPED_TRACE(std::string(c.first) + " then " + c.second);
    uint16_t port = 0;
    EXPECT_EQ(KernelRefuses(c.first, c.second, &port), c.overlap);
    EXPECT_EQ(ListenersOverlap(At(c.first, port), At(c.second, port)),
              c.overlap);
  }
}

TEST(ListenersOverlapTest, WildcardsTakeTheirFamilyAndIPv6TakesBoth) {
  struct Case {
    const char* a;
    const char* b;
    bool overlap;
  };
  for (const Case& c :
       {Case{"127.0.0.1", "0.0.0.0", true}, Case{"0.0.0.0", "10.1.2.3", true},
        Case{"127.0.0.1", "::", true}, Case{"::", "::1", true},
        Case{"::", "0.0.0.0", true}, Case{"::ffff:127.0.0.1", "0.0.0.0", true},
        Case{"0.0.0.0", "::1", false}, Case{"::1", "::2", false}}) {
    SCOPED_TRACE(std::string(c.a) + " and " + c.b);
    EXPECT_EQ(ListenersOverlap(At(c.a, 2222), At(c.b, 2222)), c.overlap);
    EXPECT_EQ(ListenersOverlap(At(c.b, 2222), At(c.a, 2222)), c.overlap);
    // Another port never overlaps.
    EXPECT_FALSE(ListenersOverlap(At(c.a, 2222), At(c.b, 2223)));
  }
}

}  // namespace
}  // namespace sallyport::gateway
