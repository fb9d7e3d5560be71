#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/bounded_cache.h"
#include "base/clock.h"
#include "base/event_line.h"
#include "base/files.h"
#include "base/plural.h"
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

// Monotonic() measures time passing (Advance) and ignores wall clock jumps
// (Set); the real one never goes back.
TEST(ClockTest, MonotonicIgnoresWallClockJumps) {
  FakeClock clock(absl::FromUnixSeconds(100));
  const absl::Duration start = clock.Monotonic();
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Monotonic() - start, absl::Seconds(5));
  clock.Set(absl::FromUnixSeconds(100000));
  clock.Set(absl::FromUnixSeconds(1));
  EXPECT_EQ(clock.Monotonic() - start, absl::Seconds(5));
  const absl::Duration a = Clock::Real()->Monotonic();
  absl::SleepFor(absl::Milliseconds(10));
  EXPECT_GE(Clock::Real()->Monotonic() - a, absl::Milliseconds(10));
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

// Text in any script stays text: Latin with accents, Cyrillic, Greek,
// Arabic, Hebrew, CJK, Hangul, Devanagari (with its combining marks), an
// emoji, and the spaces of other scripts.
constexpr const char* kGraphicText[] = {
    "Jos\xc3\xa9 Mu\xc3\xb1oz",                  // José Muñoz
    "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0",          // Анна
    "\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1",  // Αθήνα
    "\xd8\xb9\xd9\x84\xd9\x8a",                  // علي
    "\xd7\xa9\xd7\xa8\xd7\x94",                  // שרה
    "\xe5\xbc\xa0\xe4\xbc\x9f",                  // 张伟
    "\xea\xb9\x80\xec\xb2\xa0\xec\x88\x98",      // 김철수
    "\xe0\xa4\xb0\xe0\xa4\xbe\xe0\xa4\x9c",      // राज
    "e\xcc\x81",                                 // e + U+0301
    "\xf0\x9f\x94\x91",                          // U+1F511
    "a\xe3\x80\x80"                              // U+3000
    "b",
};

// One of each class IsGraphicCodePoint refuses, as UTF-8.
struct NotGraphic {
  const char* what;
  const char* utf8;
  char32_t cp;
};
constexpr NotGraphic kNotGraphicText[] = {
    {"NUL", "\x00", 0x0000},
    {"LF", "\n", 0x000A},
    {"ESC", "\x1b", 0x001B},
    {"DEL", "\x7f", 0x007F},
    {"C1 PAD", "\xc2\x80", 0x0080},
    {"C1 CSI", "\xc2\x9b", 0x009B},
    {"C1 APC", "\xc2\x9f", 0x009F},
    {"soft hyphen", "\xc2\xad", 0x00AD},
    {"combining grapheme joiner", "\xcd\x8f", 0x034F},
    {"Arabic number sign", "\xd8\x80", 0x0600},
    {"ARABIC LETTER MARK", "\xd8\x9c", 0x061C},
    {"Hangul choseong filler", "\xe1\x85\x9f", 0x115F},
    {"Hangul jungseong filler", "\xe1\x85\xa0", 0x1160},
    {"Khmer inherent vowel", "\xe1\x9e\xb4", 0x17B4},
    {"Mongolian vowel separator", "\xe1\xa0\x8e", 0x180E},
    {"ZWSP", "\xe2\x80\x8b", 0x200B},
    {"ZWNJ", "\xe2\x80\x8c", 0x200C},
    {"ZWJ", "\xe2\x80\x8d", 0x200D},
    {"LRM", "\xe2\x80\x8e", 0x200E},
    {"RLM", "\xe2\x80\x8f", 0x200F},
    {"LINE SEPARATOR", "\xe2\x80\xa8", 0x2028},
    {"PARAGRAPH SEPARATOR", "\xe2\x80\xa9", 0x2029},
    {"LRE", "\xe2\x80\xaa", 0x202A},
    {"RLE", "\xe2\x80\xab", 0x202B},
    {"PDF", "\xe2\x80\xac", 0x202C},
    {"LRO", "\xe2\x80\xad", 0x202D},
    {"RLO", "\xe2\x80\xae", 0x202E},
    {"WORD JOINER", "\xe2\x81\xa0", 0x2060},
    {"INVISIBLE PLUS", "\xe2\x81\xa4", 0x2064},
    {"LRI", "\xe2\x81\xa6", 0x2066},
    {"RLI", "\xe2\x81\xa7", 0x2067},
    {"FSI", "\xe2\x81\xa8", 0x2068},
    {"PDI", "\xe2\x81\xa9", 0x2069},
    {"Hangul filler", "\xe3\x85\xa4", 0x3164},
    {"private use", "\xee\x80\x80", 0xE000},
    {"private use end", "\xef\xa3\xbf", 0xF8FF},
    {"noncharacter U+FDD0", "\xef\xb7\x90", 0xFDD0},
    {"VS16", "\xef\xb8\x8f", 0xFE0F},
    {"BOM", "\xef\xbb\xbf", 0xFEFF},
    {"halfwidth Hangul filler", "\xef\xbe\xa0", 0xFFA0},
    {"interlinear annotation anchor", "\xef\xbf\xb9", 0xFFF9},
    {"interlinear annotation terminator", "\xef\xbf\xbb", 0xFFFB},
    {"noncharacter U+FFFE", "\xef\xbf\xbe", 0xFFFE},
    {"noncharacter U+FFFF", "\xef\xbf\xbf", 0xFFFF},
    {"shorthand format", "\xf0\x9b\xb2\xa0", 0x1BCA0},
    {"musical format", "\xf0\x9d\x85\xb3", 0x1D173},
    {"noncharacter U+1FFFF", "\xf0\x9f\xbf\xbf", 0x1FFFF},
    {"LANGUAGE TAG", "\xf3\xa0\x80\x81", 0xE0001},
    {"TAG LATIN SMALL A", "\xf3\xa0\x81\xa1", 0xE0061},
    {"CANCEL TAG", "\xf3\xa0\x81\xbf", 0xE007F},
    {"VS17", "\xf3\xa0\x84\x80", 0xE0100},
    {"plane 15 private use", "\xf3\xb0\x80\x80", 0xF0000},
    {"plane 16 private use", "\xf4\x8f\xbf\xbd", 0x10FFFD},
};

