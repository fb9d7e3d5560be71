#include "ssh/cert/certificate_file.h"

#include "absl/strings/strip.h"
#include "base/files.h"

namespace sallyport::ssh::cert {

absl::StatusOr<Certificate> LoadCertificate(
    const std::string& path, const std::optional<crypto::PublicKey>& key) {
  auto text = base::ReadTextFile(path);
  if (!text.ok()) return text.status();
  const absl::string_view line = absl::StripAsciiWhitespace(*text);
  auto certificate =
      Certificate::FromLine(std::string_view(line.data(), line.size()));
  if (!certificate.ok()) return certificate.status();
  if (key.has_value() && certificate->key != *key) {
    return absl::InvalidArgumentError(
        "the certificate is not for this private key");
  }
  return certificate;
}

}  // namespace sallyport::ssh::cert
