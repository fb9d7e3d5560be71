#include "audit/asciicast.h"

#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

TEST(AsciicastTest, HeaderAndEvents) {
  EXPECT_EQ(
      AsciicastWriter::Header(80, 24, absl::FromUnixSeconds(1700000000), "s1"),
      "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":"
      "1700000000,\"title\":\"s1\"}\n");
  AsciicastWriter w;
  // Control characters are written as JSON unicode escapes
  // (base::JsonObject), which asciicast readers decode like any other.
  EXPECT_EQ(w.Event(absl::Milliseconds(1500), "o", "hi\r\n\x1b[0m"),
            "[1.500000, \"o\", \"hi\\u000d\\u000a\\u001b[0m\"]\n");
  EXPECT_EQ(w.Resize(absl::Seconds(2), 100, 30),
            "[2.000000, \"r\", \"100x30\"]\n");
}

TEST(AsciicastTest, SplitUtf8IsJoined) {
  AsciicastWriter w;
  // "é" is C3 A9, split across two records.
  EXPECT_EQ(w.Event(absl::Seconds(1), "o", "a\xc3"),
            "[1.000000, \"o\", \"a\"]\n");
  EXPECT_EQ(w.Event(absl::Seconds(2), "o", "\xa9"),
            "[2.000000, \"o\", \"\xc3\xa9\"]\n");
}

}  // namespace
}  // namespace sallyport::audit