TEST(GraphicCodePointTest, EveryScriptIsGraphicControlsAndInvisiblesAreNot) {
  for (const char* text : kGraphicText) {
    EXPECT_TRUE(IsPrintableUtf8(text)) << SafeText(text);
  }
  for (char32_t cp :
       {U' ',         U'~',      U'a',      U'\u00a0',     U'\u00e9',
        U'\u0301',    U'\u0410', U'\u05d0', U'\u0627',     U'\u200a',
        U'\u2010',    U'\u202f', U'\u4e2d', U'\uac00',     U'\ufb01',
        U'\ufdcf',    U'\ufdf0', U'\ufffd', U'\U0001f511', U'\U000e1000',
        U'\U000efffd'}) {
    EXPECT_TRUE(IsGraphicCodePoint(cp))
        << std::hex << static_cast<uint32_t>(cp);
  }
  for (const NotGraphic& n : kNotGraphicText) {
    EXPECT_FALSE(IsGraphicCodePoint(n.cp)) << n.what;
    const std::string utf8 = n.cp == 0 ? std::string(1, '\0') : n.utf8;
    char32_t decoded = 0;
    ASSERT_EQ(DecodeUtf8(utf8, 0, &decoded), utf8.size()) << n.what;
    EXPECT_EQ(static_cast<uint32_t>(decoded), static_cast<uint32_t>(n.cp))
        << n.what;
    EXPECT_FALSE(IsPrintableUtf8("Anna " + utf8 + "Smith")) << n.what;
  }
  // Every plane's last two code points are noncharacters; beyond U+10FFFF
  // is no code point.
  for (char32_t plane = 0; plane <= 0x10; ++plane) {
    EXPECT_FALSE(IsGraphicCodePoint(plane << 16 | 0xFFFE))
        << static_cast<uint32_t>(plane);
    EXPECT_FALSE(IsGraphicCodePoint(plane << 16 | 0xFFFF))
        << static_cast<uint32_t>(plane);
  }
  EXPECT_FALSE(IsGraphicCodePoint(0x110000));
  EXPECT_FALSE(IsGraphicCodePoint(0xFFFFFFFF));
}

TEST(Utf8Test, PrintableRefusesWhatIsNotUtf8) {
  // Overlong '/', overlong NUL, a surrogate, above U+10FFFF, a lone
  // continuation byte, a sequence cut short.
  for (const char* bad :
       {"\xc0\xaf", "\xc0\x80", "\xe0\x80\xaf", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "a\x80", "\xe2\x80", "\xff"}) {
    EXPECT_FALSE(IsPrintableUtf8(bad)) << SafeText(bad);
    EXPECT_FALSE(IsUtf8WithoutControls(bad)) << SafeText(bad);
  }
}

