#include "ca/rbac/names.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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

}  // namespace

std::string EscapeForReason(std::string_view s) {
  std::string out = "\"";
  const size_t shown = std::min(s.size(), kMaxEchoBytes);
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (IsEchoSafe(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  out.push_back('"');
  if (shown < s.size()) absl::StrAppend(&out, "... (", s.size(), " bytes)");
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
