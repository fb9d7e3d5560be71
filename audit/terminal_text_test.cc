#include "audit/terminal_text.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

TEST(TerminalTextTest, DropsEscapesAndControls) {
  TerminalText t;
  t.Feed("\x1b[01;32mroot@h\x1b[0m:~# ech");
  t.Feed("o hi\x1b]0;title\x07\r\n\x1b(Bdone\t!");
  EXPECT_EQ(t.text(), "root@h:~# echo hi\ndone\t!");
}

TEST(TerminalTextTest, EscapeSplitAcrossChunksAndBackspace) {
  TerminalText t;
  t.Feed("ab\x1b[");
  t.Feed("1");
  t.Feed(
      "mcx\x08"
      "d\x1b]2;t\x1b");
  t.Feed("\\e");
  EXPECT_EQ(t.text(), "abcde");
}

// Replay keeps colours, cursor moves and text in any language, and drops
// the string controls a recorded program could aim at the auditor: OSC 52
// (clipboard), window titles, DCS (terminal queries, tmux passthrough),
// in 7-bit and C1 forms, split across records or not.
TEST(ReplayFilterTest, DropsStringControlsOnly) {
  const std::string kept =
      "\x1b[2J\x1b[1;31mred\x1b[0m \xc3\xa9\xc2\xa1 \x1b(B\x1b"
      "7x\x1b[8;24;80t";
  ReplayFilter f;
  EXPECT_EQ(f.Feed(kept), kept);
  const std::string hostile =
      "a\x1b]52;c;cm0gLXJmIH4K\x07"
      "b\x1b]0;FAKE TITLE\x1b\\c"
      "\x1bP+q544e\x1b\\d\xc2\x9d"
      "0;t\xc2\x9c"
      "e\x1b_apc\x1b\\f\x1b^pm\x07still\x1b\\g";
  ReplayFilter g;
  EXPECT_EQ(g.Feed(hostile), "abcdefg");
  // Byte by byte: the same.
  ReplayFilter h;
  std::string out;
  for (char c : hostile) out += h.Feed(std::string_view(&c, 1));
  EXPECT_EQ(out, "abcdefg");
}

// Found by a red-team run: a recorded program's queries reached the
// auditor's terminal on replay (BEFORE^[[6n^[[21tAFTER), and the
// terminal's answers (the cursor position, the window title, which the
// program may have set) arrived as typed input. The sequences that make a
// terminal answer are dropped, 7-bit or UTF-8 C1, whole or split; the
// others pass, colours, cursor moves and a resize included.
TEST(ReplayFilterTest, DropsSequencesTheTerminalWouldAnswer) {
  const std::string kept =
      "\x1b[1;31m\x1b[0m\x1b[H\x1b[2J\x1b[?25l\x1b[?1049h\x1b[2 q"
      "\x1b[8;24;80t\x1b[5A\x1b[?2004h\x1b[4m\x1b[>4;1m\xc2\x9b"
      "1m";
  const std::string hostile =
      "a\x1b[6nb\x1b[5nc\x1b[?6nd\x1b[ce\x1b[0cf\x1b[>cg\x1b[=ch"
      "\x1b[xi\x1b[21tj\x1b[14tk\x1b[18tl\x1b[2tm\x1b[?1$pn\x1b[2$po"
      "\x1b[>qp\x1b[?uq\x1b[?4mr\x1b[?1;1Ss\xc2\x9b"
      "6nt";
  for (bool bytewise : {false, true}) {
    ReplayFilter f;
    std::string out;
    const std::string in = kept + hostile;
    if (bytewise) {
      for (char c : in) out += f.Feed(std::string_view(&c, 1));
    } else {
      out = f.Feed(in);
    }
    EXPECT_EQ(out, kept + "abcdefghijklmnopqrst") << bytewise;
  }
  // Controls inside a CSI are executed and it goes on; CAN aborts it; a
  // CSI longer than kMaxCsiBytes is dropped whole, so padding cannot
  // carry a query past the check; ESC in one starts another escape.
  ReplayFilter g;
  EXPECT_EQ(g.Feed("\x1b[\r6nx\x1b[6\x18ny\x1b[" +
                   std::string(ReplayFilter::kMaxCsiBytes + 10, '0') +
                   "1mz\x1b[6\x1b[1mw"),
            "\rxnyz\x1b[1mw");
}

