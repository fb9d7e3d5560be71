// Terminal bytes as plain text, for searching recordings (spctl sessions ls
// --grep): escape sequences (CSI, OSC, two-byte ESC x) and control
// characters other than newline and tab are dropped, a carriage return ends
// the line's text as a newline does, and backspace erases the character
// before it (as a line editor echoes it).
#ifndef SALLYPORT_AUDIT_TERMINAL_TEXT_H_
#define SALLYPORT_AUDIT_TERMINAL_TEXT_H_

#include <string>
#include <string_view>

namespace sallyport::audit {

// Incremental: feed chunks in order; text() is the plain text so far. An
// escape sequence may be split across chunks. Memory is bounded by the
// text kept (the caller bounds what it feeds).
class TerminalText {
 public:
  void Feed(std::string_view bytes);
  const std::string& text() const { return text_; }

 private:
  enum class State { kText, kEsc, kCsi, kOsc, kOscEsc };
  State state_ = State::kText;
  std::string text_;
};

// Recorded terminal output made safe to replay on an auditor's terminal
// (spctl sessions play): everything passes, colours and cursor moves
// included, except the string controls a recorded program could use
// against the person replaying it: OSC (window titles, OSC 52 clipboard
// writes, hyperlinks), DCS (terminal queries, tmux passthrough), SOS, PM
// and APC, in their 7-bit (ESC ] ...) and UTF-8 C1 (0xC2 0x9D ...) forms,
// up to their terminator (BEL, ESC \ or 0xC2 0x9C). Incremental: a
// sequence may be split across chunks; the state is a few bytes.
class ReplayFilter {
 public:
  // The bytes of `chunk` to write to the terminal.
  std::string Feed(std::string_view chunk);

 private:
  enum class State { kText, kEsc, kC2, kString, kStringEsc, kStringC2 };
  State state_ = State::kText;
  bool bel_ends_ = false;  // an OSC: BEL ends it too
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_TERMINAL_TEXT_H_
