// FetchServerCertificate's timeout against a server that accepts and then
// trickles: it is timed on the steady clock, so a wall-clock step during
// the handshake neither stretches nor cuts it.
#include "base/tls_pin.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::base {
namespace {

// A TCP server on loopback that accepts one connection, sends nothing
// until Trickle() (then one byte of a TLS record header, which leaves a
// client's handshake waiting for the rest) and closes it at destruction.
class SilentServer {
 public:
  SilentServer() {
    const testing::LoopbackListener listener = testing::ListenOnLoopback(1);
    listener_ = listener.fd;
    if (listener_ < 0) return;
    port_ = listener.port;
    thread_ = std::thread([this] {
      conn_ = accept(listener_, nullptr, nullptr);
      accepted_.Notify();
      trickle_.WaitForNotification();
      const char byte = 0x16;  // a handshake record's first byte
      if (conn_ >= 0) (void)send(conn_, &byte, 1, MSG_NOSIGNAL);
    });
  }
  ~SilentServer() {
    if (!trickle_.HasBeenNotified()) trickle_.Notify();
    if (thread_.joinable()) {
      if (!accepted_.HasBeenNotified()) shutdown(listener_, SHUT_RDWR);
      thread_.join();
    }
    if (conn_ >= 0) close(conn_);
    if (listener_ >= 0) close(listener_);
  }

  uint16_t port() const { return port_; }
  bool WaitForAccept(absl::Duration timeout) {
    return accepted_.WaitForNotificationWithTimeout(timeout);
  }
  void Trickle() { trickle_.Notify(); }

 private:
  int listener_ = -1;
  int conn_ = -1;
  uint16_t port_ = 0;
  absl::Notification accepted_;
  absl::Notification trickle_;
  std::thread thread_;
};

// The wall clock set back an hour during the handshake (NTP after a VM
// resume, `date -s`): the fetch still times out at `timeout`. Its
// deadline was a wall-clock time, and the wait after the server's next
// byte lasted until absl::Now() reached it, an hour on (`sallyport-gateway
// enroll` hung for that hour).
TEST(TlsPinTest, TheTimeoutHoldsWhenTheClockStepsBackDuringTheHandshake) {
  if (!testing::InChildUnderFakeWallClock()) return;
  // Destroyed after the server, whose close ends a fetch still waiting.
  std::future<absl::StatusOr<ServerCertificate>> fetch;
  SilentServer server;
  ASSERT_NE(server.port(), 0);
  // Longer than the step takes to show (SetWallClockInChild).
  constexpr absl::Duration kTimeout = absl::Seconds(15);
  const auto start = std::chrono::steady_clock::now();
  fetch = std::async(std::launch::async, [&] {
    return FetchServerCertificate({"127.0.0.1", server.port()}, "ca", kTimeout);
  });
  ASSERT_TRUE(server.WaitForAccept(absl::Seconds(10)));
  testing::SetWallClockInChild(-absl::Hours(1));
  server.Trickle();
  ASSERT_EQ(fetch.wait_for(std::chrono::seconds(40)), std::future_status::ready)
      << "still waiting after " << testing::SecondsSince(start) << " s";
  const double took = testing::SecondsSince(start);
  absl::StatusOr<ServerCertificate> got = fetch.get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded)
      << got.status();
  EXPECT_GE(took, absl::ToDoubleSeconds(kTimeout) - 1);
  EXPECT_LT(took, absl::ToDoubleSeconds(kTimeout) + 10);
}

}  // namespace
}  // namespace sallyport::base
