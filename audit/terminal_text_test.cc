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

}  // namespace
}  // namespace sallyport::audit