// A terminal (the DEC parser of xterm and VTE) executes a C0 control met
// inside an escape sequence and stays in it, so ESC NUL ] opened an OSC on
// the auditor's terminal while the filter, taking the NUL for the end of
// the escape, passed the OSC 52 clipboard write, a title and a DCS query.
// A C1 introducer as a lone byte (not UTF-8) opens one on a terminal that
// reads 8-bit controls.
TEST(ReplayFilterTest, ControlsInsideAnEscapeDoNotLetAStringControlThrough) {
  const std::string hostile =
      std::string("a\x1b\0]52;c;ZWNobyBQV05FRA==\x07", 26) +
      "b\x1b\x08]0;FAKE TITLE\x07"
      "c\x1b\x07P+q544e\x1b\\"
      "d\x1b\x7f]2;t\x07"
      "e";
  // The controls reach the terminal (it would have executed them); the
  // strings do not.
  const std::string want(
      "a\0b\x08"
      "c\x07"
      "d\x7f"
      "e",
      9);
  ReplayFilter f;
  EXPECT_EQ(f.Feed(hostile), want);
  ReplayFilter g;
  std::string pieces;
  for (char c : hostile) pieces += g.Feed(std::string_view(&c, 1));
  EXPECT_EQ(pieces, want);
  // Nor does an ESC left beside an opener by what is dropped after it (a
  // second ESC, a lone C1 byte, a C1 string).
  ReplayFilter k;
  EXPECT_EQ(k.Feed("\x1b\x1b]0;t\x07"
                   "a\x1b\x9d]0;t\x07"
                   "b\x1b\xc2\x9dx\x07]2;t"),
            "a]0;t\x07"
            "b]2;t");
}

// A C1 introducer as a lone byte (not part of UTF-8) opens an OSC, DCS,
// SOS, PM or APC on a terminal that reads 8-bit controls: such bytes
// (0x80..0x9F) are dropped; UTF-8 whose bytes include them passes whole.
TEST(ReplayFilterTest, LoneC1BytesAreDropped) {
  const std::string hostile =
      "e\x9d"
      "0;t\x07"
      "f\x90+q\x1b\\"
      "g\x98"
      "s\x9c"
      "h\x9e"
      "p\x07"
      "i\x9f"
      "a\x07"
      "j\x9b"
      "31mk";
  const std::string want =
      "e0;t\x07"
      "f+q\x1b\\"
      "gs"
      "hp\x07"
      "ia\x07"
      "j31mk";
  ReplayFilter f;
  EXPECT_EQ(f.Feed(hostile), want);
  ReplayFilter g;
  std::string pieces;
  for (char c : hostile) pieces += g.Feed(std::string_view(&c, 1));
  EXPECT_EQ(pieces, want);
  // "❝" (U+275D: e2 9d 9d), "€" (e2 82 ac), U+10000 (f0 90 80 80), and the
  // C1 CSI written as UTF-8 (c2 9b, as ESC [ passes).
  const std::string text =
      "\xe2\x9d\x9d \xe2\x82\xac \xf0\x90\x80\x80 \xc2\x9b"
      "31m";
  ReplayFilter h;
  EXPECT_EQ(h.Feed(text), text);
  ReplayFilter h2;
  std::string text_pieces;
  for (char c : text) text_pieces += h2.Feed(std::string_view(&c, 1));
  EXPECT_EQ(text_pieces, text);
  // Cut short by a byte that is no continuation: the 0x9D does not pass;
  // nor after a lead that does not take it (e0 needs a0..bf).
  ReplayFilter k;
  EXPECT_EQ(k.Feed("\xe2\x9d"
                   "0;x \xe0\x9d"
                   "y"),
            "\xe2"
            "0;x \xe0"
            "y");
}

