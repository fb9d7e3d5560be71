#include "gateway/target_name.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"

namespace sallyport::gateway {
namespace {

absl::Status BadHost(std::string_view host, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid host name \"",
                                                 base::SafeText(host, 64),
                                                 "\": ", std::string(why)));
}

}  // namespace

absl::Status ValidateHostName(std::string_view host) {
  if (host.empty()) return BadHost(host, "empty");
  if (host.size() > kMaxHostNameBytes) {
    return BadHost(host,
                   absl::StrCat("longer than ", kMaxHostNameBytes, " bytes"));
  }
  for (size_t start = 0; start <= host.size();) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    const std::string_view label = host.substr(start, dot - start);
    start = dot + 1;
    if (label.empty()) return BadHost(host, "empty label");
    if (label.size() > kMaxLabelBytes) {
      return BadHost(host, absl::StrCat("a label is longer than ",
                                        kMaxLabelBytes, " bytes"));
    }
    if (label.front() == '-' || label.back() == '-') {
      return BadHost(host, "a label starts or ends with '-'");
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return BadHost(host, "only letters, digits, '-' and '.' are allowed");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLogin(std::string_view login) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid login \"",
                                                   base::SafeText(login, 64),
                                                   "\": ", std::string(why)));
  };
  if (login.empty()) return bad("empty");
  if (login.size() > kMaxLoginBytes) {
    return bad(absl::StrCat("longer than ", kMaxLoginBytes, " bytes"));
  }
  const unsigned char first = static_cast<unsigned char>(login.front());
  if (!absl::ascii_isalpha(first) && first != '_') {
    return bad("must start with a letter or '_'");
  }
  for (char c : login) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!absl::ascii_isalnum(u) && c != '_' && c != '-' && c != '.') {
      return bad("only letters, digits, '_', '-' and '.' are allowed");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Target> ParseTarget(std::string_view user) {
  const size_t plus = user.find('+');
  if (plus == std::string_view::npos ||
      user.find('+', plus + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the user name \"", base::SafeText(user, 64),
                     "\" is not LOGIN+HOST (e.g. root+web01)"));
  }
  Target t{std::string(user.substr(0, plus)),
           std::string(user.substr(plus + 1))};
  if (absl::Status st = ValidateLogin(t.login); !st.ok()) return st;
  if (absl::Status st = ValidateHostName(t.host); !st.ok()) return st;
  return t;
}

}  // namespace sallyport::gateway
