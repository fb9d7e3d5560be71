#include "audit/terminal_text.h"

#include <algorithm>

namespace sallyport::audit {
namespace {

constexpr unsigned char kBel = 0x07, kCan = 0x18, kSub = 0x1a, kEsc = 0x1b,
                        kDel = 0x7f;

// A C0 control (or DEL) that a terminal executes inside an escape
// sequence without leaving it: all of them but CAN and SUB (which abort
// the sequence) and ESC (which starts a new one). DEL is ignored there.
bool ActsInsideEscape(unsigned char c) {
  return (c < 0x20 && c != kCan && c != kSub && c != kEsc) || c == kDel;
}

// A CSI whose final byte `final` (and parameters `params`: the bytes
// between the introducer and it) asks the terminal for an answer, or is a
// window operation other than a resize.
bool AsksTheTerminal(std::string_view params, unsigned char final) {
  const auto has = [&](char c) {
    return params.find(c) != std::string_view::npos;
  };
  const bool private_query = !params.empty() && params[0] == '?';
  switch (final) {
    case 'n':  // DSR, DECDSR: status and cursor position reports
    case 'c':  // DA1, DA2, DA3
    case 'x':  // DECREQTPARM
      return true;
    case 't':  // window operations; 8;ROWS;COLS resizes
      return !(params.size() > 2 && params.substr(0, 2) == "8;");
    case 'p':  // DECRQM (with '$')
      return has('$');
    case 'q':  // XTVERSION (CSI > q); CSI SP q sets the cursor style
      return !params.empty() && params[0] == '>';
    case 'u':  // kitty keyboard flags query
    case 'm':  // XTQMODKEYS (CSI ? m); plain CSI m is SGR
    case 'S':  // XTSMGRAPHICS
      return private_query;
    default:
      return false;
  }
}

}  // namespace

void TerminalText::Control(unsigned char c) {
  if (c == '\r' || c == '\n') {
    if (!text_.empty() && text_.back() != '\n') text_.push_back('\n');
  } else if (c == 0x08 || c == kDel) {
    if (!text_.empty() && text_.back() != '\n') text_.pop_back();
  } else if (c == '\t') {
    text_.push_back('\t');
  }
}

void TerminalText::Step(unsigned char c) {
  switch (state_) {
    case State::kText:
      if (c == kEsc) {
        state_ = State::kEsc;
      } else if (c < 0x20 || c == kDel) {
        Control(c);
      } else {
        text_.push_back(static_cast<char>(c));
      }
      break;
    case State::kEsc:
      if (c == '[') {
        state_ = State::kCsi;
      } else if (c == ']') {
        state_ = State::kOsc;
      } else if (c >= 0x20 && c <= 0x2f) {
        // ESC ( B and friends: an intermediate byte, then the final one.
      } else if (ActsInsideEscape(c)) {
        if (c != kDel) Control(c);
      } else if (c != kEsc) {
        state_ = State::kText;
      }
      break;
    case State::kCsi:
      if (c == kEsc) {
        state_ = State::kEsc;
      } else if (c == kCan || c == kSub || (c >= 0x40 && c <= 0x7e)) {
        state_ = State::kText;
      }
      break;
    case State::kOsc:
      if (c == kBel || c == kCan || c == kSub) {
        state_ = State::kText;
      } else if (c == kEsc) {
        state_ = State::kOscEsc;
      }
      break;
    case State::kOscEsc:
      // ESC \ ends it; ESC and anything else ends it too and is an escape
      // sequence of its own.
      state_ = State::kEsc;
      if (c == '\\') {
        state_ = State::kText;
      } else {
        Step(c);
      }
      break;
  }
}

void TerminalText::Feed(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    if (state_ == State::kText) {
      // A run of text is kept as it is, at once.
      size_t end = i;
      while (end < bytes.size()) {
        const auto c = static_cast<unsigned char>(bytes[end]);
        if (c < 0x20 || c == kDel) break;
        ++end;
      }
      text_.append(bytes.data() + i, end - i);
      i = end;
      if (i == bytes.size()) break;
    }
    Step(static_cast<unsigned char>(bytes[i++]));
  }
}

void TerminalText::Forget(size_t n) { text_.erase(0, n); }

bool TextSearch::Search(size_t end) {
  const size_t overlap = needle_.empty() ? 0 : needle_.size() - 1;
  const size_t from = searched_ > overlap ? searched_ - overlap : 0;
  searched_ = end;
  if (std::string_view(text_.text()).substr(0, end).find(needle_, from) ==
      std::string_view::npos) {
    return false;
  }
  found_ = true;
  text_ = TerminalText();
  return true;
}

bool TextSearch::Feed(std::string_view bytes) {
  if (found_) return true;
  text_.Feed(bytes);
  const std::string& t = text_.text();
  const size_t line = t.rfind('\n');
  size_t final_end = line == std::string::npos ? 0 : line + 1;
  if (t.size() - final_end > kMaxLineBytes)
    final_end = t.size() - kMaxLineBytes;
  // Never less than was searched (a backspace into text cut off at
  // kMaxLineBytes could shorten it).
  final_end = std::max(final_end, std::min(searched_, t.size()));
  if (Search(final_end)) return true;
  // A later match starts at most the needle's length before the end of
  // the final text. Forgotten once it is half of what is held, so each
  // byte is moved a bounded number of times.
  const size_t overlap = needle_.empty() ? 0 : needle_.size() - 1;
  if (final_end > overlap && final_end - overlap >= t.size() / 2) {
    text_.Forget(final_end - overlap);
    searched_ = overlap;
  }
  return false;
}

bool TextSearch::Finish() { return found_ || Search(text_.text().size()); }

