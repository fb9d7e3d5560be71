#include "ca/cert_policy.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "ca/rbac/names.h"

namespace sallyport::ca {

absl::StatusOr<UserCertificateTemplate> DecideUserCertificate(
    const storage::User& user, const std::vector<storage::Role>& roles,
    absl::Time now, const UserCertificatePolicy& policy,
    std::optional<absl::Time> not_after) {
  if (policy.max_ttl <= absl::ZeroDuration() ||
      policy.backdate < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "certificate policy: bad max_ttl/backdate");
  }
  if (user.disabled) {
    return absl::PermissionDeniedError(
        absl::StrCat("user ", user.name, " is disabled"));
  }
  if (roles.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("user ", user.name, " has no roles"));
  }
  absl::Duration ttl = policy.max_ttl;
  std::set<std::string> principals;
  bool pty = false, port_forward = false, agent_forward = false;
  for (const storage::Role& role : roles) {
    ttl = std::min(ttl, role.max_ttl);
    // Only logins RBAC would ever allow (a role stored before the admin
    // API checked them may name "a;b" or "-x"): never a principal that
    // no session through the gateway could use.
    for (const std::string& login : role.logins) {
      if (rbac::ValidateLogin(login).ok()) principals.insert(login);
    }
    for (storage::ChannelKind kind : role.channels) {
      switch (kind) {
        case storage::ChannelKind::kShell:
        case storage::ChannelKind::kExec:
          pty = true;
          break;
        case storage::ChannelKind::kPortForward:
          port_forward = true;
          break;
        case storage::ChannelKind::kAgentForward:
          agent_forward = true;
          break;
        case storage::ChannelKind::kSftp:
        case storage::ChannelKind::kProxyJumpPassthrough:
          break;
      }
    }
  }
  if (principals.empty()) {
    const bool staff =
        std::any_of(roles.begin(), roles.end(), [](const storage::Role& r) {
          return r.name == kAdminRole || r.name == kAuditorRole;
        });
    if (!staff) {
      return absl::PermissionDeniedError(
          absl::StrCat("the roles of user ", user.name, " grant no logins"));
    }
    principals.insert(std::string(rbac::kNoLoginPrincipal));
  }
  if (not_after.has_value()) {
    if (*not_after <= now) {
      return absl::FailedPreconditionError("the caller's credential expired");
    }
    ttl = std::min(ttl, *not_after - now);
  }
  UserCertificateTemplate out;
  out.key_id = user.name;
  out.principals.assign(principals.begin(), principals.end());
  out.valid_after = now - policy.backdate;
  out.valid_before = now + ttl;
  // Sorted by name, as certificates require.
  if (agent_forward) {
    out.extensions.push_back(
        ssh::cert::CertOption::Flag(ssh::cert::kPermitAgentForwarding));
  }
  if (port_forward) {
    out.extensions.push_back(
        ssh::cert::CertOption::Flag(ssh::cert::kPermitPortForwarding));
  }
  if (pty) {
    out.extensions.push_back(
        ssh::cert::CertOption::Flag(ssh::cert::kPermitPty));
  }
  return out;
}

}  // namespace sallyport::ca
