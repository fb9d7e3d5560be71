#include "audit/terminal_text.h"

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

}  // namespace
}  // namespace sallyport::audit
