#include "ca/rbac/names.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/safe_text.h"

namespace sallyport::ca::rbac {
namespace {

bool IsEchoSafe(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_';
}

absl::Status BadHost(std::string_view name, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("host name ", EscapeForReason(name),
                   " is not valid: ", std::string(why)));
}

bool IsIpLiteral(std::string_view s) {
  // inet_pton needs a NUL-terminated string; an embedded NUL makes the copy
  // shorter and could make a bad literal look good, so refuse it first.
  if (s.empty() || s.size() > 45 || s.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string copy(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, copy.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, copy.c_str(), buf) == 1;
}

// A code point EscapeForReason shows as it is, beyond IsEchoSafe's ASCII:
// text of another script, but not what could pass for a separator or the
// end of the quoted name (its header says which).
bool IsEchoSafeCodePoint(char32_t cp) {
  if (cp < 0x80) return IsEchoSafe(static_cast<unsigned char>(cp));
  if (!base::IsGraphicCodePoint(cp)) return false;
  switch (cp) {
    // Space separators (Zs) other than U+0020.
    case 0x00A0:
    case 0x1680:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    // Blank though not a space: BRAILLE PATTERN BLANK, the Hangul-filler
    // trick with another character.
    case 0x2800:
    // Quotation marks (Unicode's Quotation_Mark property) beyond ASCII.
    case 0x00AB:
    case 0x00BB:
    case 0x2039:
    case 0x203A:
    case 0x2E42:
    case 0xFF02:
    case 0xFF07:
    case 0xFF62:
    case 0xFF63:
      return false;
    default:
      break;
  }
  return !(cp >= 0x2000 && cp <= 0x200A) &&  // Zs
         !(cp >= 0x2018 && cp <= 0x201F) &&  // quotation marks
         !(cp >= 0x300C && cp <= 0x300F) && !(cp >= 0x301D && cp <= 0x301F) &&
         !(cp >= 0xFE41 && cp <= 0xFE44);
}

}  // namespace

std::string EscapeForReason(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    const size_t len = base::DecodeUtf8(s, i, &cp);
    const size_t n = len == 0 ? 1 : len;
    // Whole characters only: one that would cross the limit is left out.
    if (i + n > kMaxEchoBytes) break;
    if (len != 0 && IsEchoSafeCodePoint(cp)) {
      out.append(s.substr(i, len));
    } else {
      for (size_t k = i; k < i + n; ++k) {
        absl::StrAppendFormat(&out, "\\x%02x",
                              static_cast<unsigned char>(s[k]));
      }
    }
    i += n;
  }
  out.push_back('"');
  if (i < s.size()) absl::StrAppend(&out, "... (", s.size(), " bytes)");
  return out;
}

absl::Status ValidateHostName(std::string_view name) {
  if (name.empty()) return BadHost(name, "it is empty");
  if (name.size() > kMaxHostNameBytes) {
    return BadHost(name,
                   absl::StrCat("it is ", name.size(), " bytes long, at most ",
                                kMaxHostNameBytes, " are allowed"));
  }
  size_t start = 0;
  while (true) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(start, end - start);
    if (label.empty()) {
      return BadHost(name,
                     "it has an empty label (a leading, trailing or "
                     "doubled '.')");
    }
    if (label.size() > kMaxHostLabelBytes) {
      return BadHost(name, absl::StrCat("a label is longer than ",
                                        kMaxHostLabelBytes, " bytes"));
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return BadHost(name, "only letters, digits, '-' and '.' are allowed");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return BadHost(name, "a label starts or ends with '-'");
    }
    if (end == name.size()) break;
    start = end + 1;
  }
  return absl::OkStatus();
}

absl::Status ValidateInventoryName(std::string_view name) {
  if (absl::Status st = ValidateHostName(name); !st.ok()) return st;
  const std::string_view last = name.substr(name.rfind('.') + 1);
  const bool numeric_tld = std::all_of(last.begin(), last.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  const std::string copy(name);  // no NUL inside: ValidateHostName said so
  in_addr ignored;
  if (numeric_tld || inet_aton(copy.c_str(), &ignored) != 0) {
    return BadHost(name,
                   "it reads as an IP address; name the host by a DNS name "
                   "and give the address as its address");
  }
  return absl::OkStatus();
}

absl::Status ValidateLogin(std::string_view login) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "login ", EscapeForReason(login), " is not valid: ", std::string(why)));
  };
  if (login.empty()) return bad("it is empty");
  if (login.size() > kMaxLoginBytes) {
    return bad(absl::StrCat("it is longer than ", kMaxLoginBytes, " bytes"));
  }
  if (login.front() == '-') return bad("it starts with '-'");
  for (char c : login) {
    if (!IsEchoSafe(static_cast<unsigned char>(c))) {
      return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateForwardDestination(std::string_view host, uint32_t port) {
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("forward destination port ", port,
                     " is not valid: it must be 1..65535"));
  }
  if (IsIpLiteral(host)) return absl::OkStatus();
  absl::Status st = ValidateHostName(host);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("forward destination: ", st.message()));
  }
  return absl::OkStatus();
}

bool GlobMatch(std::string_view pattern, std::string_view name) {
  // Iterative matcher: on a mismatch, go back to the last '*' and let it
  // take one more byte. No recursion, no exponential blow-up.
  size_t p = 0, n = 0;
  size_t star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' ||
         (pattern[p] != '*' &&
          absl::ascii_tolower(static_cast<unsigned char>(pattern[p])) ==
              absl::ascii_tolower(static_cast<unsigned char>(name[n]))))) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace sallyport::ca::rbac
