// Fuzz target: the text escapers and checks of base/safe_text.h, over any
// bytes. Any broken invariant aborts:
//   EscapeControls' output is visible text (IsPrintableUtf8) and reads back
//   to the input (every "\xNN" is one byte, nothing else is escaped);
//   visible text without a backslash passes unchanged;
//   IsPrintableUtf8 implies IsUtf8WithoutControls implies IsValidUtf8;
//   SafeText's output is printable ASCII;
//   DecodeUtf8 and Utf8SequenceLength agree, and a decoded code point is
//   what the sequence says;
//   DisplayWidth is at most two columns a byte, and the width of ASCII is
//   its length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/safe_text.h"
#include "base/safe_text_testing.h"

namespace sallyport::base {
namespace {

void FuzzOne(std::string_view in) {
  const std::string escaped = EscapeControls(in);
  if (!IsPrintableUtf8(escaped)) abort();
  if (UnescapeHex(escaped) != in) abort();
  const bool printable = IsPrintableUtf8(in);
  if (printable && in.find('\\') == std::string_view::npos && escaped != in) {
    abort();
  }
  if (printable && !IsUtf8WithoutControls(in)) abort();
  if (IsUtf8WithoutControls(in) && !IsValidUtf8(in)) abort();
  for (char c : SafeText(in)) {
    if (c < 0x20 || c > 0x7e) abort();
  }
  const size_t width = DisplayWidth(in);
  if (width > 2 * in.size()) abort();
  const std::string ascii = SafeText(in, in.size() + 8);
  if (DisplayWidth(ascii) != ascii.size()) abort();
  for (size_t i = 0; i < in.size(); ++i) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(in, i, &cp);
    if (len != Utf8SequenceLength(in, i)) abort();
    if (len == 0) continue;
    // Re-encode and compare: the sequence was the shortest form of cp.
    std::string again;
    if (cp < 0x80) {
      again.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      again.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      again.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      again.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      again.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      again.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      again.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      again.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      again.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      again.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    if (in.substr(i, len) != again) abort();
  }
}

}  // namespace
}  // namespace sallyport::base

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sallyport::base::FuzzOne(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
