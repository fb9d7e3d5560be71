// Column codecs: times and the JSON text columns.
#include "storage/sql/codec.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sallyport::storage::sql {
namespace {

TEST(CodecTest, TimesRoundTripIncludingInfinities) {
  const absl::Time t = absl::FromUnixMicros(1700000000123456);
  EXPECT_EQ(MicrosToTime(TimeToMicros(t)), t);
  EXPECT_EQ(MicrosToTime(TimeToMicros(absl::InfiniteFuture())),
            absl::InfiniteFuture());
  EXPECT_EQ(MicrosToTime(TimeToMicros(absl::InfinitePast())),
            absl::InfinitePast());
  EXPECT_EQ(TruncateToMicros(t + absl::Nanoseconds(999)), t);
}

TEST(CodecTest, RoleSpecRoundTripsAndIsReadableJson) {
  Role role;
  role.logins = {"ubuntu", "it's \"quoted\""};
  HostSelector s;
  s.labels = {{"env", "prod"}};
  s.name_globs = {"web*"};
  role.hosts = {s};
  role.channels = {ChannelKind::kShell, ChannelKind::kAgentForward};
  role.deny = {DenyRule{{"root"}, {}, {ChannelKind::kExec}}};
  auto json = EncodeRoleSpec(role);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"name_globs\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"agent-forward\""), std::string::npos) << *json;
  Role back;
  ASSERT_TRUE(DecodeRoleSpec(*json, back).ok());
  EXPECT_EQ(back.logins, role.logins);
  EXPECT_EQ(back.hosts, role.hosts);
  EXPECT_EQ(back.channels, role.channels);
  EXPECT_EQ(back.deny, role.deny);
  EXPECT_EQ(back.record_mode, RecordFailureMode::kStrict);
  EXPECT_FALSE(back.record_input.has_value());
}

// recpol (issue 14): the recording policy lives in the spec JSON; a spec
// written before it existed reads as strict with the default input rule.
TEST(CodecTest, RoleSpecKeepsTheRecordingPolicy) {
  Role role;
  role.logins = {"ubuntu"};
  role.record_mode = RecordFailureMode::kBestEffort;
  role.record_input = false;
  auto json = EncodeRoleSpec(role);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"best_effort\""), std::string::npos) << *json;
  Role back;
  ASSERT_TRUE(DecodeRoleSpec(*json, back).ok());
  EXPECT_EQ(back.record_mode, RecordFailureMode::kBestEffort);
  EXPECT_EQ(back.record_input, std::optional<bool>(false));
  role.record_mode = RecordFailureMode::kStrict;
  role.record_input = true;
  json = EncodeRoleSpec(role);
  ASSERT_TRUE(json.ok());
  ASSERT_TRUE(DecodeRoleSpec(*json, back).ok());
  EXPECT_EQ(back.record_mode, RecordFailureMode::kStrict);
  EXPECT_EQ(back.record_input, std::optional<bool>(true));
  Role old;
  ASSERT_TRUE(DecodeRoleSpec(R"({"logins":["x"]})", old).ok());
  EXPECT_EQ(old.record_mode, RecordFailureMode::kStrict);
  EXPECT_FALSE(old.record_input.has_value());
  EXPECT_FALSE(DecodeRoleSpec(R"({"record_mode":"sometimes"})", old).ok());
}

// A role's force_command lives in the spec JSON; a spec without it (or
// written before it existed) forces nothing.
TEST(CodecTest, RoleSpecKeepsTheForceCommand) {
  Role role;
  role.logins = {"backup"};
  role.force_command = "/usr/local/bin/backup --now";
  auto json = EncodeRoleSpec(role);
  ASSERT_TRUE(json.ok()) << json.status();
  Role back;
  ASSERT_TRUE(DecodeRoleSpec(*json, back).ok());
  EXPECT_EQ(back.force_command, role.force_command);
  role.force_command.reset();
  json = EncodeRoleSpec(role);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->find("force_command"), std::string::npos) << *json;
  ASSERT_TRUE(DecodeRoleSpec(*json, back).ok());
  EXPECT_FALSE(back.force_command.has_value());
}

// At the limit of remembered specs: one more distinct spec than it holds,
// twice over; each decodes to its own logins and the memory stays bounded.
// Text that fails to decode fails every time.
TEST(CodecTest, RememberedRoleSpecsAreBoundedAndExact) {
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i <= kMaxRememberedRoleSpecs; ++i) {
      Role role;
      role.logins = {absl::StrCat("login", i)};
      role.channels = {ChannelKind::kShell};
      auto json = EncodeRoleSpec(role);
      ASSERT_TRUE(json.ok());
      Role back;
      back.logins = {"stale"};
      ASSERT_TRUE(DecodeRoleSpec(*json, back).ok());
      EXPECT_EQ(back.logins, role.logins);
      EXPECT_EQ(back.channels, role.channels);
      EXPECT_LE(RememberedRoleSpecsForTest(), kMaxRememberedRoleSpecs);
    }
  }
  Role r;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(DecodeRoleSpec(R"({"channels":["teleport"]})", r).code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(CodecTest, MalformedStoredJsonIsDataLoss) {
  Role r;
  EXPECT_EQ(DecodeRoleSpec("{not json", r).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRoleSpec(R"({"channels":["teleport"]})", r).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeStringList("[1,2]").status().code(),
            absl::StatusCode::kDataLoss);
  auto list = DecodeStringList(R"({"values":["a","b"]})");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace sallyport::storage::sql
