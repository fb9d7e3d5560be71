// The gateway's CA channel presents the mTLS identity the gateway checked
// (at start, on a SIGHUP, after a renewal) and nothing else: gRPC does not
// re-read the TLS key and certificate files by itself. Until it did (a
// file watcher, every 60 s), a key replaced on disk without a SIGHUP (an
// `enroll --force` cut short, a copied file) was picked up within a
// minute, although the gateway would have refused it, and every new
// connection to the CA failed. A test of its own: it waits out that
// minute. With serve_test_fixture.h (a real CA, the gateway enrolled).
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/source_relay.h"
#include "gateway/serve.h"
#include "gateway/serve_test_fixture.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

// How often gRPC's file watcher re-read the files, as the gateway set it
// up; the test waits past it.
constexpr absl::Duration kOldRefreshInterval = absl::Seconds(60);

int PortOf(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

// A TLS key its certificate is not for lands on disk while the gateway
// runs, with no SIGHUP. Past the old watcher's interval, the connection
// to the CA is lost (the relay in front of the CA goes away and comes
// back on its port): the gateway connects again with the identity it
// runs with, and its CA calls (the CA keys, a host certificate renewal,
// the revocation stream) work. A SIGHUP then refuses the pair.
TEST_F(ServeOpsTest, ATlsKeyReplacedOnDiskIsNotPresentedWithoutASighup) {
  std::unique_ptr<ca::SourceRelay> relay = RelayTheCa();
  ASSERT_NE(relay, nullptr);
  const int relay_port = PortOf(relay->address());
  // renew_fraction 100: no renewal (which reconnects) on its own.
  StartServer("", 100.0);
  ASSERT_TRUE(server_->ca().RefreshKeys().ok()) << Log();
  const int connects = server_->ca().stream_connects();

  ReplaceWithStrayKey("gateway_tls.key");
  absl::SleepFor(kOldRefreshInterval + absl::Seconds(5));
  relay.reset();
  auto back = ca::SourceRelay::Start(
      "127.0.0.1", PortOf(env_->server().address()), relay_port);
  ASSERT_TRUE(back.ok()) << back.status();

  // The channel notices the lost connection and connects again (its
  // backoff is short after one loss); a call in between fails at once.
  absl::Status keys = absl::UnknownError("not asked");
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (!(keys = server_->ca().RefreshKeys()).ok() && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(keys.ok()) << keys << Log();
  EXPECT_TRUE(server_->RenewHostCertificateNow().ok()) << Log();
  const absl::Time stream_limit = absl::Now() + absl::Seconds(30);
  while (server_->ca().stream_connects() == connects &&
         absl::Now() < stream_limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_GT(server_->ca().stream_connects(), connects) << Log();
  EXPECT_TRUE(server_->ca().revocations_current()) << Log();

  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const absl::Status reload = server_->Reload(*fresh);
  EXPECT_EQ(reload.code(), absl::StatusCode::kFailedPrecondition) << reload;
  EXPECT_TRUE(absl::StrContains(reload.message(), "gateway_tls.key")) << reload;
}

}  // namespace
}  // namespace sallyport::gateway