// A password is never shown: only controls are refused there, so a
// password with a ZWJ emoji sequence or RLO can still be set.
TEST(Utf8Test, WithoutControlsTakesInvisibleCharacters) {
  EXPECT_TRUE(IsUtf8WithoutControls("pass \xe2\x80\xae word\xe2\x80\x8d"));
  EXPECT_TRUE(IsUtf8WithoutControls("\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0"));
  for (const char* bad : {"a\nb", "\x1b", "\x7f", "\xc2\x9b", "\xc2\x80"}) {
    EXPECT_FALSE(IsUtf8WithoutControls(bad)) << SafeText(bad);
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

// For a message escaped by its author: controls as EscapeControls, the
// backslash kept.
TEST(EscapeControlsTest, InAMessageABackslashStays) {
  EXPECT_EQ(EscapeControlsInMessage("env\\x20prod"), "env\\x20prod");
  EXPECT_EQ(EscapeControlsInMessage("a\nb\x1b[2K\xff\xe2\x80\xae"),
            "a\\x0ab\\x1b[2K\\xff\\xe2\\x80\\xae");
  EXPECT_EQ(EscapeControlsInMessage("abc\\x20def", 6), "abc\\x2...");
  EXPECT_EQ(EscapeControlsInMessage("abc", 3), "abc");
}

// Trojan Source (CVE-2021-42574): a recorded `rm -rf /` followed by RLO
// and reversed text must not read as something else; each byte of the
// override is shown.
TEST(EscapeControlsTest, EscapesBidiControlsAndInvisibleCharacters) {
  EXPECT_EQ(EscapeControls("rm -rf /\xe2\x80\xae"
                           "txt.eman"),
            "rm -rf /\\xe2\\x80\\xaetxt.eman");
  for (const NotGraphic& n : kNotGraphicText) {
    const std::string utf8 = n.cp == 0 ? std::string(1, '\0') : n.utf8;
    std::string want = "cat ";
    for (char c : utf8) {
      absl::StrAppend(
          &want, "\\x",
          absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
    EXPECT_EQ(EscapeControls("cat " + utf8), want) << n.what;
  }
  for (const char* text : kGraphicText) {
    EXPECT_EQ(EscapeControls(text), text);
  }
  // Bytes that are not UTF-8 are escaped one by one, and what follows
  // them is read afresh: an overlong '/', a cut sequence before text.
  EXPECT_EQ(EscapeControls("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(EscapeControls("\xe2\x80"
                           "a\xd0\x90"),
            "\\xe2\\x80a\xd0\x90");
  EXPECT_EQ(EscapeControls("\xed\xa0\x80"), "\\xed\\xa0\\x80");
}

// The columns a terminal gives text, for aligning tables: one per code
// point (not per byte), two for wide characters, none for a combining mark.
TEST(DisplayWidthTest, CountsColumnsNotBytes) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("web01"), 5u);
  EXPECT_EQ(DisplayWidth("\xc3\xbcn\xc3\xaf"
                         "c\xc3\xb8"
                         "d\xc3\xa9"),
            7u);  // ünïcødé
  EXPECT_EQ(DisplayWidth("\xd1\x81\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80"),
            6u);                                            // сервер
  EXPECT_EQ(DisplayWidth("\xe6\x9d\xb1\xe4\xba\xac"), 4u);  // 東京
  EXPECT_EQ(DisplayWidth("\xed\x95\x9c"), 2u);              // 한
  EXPECT_EQ(DisplayWidth("\xf0\x9f\x9a\x80"), 2u);          // 🚀
  EXPECT_EQ(DisplayWidth("e\xcc\x81"), 1u);  // e + COMBINING ACUTE ACCENT
  EXPECT_EQ(DisplayWidth("a\xff"
                         "b"),
            3u);  // a byte that is no UTF-8
}

TEST(PluralTest, TheSingularIsForExactlyOne) {
  EXPECT_EQ(Plural(1, "session"), "1 session");
  EXPECT_EQ(Plural(2, "session"), "2 sessions");
  EXPECT_EQ(Plural(0, "session"), "0 sessions");
  EXPECT_EQ(Plural(1, "entry", "entries"), "1 entry");
  EXPECT_EQ(Plural(3, "entry", "entries"), "3 entries");
  EXPECT_EQ(Plural(uint64_t{1} << 40, "byte"), "1099511627776 bytes");
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
  // Bidi overrides, zero-width and C1 characters are escaped too (found by
  // a red-team run: a request type "rtl<U+202E>exe.txt" was written raw
  // into the gateway's log, and reordered it in a terminal); letters of
  // any script stay.
  EXPECT_EQ(
      FormatEventLine(LogFormat::kText, t, "e", "success",
                      {{"kind", std::string("rtl\xe2\x80\xae"
                                            "exe zw\xe2\x80\x8b"
                                            "sp \xc2\x85 \xc3\xa9\xd7\x90 "
                                            "\xf3\xa0\x80\x81")}}),
      "2026-11-30T05:30:00.123456Z event=e outcome=success "
      "kind=\"rtl\\u202eexe zw\\u200bsp \\u0085 \xc3\xa9\xd7\x90 "
      "\\udb40\\udc01\"");
  // An event name from input cannot add a field either.
  EXPECT_EQ(FormatEventLine(LogFormat::kText, t, "a b\n", "success", {}),
            "2026-11-30T05:30:00.123456Z event=\"a b\\u000a\" outcome=success");
  EXPECT_EQ(ParseLogFormat("json").value(), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("text").value(), LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("JSON").ok());
}

// An audit payload as `spctl audit ls` prints it: the JSON escaper of the
// CA writes C1 controls (U+009B is CSI on VTE), bidirectional overrides
// and invisible characters as they are, and so did the table; now every
// code point that is not graphic is a \u escape, and the JSON's value is
// the same. Letters of every script stay.
TEST(EventLineTest, JsonForTerminalEscapesWhatIsNotGraphic) {
  EXPECT_EQ(JsonForTerminal("{\"user\":\"mallory\\u001b[8m\",\"n\":1}"),
            "{\"user\":\"mallory\\u001b[8m\",\"n\":1}");
  EXPECT_EQ(JsonForTerminal("{\"c\":\"rm -rf ~/\xe2\x80\xaetxt.seton\","
                            "\"csi\":\"\xc2\x9b"
                            "31m\",\"zw\":\"a\xe2\x80\x8b"
                            "b\",\"tag\":\"\xf3\xa0\x80\x81\"}"),
            "{\"c\":\"rm -rf ~/\\u202etxt.seton\",\"csi\":\"\\u009b31m\","
            "\"zw\":\"a\\u200bb\",\"tag\":\"\\udb40\\udc01\"}");
  // Raw controls and bytes that are not UTF-8 (an edited store), inside
  // strings and between tokens: escaped, or a space between tokens.
  EXPECT_EQ(
      JsonForTerminal(
          "{\"a\":\"x\x1b]52;c;y\x07\",\n\t\"b\":\"\x9d\xff\"\x1b}"),
      "{\"a\":\"x\\u001b]52;c;y\\u0007\",  \"b\":\"\\u009d\\u00ff\"\\u001b}");
  // Escapes stay as they are (an escaped quote does not end the string);
  // other scripts stay.
  const std::string kept =
      "{\"q\":\"a\\\"\x1b\\\\\",\"r\":\"\xd0\xbe\xd1\x82 \xe4\xb8\xad "
      "\xf0\x9f\x98\x80\"}";
  EXPECT_EQ(JsonForTerminal(kept),
            "{\"q\":\"a\\\"\\u001b\\\\\",\"r\":\"\xd0\xbe\xd1\x82 \xe4\xb8\xad "
            "\xf0\x9f\x98\x80\"}");
  for (const std::string& in :
       {std::string("{\"a\":\"\x1b\xe2\x80\xae\xc2\x9b\"}"), kept}) {
    const std::string out = JsonForTerminal(in);
    EXPECT_EQ(out.find('\x1b'), std::string::npos);
    EXPECT_EQ(out.find("\xe2\x80\xae"), std::string::npos);
    EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos);
  }
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

// The password file is still read from a pipe (`--password-file <(pass
// show x)`), and only its first line is the password.
TEST(ReadFirstLineTest, ReadsAFileOrAPipe) {
  const std::string file = ::testing::TempDir() + "/first-line";
  {
    std::ofstream out(file);
    out << "correct horse\r\nsecond line\n";
  }
  absl::StatusOr<std::string> line = ReadFirstLine(file);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "correct horse");
  const std::string fifo = ::testing::TempDir() + "/first-line-fifo";
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(fifo) << "from a pipe\n"; });
  line = ReadFirstLine(fifo);
  writer.join();
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "from a pipe");
  const std::string empty = ::testing::TempDir() + "/empty-first-line";
  std::ofstream(empty).flush();
  EXPECT_EQ(ReadFirstLine(empty).status().message(),
            empty + ": empty first line");
  const std::string latin1 = ::testing::TempDir() + "/latin1-first-line";
  std::ofstream(latin1) << "j\xf6rg\n";
  EXPECT_EQ(ReadFirstLine(latin1).status().message(),
            latin1 + ": the first line is not valid UTF-8");
  // Why a file cannot be read is said (an ifstream opened a directory and
  // read an "empty first line").
  const std::string dir = ::testing::TempDir();
  EXPECT_EQ(ReadFirstLine(dir).status().message(),
            "cannot read " + dir + ": Is a directory");
  EXPECT_EQ(ReadFirstLine(dir + "/no-such-file").status().message(),
            "cannot read " + dir + "/no-such-file: No such file or directory");
}

}  // namespace
}  // namespace sallyport::base
