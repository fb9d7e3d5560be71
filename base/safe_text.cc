#include "base/safe_text.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace sallyport::base {

std::string SafeText(std::string_view s, size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max) + 3);
  for (char c : s.substr(0, max)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if ((c & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  uint32_t v = c & (0xff >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return len;
}

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  char32_t ignored;
  return DecodeUtf8(s, i, &ignored);
}

namespace {

// Whether `s` is valid UTF-8 whose every code point `ok` takes.
template <typename Pred>
bool AllCodePoints(std::string_view s, Pred ok) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0 || !ok(cp)) return false;
    i += len;
  }
  return true;
}

// The code points IsGraphicCodePoint refuses besides the noncharacters at
// the end of each plane, sorted; the header says which classes these are.
// Cf and Default_Ignorable_Code_Point as of Unicode 15.1.
struct Range {
  char32_t first, last;
};
constexpr Range kNotGraphic[] = {
    {0x0000, 0x001F},     // Cc C0
    {0x007F, 0x009F},     // Cc DEL, C1
    {0x00AD, 0x00AD},     // Cf soft hyphen
    {0x034F, 0x034F},     // combining grapheme joiner (ignorable)
    {0x0600, 0x0605},     // Cf Arabic number signs
    {0x061C, 0x061C},     // Cf ARABIC LETTER MARK (bidi)
    {0x06DD, 0x06DD},     // Cf
    {0x070F, 0x070F},     // Cf
    {0x0890, 0x0891},     // Cf
    {0x08E2, 0x08E2},     // Cf
    {0x115F, 0x1160},     // Hangul fillers (ignorable)
    {0x17B4, 0x17B5},     // Khmer inherent vowels (ignorable)
    {0x180B, 0x180F},     // Mongolian variation selectors, U+180E (Cf)
    {0x200B, 0x200F},     // Cf ZWSP, ZWNJ, ZWJ, LRM, RLM
    {0x2028, 0x202E},     // Zl, Zp, Cf bidi embeddings and overrides
    {0x2060, 0x206F},     // Cf word joiner.., bidi isolates, deprecated
    {0x3164, 0x3164},     // Hangul filler (ignorable)
    {0xD800, 0xDFFF},     // Cs
    {0xE000, 0xF8FF},     // Co
    {0xFDD0, 0xFDEF},     // noncharacters
    {0xFE00, 0xFE0F},     // variation selectors (ignorable)
    {0xFEFF, 0xFEFF},     // Cf BOM, ZWNBSP
    {0xFFA0, 0xFFA0},     // halfwidth Hangul filler (ignorable)
    {0xFFF0, 0xFFFB},     // ignorable unassigned, Cf annotations
    {0x110BD, 0x110BD},   // Cf
    {0x110CD, 0x110CD},   // Cf
    {0x13430, 0x1343F},   // Cf Egyptian hieroglyph format controls
    {0x1BCA0, 0x1BCA3},   // Cf shorthand format controls
    {0x1D173, 0x1D17A},   // Cf musical format controls
    {0xE0000, 0xE0FFF},   // Cf tags, variation selectors supplement
    {0xF0000, 0x10FFFF},  // Co planes 15 and 16
};

}  // namespace

bool IsGraphicCodePoint(char32_t cp) {
  if (cp > 0x10FFFF || (cp & 0xFFFE) == 0xFFFE) return false;
  // The last range whose first code point is <= cp.
  const Range* end = std::end(kNotGraphic);
  const Range* r = std::upper_bound(
      std::begin(kNotGraphic), end, cp,
      [](char32_t v, const Range& range) { return v < range.first; });
  return r == std::begin(kNotGraphic) || cp > (r - 1)->last;
}

namespace {

std::string Escape(std::string_view s, bool backslash) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0 || !IsGraphicCodePoint(cp) || (backslash && cp == '\\')) {
      const size_t n = len == 0 ? 1 : len;
      for (size_t k = 0; k < n; ++k) {
        absl::StrAppend(
            &out, "\\x",
            absl::Hex(static_cast<unsigned char>(s[i + k]), absl::kZeroPad2));
      }
      i += n;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace

std::string EscapeControls(std::string_view s) { return Escape(s, true); }

std::string EscapeControlsInMessage(std::string_view s) {
  return Escape(s, false);
}

std::string EscapeControlsInMessage(std::string_view s, size_t max) {
  std::string out = Escape(s.substr(0, max), false);
  if (s.size() > max) out += "...";
  return out;
}

bool IsValidUtf8(std::string_view s) {
  return AllCodePoints(s, [](char32_t) { return true; });
}

bool IsPrintableUtf8(std::string_view s) {
  return AllCodePoints(s, IsGraphicCodePoint);
}

bool IsUtf8WithoutControls(std::string_view s) {
  return AllCodePoints(
      s, [](char32_t cp) { return cp >= 0x20 && (cp < 0x7F || cp > 0x9F); });
}

namespace {

// Combining marks a terminal draws over the character before.
constexpr Range kZeroWidth[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A},
    {0x064B, 0x065F}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E},
    {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x20D0, 0x20FF}, {0xFE20, 0xFE2F},
};

// East Asian Width W and F, in blocks.
constexpr Range kWide[] = {
    {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},
    {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
    {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},
    {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF},
    {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

template <size_t N>
bool In(const Range (&ranges)[N], char32_t cp) {
  for (const Range& r : ranges) {
    if (cp >= r.first && cp <= r.last) return true;
  }
  return false;
}

}  // namespace

size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0) {
      ++width;
      ++i;
      continue;
    }
    i += len;
    if (In(kZeroWidth, cp)) continue;
    width += In(kWide, cp) ? 2 : 1;
  }
  return width;
}

}  // namespace sallyport::base
