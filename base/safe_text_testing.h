// For tests and fuzzers of the escapers (base/safe_text.h,
// rbac::EscapeForReason): what their "\xNN" text stands for.
#ifndef SALLYPORT_BASE_SAFE_TEXT_TESTING_H_
#define SALLYPORT_BASE_SAFE_TEXT_TESTING_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::base {

// `s` with each "\xNN" (two lower-case hex digits) read as that byte and
// every other byte as itself; nullopt when a backslash starts anything
// else, so an escape the escapers did not write is caught.
inline std::optional<std::string> UnescapeHex(std::string_view s) {
  const auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (s.size() - i < 4 || s[i + 1] != 'x') return std::nullopt;
    const int hi = digit(s[i + 2]), lo = digit(s[i + 3]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 3;
  }
  return out;
}

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_SAFE_TEXT_TESTING_H_
