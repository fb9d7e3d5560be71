#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/bounded_cache.h"
#include "base/clock.h"
#include "base/event_line.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"

namespace sallyport::base {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(h, Half(h));
  return h;
}

absl::Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagatesErrorsAndValues) {
  EXPECT_EQ(*Quarter(12), 3);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).message(), "odd");
}

TEST(SecretBytesTest, CopyMoveAppendAndCompare) {
  SecretBytes a = SecretBytes::FromString("hunter2");
  SecretBytes b = a;
  EXPECT_TRUE(a.Equals(b));
  b.Append(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>("!"), 1));
  EXPECT_EQ(b.view(), "hunter2!");
  EXPECT_FALSE(a.Equals(b));
  SecretBytes c = std::move(b);
  EXPECT_EQ(c.view(), "hunter2!");
  EXPECT_TRUE(
      b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  c.Clear();
  EXPECT_TRUE(c.empty());
}

TEST(SecretBytesTest, ConstantTimeEqualsHandlesLengths) {
  const uint8_t x[] = {1, 2, 3};
  const uint8_t y[] = {1, 2, 4};
  EXPECT_TRUE(ConstantTimeEquals(x, x));
  EXPECT_FALSE(ConstantTimeEquals(x, y));
  EXPECT_FALSE(ConstantTimeEquals(absl::MakeConstSpan(x, 2), x));
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
}

TEST(BoundedCacheTest, FindsWhatWasAddedAndStartsOverWhenFull) {
  BoundedCache<int> cache(3);
  EXPECT_FALSE(cache.Find("a").has_value());
  cache.Add("a", 1);
  cache.Add("b", 2);
  cache.Add("a", 10);  // replaces
  EXPECT_EQ(cache.Find("a"), 10);
  EXPECT_EQ(cache.size(), 2u);
  cache.Add("c", 3);
  EXPECT_EQ(cache.size(), 3u);
  // Full: the next entry is kept alone.
  cache.Add(std::string("d\0e", 3), 4);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.Find("a").has_value());
  EXPECT_EQ(cache.Find(absl::string_view("d\0e", 3)), 4);
  EXPECT_FALSE(cache.Find("d").has_value());
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.Set(absl::FromUnixSeconds(7));
  EXPECT_EQ(absl::ToUnixSeconds(clock.Now()), 7);
  EXPECT_GT(Clock::Real()->Now(), absl::FromUnixSeconds(1700000000));
}

TEST(SafeTextTest, EscapesControlBytesAndBackslash) {
  EXPECT_EQ(SafeText("plain text"), "plain text");
  EXPECT_EQ(SafeText("a\nb\x1b[31m"), "a\\x0ab\\x1b[31m");
  // A backslash is escaped too, so "\\x0a" in a log line always means a
  // newline byte, never a peer that typed the four characters.
  EXPECT_EQ(SafeText("\\x0a"), "\\x5cx0a");
  EXPECT_EQ(SafeText(std::string_view("\0\xff", 2)), "\\x00\\xff");
}

TEST(SafeTextTest, CutsLongText) {
  std::string s(300, 'a');
  EXPECT_EQ(SafeText(s), std::string(kSafeTextDefaultMax, 'a') + "...");
  EXPECT_EQ(SafeText(s, 3), "aaa...");
  EXPECT_EQ(SafeText("abc", 3), "abc");
}

TEST(Utf8Test, ValidAndInvalidSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"));
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf",
                          "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << SafeText(bad);
  }
}

TEST(Utf8Test, PrintableHasNoControlCharacters) {
  EXPECT_TRUE(IsPrintableUtf8(""));
  EXPECT_TRUE(IsPrintableUtf8("Data Platform \xc3\xa9 \xc2\xa0 \xe2\x82\xac"));
  for (const char* bad : {"a\nb", "\x1b[2J", "\x7f",
                          "a\xc2\x9b"
                          "2J",
                          "\xc2\x80", "\xc2\x9f", "\xff", "a\x80"}) {
    EXPECT_FALSE(IsPrintableUtf8(bad)) << SafeText(bad);
  }
}

TEST(EscapeControlsTest, KeepsTextEscapesControls) {
  EXPECT_EQ(EscapeControls("ls -l /tmp \xc3\xa9t\xc3\xa9"),
            "ls -l /tmp \xc3\xa9t\xc3\xa9");
  EXPECT_EQ(EscapeControls("a\nb\x1b[2K\r\x7f"), "a\\x0ab\\x1b[2K\\x0d\\x7f");
  EXPECT_EQ(EscapeControls("x\xc2\x9b"
                           "2J"),
            "x\\xc2\\x9b2J");
  EXPECT_EQ(EscapeControls("\xff\\"), "\\xff\\x5c");
}

TEST(EventLineTest, TextAndJsonEscapeEveryValue) {
  const absl::Time t = absl::FromUnixMicros(1796016600123456);
  const std::vector<LogField> fields = {
      {"user", std::string("al\nice\" x=1\x01\xff")},
      {"n", int64_t{-3}},
      {"ok", true},
      {"list", std::vector<std::string>{"a", "b\"c"}}};
  EXPECT_EQ(
      FormatEventLine(LogFormat::kText, t, "conn.open", "success", fields),
      "2026-11-30T05:30:00.123456Z event=conn.open outcome=success "
      "user=\"al\\u000aice\\\" x=1\\u0001\xef\xbf\xbd\" n=-3 ok=true "
      "list=[\"a\",\"b\\\"c\"]");
  EXPECT_EQ(FormatEventLine(LogFormat::kJson, t, "conn.open", "failure",
                            {{"n", int64_t{1}}}),
            "{\"time\":\"2026-11-30T05:30:00.123456Z\",\"event\":"
            "\"conn.open\",\"outcome\":\"failure\",\"n\":1}");
  // An event name from input cannot add a field either.
  EXPECT_EQ(FormatEventLine(LogFormat::kText, t, "a b\n", "success", {}),
            "2026-11-30T05:30:00.123456Z event=\"a b\\u000a\" outcome=success");
  EXPECT_EQ(ParseLogFormat("json").value(), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("text").value(), LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("JSON").ok());
}

TEST(ReadTextFileTest, ReadsAndRefuses) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/read_text_file_test.txt";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("hello\n", f);
  fclose(f);
  auto text = ReadTextFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "hello\n");
  EXPECT_EQ(ReadTextFile(path, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ReadTextFile(dir).status(),
      absl::InvalidArgumentError("cannot read " + dir + ": Is a directory"));
  EXPECT_EQ(ReadTextFile(dir + "/no-such-file").status(),
            absl::NotFoundError("cannot read " + dir +
                                "/no-such-file: No such file or directory"));
  EXPECT_EQ(ReadTextFile(path + "/x").status(),
            absl::FailedPreconditionError("cannot read " + path +
                                          "/x: Not a directory"));
  // A pipe only for ReadTextFileOrPipe.
  EXPECT_EQ(ReadTextFile("/dev/null").status(),
            absl::InvalidArgumentError("/dev/null is not a regular file"));
  auto null = ReadTextFileOrPipe("/dev/null");
  ASSERT_TRUE(null.ok()) << null.status();
  EXPECT_EQ(*null, "");
  EXPECT_EQ(ReadTextFileOrPipe(dir).status().message(),
            "cannot read " + dir + ": Is a directory");
}

}  // namespace
}  // namespace sallyport::base
