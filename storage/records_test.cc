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
  EXPECT_EQ(ParseChunkStream("input"), ChunkStream::kInput);
  EXPECT_EQ(ParseCaKeyPurpose("host"), CaKeyPurpose::kHost);
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

}  // namespace
}  // namespace sallyport::storage
