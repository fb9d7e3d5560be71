#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
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
  EXPECT_EQ(ReadTextFile(dir).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTextFile(dir + "/no-such-file").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sallyport::base
