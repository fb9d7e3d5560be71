#include "ssh/crypto/key_files.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/files.h"

namespace sallyport::ssh::crypto {
namespace {

bool LooksLikeKeyType(absl::string_view field) {
  return absl::StartsWith(field, "ssh-") || absl::StartsWith(field, "ecdsa-") ||
         absl::StartsWith(field, "rsa-");
}

}  // namespace

absl::StatusOr<std::vector<PublicKey>> ParsePublicKeys(std::string_view text,
                                                       std::string_view source,
                                                       KeyFileFormat format) {
  std::vector<PublicKey> keys;
  int line_number = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (format == KeyFileFormat::kKnownHosts && fields.size() >= 3 &&
        !LooksLikeKeyType(fields[0])) {
      // A known_hosts host pattern before the key.
      line = line.substr(static_cast<size_t>(fields[1].data() - line.data()));
    }
    auto key = PublicKey::FromAuthorizedKeysLine(
        std::string_view(line.data(), line.size()));
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(source), ":", line_number, ": ", key.status().message(),
          " (key options are not supported)"));
    }
    keys.push_back(*std::move(key));
  }
  return keys;
}

absl::StatusOr<std::vector<PublicKey>> LoadPublicKeys(const std::string& path,
                                                      KeyFileFormat format,
                                                      bool require_one) {
  auto text = base::ReadTextFile(path);
  if (!text.ok()) return text.status();
  auto keys = ParsePublicKeys(*text, path, format);
  if (!keys.ok()) return keys.status();
  if (require_one && keys->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no keys in ", path));
  }
  return keys;
}

}  // namespace sallyport::ssh::crypto
