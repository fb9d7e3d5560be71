// Certificate files ("-cert.pub": "type base64 [comment]").
#ifndef SALLYPORT_SSH_CERT_CERTIFICATE_FILE_H_
#define SALLYPORT_SSH_CERT_CERTIFICATE_FILE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ssh::cert {

// Reads and parses the certificate file at `path`. If `key` is given, the
// certificate must certify that key (kInvalidArgument otherwise). Read
// errors as base::ReadTextFile; parse errors as Certificate::FromLine.
absl::StatusOr<Certificate> LoadCertificate(
    const std::string& path,
    const std::optional<crypto::PublicKey>& key = std::nullopt);

}  // namespace sallyport::ssh::cert

#endif  // SALLYPORT_SSH_CERT_CERTIFICATE_FILE_H_
