#include "gateway/target_name.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

TEST(TargetNameTest, ParsesLoginPlusHost) {
  auto t = ParseTarget("root+web01");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->login, "root");
  EXPECT_EQ(t->host, "web01");
  t = ParseTarget("deploy_2+web01.prod.example.com");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "web01.prod.example.com");
  EXPECT_TRUE(ParseTarget("u+10.0.0.7").ok());
}

TEST(TargetNameTest, RefusesShellMetacharactersAndControlBytes) {
  for (const std::string& bad :
       std::vector<std::string>{"root+a;id",      "root+$(x)",
                                "root+web01\nid", std::string("root+a\0b", 8),
                                "root+a%00",      "root+`id`",
                                "root+a b",       "root+a/b",
                                "a;id+web01",     "$(x)+web01",
                                "root+web01;",    "root+",
                                "+web01",         "root",
                                "a+b+c",          "root+-web",
                                "root+web-",      "root+a..b",
                                "root+web01.",    "-x+web01",
                                "1root+web01",    "root+[::1]",
                                "root+we_b"}) {
    auto t = ParseTarget(bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    // The message never carries the raw bytes (SafeText escapes them).
    for (char c : std::string(t.status().message())) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << bad;
    }
  }
}

TEST(TargetNameTest, LengthLimits) {
  // 253 bytes: four labels of 63 plus dots, minus one byte.
  std::string label63(kMaxLabelBytes, 'a');
  std::string host =
      label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(host.size(), kMaxHostNameBytes);
  EXPECT_TRUE(ValidateHostName(host).ok());
  EXPECT_FALSE(ValidateHostName(host + "c").ok());
  EXPECT_FALSE(ValidateHostName(std::string(kMaxLabelBytes + 1, 'a')).ok());
  auto t = ParseTarget("root+" + std::string(300, 'a'));
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), "longer than 253"))
      << t.status();
  EXPECT_TRUE(ValidateLogin(std::string(kMaxLoginBytes, 'a')).ok());
  EXPECT_FALSE(ValidateLogin(std::string(kMaxLoginBytes + 1, 'a')).ok());
}

}  // namespace
}  // namespace sallyport::gateway
