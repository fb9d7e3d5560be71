#include "audit/terminal_text.h"

namespace sallyport::audit {

void TerminalText::Feed(std::string_view bytes) {
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (state_) {
      case State::kText:
        if (c == 0x1b) {
          state_ = State::kEsc;
        } else if (c == '\r' || c == '\n') {
          if (!text_.empty() && text_.back() != '\n') text_.push_back('\n');
        } else if (c == 0x08 || c == 0x7f) {
          if (!text_.empty() && text_.back() != '\n') text_.pop_back();
        } else if (c == '\t' || c >= 0x20) {
          text_.push_back(ch);
        }
        break;
      case State::kEsc:
        if (c == '[') {
          state_ = State::kCsi;
        } else if (c == ']') {
          state_ = State::kOsc;
        } else if (c >= 0x20 && c <= 0x2f) {
          // ESC ( B and friends: an intermediate byte, then the final one.
        } else {
          state_ = State::kText;
        }
        break;
      case State::kCsi:
        if (c >= 0x40 && c <= 0x7e) state_ = State::kText;
        break;
      case State::kOsc:
        if (c == 0x07) {
          state_ = State::kText;
        } else if (c == 0x1b) {
          state_ = State::kOscEsc;
        }
        break;
      case State::kOscEsc:
        state_ = c == '\\' ? State::kText : State::kOsc;
        break;
    }
  }
}

}  // namespace sallyport::audit
