#include "ca/rbac/names.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
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
  // Looks like a space, is none: escaped as the spaces are.
  EXPECT_EQ(EscapeForReason("web\xe2\xa0\x80"
                            "01"),
            "\"web\\xe2\\xa0\\x8001\"");
  EXPECT_EQ(EscapeForReason("\x1b[31m"), "\"\\x1b\\x5b31m\"");
  EXPECT_EQ(EscapeForReason(std::string(65, 'x')),
            "\"" + std::string(64, 'x') + "\"... (65 bytes)");
  EXPECT_EQ(EscapeForReason(std::string(64, 'x')),
            "\"" + std::string(64, 'x') + "\"");
}

// A name in another script reads as itself in a reason: Cyrillic, CJK,
// accented Latin, Greek, Hebrew and a combining mark stay as they are.
TEST(EscapeForReasonTest, KeepsTheLettersOfEveryScript) {
  for (const char* text : {
           "\xd1\x81\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80-01",  // сервер-01
           "\xe6\x9c\x8d\xe5\x8a\xa1\xe5\x99\xa8",                 // 服务器
           "caf\xc3\xa9.d\xc3\xa9v",                               // café.dév
           "\xce\xb1\xce\xb8\xce\xae\xce\xbd\xce\xb1",             // αθήνα
           "\xd7\xa9\xd7\xa8\xd7\x94",                             // שרה
           "e\xcc\x81",                                            // e U+0301
           "\xe2\x82\xac\xf0\x9f\x94\x91",  // € U+1F511
       }) {
    EXPECT_EQ(EscapeForReason(text), absl::StrCat("\"", text, "\""));
  }
}

