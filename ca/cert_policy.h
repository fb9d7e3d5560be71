// The certificate policy (DESIGN.md §5 "Login certificate", §6): what a
// user's roles allow a login certificate to say. A pure function of its
// inputs, so every rule is tested without a store or a clock.
#ifndef SALLYPORT_CA_CERT_POLICY_H_
#define SALLYPORT_CA_CERT_POLICY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ssh/cert/certificate.h"
#include "storage/records.h"

namespace sallyport::ca {

// The role that grants the admin API.
inline constexpr std::string_view kAdminRole = "admin";
// The role that grants read access to the audit log and recordings (the
// admin role grants it too).
inline constexpr std::string_view kAuditorRole = "auditor";

struct UserCertificatePolicy {
  // Upper bound of validity whatever the roles say (default 8 h).
  absl::Duration max_ttl = absl::Hours(8);
  // valid_after = now - backdate, for clients whose clock is behind.
  absl::Duration backdate = absl::Minutes(1);
};

// What a user certificate will contain (the key and serial come later).
struct UserCertificateTemplate {
  std::string key_id;                   // the user name
  std::vector<std::string> principals;  // sorted, unique
  absl::Time valid_after;
  absl::Time valid_before;
  // Flags, sorted by name: permit-pty when a role allows shell or exec,
  // permit-port-forwarding for port-forward, permit-agent-forwarding for
  // agent-forward. Never permit-user-rc or permit-X11-forwarding: roles
  // have no permission for them.
  std::vector<ssh::cert::CertOption> extensions;
};

// Decides the certificate for `user` with `roles` at `now`:
// - validity: valid_before = now + min(policy.max_ttl, every role's max_ttl,
//   not_after - now when set); valid_after = now - policy.backdate;
// - principals: the union of the roles' logins; for an administrator or
//   auditor whose roles grant no logins, only rbac::kNoLoginPrincipal (the
//   certificate is their credential for spctl, never for a host: an empty
//   list would be valid for every login);
// - extensions: from the union of the roles' channel kinds.
// kPermissionDenied (the message says why, for the audit log) when the user
// is disabled, has no roles, or the roles grant no logins (and neither
// admin nor auditor);
// kFailedPrecondition when `not_after` is not after now; kInvalidArgument
// for a policy with a non-positive max_ttl or a negative backdate.
absl::StatusOr<UserCertificateTemplate> DecideUserCertificate(
    const storage::User& user, const std::vector<storage::Role>& roles,
    absl::Time now, const UserCertificatePolicy& policy,
    std::optional<absl::Time> not_after = std::nullopt);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_CERT_POLICY_H_
