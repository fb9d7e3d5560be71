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

std::string ReplayFilter::Feed(std::string_view chunk) {
  std::string out;
  out.reserve(chunk.size());
  // The string controls: OSC, DCS, SOS, PM, APC as ESC + this byte, and
  // as C1 (0xC2 + this byte).
  const auto opens_esc = [](unsigned char c) {
    return c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_';
  };
  const auto opens_c1 = [](unsigned char c) {
    return c == 0x9D || c == 0x90 || c == 0x98 || c == 0x9E || c == 0x9F;
  };
  // A byte of text: ESC and 0xC2 are held until the next byte says what
  // they start.
  const auto text = [&](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0x1b) {
      state_ = State::kEsc;
    } else if (c == 0xC2) {
      state_ = State::kC2;
    } else {
      state_ = State::kText;
      out.push_back(ch);
    }
  };
  for (char ch : chunk) {
    const auto c = static_cast<unsigned char>(ch);
    switch (state_) {
      case State::kText:
        text(ch);
        break;
      case State::kEsc:
        if (opens_esc(c)) {
          state_ = State::kString;
          bel_ends_ = c == ']';
        } else {
          out.push_back('\x1b');
          text(ch);
        }
        break;
      case State::kC2:
        if (opens_c1(c)) {
          state_ = State::kString;
          bel_ends_ = c == 0x9D;
        } else {
          out.push_back('\xC2');
          text(ch);
        }
        break;
      case State::kString:
        if (c == 0x07 && bel_ends_) {
          state_ = State::kText;
        } else if (c == 0x1b) {
          state_ = State::kStringEsc;
        } else if (c == 0xC2) {
          state_ = State::kStringC2;
        }
        break;
      case State::kStringEsc:
        // ESC \ ends it; any other ESC inside is dropped with it.
        state_ = c == '\\' ? State::kText : State::kString;
        break;
      case State::kStringC2:
        state_ = c == 0x9C ? State::kText : State::kString;
        break;
    }
  }
  return out;
}

}  // namespace sallyport::audit
