// The RBAC engine (DESIGN.md §6): one pure function that decides whether a
// user may open a channel of some kind as some login on some inventory
// host, used by the CA's issuance paths, the gateway RPCs and
// `spctl access check`, so they can never disagree.
//
// Rules, in the order they are checked (the first that fails decides):
//  1. the requested host name is RFC 1123 (checked before any lookup), the
//     login is a plain name, and a port-forward has a valid destination;
//  2. the user is not disabled and has at least one role;
//  3. the host is in the inventory;
//  4. a deny rule of any of the user's roles that matches (login, host,
//     kind) refuses, whatever any role allows (empty lists in a deny rule
//     mean "any");
//  5. some role selects the host (one of its host selectors matches: all
//     labels equal and, if it has globs, one glob matches the name; a role
//     with no selectors selects no host), allows the login and allows the
//     channel kind;
//  6. for shell, exec and sftp: the roles that allow the request (step 5)
//     do not force different commands (Role::force_command). When every
//     one of them forces the same command, the decision carries it and
//     that command replaces the user's; when any of them forces nothing,
//     nothing is forced (that role grants the user's own command anyway).
// Every reason is a sentence the user can act on; names from the request
// appear in it only through EscapeForReason.
#ifndef SALLYPORT_CA_RBAC_RBAC_H_
#define SALLYPORT_CA_RBAC_RBAC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/rbac/names.h"
#include "ca/rbac/selector.h"
#include "ssh/cert/certificate.h"
#include "storage/records.h"
#include "storage/store.h"

