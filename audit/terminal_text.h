// Terminal bytes as plain text, for searching recordings (spctl sessions ls
// --grep): escape sequences (CSI, OSC, two-byte ESC x) and control
// characters other than newline and tab are dropped, a carriage return ends
// the line's text as a newline does, and backspace erases the character
// before it (as a line editor echoes it). An OSC ends where a terminal
// ends it: BEL, ESC \, CAN or SUB, or ESC followed by anything else (a new
// escape sequence); a control inside an escape sequence acts without
// ending it.
#ifndef SALLYPORT_AUDIT_TERMINAL_TEXT_H_
#define SALLYPORT_AUDIT_TERMINAL_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace sallyport::audit {

// Incremental: feed chunks in order; text() is the plain text so far. An
// escape sequence may be split across chunks. Memory is bounded by the
// text kept (the caller bounds what it feeds).
class TerminalText {
 public:
  void Feed(std::string_view bytes);
  const std::string& text() const { return text_; }

  // Forgets the first `n` bytes of the text (n <= text().size()). A
  // backspace or line break then acts on what is left as if it were all:
  // dropped up to a line break, nothing changes; dropped in mid-line, a
  // backspace cannot reach back past the cut.
  void Forget(size_t n);

 private:
  enum class State { kText, kEsc, kCsi, kOsc, kOscEsc };
  void Step(unsigned char c);
  // A C0 control as a terminal executes it (a line break, a backspace).
  void Control(unsigned char c);
  State state_ = State::kText;
  std::string text_;
};

// Searches terminal bytes for a text as they arrive, in bounded memory
// whatever their length (`spctl sessions ls --grep`: the CA searches
// recordings of any size). Finish() says whether `needle` occurs in the
// TerminalText of all that was fed, as searching that whole text would.
// Text before the last line break is final (a backspace does not erase a
// line break), so it is searched as it arrives and forgotten but for the
// needle's length; the current line is searched at the end. A line longer
// than kMaxLineBytes is treated as final but for its last kMaxLineBytes:
// only a backspace reaching back further than that (no line editor does)
// makes the result differ from searching the whole text.
class TextSearch {
 public:
  static constexpr size_t kMaxLineBytes = size_t{1} << 20;

  explicit TextSearch(std::string needle) : needle_(std::move(needle)) {}
  // True once the needle was found in final text (then it reads no
  // further).
  bool Feed(std::string_view bytes);
  // Whether the needle was found, the current line included. The end of
  // the stream: no Feed after it.
  bool Finish();
  // The text held: at most twice kMaxLineBytes and the needle's length,
  // and what the last Feed added.
  size_t held() const { return text_.text().size(); }

 private:
  // Searches text_ up to `end` from where the last search left off.
  bool Search(size_t end);

  const std::string needle_;
  TerminalText text_;
  size_t searched_ = 0;  // text_ before this was searched (and is final)
  bool found_ = false;
};

// Recorded terminal output made safe to replay on an auditor's terminal
// (spctl sessions play): everything passes, colours and cursor moves
// included, except the string controls a recorded program could use
// against the person replaying it: OSC (window titles, OSC 52 clipboard
// writes, hyperlinks), DCS (terminal queries, tmux passthrough), SOS, PM
// and APC, in their 7-bit (ESC ] ...) and UTF-8 C1 (0xC2 0x9D ...) forms,
// up to where a terminal ends them: their terminator (BEL, ESC \ or 0xC2
// 0x9C), CAN or SUB (which abort them), or ESC followed by anything else
// (which ends them and starts an escape sequence). As the DEC parser of
// xterm and VTE does, a C0 control inside an escape sequence (ESC NUL ])
// is executed without leaving it: it passes, and the escape goes on. A
// byte 0x80..0x9F that is not part of a valid UTF-8 sequence (a C1
// control on a terminal that reads 8-bit controls, 0x9D opening an OSC)
// is dropped. Also dropped: the control sequences (CSI, ESC [ or UTF-8
// 0xC2 0x9B) that make the terminal answer, because its answer arrives
// as typed input on the auditor's terminal: device status and cursor
// position reports (CSI 6 n), device attributes (CSI c, CSI > c),
// DECREQTPARM (CSI x), mode reports (CSI ? 1 $ p), XTVERSION (CSI > q),
// key and graphics queries (CSI ? u, CSI ? m, CSI ? S), and every window
// operation but a resize (CSI 21 t reports the title; CSI 8;R;C t
// passes). A CSI longer than kMaxCsiBytes is dropped whole. Incremental: a
// sequence may be split across chunks; the state is a few bytes and at
// most one held CSI.
class ReplayFilter {
 public:
  static constexpr size_t kMaxCsiBytes = 64;

  // The bytes of `chunk` to write to the terminal.
  std::string Feed(std::string_view chunk);

 private:
  enum class State { kText, kEsc, kString, kStringEsc, kStringC2, kCsi };
  void Step(unsigned char c, std::string* out);
  // A byte inside a CSI (state kCsi).
  void Csi(unsigned char c, std::string* out);
  // A byte in kText (also one that ended an escape or a UTF-8 sequence).
  void Text(unsigned char c, std::string* out);
  State state_ = State::kText;
  bool bel_ends_ = false;  // an OSC: BEL ends it too
  // The UTF-8 sequence begun in kText, held until it is complete (a C1
  // control as UTF-8 may open a string) or broken: its bytes so far, how
  // many more it needs and the range of the next one.
  std::string utf8_;
  int utf8_left_ = 0;
  unsigned char next_lo_ = 0x80, next_hi_ = 0xBF;
  // The CSI held until its final byte says whether it passes: its
  // introducer and its parameter and intermediate bytes.
  std::string csi_;
  bool csi_too_long_ = false;
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_TERMINAL_TEXT_H_
