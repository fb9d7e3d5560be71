// ToRecorderOptions: the recording keys of a parsed gateway config reach
// the spool recorder that `serve` starts, and its session backlog limit
// follows limits.max_buffered_bytes_per_connection (config_test checks the
// parsing, audit/ the recorder's use of each option).
#include "absl/strings/str_cat.h"
#include "base/yaml_proto.h"
#include "gateway/config.h"
#include "gateway/serve.h"
#include "gtest/gtest.h"
#include "proto/config.pb.h"

namespace sallyport::gateway {
namespace {

TEST(ServeWiringTest, RecordingKeysReachTheSpoolRecorder) {
  config::GatewayConfig c;
  ASSERT_TRUE(base::YamlToProto(absl::StrCat("ca: 127.0.0.1:7443\n"
                                             "ca_fingerprint: SHA256:",
                                             std::string(43, 'A'),
                                             "\n"
                                             "name: gw-7\n"
                                             "spool_dir: /var/spool/sp\n"
                                             "spool_fsync_interval: 250ms\n"
                                             "spool_max_bytes: 2097152\n"),
                                "gateway.yaml", &c)
                  .ok());
  absl::StatusOr<GatewaySettings> settings = SettingsFromConfig(c, "/etc/gw");
  ASSERT_TRUE(settings.ok()) << settings.status();

  const audit::RecorderOptions ro = ToRecorderOptions(*settings);
  EXPECT_EQ(ro.spool_dir, "/var/spool/sp");
  EXPECT_EQ(ro.gateway_id, "gw-7");
  // Not the recorder's default (1 s): the config's value, not a fallback.
  ASSERT_NE(audit::RecorderOptions().fsync_interval, absl::Milliseconds(250));
  EXPECT_EQ(ro.fsync_interval, absl::Milliseconds(250));
  EXPECT_EQ(ro.spool_max_bytes, 2097152);
  // The default window budget (16 MiB): the recorder's default backlog.
  EXPECT_EQ(ro.max_session_backlog_bytes,
            audit::kDefaultMaxSessionBacklogBytes);
}

// A session's recording backlog holds what its connection may have in
// flight: a larger window budget gives a larger backlog limit (twice the
// budget plus 16 MiB), a smaller one not less than the recorder's default.
TEST(ServeWiringTest, TheSessionBacklogFollowsTheWindowBudget) {
  GatewayLimitSettings limits;
  limits.max_buffered_bytes_per_connection = int64_t{256} << 20;
  EXPECT_EQ(SessionBacklogBytesFor(limits), size_t{528} << 20);
  limits.max_buffered_bytes_per_connection = kMinBufferedBytesPerConnection;
  EXPECT_EQ(SessionBacklogBytesFor(limits),
            audit::kDefaultMaxSessionBacklogBytes);
}

}  // namespace
}  // namespace sallyport::gateway