namespace sallyport::ca::rbac {

// Stable codes for audit events and tests; the reason text may change.
enum class Reason {
  kAllowed,
  kInvalidHostName,
  kInvalidLogin,
  kInvalidDestination,
  kUserDisabled,
  kNoRoles,
  kUnknownHost,
  kNoRoleSelectsHost,
  kLoginNotAllowed,
  kKindNotAllowed,
  kDeniedByRule,
  kForceCommandConflict,
};
// "allowed", "invalid-host-name", "invalid-login", "invalid-destination",
// "user-disabled", "no-roles", "unknown-host", "no-role-selects-host",
// "login-not-allowed", "kind-not-allowed", "denied-by-rule",
// "force-command-conflict".
std::string_view ReasonName(Reason reason);

// Where a port-forward (direct-tcpip / -L / -D / -W) connects to.
struct ForwardDestination {
  std::string host;   // host name or IP literal
  uint32_t port = 0;  // 1..65535
};

// "HOST:PORT" or "[V6]:PORT" (as the gateway's AuthorizeChannel and
// `spctl access check` take it), checked by ValidateForwardDestination.
// kInvalidArgument otherwise.
absl::StatusOr<ForwardDestination> ParseForwardDestination(
    std::string_view text);

struct AccessRequest {
  std::string login;  // the account on the target host
  std::string host;   // the inventory name the user asked for
  storage::ChannelKind kind = storage::ChannelKind::kShell;
  // Required for kPortForward; must be empty for every other kind.
  std::optional<ForwardDestination> destination;
};

struct Decision {
  bool allowed = false;
  Reason code = Reason::kNoRoles;
  // One sentence for the user and the audit log (safe to print).
  std::string reason;
  // The role that decided: the allowing role, or the role whose deny rule
  // refused. Empty when no single role decided (invalid input, disabled
  // user, unknown host, no role selects the host, ...).
  std::string role;
  // The rule inside `role`: "hosts[i]" (the selector that let it in) or
  // "deny[i]". Empty when `role` is.
  std::string rule;
  // When allowed: kNever only if every role that allows this request says
  // never (recording wins when roles disagree).
  storage::RecordMode record = storage::RecordMode::kAlways;
  // When allowed, the recording policy (issue 14) of the roles that allow
  // it: strict when any says strict; input recorded when any says true,
  // not when the others that say anything say false; unset when none says
  // (then the gateway records input of pty sessions only).
  storage::RecordFailureMode record_mode = storage::RecordFailureMode::kStrict;
  std::optional<bool> record_input;
  // When allowed (shell, exec, sftp only): the command that replaces the
  // user's (step 6).
  std::optional<std::string> force_command;
};

// Adds `role`'s recording policy to `d` (as above); start from
// kBestEffort and no record_input.
void FoldRecordingPolicy(const storage::Role& role, Decision& d);

// Decides `request` for `user` holding `roles` (the user's bound roles).
// `host` is the inventory record named request.host, or nullopt when there
// is none (unknown host); a record with another name is treated as
// unknown. Never fails: refusals are Decisions.
Decision Decide(const storage::User& user,
                const std::vector<storage::Role>& roles,
                const AccessRequest& request,
                const std::optional<storage::Host>& host);

// Looks up an inventory host by name: the record, nullopt when there is
// none, or an error (which Decide passes through).
using HostLookup =
    absl::FunctionRef<absl::StatusOr<std::optional<storage::Host>>(
        std::string_view name)>;

// As above, calling `lookup` only after request.host passed
// ValidateHostName (and only when steps 1-2 pass). Errors come only from
// `lookup`.
absl::StatusOr<Decision> Decide(const storage::User& user,
                                const std::vector<storage::Role>& roles,
                                const AccessRequest& request,
                                HostLookup lookup);

// store.GetHost with kNotFound turned into nullopt: a HostLookup over a
// Store is `[&](std::string_view n) { return FindHost(store, n); }`.
absl::StatusOr<std::optional<storage::Host>> FindHost(storage::Store& store,
                                                      std::string_view name);

// The inventory host named by one of its addresses (LOGIN+ADDRESS, and a
// jump to an address): with `port` (a jump's) the one with that address
// and port, else the only one with that address; with `port` 0 the only
// one with that address. Neither, or several: nullopt, and `why` says so
// when several hosts share the address (connect by inventory name).
absl::StatusOr<std::optional<storage::Host>> FindHostByAddress(
    storage::Store& store, std::string_view address, uint32_t port,
    std::string* why);

// What (user, login, host) may do: the input of session-certificate
// extensions and of the gateway's recording choice.
struct Permissions {
  // Allowed when at least one channel kind is; otherwise the reason.
  // role/rule are set only when one deny rule refused every kind.
  Decision decision;
  // The kinds Decide would allow (without destination checks), in enum
  // order.
  std::vector<storage::ChannelKind> kinds;
  // Certificate extensions for those kinds, sorted by name:
  // permit-agent-forwarding (agent-forward), permit-port-forwarding
  // (port-forward), permit-pty (shell or exec). Never permit-user-rc or
  // permit-X11-forwarding.
  std::vector<ssh::cert::CertOption> extensions;
  // kAlways unless every contributing role says never. The recording
  // policy is decision.record_mode / record_input.
  storage::RecordMode record = storage::RecordMode::kAlways;
  // The shortest max_ttl of the contributing roles (zero when none).
  absl::Duration max_ttl = absl::ZeroDuration();
  // The command every allowed session kind (shell, exec, sftp) forces,
  // when they all force the same one: the session certificate's
  // force-command. Unset when none is forced or the kinds differ (the
  // gateway still applies each decision's force_command per channel).
  std::optional<std::string> force_command;
  // Roles that allow at least one of `kinds`, in input order.
  std::vector<std::string> roles;
};

Permissions EffectivePermissions(const storage::User& user,
                                 const std::vector<storage::Role>& roles,
                                 std::string_view login,
                                 std::string_view host_name,
                                 const std::optional<storage::Host>& host);

absl::StatusOr<Permissions> EffectivePermissions(
    const storage::User& user, const std::vector<storage::Role>& roles,
    std::string_view login, std::string_view host_name, HostLookup lookup);

}  // namespace sallyport::ca::rbac

#endif  // SALLYPORT_CA_RBAC_RBAC_H_
