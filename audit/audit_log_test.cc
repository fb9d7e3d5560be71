// The CA's log line for an audit event: one outcome, success or failure.
#include "audit/audit_log.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

const absl::Time kAt = absl::FromUnixSeconds(1796016600);  // 2026-11-30

TEST(EventLineTest, OutcomeComesFromTypeAndCode) {
  EXPECT_EQ(EventLine(LogFormat::kText, kAt, kEventLoginFailed, "admin",
                      {{"reason", std::string("bad-password")}}),
            "2026-11-30T05:30:00.000000Z event=login.failed outcome=failure "
            "actor=\"admin\" reason=\"bad-password\"");
  EXPECT_TRUE(absl::StrContains(
      EventLine(LogFormat::kText, kAt, "admin.CreateUser", "admin",
                {{"code", std::string("ALREADY_EXISTS")}}),
      " outcome=failure "));
  EXPECT_TRUE(
      absl::StrContains(EventLine(LogFormat::kText, kAt, "admin.CreateUser", "",
                                  {{"code", std::string("OK")}}),
                        " outcome=success actor=\"-\" "));
}

// A gateway's session.end carries its own `outcome` ("ok", "interrupted",
// ...). The line said `outcome=success ... outcome="interrupted"`: two
// outcomes, the first wrong.
TEST(EventLineTest, AnEventsOwnOutcomeIsShownOnceAndDecidesTheLine) {
  auto end = [](std::string outcome, LogFormat format = LogFormat::kText) {
    return EventLine(format, kAt, kEventSessionEnd, "gateway:gw1",
                     {{"outcome", outcome}, {"duration_ms", int64_t{5}}});
  };
  EXPECT_EQ(end("ok"),
            "2026-11-30T05:30:00.000000Z event=session.end outcome=success "
            "actor=\"gateway:gw1\" result=\"ok\" duration_ms=5");
  EXPECT_EQ(end("interrupted"),
            "2026-11-30T05:30:00.000000Z event=session.end outcome=failure "
            "actor=\"gateway:gw1\" result=\"interrupted\" duration_ms=5");
  EXPECT_EQ(end("interrupted", LogFormat::kJson),
            "{\"time\":\"2026-11-30T05:30:00.000000Z\",\"event\":"
            "\"session.end\",\"outcome\":\"failure\",\"actor\":\"gateway:gw1\","
            "\"result\":\"interrupted\",\"duration_ms\":5}");
  // recording.failed: what the gateway did, named as in the gateway's line.
  const std::string failed =
      EventLine(LogFormat::kText, kAt, kEventRecordingFailed, "gateway:gw1",
                {{"record_mode", std::string("strict")},
                 {"outcome", std::string("session-ended")}});
  EXPECT_TRUE(absl::StrContains(failed, " outcome=failure "));
  EXPECT_TRUE(absl::StrContains(failed, " action=\"session-ended\""));
  EXPECT_FALSE(absl::StrContains(failed, "outcome=\""));
}

std::string Line(std::string_view type, const std::vector<AuditField>& fields) {
  return EventLine(LogFormat::kText, absl::FromUnixSeconds(1800000000), type,
                   "alice", fields);
}

// session.end is a failure unless the session ended normally ("ok"): one
// the gateway ended (the certificate revoked, ...) or lost (interrupted)
// read as a success in the CA's log.
TEST(EventLineTest, ASessionEndOtherThanOkIsAFailure) {
  EXPECT_TRUE(
      absl::StrContains(Line("session.end", {{"outcome", std::string("ok")}}),
                        " event=session.end outcome=success "));
  for (const char* outcome :
       {"revoked", "expired", "idle-timeout", "drained", "recording-failed",
        "revocations-unknown", "interrupted"}) {
    EXPECT_TRUE(absl::StrContains(
        Line("session.end",
             {{"outcome", std::string(outcome)}, {"duration_ms", int64_t{5}}}),
        " event=session.end outcome=failure "))
        << outcome;
  }
  // The rules that were there stay.
  EXPECT_TRUE(absl::StrContains(Line("login.failed", {}), "outcome=failure"));
  EXPECT_TRUE(absl::StrContains(
      Line("admin.CreateUser", {{"code", std::string("PERMISSION_DENIED")}}),
      "outcome=failure"));
  EXPECT_TRUE(
      absl::StrContains(Line("admin.CreateUser", {{"code", std::string("OK")}}),
                        "outcome=success"));
}

}  // namespace
}  // namespace sallyport::audit
