#include "ssh/transport/version.h"

#include <string>

#include "gtest/gtest.h"

namespace sallyport::ssh::transport {
namespace {

absl::StatusOr<size_t> FeedAll(VersionReader& r, const std::string& s) {
  return r.Feed(wire::AsBytes(s));
}

TEST(VersionTest, AcceptsVersionLineAndLeavesTheRest) {
  VersionReader r(false);
  const char kInput[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x00\x0c";
  std::string input(kInput, sizeof(kInput) - 1);
  auto used = FeedAll(r, input);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.version(), "SSH-2.0-OpenSSH_9.2p1 Debian-2");
  EXPECT_EQ(*used, input.size() - 4);
}

TEST(VersionTest, ByteAtATime) {
  VersionReader r(false);
  std::string line = "SSH-2.0-x\r\n";
  for (char c : line) {
    ASSERT_FALSE(r.done());
    ASSERT_TRUE(FeedAll(r, std::string(1, c)).ok());
  }
  EXPECT_EQ(r.version(), "SSH-2.0-x");
}

TEST(VersionTest, LfOnlyAndSsh199Accepted) {
  VersionReader r(false);
  ASSERT_TRUE(FeedAll(r, "SSH-1.99-old\n").ok());
  EXPECT_EQ(r.version(), "SSH-1.99-old");
}

TEST(VersionTest, ClientToleratesBannerLinesFromServer) {
  VersionReader r(true);
  ASSERT_TRUE(FeedAll(r, "Welcome\r\nto the host\r\nSSH-2.0-srv\r\n").ok());
  EXPECT_EQ(r.version(), "SSH-2.0-srv");
}

TEST(VersionTest, ServerRefusesLinesBeforeVersion) {
  VersionReader r(false);
  EXPECT_FALSE(FeedAll(r, "hello\r\nSSH-2.0-x\r\n").ok());
  VersionReader r2(false);
  EXPECT_FALSE(FeedAll(r2, "GET / HTTP/1.1\r\n").ok());
}

TEST(VersionTest, RefusesOtherProtocolVersions) {
  VersionReader r(true);
  EXPECT_FALSE(FeedAll(r, "SSH-1.5-ancient\r\n").ok());
}

TEST(VersionTest, RefusesLongVersionLine) {
  VersionReader r(true);
  std::string line = "SSH-2.0-" + std::string(300, 'x') + "\r\n";
  auto s = FeedAll(r, line);
  EXPECT_FALSE(s.ok());
  // Exactly 255 with CR LF is fine.
  VersionReader ok(false);
  std::string max = "SSH-2.0-" + std::string(255 - 2 - 8, 'y') + "\r\n";
  ASSERT_EQ(max.size(), 255u);
  EXPECT_TRUE(FeedAll(ok, max).ok());
  EXPECT_TRUE(ok.done());
}

TEST(VersionTest, OneMegabyteLineFailsEarly) {
  VersionReader r(true);
  std::string junk(1 << 20, 'A');
  auto s = FeedAll(r, junk);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(r.done());
}

TEST(VersionTest, TooManyPreBannerLines) {
  VersionReader r(true);
  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += "banner line\r\n";
  auto s = FeedAll(r, lines);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(VersionTest, NulBytesRefused) {
  VersionReader r(true);
  EXPECT_FALSE(r.Feed(wire::AsBytes(std::string("SSH-2.0-a\0b\r\n", 13))).ok());
  VersionReader r2(true);
  EXPECT_FALSE(r2.Feed(wire::AsBytes(std::string("ban\0ner\r\n", 9))).ok());
}

TEST(VersionTest, NoLineEndNeverCompletes) {
  VersionReader r(false);
  ASSERT_TRUE(FeedAll(r, "SSH-2.0-abc").ok());
  EXPECT_FALSE(r.done());
}

}  // namespace
}  // namespace sallyport::ssh::transport
