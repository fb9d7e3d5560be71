// Fuzz target: the userauth proof a gateway sends with
// IssueSessionCertificate (ca/userauth_proof.h), bytes the CA does not
// control. Input: a 2-byte big-endian length N, N bytes of signed data,
// then the signature blob. The proof is checked against the certificate
// its own key blob holds (when that parses), so the checks past the blob
// comparison run too, for login "root" on host "web01". Broken
// invariants abort: a proof is accepted only when its signed data parses,
// names service ssh-connection and root+web01 or root, and its signature
// verifies with the certified key; every refusal is PERMISSION_DENIED.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "absl/status/status.h"
#include "ca/userauth_proof.h"
#include "ssh/auth/signed_data.h"
#include "ssh/cert/certificate.h"
#include "ssh/wire/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sallyport;  // NOLINT: a fuzz entry point
  if (size < 2) return 0;
  const size_t n = std::min<size_t>((size_t{data[0]} << 8) | data[1], size - 2);
  const std::string_view signed_data(reinterpret_cast<const char*>(data + 2),
                                     n);
  const std::string_view signature(reinterpret_cast<const char*>(data + 2 + n),
                                   size - 2 - n);
  auto parsed = ssh::auth::ParseSignedData(ssh::wire::AsBytes(signed_data));
  if (!parsed.ok()) {
    // Whatever the certificate, a proof that does not parse is refused.
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument) abort();
    return 0;
  }
  auto cert = ssh::cert::Certificate::Parse(parsed->key_blob);
  if (!cert.ok()) return 0;
  const absl::Status st =
      ca::CheckUserauthProof(signed_data, signature, *cert, "root", "web01");
  if (st.ok()) {
    if (parsed->service != "ssh-connection") abort();
    if (parsed->user != "root+web01" && parsed->user != "root") abort();
    if (!ssh::auth::VerifyUserauthSignature(ssh::wire::AsBytes(signed_data),
                                            ssh::wire::AsBytes(signature),
                                            parsed->algorithm, cert->key)
             .ok()) {
      abort();
    }
  } else if (st.code() != absl::StatusCode::kPermissionDenied) {
    abort();
  }
  return 0;
}
