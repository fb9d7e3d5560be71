#include "ssh/examples/host_ca.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ssh/cert/host_cert_policy.h"
#include "ssh/examples/common.h"

namespace sallyport::ssh::examples {

absl::StatusOr<std::vector<crypto::PublicKey>> LoadPublicKeys(
    const std::string& path) {
  std::string text = ReadTextFile(path);
  if (text.empty())
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<crypto::PublicKey> keys;
  for (absl::string_view line :
       absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    size_t start = 0;
    if (f.size() >= 3 && !absl::StartsWith(f[0], "ssh-") &&
        !absl::StartsWith(f[0], "ecdsa-")) {
      start = 1;  // a known_hosts host pattern
    }
    std::string rest(
        line.substr(static_cast<size_t>(f[start].data() - line.data())));
    auto key = crypto::PublicKey::FromAuthorizedKeysLine(rest);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", key.status().message()));
    }
    keys.push_back(*key);
  }
  if (keys.empty())
    return absl::InvalidArgumentError(absl::StrCat("no keys in ", path));
  return keys;
}

absl::StatusOr<std::shared_ptr<transport::HostKeyPolicy>> MakeHostCaPolicy(
    const std::string& ca_file, const std::string& host_name) {
  auto cas = LoadPublicKeys(ca_file);
  if (!cas.ok()) return cas.status();
  cert::HostCertificatePolicy::Options o;
  o.trusted_cas = *cas;
  o.host_name = host_name;
  auto policy = cert::HostCertificatePolicy::Create(std::move(o));
  if (!policy.ok()) return policy.status();
  return std::shared_ptr<transport::HostKeyPolicy>(std::move(*policy));
}

}  // namespace sallyport::ssh::examples
