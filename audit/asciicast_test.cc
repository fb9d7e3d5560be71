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

// Found in review: the bytes of a character the recording ended inside
// (at most 3, held back to join them with the next record's) were never
// written: an export lost its last bytes. Flush writes them, each as
// U+FFFD as invalid UTF-8 is everywhere else, once per stream.
TEST(AsciicastTest, FlushWritesWhatAnEndedRecordingHeldBack) {
  AsciicastWriter w;
  // "€" is E2 82 AC: the recording ends after E2 82.
  EXPECT_EQ(w.Event(absl::Seconds(1), "o", "end\xe2\x82"),
            "[1.000000, \"o\", \"end\"]\n");
  EXPECT_EQ(w.Event(absl::Seconds(2), "i", "\xf0\x9f"), "");
  EXPECT_EQ(w.Flush(absl::Seconds(3)),
            "[3.000000, \"o\", \"\xef\xbf\xbd\xef\xbf\xbd\"]\n"
            "[3.000000, \"i\", \"\xef\xbf\xbd\xef\xbf\xbd\"]\n");
  EXPECT_EQ(w.Flush(absl::Seconds(4)), "");
  AsciicastWriter whole;
  EXPECT_NE(whole.Event(absl::Seconds(1), "o", "a\xc3\xa9"), "");
  EXPECT_EQ(whole.Flush(absl::Seconds(1)), "");
}

}  // namespace
}  // namespace sallyport::audit
