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

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_TERMINAL_TEXT_H_
