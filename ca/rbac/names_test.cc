#include "ca/rbac/names.h"

#include <string>

#include "absl/strings/match.h"
#include "ca/rbac/selector.h"
#include "gtest/gtest.h"

namespace sallyport::ca::rbac {
namespace {

TEST(GlobMatchTest, StarAndQuestionMark) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "web01"));
  EXPECT_TRUE(GlobMatch("web*", "web"));
  EXPECT_TRUE(GlobMatch("web*", "web01.prod"));
  EXPECT_TRUE(GlobMatch("*.prod", "web01.prod"));
  EXPECT_TRUE(GlobMatch("web??", "web01"));
  EXPECT_TRUE(GlobMatch("w*b*1", "web01"));
  EXPECT_TRUE(GlobMatch("web01", "web01"));
  EXPECT_FALSE(GlobMatch("web??", "web1"));
  EXPECT_FALSE(GlobMatch("web", "web01"));
  EXPECT_FALSE(GlobMatch("*.prod", "web01.prod.example"));
  EXPECT_FALSE(GlobMatch("", "web01"));
  EXPECT_TRUE(GlobMatch("", ""));
}

TEST(GlobMatchTest, IgnoresAsciiCase) {
  EXPECT_TRUE(GlobMatch("WEB*", "web01"));
  EXPECT_TRUE(GlobMatch("web*", "WEB01"));
}

TEST(GlobMatchTest, BangAndBracketsAreLiteral) {
  EXPECT_FALSE(GlobMatch("!web01", "db01"));
  EXPECT_TRUE(GlobMatch("!web01", "!web01"));
  EXPECT_FALSE(GlobMatch("web[0-9]1", "web01"));
}

TEST(GlobMatchTest, PathologicalPatternStaysFast) {
  // Exponential backtracking would take far longer than the test timeout.
  const std::string name(253, 'a');
  std::string pattern;
  for (int i = 0; i < 100; ++i) pattern += "*a";
  pattern += "*b";
  EXPECT_FALSE(GlobMatch(pattern, name));
}

TEST(SelectorMatchesTest, AllTermsMustMatch) {
  storage::Host h;
  h.name = "web01";
  h.labels = {{"env", "prod"}, {"team", "web"}};
  storage::HostSelector s;
  EXPECT_TRUE(SelectorMatches(s, h));  // empty selector: every host
  s.labels = {{"env", "prod"}};
  EXPECT_TRUE(SelectorMatches(s, h));
  s.labels = {{"env", "prod"}, {"team", "db"}};
  EXPECT_FALSE(SelectorMatches(s, h));
  s.labels = {{"env", "prod"}, {"zone", "a"}};  // label missing on the host
  EXPECT_FALSE(SelectorMatches(s, h));
  s.labels = {{"env", "prod"}};
  s.name_globs = {"db*"};
  EXPECT_FALSE(SelectorMatches(s, h));  // labels match, glob does not
  s.name_globs = {"db*", "web*"};
  EXPECT_TRUE(SelectorMatches(s, h));  // any one glob
  s.labels = {{"env", "Prod"}};        // values are case-sensitive
  EXPECT_FALSE(SelectorMatches(s, h));
}

TEST(EscapeForReasonTest, OnlySafeBytesVerbatim) {
  EXPECT_EQ(EscapeForReason("web-01.example_x"), "\"web-01.example_x\"");
  EXPECT_EQ(EscapeForReason("a\"b"), "\"a\\x22b\"");
  EXPECT_EQ(EscapeForReason("\x1b[31m"), "\"\\x1b\\x5b31m\"");
  EXPECT_EQ(EscapeForReason(std::string(65, 'x')),
            "\"" + std::string(64, 'x') + "\"... (65 bytes)");
  EXPECT_EQ(EscapeForReason(std::string(64, 'x')),
            "\"" + std::string(64, 'x') + "\"");
}

TEST(ValidateHostNameTest, LimitsAreInclusive) {
  EXPECT_TRUE(ValidateHostName(std::string(63, 'a')).ok());
  EXPECT_FALSE(ValidateHostName(std::string(64, 'a')).ok());
  const std::string l63(63, 'a');
  const std::string n253 =
      l63 + "." + l63 + "." + l63 + "." + std::string(61, 'a');
  ASSERT_EQ(n253.size(), 253u);
  EXPECT_TRUE(ValidateHostName(n253).ok());
  EXPECT_FALSE(ValidateHostName(n253 + "a").ok());
  EXPECT_TRUE(ValidateHostName("a").ok());
  EXPECT_TRUE(ValidateHostName("1.2.3.4").ok());  // digits-only labels
  EXPECT_TRUE(ValidateHostName("x-1").ok());
  EXPECT_FALSE(ValidateHostName("x-").ok());
  EXPECT_EQ(ValidateHostName("a;b").code(), absl::StatusCode::kInvalidArgument);
}

// An inventory name that reads as an address would be taken for one by
// ssh and the resolver, and would shadow the host at that address in the
// gateway's lookup (name before address): refused, naming the rule.
TEST(ValidateInventoryNameTest, NamesThatReadAsAddressesAreRefused) {
  for (const char* name : {"1.2.3.4", "10.0.0.5", "167772165", "10.5",
                           "0x0a000005", "0x0a.0.0.5", "web01.123"}) {
    const absl::Status st = ValidateInventoryName(name);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(absl::StrContains(st.message(), "reads as an IP address"))
        << st.message();
  }
  for (const char* name : {"web01", "10-0-0-5.example", "db1.dc2", "a",
                           "0x0a000005.internal", "1e100.net", "x1"}) {
    EXPECT_TRUE(ValidateInventoryName(name).ok()) << name;
  }
  // The host-name rules still apply, with their own reason.
  EXPECT_TRUE(absl::StrContains(ValidateInventoryName("a;b").message(),
                                "only letters"));
}

TEST(ValidateLoginTest, PlainNamesOnly) {
  EXPECT_TRUE(ValidateLogin("ubuntu").ok());
  EXPECT_TRUE(ValidateLogin("svc_deploy-2.x").ok());
  EXPECT_FALSE(ValidateLogin("a b").ok());
  EXPECT_FALSE(ValidateLogin("a/b").ok());
  EXPECT_FALSE(ValidateLogin(std::string(257, 'a')).ok());
  EXPECT_TRUE(ValidateLogin(std::string(256, 'a')).ok());
}

TEST(ValidateForwardDestinationTest, NamesAndLiterals) {
  EXPECT_TRUE(ValidateForwardDestination("127.0.0.1", 1).ok());
  EXPECT_TRUE(ValidateForwardDestination("::1", 65535).ok());
  EXPECT_TRUE(ValidateForwardDestination("db.internal", 5432).ok());
  EXPECT_FALSE(ValidateForwardDestination("db.internal", 65536).ok());
  EXPECT_FALSE(ValidateForwardDestination("[::1]", 22).ok());
  EXPECT_FALSE(
      ValidateForwardDestination(std::string("127.0.0.1\0x", 11), 22).ok());
}

}  // namespace
}  // namespace sallyport::ca::rbac
