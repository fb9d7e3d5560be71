// The catalogue is well-formed and every code is documented in
// docs/audit-events.md with its fields.
#include "audit/events.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

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

}  // namespace
}  // namespace sallyport::audit
