// The gateway's log lines: each event in both formats, JSON that parses,
// and hostile values (the target names) that can neither break a
// line nor grow it without bound.
#include "gateway/log.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

class GatewayLogTest : public ::testing::Test {
 protected:
  GatewayLog Log(base::LogFormat format) {
    return GatewayLog(
        format, [this](std::string_view line) { lines_.emplace_back(line); },
        &clock_);
  }
  base::FakeClock clock_{absl::FromUnixMicros(1796016600123456)};
  std::vector<std::string> lines_;
  LogConnection conn_{7, "127.0.0.1:50522", "alice"};
};

TEST_F(GatewayLogTest, TextLines) {
  GatewayLog log = Log(base::LogFormat::kText);
  log.ConnectionOpened({7, "127.0.0.1:50522", ""});
  log.AuthDecision(conn_, {true, "root", "web01", "publickey", "alice", 42,
                           "SHA256:abc", ""});
  LogChannel ch{3, "port-forward", "root", "web01", "10.0.0.5:5432"};
  log.ChannelRefused(conn_, ch, "denied by role 'prod-readonly'");
  log.ChannelOpened(conn_, {0, "shell", "root", "web01", ""});
  log.ChannelClosed(conn_, {0, "shell", "root", "web01", ""}, 10, 20, "3");
  log.UpstreamConnect(conn_, {"web01", "10.0.0.1:22", "root", true,
                              absl::Milliseconds(12), ""});
  log.ConnectionClosed(conn_, "ok", absl::Seconds(2), 100, 200);
  const std::string t = "2026-11-30T05:30:00.123456Z ";
  ASSERT_EQ(lines_.size(), 7u);
  EXPECT_EQ(lines_[0], t + "event=connection.open outcome=success conn=7 "
                           "peer=\"127.0.0.1:50522\"");
  EXPECT_EQ(lines_[1],
            t + "event=auth outcome=success conn=7 peer=\"127.0.0.1:50522\" "
                "user=\"alice\" login=\"root\" host=\"web01\" "
                "method=\"publickey\" key_id=\"alice\" serial=\"42\" "
                "ca=\"SHA256:abc\"");
  EXPECT_EQ(lines_[2],
            t + "event=channel.refused outcome=failure conn=7 "
                "peer=\"127.0.0.1:50522\" user=\"alice\" channel=3 "
                "kind=\"port-forward\" login=\"root\" host=\"web01\" "
                "destination=\"10.0.0.5:5432\" "
                "reason=\"denied by role 'prod-readonly'\"");
  EXPECT_TRUE(
      absl::StrContains(lines_[4], "bytes_in=10 bytes_out=20 exit=\"3\""))
      << lines_[4];
  EXPECT_TRUE(
      absl::StrContains(lines_[5], "event=upstream.connect outcome=success"));
  EXPECT_TRUE(absl::StrContains(lines_[5], "latency_ms=12"));
  EXPECT_TRUE(absl::StrContains(lines_[6],
                                "event=connection.close "
                                "outcome=success"));
  EXPECT_TRUE(absl::StrContains(lines_[6], "result=\"ok\" duration_ms=2000"));
}

TEST_F(GatewayLogTest, JsonLinesParse) {
  GatewayLog log = Log(base::LogFormat::kJson);
  log.AuthDecision(conn_, {false, "root", "web01", "publickey", "alice", 42,
                           "SHA256:abc", "revoked"});
  log.ConnectionClosed(conn_, "auth-failed", absl::Seconds(1), 1, 2,
                       "Permission denied");
  ASSERT_EQ(lines_.size(), 2u);
  for (const std::string& line : lines_) {
    google::protobuf::Struct parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok())
        << line;
    EXPECT_EQ(parsed.fields().at("time").string_value(),
              "2026-11-30T05:30:00.123456Z");
    EXPECT_EQ(parsed.fields().at("outcome").string_value(), "failure");
    EXPECT_EQ(parsed.fields().at("user").string_value(), "alice");
  }
  google::protobuf::Struct auth;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(lines_[0], &auth).ok());
  EXPECT_EQ(auth.fields().at("event").string_value(), "auth");
  EXPECT_EQ(auth.fields().at("reason").string_value(), "revoked");
  EXPECT_EQ(auth.fields().at("serial").string_value(), "42");
}

