// The catalogue is well-formed and every code is documented in
// docs/audit-events.md with its fields.
#include "audit/events.h"

#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

std::string ReadDoc() {
  std::ifstream in("docs/audit-events.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(EventsTest, EveryCatalogueCodeIsDocumentedWithItsFields) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "docs/audit-events.md not found";
  for (const EventSpec& spec : EventCatalogue()) {
    const std::string heading =
        spec.prefix ? "### `" + std::string(spec.code) + "<Method>`"
                    : "### `" + std::string(spec.code) + "`";
    const size_t at = doc.find(heading + "\n");
    ASSERT_NE(at, std::string::npos) << spec.code << " is not documented";
    size_t end = doc.find("\n### ", at + 1);
    if (end == std::string::npos) end = doc.size();
    const std::string section = doc.substr(at, end - at);
    for (std::string_view field : spec.fields) {
      EXPECT_NE(section.find("`" + std::string(field) + "`"), std::string::npos)
          << spec.code << ": field " << field << " is not documented";
    }
  }
}

TEST(EventsTest, CodesAreUniqueAndLookupsFindThem) {
  std::set<std::string_view> seen;
  for (const EventSpec& spec : EventCatalogue()) {
    EXPECT_TRUE(seen.insert(spec.code).second) << spec.code;
    if (!spec.prefix) {
      EXPECT_EQ(FindEvent(spec.code), &spec);
    }
  }
  ASSERT_NE(FindEvent("admin.CreateUser"), nullptr);
  EXPECT_TRUE(FindEvent("admin.CreateUser")->prefix);
  EXPECT_FALSE(FindEvent("admin.denied")->prefix);
  EXPECT_EQ(FindEvent("admin."), nullptr);
  EXPECT_EQ(FindEvent("nope"), nullptr);
}

TEST(EventsTest, TheIssueCatalogueIsThere) {
  // Issue 14: login ok/failed/locked, cert issued, session start/end,
  // channel open/refused/close, exec command line, port-forward open/close,
  // proxyjump, file-transfer start, authz denied, admin change, revocation,
  // recording started/failed/complete, replay.
  for (std::string_view code :
       {kEventLoginOk,           kEventLoginFailed,
        kEventLoginLocked,       kEventCertIssued,
        kEventSessionStart,      kEventSessionEnd,
        kEventChannelOpen,       kEventChannelRefused,
        kEventChannelClose,      kEventExecCommand,
        kEventPortForwardOpen,   kEventPortForwardClose,
        kEventPortForwardListen, kEventProxyJump,
        kEventFileTransferStart, kEventAccessDenied,
        kEventAdminRevoke,       kEventRecordingStarted,
        kEventRecordingFailed,   kEventRecordingComplete,
        kEventSessionReplay}) {
    EXPECT_NE(FindEvent(code), nullptr) << code;
  }
  EXPECT_NE(FindEvent("admin.UpdateRole"), nullptr);
}

TEST(EventsTest, OnlyGatewayCodesAreGatewayEvents) {
  EXPECT_TRUE(IsGatewayEvent(kEventExecCommand));
  EXPECT_TRUE(IsGatewayEvent(kEventSessionStart));
  // A gateway cannot forge CA events.
  EXPECT_FALSE(IsGatewayEvent(kEventCertIssued));
  EXPECT_FALSE(IsGatewayEvent(kEventLoginOk));
  EXPECT_FALSE(IsGatewayEvent("admin.CreateUser"));
  EXPECT_FALSE(IsGatewayEvent("made.up"));
}

// A refused admin request was audited with its whole argument (a 120 KB
// description). Each field's text is capped at kMaxAuditedTextBytes, cut
// on a UTF-8 boundary, marked and followed by its whole size.
TEST(CapAuditFieldsTest, TextsAreCutAtTheLimitOnAUtf8Boundary) {
  const size_t max = kMaxAuditedTextBytes;
  const std::string at_limit(max, 'a');
  std::vector<AuditField> fields = CapAuditFields(
      {{"reason", at_limit}, {"serial", int64_t{7}}, {"disabled", true}});
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(std::get<std::string>(fields[0].second), at_limit);

  fields = CapAuditFields({{"reason", at_limit + "b"}, {"code", "OK"}});
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(std::get<std::string>(fields[0].second),
            std::string(max - 3, 'a') + "\u2026");
  EXPECT_EQ(fields[1].first, "reason_bytes");
  EXPECT_EQ(std::get<int64_t>(fields[1].second), static_cast<int64_t>(max + 1));
  EXPECT_EQ(fields[2].first, "code");

  // 513 two-byte letters: the cut at max - 3 falls inside the 511th, which
  // goes whole; the rest stays valid UTF-8.
  std::string accents;
  for (int i = 0; i < 513; ++i) accents += "\u00e9";
  fields = CapAuditFields({{"description", accents}});
  ASSERT_EQ(fields.size(), 2u);
  const std::string& cut = std::get<std::string>(fields[0].second);
  EXPECT_EQ(cut, accents.substr(0, 1020) + "\u2026");
  EXPECT_LE(cut.size(), max);
  EXPECT_EQ(AuditPayloadJson(fields).find("\ufffd"), std::string::npos);
  EXPECT_EQ(std::get<int64_t>(fields[1].second), 1026);

  // A list keeps whole entries while their sum fits, then cuts one.
  const std::string half(max / 2, 'l');
  fields = CapAuditFields({{"logins", std::vector<std::string>{half, half}}});
  ASSERT_EQ(fields.size(), 1u);
  fields = CapAuditFields(
      {{"logins", std::vector<std::string>{half, half, "x", "y"}}});
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(std::get<std::vector<std::string>>(fields[0].second),
            (std::vector<std::string>{half, half, "\u2026"}));
  EXPECT_EQ(fields[1].first, "logins_bytes");
  EXPECT_EQ(std::get<int64_t>(fields[1].second), static_cast<int64_t>(max + 2));
}

}  // namespace
}  // namespace sallyport::audit
