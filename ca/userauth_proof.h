// The proof a gateway sends with IssueSessionCertificate that the user of a
// certificate logged in to it (proto/gateway.proto,
// IssueSessionCertificateRequest.userauth_signed_data / userauth_signature):
// the data the user's client signed in its publickey authentication
// (RFC 4252 §7) and the signature. A user certificate alone is public (it
// is shown in every login), so without this a gateway that ever saw one
// could have session certificates issued in its user's name.
#ifndef SALLYPORT_CA_USERAUTH_PROOF_H_
#define SALLYPORT_CA_USERAUTH_PROOF_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "ssh/cert/certificate.h"

namespace sallyport::ca {

// The user names a proof may carry for a session as `login` on `host`
// (`host` exactly as the request names it):
//   "LOGIN+HOST"  a LOGIN+HOST connection to the gateway;
//   "LOGIN"       the inner connection of a recorded ProxyJump, whose user
//                 name is the login (the host is the jump's).
// OK when `signed_data` parses (ssh::auth::ParseSignedData: message 50,
// "publickey", TRUE, within its limits), names service "ssh-connection"
// and one of those user names, carries exactly `certificate`'s blob with an
// algorithm for its type, and `signature` (at most
// ssh::auth::kMaxSignatureBytes) verifies over it with the certified key.
// kPermissionDenied otherwise (also when both are empty: no proof), with a
// reason safe to log and to show (untrusted text is escaped). The session
// identifier inside is not checked: the CA did not see the key exchange.
absl::Status CheckUserauthProof(std::string_view signed_data,
                                std::string_view signature,
                                const ssh::cert::Certificate& certificate,
                                std::string_view login, std::string_view host);

// The key under which the CA remembers a proof as used (finding B): the
// SHA-256 of `signed_data` as 64 lowercase hex digits
// (storage::SessionClaim::userauth_proof_sha256). The signed data holds
// the connection's session identifier, so an honest gateway never sends
// the same twice; a replay of a kept proof does.
std::string UserauthProofDigest(std::string_view signed_data);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_USERAUTH_PROOF_H_
