#include "audit/scp_command.h"

#include <cstddef>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace sallyport::audit {

std::string_view ScpTransferDirection(std::string_view command) {
  // Exactly as scp sends it ("scp " first, no leading blanks), and nothing
  // a shell would take for more than words.
  if (!command.starts_with("scp ") ||
      command.find_first_of(";&|$`()<>\\'\"{}\n\r") != std::string_view::npos) {
    return "";
  }
  const std::vector<absl::string_view> words =
      absl::StrSplit(absl::string_view(command.data(), command.size()), ' ',
                     absl::SkipEmpty());
  bool to = false, from = false;
  size_t i = 1;
  for (; i < words.size() && absl::StartsWith(words[i], "-"); ++i) {
    const absl::string_view option = words[i];
    if (option == "--") {
      ++i;
      break;
    }
    if (option.size() < 2) return "";
    for (char c : option.substr(1)) {
      if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) return "";
      to |= c == 't';
      from |= c == 'f';
    }
  }
  if (i >= words.size() || to == from) return "";  // no path; both; neither
  return to ? "upload" : "download";
}

bool IsScpTransferCommand(std::string_view command) {
  return !ScpTransferDirection(command).empty();
}

}  // namespace sallyport::audit