// On a terminal CAN or SUB abort an OSC or DCS, and ESC followed by
// anything but '\' ends it (and starts an escape): one `printf '\e]\x18'`
// recorded hid the rest of the session from `play` until a BEL or ST came.
TEST(ReplayFilterTest, AStringControlEndsWhereTheTerminalEndsIt) {
  ReplayFilter f;
  EXPECT_EQ(f.Feed("a\x1b]\x18vis"), "avis");
  ReplayFilter g;
  EXPECT_EQ(g.Feed("\x1bP1\x1a"
                   "vis"),
            "vis");
  ReplayFilter h;
  EXPECT_EQ(h.Feed("\x1b]0;t\x1b[31mred"), "\x1b[31mred");
  // The ESC that ends one string may open the next: it is dropped too.
  ReplayFilter k;
  EXPECT_EQ(k.Feed("\x1b]0;t\x1b]52;c;x\x07ok"), "ok");
  // Inside a string, a UTF-8 lead byte followed by ESC: the ESC counts.
  ReplayFilter m;
  EXPECT_EQ(m.Feed("\x1b]0;t\xc2\x1b[1mbold"), "\x1b[1mbold");
  // Split across chunks: the same.
  ReplayFilter n;
  std::string out = n.Feed("\x1b]0;t\x1b");
  out += n.Feed("[31mred");
  EXPECT_EQ(out, "\x1b[31mred");
}

// The text `sessions ls --grep` searches ends an OSC where a terminal does
// (CAN, SUB, ESC + anything but '\'): what was printed after it is found.
TEST(TerminalTextTest, AStringControlEndsWhereTheTerminalEndsIt) {
  TerminalText t;
  t.Feed("a\x1b]\x18vis\n");
  t.Feed("\x1b]0;t\x1b[31mred\n");
  t.Feed(
      "\x1b]0;t\x1a"
      "sub\n");
  t.Feed(
      "\x1b\x08]0;hidden\x07"
      "after");
  EXPECT_EQ(t.text(), "avis\nred\nsub\nafter");
}

// TextSearch finds what a search of the whole TerminalText finds: across
// records, escape sequences and line breaks, after a backspace edit, and
// not what a backspace erased before the line was done.
TEST(TextSearchTest, FindsWhatTheWholeTextHolds) {
  auto search = [](std::string needle, std::vector<std::string> chunks) {
    TextSearch s(std::move(needle));
    for (const std::string& c : chunks) s.Feed(c);
    return s.Finish();
  };
  EXPECT_TRUE(search("echo needle", {"# ec", "\x1b[1mho", " nee", "dle\r\n"}));
  EXPECT_TRUE(search("one\ntwo", {"one\r", "\ntw", "o\r\n"}));
  EXPECT_TRUE(search("rm -rf /", {"rm -rx", "\x08", "f /"}));
  EXPECT_FALSE(search("rm -rx", {"rm -rx", "\x08", "f /\r\n"}));
  // Found only at the end, in the line not yet ended.
  EXPECT_TRUE(search("tail", {"x\r\nta", "il"}));
  EXPECT_FALSE(search("absent", {"a\r\nb\r\n"}));
}

// The text held stays bounded however much is fed: the current line and
// the needle's length before it, and a line without end keeps only its
// last kMaxLineBytes (held up to twice that before it is moved). A match
// straddling what was forgotten is still found.
TEST(TextSearchTest, HoldsBoundedTextAndFindsPastIt) {
  TextSearch lines("needle at the end");
  const std::string line(1000, 'x');
  for (int i = 0; i < 10000; ++i) {  // 10 MB of lines
    EXPECT_FALSE(lines.Feed(line + "\r\n"));
    // The needle's length but one: no line is left open.
    ASSERT_LE(lines.held(), 16u) << i;
  }
  EXPECT_FALSE(lines.Feed("the needle at "));
  EXPECT_TRUE(lines.Feed("the end\r\n"));
  EXPECT_TRUE(lines.Finish());

  TextSearch one_line("needle");
  const std::string chunk(64 << 10, 'y');
  for (int i = 0; i < 160; ++i) {  // 10 MiB without a line break
    EXPECT_FALSE(one_line.Feed(chunk));
    ASSERT_LE(one_line.held(), 2 * (TextSearch::kMaxLineBytes + 5)) << i;
  }
  EXPECT_FALSE(one_line.Feed("nee"));
  EXPECT_FALSE(one_line.Feed("dle"));  // in the line not yet ended
  EXPECT_TRUE(one_line.Finish());
  TextSearch never("needle");
  for (int i = 0; i < 160; ++i) never.Feed(chunk);
  EXPECT_FALSE(never.Finish());
}

}  // namespace
}  // namespace sallyport::audit