void ReplayFilter::Text(unsigned char c, std::string* out) {
  state_ = State::kText;
  if (utf8_left_ > 0) {
    if (c >= next_lo_ && c <= next_hi_) {
      utf8_.push_back(static_cast<char>(c));
      next_lo_ = 0x80;
      next_hi_ = 0xBF;
      if (--utf8_left_ > 0) return;
      const auto second = static_cast<unsigned char>(utf8_[1]);
      // The string controls as UTF-8 C1 (0xC2 + this byte), and CSI.
      const bool c1 =
          utf8_.size() == 2 && static_cast<unsigned char>(utf8_[0]) == 0xC2;
      if (c1 && (second == 0x9D || second == 0x90 || second == 0x98 ||
                 second == 0x9E || second == 0x9F)) {
        state_ = State::kString;
        bel_ends_ = second == 0x9D;
      } else if (c1 && second == 0x9B) {
        state_ = State::kCsi;
        csi_ = utf8_;
        csi_too_long_ = false;
      } else {
        out->append(utf8_);
      }
      utf8_.clear();
      return;
    }
    // Cut short: what came of it passes but its 0x80..0x9F bytes, and `c`
    // starts afresh.
    for (char b : utf8_) {
      const auto u = static_cast<unsigned char>(b);
      if (u < 0x80 || u > 0x9F) out->push_back(b);
    }
    utf8_.clear();
    utf8_left_ = 0;
    next_lo_ = 0x80;
    next_hi_ = 0xBF;
  }
  if (c == kEsc) {
    state_ = State::kEsc;
    return;
  }
  if (c >= 0x80 && c <= 0x9F) return;  // a C1 control outside UTF-8
  // A lead byte: how many continuation bytes follow, and the range of the
  // first (RFC 3629 §4: no overlong forms, surrogates or > U+10FFFF).
  int left = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    left = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    left = 2;
    if (c == 0xE0) next_lo_ = 0xA0;
    if (c == 0xED) next_hi_ = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    left = 3;
    if (c == 0xF0) next_lo_ = 0x90;
    if (c == 0xF4) next_hi_ = 0x8F;
  }
  if (left == 0) {
    out->push_back(static_cast<char>(c));
    return;
  }
  utf8_.assign(1, static_cast<char>(c));
  utf8_left_ = left;
}

void ReplayFilter::Step(unsigned char c, std::string* out) {
  // The string controls: OSC, DCS, SOS, PM, APC as ESC + this byte.
  const auto opens_esc = [](unsigned char b) {
    return b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_';
  };
  switch (state_) {
    case State::kText:
      Text(c, out);
      break;
    case State::kEsc:
      // The ESC is held until the byte after it (and the controls a
      // terminal executes in between) says what it starts.
      if (opens_esc(c)) {
        state_ = State::kString;
        bel_ends_ = c == ']';
      } else if (c == '[') {
        state_ = State::kCsi;
        csi_ = "\x1b[";
        csi_too_long_ = false;
      } else if (ActsInsideEscape(c)) {
        out->push_back(static_cast<char>(c));
      } else if (c >= 0x20 && c < 0x7f) {
        out->push_back(static_cast<char>(kEsc));
        Text(c, out);
      } else if (c != kEsc) {
        // CAN or SUB abort it; a byte that is not ASCII would leave the
        // ESC next to whatever passes after it (a dropped C1 byte, a held
        // UTF-8 sequence). ESC ESC: the first one is dropped, as a
        // terminal drops it.
        Text(c, out);
      }
      break;
    case State::kString:
      if ((c == kBel && bel_ends_) || c == kCan || c == kSub) {
        state_ = State::kText;
      } else if (c == kEsc) {
        state_ = State::kStringEsc;
      } else if (c == 0xC2) {
        state_ = State::kStringC2;
      }
      break;
    case State::kStringEsc:
      // ESC \ ends it; ESC and anything else ends it too and starts an
      // escape sequence (which may open another string).
      if (c == '\\') {
        state_ = State::kText;
      } else {
        state_ = State::kEsc;
        Step(c, out);
      }
      break;
    case State::kStringC2:
      if (c == 0x9C) {
        state_ = State::kText;
      } else {
        state_ = State::kString;
        Step(c, out);  // an ESC or CAN after the 0xC2 still counts
      }
      break;
    case State::kCsi:
      Csi(c, out);
      break;
  }
}

void ReplayFilter::Csi(unsigned char c, std::string* out) {
  if (ActsInsideEscape(c)) {
    out->push_back(static_cast<char>(c));  // executed; the CSI goes on
    return;
  }
  if (c >= 0x20 && c <= 0x3F) {  // parameter and intermediate bytes
    if (csi_.size() < kMaxCsiBytes) {
      csi_.push_back(static_cast<char>(c));
    } else {
      csi_too_long_ = true;  // dropped whole at its final byte
    }
    return;
  }
  const std::string held = std::move(csi_);
  csi_.clear();
  state_ = State::kText;
  if (c >= 0x40 && c <= 0x7E) {  // the final byte
    // After its introducer: ESC [ or 0xC2 0x9B, two bytes either way.
    if (!csi_too_long_ &&
        !AsksTheTerminal(std::string_view(held).substr(2), c)) {
      out->append(held);
      out->push_back(static_cast<char>(c));
    }
    return;
  }
  // CAN and SUB abort it, ESC starts another escape, a byte that is not
  // ASCII ends it: the CSI is dropped and the byte is taken as text.
  if (c == kCan || c == kSub) return;
  Text(c, out);
}

std::string ReplayFilter::Feed(std::string_view chunk) {
  std::string out;
  out.reserve(chunk.size());
  for (char ch : chunk) Step(static_cast<unsigned char>(ch), &out);
  return out;
}

}  // namespace sallyport::audit
