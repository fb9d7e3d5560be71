#include "ca/userauth_proof.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "ssh/auth/signed_data.h"
#include "ssh/crypto/hash.h"
#include "ssh/wire/reader.h"

namespace sallyport::ca {
namespace {

constexpr std::string_view kService = "ssh-connection";

absl::Status Refuse(std::string_view why) {
  return absl::PermissionDeniedError(
      absl::StrCat("no valid proof that the user logged in to the gateway: ",
                   std::string(why)));
}

}  // namespace

absl::Status CheckUserauthProof(std::string_view signed_data,
                                std::string_view signature,
                                const ssh::cert::Certificate& certificate,
                                std::string_view login, std::string_view host) {
  if (signed_data.empty() && signature.empty()) {
    return Refuse("the request carries none (userauth_signed_data)");
  }
  if (signature.empty()) return Refuse("the signature is missing");
  if (signature.size() > ssh::auth::kMaxSignatureBytes) {
    return Refuse(absl::StrCat("the signature is longer than ",
                               ssh::auth::kMaxSignatureBytes, " bytes"));
  }
  const ssh::wire::Bytes data = ssh::wire::AsBytes(signed_data);
  absl::StatusOr<ssh::auth::SignedUserauthRequest> request =
      ssh::auth::ParseSignedData(data);
  if (!request.ok()) return Refuse(std::string(request.status().message()));
  if (request->service != kService) {
    return Refuse(absl::StrCat("it is for service \"",
                               base::SafeText(request->service, 64),
                               "\", not ssh-connection"));
  }
  if (!std::equal(request->key_blob.begin(), request->key_blob.end(),
                  certificate.blob.begin(), certificate.blob.end())) {
    return Refuse("it is for another key than the user certificate");
  }
  if (ssh::auth::KeyBlobTypeFor(request->algorithm) != certificate.type_name) {
    return Refuse(absl::StrCat("its algorithm \"",
                               base::SafeText(request->algorithm, 64),
                               "\" is not one for a ", certificate.type_name));
  }
  const std::string login_host =
      absl::StrCat(std::string(login), "+", std::string(host));
  if (login.empty() ||
      (request->user != login_host && request->user != login)) {
    return Refuse(absl::StrCat("it is for the user name \"",
                               base::SafeText(request->user, 64), "\", not \"",
                               base::SafeText(login_host, 64), "\" or \"",
                               base::SafeText(login, 64), "\""));
  }
  absl::Status verified = ssh::auth::VerifyUserauthSignature(
      data, ssh::wire::AsBytes(signature), request->algorithm, certificate.key);
  if (!verified.ok()) {
    return Refuse(absl::StrCat(
        "the signature does not verify with the certificate's key (",
        std::string(verified.message()), ")"));
  }
  return absl::OkStatus();
}

std::string UserauthProofDigest(std::string_view signed_data) {
  const std::vector<uint8_t> digest =
      ssh::crypto::Sha256(ssh::wire::AsBytes(signed_data));
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace sallyport::ca
