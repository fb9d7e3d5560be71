// deploy/examples/: every example config loads with the real parsers the
// daemons use (so the examples stay valid as the schema changes), and the HA
// set really is two CAs on one PostgreSQL database and two gateways with
// distinct names and listen addresses.
#include <string>

#include "absl/strings/match.h"
#include "ca/ca_config.h"
#include "gateway/config.h"
#include "gtest/gtest.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

std::string Example(const std::string& name) {
  return RunfilePath("deploy/examples/" + name);
}

TEST(ExampleConfigs, SingleBoxCaUsesSqlite) {
  absl::StatusOr<ca::CaSettings> s =
      ca::LoadCaSettings(Example("single-box/ca.yaml"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(absl::StartsWith(s->store_url, "sqlite:///")) << s->store_url;
  EXPECT_EQ(s->user_ca_key, "/var/lib/sallyport/ca/user_ca");
  EXPECT_FALSE(s->gateway_egress_addresses.empty());
}

TEST(ExampleConfigs, SingleBoxGateway) {
  absl::StatusOr<gateway::GatewaySettings> s =
      gateway::LoadGatewaySettings(Example("single-box/gateway.yaml"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->listen, "0.0.0.0:22");
  EXPECT_EQ(s->ca, "127.0.0.1:7443");
}

TEST(ExampleConfigs, HaTwoCasShareOnePostgresDatabase) {
  absl::StatusOr<ca::CaSettings> a =
      ca::LoadCaSettings(Example("ha/ca-a.yaml"));
  absl::StatusOr<ca::CaSettings> b =
      ca::LoadCaSettings(Example("ha/ca-b.yaml"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(absl::StartsWith(a->store_url, "postgresql://")) << a->store_url;
  EXPECT_EQ(a->store_url, b->store_url);
  EXPECT_NE(a->listen, b->listen);
  EXPECT_EQ(a->gateway_egress_addresses.size(), 2u);
  EXPECT_EQ(a->gateway_egress_addresses, b->gateway_egress_addresses);
}

TEST(ExampleConfigs, HaTwoGatewaysBehindOneCaAddress) {
  absl::StatusOr<gateway::GatewaySettings> a =
      gateway::LoadGatewaySettings(Example("ha/gw-a.yaml"));
  absl::StatusOr<gateway::GatewaySettings> b =
      gateway::LoadGatewaySettings(Example("ha/gw-b.yaml"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->ca, b->ca);
  EXPECT_NE(a->name, b->name);
  EXPECT_NE(a->listen, b->listen);
}

// The loaders really check: a copy of an example with an unknown key is
// refused (so the tests above would catch a stale key).
TEST(ExampleConfigs, AStaleKeyWouldBeCaught) {
  absl::StatusOr<TempDir> dir = TempDir::Create("spex");
  ASSERT_TRUE(dir.ok());
  std::string gw = ReadFileOrEmpty(Example("single-box/gateway.yaml"));
  ASSERT_FALSE(gw.empty());
  ASSERT_TRUE(WriteFile(dir->File("gw.yaml"), gw + "max_sessions: 5\n").ok());
  EXPECT_FALSE(gateway::LoadGatewaySettings(dir->File("gw.yaml")).ok());
  std::string ca = ReadFileOrEmpty(Example("single-box/ca.yaml"));
  ASSERT_TRUE(WriteFile(dir->File("ca.yaml"), ca + "recording: on\n").ok());
  EXPECT_FALSE(ca::LoadCaSettings(dir->File("ca.yaml")).ok());
}

}  // namespace
}  // namespace sallyport::testing