// Each byte of whatever is not visible text of its own is written as
// \xNN, whatever script surrounds it.
TEST(EscapeForReasonTest, EscapesControlsBidiAndInvisibleCharacters) {
  struct Case {
    const char* what;
    const char* in;
    const char* want;
  };
  const Case cases[] = {
      {"DEL", "a\x7f", "a\\x7f"},
      {"C1 CSI",
       "a\xc2\x9b"
       "2J",
       "a\\xc2\\x9b2J"},
      {"C1 NEL", "\xc2\x85", "\\xc2\\x85"},
      {"RLO",
       "\xd0\xb0\xe2\x80\xae"
       "b",
       "\xd0\xb0\\xe2\\x80\\xaeb"},
      {"LRO", "\xe2\x80\xad", "\\xe2\\x80\\xad"},
      {"RLE", "\xe2\x80\xab", "\\xe2\\x80\\xab"},
      {"LRE", "\xe2\x80\xaa", "\\xe2\\x80\\xaa"},
      {"PDF", "\xe2\x80\xac", "\\xe2\\x80\\xac"},
      {"LRI", "\xe2\x81\xa6", "\\xe2\\x81\\xa6"},
      {"RLI", "\xe2\x81\xa7", "\\xe2\\x81\\xa7"},
      {"FSI", "\xe2\x81\xa8", "\\xe2\\x81\\xa8"},
      {"PDI", "\xe2\x81\xa9", "\\xe2\\x81\\xa9"},
      {"LRM", "\xe2\x80\x8e", "\\xe2\\x80\\x8e"},
      {"RLM", "\xe2\x80\x8f", "\\xe2\\x80\\x8f"},
      {"ALM", "\xd8\x9c", "\\xd8\\x9c"},
      {"ZWSP", "ad\xe2\x80\x8bmin", "ad\\xe2\\x80\\x8bmin"},
      {"ZWJ", "\xe2\x80\x8d", "\\xe2\\x80\\x8d"},
      {"ZWNJ", "\xe2\x80\x8c", "\\xe2\\x80\\x8c"},
      {"WORD JOINER", "\xe2\x81\xa0", "\\xe2\\x81\\xa0"},
      {"BOM", "\xef\xbb\xbfweb01", "\\xef\\xbb\\xbfweb01"},
      {"soft hyphen",
       "web\xc2\xad"
       "01",
       "web\\xc2\\xad01"},
      {"tag", "\xf3\xa0\x81\xa1", "\\xf3\\xa0\\x81\\xa1"},
      {"LINE SEPARATOR", "\xe2\x80\xa8", "\\xe2\\x80\\xa8"},
      {"private use", "\xee\x80\x80", "\\xee\\x80\\x80"},
      {"NBSP",
       "a\xc2\xa0"
       "b",
       "a\\xc2\\xa0b"},
      {"ideographic space", "\xe3\x80\x80", "\\xe3\\x80\\x80"},
      {"left double quotation mark", "\xe2\x80\x9c", "\\xe2\\x80\\x9c"},
      {"right double quotation mark", "\xe2\x80\x9d", "\\xe2\\x80\\x9d"},
      {"guillemet", "\xc2\xab", "\\xc2\\xab"},
      {"fullwidth quotation mark", "\xef\xbc\x82", "\\xef\\xbc\\x82"},
      // Bytes that are not UTF-8: one \xNN each, and text after them is
      // read afresh.
      {"lone continuation", "\x80\xd0\xb0", "\\x80\xd0\xb0"},
      {"invalid byte", "\xff", "\\xff"},
      {"overlong '/'", "\xc0\xaf", "\\xc0\\xaf"},
      {"overlong NUL", "\xc0\x80", "\\xc0\\x80"},
      {"surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80"},
      {"above U+10FFFF", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},
      {"cut sequence", "\xd0", "\\xd0"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(EscapeForReason(c.in), absl::StrCat("\"", c.want, "\""))
        << c.what;
  }
}

// The cut at kMaxEchoBytes never splits a character: one that would
// cross it is left out whole, and the reason says how long the name was.
TEST(EscapeForReasonTest, CutsBetweenCharacters) {
  const std::string cyr = "\xd0\xb1";  // б, 2 bytes
  // 63 bytes, then a 2-byte letter that would end at byte 65.
  const std::string odd = std::string(63, 'x') + cyr + "tail";
  EXPECT_EQ(EscapeForReason(odd),
            "\"" + std::string(63, 'x') + "\"... (69 bytes)");
  // 62 bytes, then the letter ending exactly at 64.
  const std::string even = std::string(62, 'x') + cyr + "tail";
  EXPECT_EQ(EscapeForReason(even),
            "\"" + std::string(62, 'x') + cyr + "\"... (68 bytes)");
  // 32 two-byte letters are 64 bytes: all shown, no cut.
  std::string letters;
  for (int i = 0; i < 32; ++i) letters += cyr;
  EXPECT_EQ(EscapeForReason(letters), "\"" + letters + "\"");
  EXPECT_EQ(EscapeForReason(letters + "x"),
            "\"" + letters + "\"... (65 bytes)");
  // A 4-byte character from byte 61 to 65, and an escaped 3-byte RLO from
  // byte 62 to 65, are left out whole, never shown in part.
  const std::string key = "\xf0\x9f\x94\x91";
  EXPECT_EQ(EscapeForReason(std::string(61, 'x') + key),
            "\"" + std::string(61, 'x') + "\"... (65 bytes)");
  EXPECT_EQ(EscapeForReason(std::string(62, 'x') + "\xe2\x80\xae"),
            "\"" + std::string(62, 'x') + "\"... (65 bytes)");
  EXPECT_EQ(EscapeForReason(std::string(61, 'x') + "\xe2\x80\xae"),
            "\"" + std::string(61, 'x') + "\\xe2\\x80\\xae\"");
  // Bytes that are not UTF-8 count one by one: the cut falls at 64.
  EXPECT_EQ(
      EscapeForReason(std::string(70, '\xff')), "\"" + [] {
        std::string s;
        for (int i = 0; i < 64; ++i) s += "\\xff";
        return s;
      }() + "\"... (70 bytes)");
}

// Whatever the input, the reason is valid UTF-8 whose only characters
// are visible, with none of the characters the header rules out.
TEST(EscapeForReasonTest, OutputIsVisibleUtf8WithoutShellCharacters) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (const std::string& in :
       {all, std::string("\xe2\x80\xae\xe2\x81\xa6$(id);`x` 'a' \"b\""),
        std::string("\xd1\x81\xe2\x80\x8b\xc2\xa0\xe2\x80\x9c")}) {
    for (size_t start = 0; start < in.size(); start += 7) {
      const std::string out = EscapeForReason(in.substr(start));
      ASSERT_TRUE(base::IsPrintableUtf8(out)) << out;
      const std::string inner = out.substr(1, out.rfind('"') - 1);
      for (char c : std::string_view(" \"'$;(`")) {
        EXPECT_EQ(inner.find(c), std::string::npos) << c << " in " << out;
      }
    }
  }
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
