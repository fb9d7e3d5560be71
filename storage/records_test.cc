// Record validation and enum names (no database needed).
#include "storage/records.h"

#include "gtest/gtest.h"

namespace sallyport::storage {
namespace {

TEST(RecordsTest, ValidateTextRefusesNulBadUtf8AndLength) {
  EXPECT_TRUE(ValidateText("f", "héllo 🚀", 32, true).ok());
  EXPECT_EQ(ValidateText("f", "", 32, true).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateText("f", "", 32, false).ok());
  EXPECT_EQ(ValidateText("f", std::string("a\0b", 3), 32, true).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateText("f", "abcd", 3, true).code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* bad :
       {"\x80", "\xc3", "\xc0\x80", "\xe0\x80\x80", "\xed\xb0\x80",
        "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80"}) {
    EXPECT_EQ(ValidateText("f", bad, 32, true).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_TRUE(
      ValidateText("f", "\xf4\x8f\xbf\xbf", 32, true).ok());  // U+10FFFF
}

TEST(RecordsTest, EnumNamesRoundTrip) {
  for (ChannelKind k :
       {ChannelKind::kShell, ChannelKind::kExec, ChannelKind::kSftp,
        ChannelKind::kPortForward, ChannelKind::kAgentForward,
        ChannelKind::kProxyJumpPassthrough}) {
    EXPECT_EQ(ParseChannelKind(ChannelKindName(k)), k);
  }
  EXPECT_EQ(ChannelKindName(ChannelKind::kPortForward), "port-forward");
  EXPECT_EQ(ChannelKindName(ChannelKind::kProxyJumpPassthrough),
            "proxyjump-passthrough");
  EXPECT_FALSE(ParseChannelKind("Shell").has_value());
  EXPECT_EQ(ParseRecordMode("never"), RecordMode::kNever);
  EXPECT_EQ(ParseHostTrust("host-ca"), HostTrust::kHostCa);
  EXPECT_EQ(ParseCertificatePurpose("session"), CertificatePurpose::kSession);
  EXPECT_EQ(ParseSessionStatus("failed"), SessionStatus::kFailed);
  EXPECT_EQ(ParseCaKeyPurpose("host"), CaKeyPurpose::kHost);
  EXPECT_EQ(ParseCaKeyPurpose("session"), CaKeyPurpose::kSession);
  EXPECT_EQ(CaKeyPurposeName(CaKeyPurpose::kSession), "session");
  EXPECT_EQ(ParseCaKeyState("retired"), CaKeyState::kRetired);
}

TEST(RecordsTest, RevocationNeedsExactlyOneTarget) {
  Revocation r;
  EXPECT_FALSE(r.Validate().ok());
  r.serial = 5;
  EXPECT_TRUE(r.Validate().ok());
  r.key_fingerprint = "SHA256:x";
  EXPECT_FALSE(r.Validate().ok());
  r.serial.reset();
  EXPECT_TRUE(r.Validate().ok());
  r.key_fingerprint.reset();
  r.serial = kMaxSerial + 1;
  EXPECT_FALSE(r.Validate().ok());
}

// A role's force_command: one printable line of 1..kMaxForceCommandBytes
// (a tab is fine, as in the certificate option).
TEST(RecordsTest, RoleForceCommandIsOneBoundedLine) {
  Role role;
  role.name = "backup";
  ASSERT_TRUE(role.Validate().ok());
  role.force_command = "/usr/local/bin/backup --quiet\t--now";
  EXPECT_TRUE(role.Validate().ok()) << role.Validate();
  role.force_command = std::string(kMaxForceCommandBytes, 'x');
  EXPECT_TRUE(role.Validate().ok());
  role.force_command = std::string(kMaxForceCommandBytes + 1, 'x');
  EXPECT_EQ(role.Validate().code(), absl::StatusCode::kInvalidArgument);
  for (const std::string& bad :
       {std::string(), std::string("id\nrm -rf /"), std::string("a\rb"),
        std::string("a\x1b[2Jb"), std::string("a\x7f"),
        std::string("a\0b", 3)}) {
    role.force_command = bad;
    const absl::Status st = role.Validate();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("force_command"), std::string::npos) << st;
  }
}

}  // namespace
}  // namespace sallyport::storage
