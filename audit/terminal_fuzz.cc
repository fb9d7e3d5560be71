// Fuzz target: the readers of stored terminal bytes, TerminalText
// (`spctl sessions ls --grep`, run by the CA over any recording),
// ReplayFilter (`spctl sessions play`) and AsciicastWriter (`spctl
// sessions export --format asciicast`). The first
// byte sets the chunk size the rest is fed in (records split a stream
// anywhere).
// TerminalText: the text holds no escape or control character but newline
// and tab, no empty line, is never longer than the input, and is the same
// whether the input came in one piece or in chunks. TextSearch (the CA's
// grep) finds in chunks what the whole text holds.
// AsciicastWriter: every event line is "[seconds, code, string]\n" with
// nothing unescaped below 0x20 and valid UTF-8; for input that is valid
// UTF-8, the strings decoded and joined are the input, whatever the chunks.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "audit/asciicast.h"
#include "audit/fuzz_input.h"
#include "audit/terminal_text.h"
#include "base/safe_text.h"

namespace sallyport::audit {
namespace {

using fuzz::Require;

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The string in an event line "[t, "code", "data"]\n" (the shared escaper
// writes \" \\ and \u00XX, nothing else).
// The CSI whose parameters start at `at` in the replay (controls a
// terminal executes inside it skipped, as it skips them) does not end in
// a final byte that makes the terminal answer: DSR (n), DA (c),
// DECREQTPARM (x).
void RequireNoQuery(std::string_view replay, size_t at) {
  size_t j = at;
  while (j < replay.size()) {
    const auto e = static_cast<unsigned char>(replay[j]);
    const bool inside = (e < 0x20 && e != 0x18 && e != 0x1a && e != 0x1b) ||
                        e == 0x7f || (e >= 0x20 && e <= 0x3F);
    if (!inside) break;
    ++j;
  }
  if (j == replay.size()) return;
  const char f = replay[j];
  Require(!(f == 'n' || f == 'c' || f == 'x'),
          "a terminal query (CSI n, c or x) in the replay");
}

// The 4 hex digits at `at` of `s`, as a number.
char32_t Hex4(std::string_view s, size_t at) {
  Require(at + 4 <= s.size(), "a cut \\u escape in an event line");
  char32_t v = 0;
  for (size_t k = at; k < at + 4; ++k) {
    const int h = Hex(s[k]);
    Require(h >= 0, "a \\u escape that is not hex in an event line");
    v = v * 16 + static_cast<char32_t>(h);
  }
  return v;
}

void AppendUtf8(std::string* out, char32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EventData(std::string_view line, std::string_view code) {
  Require(line.size() > 3 && line.front() == '[' &&
              line.substr(line.size() - 3) == "\"]\n",
          "an event line is not [..., \"...\"]");
  const std::string code_field = ", \"" + std::string(code) + "\", \"";
  const size_t at = line.find(code_field);
  Require(at != std::string_view::npos, "an event line without its code");
  std::string_view s = line.substr(at + code_field.size());
  s.remove_suffix(3);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    Require(c >= 0x20, "a raw control character in an event line");
    Require(c != '"', "an unescaped quote in an event line");
    if (c != '\\') {
      out.push_back(s[i]);
      continue;
    }
    Require(i + 1 < s.size(), "a dangling escape");
    const char e = s[++i];
    if (e == '"' || e == '\\') {
      out.push_back(e);
      continue;
    }
    // \uXXXX: controls, and the characters that are not graphic (bidi
    // controls, invisible ones; above U+FFFF as a surrogate pair).
    Require(e == 'u', "an unknown escape in an event line");
    char32_t cp = Hex4(s, i + 1);
    i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      Require(i + 6 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u',
              "a lone high surrogate in an event line");
      const char32_t low = Hex4(s, i + 3);
      Require(low >= 0xDC00 && low <= 0xDFFF,
              "a high surrogate without its low one in an event line");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      i += 6;
    }
    Require(cp < 0xD800 || cp > 0xDFFF, "a lone surrogate in an event line");
    AppendUtf8(&out, cp);
  }
  return out;
}

// The first byte sets the chunk size and the event code; the rest is the
// terminal's bytes.
void FuzzOne(uint8_t first, fuzz::ByteReader& in) {
  const size_t chunk = 1 + first % 17;
  const std::string_view input = in.Rest();

  TerminalText whole, pieces;
  whole.Feed(input);
  for (size_t i = 0; i < input.size(); i += chunk) {
    pieces.Feed(input.substr(i, chunk));
  }
  const std::string& text = whole.text();
  Require(text == pieces.text(), "chunks changed the terminal text");
  Require(text.size() <= input.size(), "the text grew past its input");
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    Require(c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f),
            "a control character in the terminal text");
    Require(c != '\n' || (i > 0 && text[i - 1] != '\n'),
            "an empty line in the terminal text");
  }