TEST_F(GatewayLogTest, HostileTargetNamesStayInsideTheirValue) {
  for (base::LogFormat format :
       {base::LogFormat::kText, base::LogFormat::kJson}) {
    GatewayLog log = Log(format);
    lines_.clear();
    const std::vector<std::string> hostile = {
        "a;id",
        "$(x)",
        "web01\nevent=auth outcome=success",
        std::string("web\0"
                    "01",
                    6),
        "%00",
        "\x1b[31mred\x1b[0m",
        "\xff\xfe",
        std::string(300, 'h')};
    for (const std::string& host : hostile) {
      log.ChannelRefused(conn_, {1, "shell", "root", host, ""},
                         "host not in inventory");
    }
    ASSERT_EQ(lines_.size(), hostile.size());
    for (size_t i = 0; i < lines_.size(); ++i) {
      const std::string& line = lines_[i];
      for (char c : line) {
        const unsigned char u = static_cast<unsigned char>(c);
        ASSERT_TRUE(u >= 0x20 && u != 0x7f) << "control byte in " << line;
      }
      // One event per line: the forged "event=" stays inside a quoted value.
      EXPECT_EQ(line.find("event=auth"),
                absl::StrContains(hostile[i], "event=")
                    ? line.find("\\u000aevent=auth") + 6
                    : std::string::npos)
          << line;
      if (format == base::LogFormat::kJson) {
        google::protobuf::Struct parsed;
        ASSERT_TRUE(
            google::protobuf::util::JsonStringToMessage(line, &parsed).ok())
            << line;
        EXPECT_EQ(parsed.fields().at("event").string_value(),
                  "channel.refused");
      }
    }
    // The 300-byte name is cut.
    EXPECT_TRUE(absl::StrContains(
        lines_.back(),
        absl::StrCat(std::string(kMaxLogValueBytes, 'h'), "...\"")))
        << lines_.back();
    EXPECT_FALSE(absl::StrContains(lines_.back(),
                                   std::string(kMaxLogValueBytes + 1, 'h')));
  }
}

TEST_F(GatewayLogTest, CutsLongValuesAtACharacterBoundary) {
  GatewayLog log = Log(base::LogFormat::kText);
  // 255 ASCII bytes, then a 2-byte character across the limit.
  std::string host = std::string(255, 'h') + "\xc3\xa9" + "tail";
  log.ChannelOpened(conn_, {1, "shell", "root", host, ""});
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_TRUE(absl::StrContains(
      lines_[0], absl::StrCat("host=\"", std::string(255, 'h'), "...\"")))
      << lines_[0];
  EXPECT_FALSE(absl::StrContains(lines_[0], "\xef\xbf\xbd"));
}

TEST_F(GatewayLogTest, LinesBelowTheLevelAreDropped) {
  GatewayLog log = Log(base::LogFormat::kText);
  EXPECT_EQ(log.level(), LogLevel::kInfo);
  const auto emit = [&] {
    lines_.clear();
    log.Event("detail", true, {}, {{"message", "trace"}}, LogLevel::kDebug);
    log.ChannelOpened(conn_, {0, "shell", "root", "web01", ""});
    log.ChannelRefused(conn_, {1, "x11", "root", "web01", ""}, "refused");
    log.Event("recording", false, {}, {{"message", "spool gone"}});
    log.Event("gateway", true, {}, {{"message", "listening"}});
    std::string events;
    for (const std::string& l : lines_) {
      absl::StrAppend(&events, l.substr(l.find("event=") + 6, 6), ";");
    }
    return events;
  };
  // info: no trace. A connection's success is info, its failure warn; a
  // notice of the gateway itself (no connection) is warn, its failure
  // error.
  EXPECT_EQ(emit(), "channe;channe;record;gatewa;");
  log.set_level(LogLevel::kDebug);
  EXPECT_EQ(emit(), "detail;channe;channe;record;gatewa;");
  log.set_level(LogLevel::kWarn);
  EXPECT_EQ(emit(), "channe;record;gatewa;");
  EXPECT_TRUE(absl::StrContains(lines_[0], "event=channel.refused"));
  log.set_level(LogLevel::kError);
  EXPECT_EQ(emit(), "record;");
}

TEST(LogLevelTest, ParsesTheConfigNames) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("loud"), std::nullopt);
  EXPECT_EQ(ParseLogLevel("INFO"), std::nullopt);
}

}  // namespace
}  // namespace sallyport::gateway