  // TextSearch: fed in chunks, it finds exactly what the whole text holds
  // (the inputs are shorter than its kMaxLineBytes).
  auto search = [&](const std::string& needle) {
    TextSearch s(needle);
    for (size_t i = 0; i < input.size(); i += chunk) {
      if (s.Feed(input.substr(i, chunk))) break;
    }
    return s.Finish();
  };
  if (!text.empty()) {
    const size_t at = (first * 31u) % text.size();
    Require(search(text.substr(at, 1 + first % 9)),
            "TextSearch missed a piece of the text");
  }
  for (const char* needle : {"ab", "a\nb", "\t\n", "zz"}) {
    Require(search(needle) == (text.find(needle) != std::string::npos),
            "TextSearch differs from a search of the whole text");
  }

  // ReplayFilter: the same output in one piece or in chunks; no string
  // control opens in it (ESC, then any controls a terminal executes inside
  // an escape, then its opener; or 0xC2 followed by its opener); no CSI
  // in it asks the terminal for an answer (RequireNoQuery); no byte
  // 0x80..0x9F outside a valid UTF-8 sequence; never longer than the
  // input; UTF-8 input without ESC or 0xC2 passes unchanged.
  ReplayFilter one, many;
  const std::string replay = one.Feed(input);
  std::string replay_pieces;
  for (size_t i = 0; i < input.size(); i += chunk) {
    replay_pieces += many.Feed(input.substr(i, chunk));
  }
  Require(replay == replay_pieces, "chunks changed the replayed bytes");
  Require(replay.size() <= input.size(), "the replay grew past its input");
  for (size_t i = 0; i + 1 < replay.size(); ++i) {
    const auto c = static_cast<unsigned char>(replay[i]);
    const auto d = static_cast<unsigned char>(replay[i + 1]);
    if (c == 0x1b) {
      size_t j = i + 1;
      while (j < replay.size()) {
        const auto e = static_cast<unsigned char>(replay[j]);
        if (!((e < 0x20 && e != 0x18 && e != 0x1a && e != 0x1b) || e == 0x7f)) {
          break;
        }
        ++j;
      }
      const auto o = j < replay.size() ? replay[j] : '\0';
      Require(!(o == ']' || o == 'P' || o == 'X' || o == '^' || o == '_'),
              "a string control (ESC form) in the replay");
      if (o == '[') RequireNoQuery(replay, j + 1);
    }
    Require(!(c == 0xC2 &&
              (d == 0x9D || d == 0x90 || d == 0x98 || d == 0x9E || d == 0x9F)),
            "a string control (C1 form) in the replay");
    if (c == 0xC2 && d == 0x9B) RequireNoQuery(replay, i + 2);
  }
  for (size_t i = 0; i < replay.size();) {
    const size_t len = base::Utf8SequenceLength(replay, i);
    const auto c = static_cast<unsigned char>(replay[i]);
    Require(len > 0 || c < 0x80 || c > 0x9F,
            "a C1 byte outside UTF-8 in the replay");
    i += len > 0 ? len : 1;
  }
  if (base::IsValidUtf8(input) &&
      input.find('\x1b') == std::string_view::npos &&
      input.find('\xC2') == std::string_view::npos) {
    Require(replay == input, "plain input did not pass unchanged");
  }

  AsciicastWriter w;
  std::string joined;
  const std::string_view code = (first & 0x80) ? "i" : "o";
  for (size_t i = 0; i < input.size(); i += chunk) {
    const std::string line =
        w.Event(absl::Milliseconds(static_cast<int64_t>(i)), code,
                input.substr(i, chunk));
    if (line.empty()) continue;
    Require(base::IsValidUtf8(line), "an event line is not UTF-8");
    joined += EventData(line, code);
  }
  if (base::IsValidUtf8(input)) {
    Require(joined == input, "UTF-8 input did not come back whole");
  }
}

}  // namespace
}  // namespace sallyport::audit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sallyport::audit::fuzz::RunOne(data, size, sallyport::audit::FuzzOne);
}
