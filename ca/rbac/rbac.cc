#include "ca/rbac/rbac.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace sallyport::ca::rbac {
namespace {

using storage::ChannelKind;
using storage::Host;
using storage::RecordMode;
using storage::Role;
using storage::User;

constexpr std::array<ChannelKind, 6> kAllKinds = {
    ChannelKind::kShell,        ChannelKind::kExec,
    ChannelKind::kSftp,         ChannelKind::kPortForward,
    ChannelKind::kAgentForward, ChannelKind::kProxyJumpPassthrough};

constexpr std::array<std::pair<Reason, std::string_view>, 12> kReasonNames = {{
    {Reason::kAllowed, "allowed"},
    {Reason::kInvalidHostName, "invalid-host-name"},
    {Reason::kInvalidLogin, "invalid-login"},
    {Reason::kInvalidDestination, "invalid-destination"},
    {Reason::kUserDisabled, "user-disabled"},
    {Reason::kNoRoles, "no-roles"},
    {Reason::kUnknownHost, "unknown-host"},
    {Reason::kNoRoleSelectsHost, "no-role-selects-host"},
    {Reason::kLoginNotAllowed, "login-not-allowed"},
    {Reason::kKindNotAllowed, "kind-not-allowed"},
    {Reason::kDeniedByRule, "denied-by-rule"},
    {Reason::kForceCommandConflict, "force-command-conflict"},
}};

bool IsSessionKind(ChannelKind kind) {
  return kind == ChannelKind::kShell || kind == ChannelKind::kExec ||
         kind == ChannelKind::kSftp;
}

Decision Deny(Reason code, std::string reason, std::string role = "",
              std::string rule = "") {
  Decision d;
  d.allowed = false;
  d.code = code;
  d.reason = std::move(reason);
  d.role = std::move(role);
  d.rule = std::move(rule);
  return d;
}

std::string Q(std::string_view s) { return EscapeForReason(s); }

std::string KindName(ChannelKind kind) {
  return std::string(storage::ChannelKindName(kind));
}

bool HasLogin(const std::vector<std::string>& logins, std::string_view login) {
  return std::find(logins.begin(), logins.end(), login) != logins.end();
}

bool HasKind(const std::vector<ChannelKind>& kinds, ChannelKind kind) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

// Index of the first selector of `selectors` that matches, or -1.
int MatchingSelector(const std::vector<storage::HostSelector>& selectors,
                     const Host& host) {
  for (size_t i = 0; i < selectors.size(); ++i) {
    if (SelectorMatches(selectors[i], host)) return static_cast<int>(i);
  }
  return -1;
}

bool DenyRuleMatches(const storage::DenyRule& rule, std::string_view login,
                     const Host& host, ChannelKind kind) {
  if (!rule.logins.empty() && !HasLogin(rule.logins, login)) return false;
  if (!rule.channels.empty() && !HasKind(rule.channels, kind)) return false;
  if (!rule.hosts.empty() && MatchingSelector(rule.hosts, host) < 0) {
    return false;
  }
  return true;
}

std::string RoleNames(const std::vector<const Role*>& roles) {
  std::vector<std::string> names;
  for (const Role* r : roles) names.push_back(Q(r->name));
  return absl::StrJoin(names, ", ");
}

// Step 1 without the destination: the names in the request.
std::optional<Decision> CheckNames(std::string_view login,
                                   std::string_view host_name) {
  if (absl::Status st = ValidateHostName(host_name); !st.ok()) {
    return Deny(Reason::kInvalidHostName, std::string(st.message()));
  }
  if (absl::Status st = ValidateLogin(login); !st.ok()) {
    return Deny(Reason::kInvalidLogin, std::string(st.message()));
  }
  return std::nullopt;
}

std::optional<Decision> CheckDestination(const AccessRequest& request) {
  if (request.kind != ChannelKind::kPortForward) {
    if (request.destination.has_value()) {
      return Deny(Reason::kInvalidDestination,
                  absl::StrCat("a forward destination was given for a ",
                               KindName(request.kind),
                               " channel; only port-forward takes one"));
    }
    return std::nullopt;
  }
  if (!request.destination.has_value()) {
    return Deny(Reason::kInvalidDestination,
                "a port-forward needs a destination host and port");
  }
  if (absl::Status st = ValidateForwardDestination(request.destination->host,
                                                   request.destination->port);
      !st.ok()) {
    return Deny(Reason::kInvalidDestination, std::string(st.message()));
  }
  return std::nullopt;
}

// Step 2.
std::optional<Decision> CheckUser(const User& user,
                                  const std::vector<Role>& roles) {
  if (user.disabled) {
    return Deny(Reason::kUserDisabled,
                absl::StrCat("user ", Q(user.name),
                             " is disabled; an administrator must enable the "
                             "account"));
  }
  if (roles.empty()) {
    return Deny(Reason::kNoRoles,
                absl::StrCat("user ", Q(user.name),
                             " has no roles; ask an administrator to bind "
                             "one"));
  }
  return std::nullopt;
}

// Step 3.
std::optional<Decision> CheckHostKnown(std::string_view host_name,
                                       const std::optional<Host>& host) {
  // Host names are DNS names: the store finds them in any case.
  if (!host.has_value() ||
      !absl::EqualsIgnoreCase(
          host->name, absl::string_view(host_name.data(), host_name.size()))) {
    return Deny(Reason::kUnknownHost,
                absl::StrCat("host ", Q(host_name),
                             " is not in the inventory; check the name or "
                             "ask an administrator to add the host"));
  }
  return std::nullopt;
}

// Steps 4 and 5 for a request whose names, user and host passed.
Decision Evaluate(const std::vector<Role>& roles, std::string_view login,
                  const Host& host, ChannelKind kind) {
  for (const Role& role : roles) {
    for (size_t i = 0; i < role.deny.size(); ++i) {
      if (DenyRuleMatches(role.deny[i], login, host, kind)) {
        std::string rule = absl::StrCat("deny[", i, "]");
        return Deny(
            Reason::kDeniedByRule,
            absl::StrCat("role ", Q(role.name), " denies ", KindName(kind),
                         " as ", Q(login), " on ", Q(host.name), " (", rule,
                         "); deny rules win over every allow"),
            role.name, rule);
      }
    }
  }
  std::vector<const Role*> selecting;
  for (const Role& role : roles) {
    if (MatchingSelector(role.hosts, host) >= 0) selecting.push_back(&role);
  }
  if (selecting.empty()) {
    return Deny(Reason::kNoRoleSelectsHost,
                absl::StrCat("none of your roles selects host ", Q(host.name),
                             "; ask an administrator for a role whose host "
                             "selectors match it"));
  }
  std::vector<const Role*> with_login;
  std::vector<std::string> logins_there;
  for (const Role* role : selecting) {
    if (HasLogin(role->logins, login)) with_login.push_back(role);
    for (const std::string& l : role->logins) {
      if (!HasLogin(logins_there, l)) logins_there.push_back(l);
    }
  }
  if (with_login.empty()) {
    std::sort(logins_there.begin(), logins_there.end());
    for (std::string& l : logins_there) l = Q(l);
    return Deny(
        Reason::kLoginNotAllowed,
        absl::StrCat("your roles that select host ", Q(host.name), " (",
                     RoleNames(selecting), ") do not allow login ", Q(login),
                     "; logins allowed there: ",
                     logins_there.empty() ? std::string("none")
                                          : absl::StrJoin(logins_there, ", ")));
  }
  std::vector<const Role*> with_kind;
  std::vector<std::string> kinds_there;
  for (ChannelKind k : kAllKinds) {
    for (const Role* role : with_login) {
      if (HasKind(role->channels, k)) {
        kinds_there.push_back(KindName(k));
        break;
      }
    }
  }
  for (const Role* role : with_login) {
    if (HasKind(role->channels, kind)) with_kind.push_back(role);
  }
  if (with_kind.empty()) {
    return Deny(
        Reason::kKindNotAllowed,
        absl::StrCat("your roles do not allow ", KindName(kind),
                     " channels as ", Q(login), " on ", Q(host.name), " (",
                     RoleNames(with_login), "); allowed there: ",
                     kinds_there.empty() ? std::string("none")
                                         : absl::StrJoin(kinds_there, ", ")));
  }
  // Step 6: the command the allowing roles force, if every one forces one.
  std::optional<std::string> forced;
  if (IsSessionKind(kind) &&
      std::all_of(with_kind.begin(), with_kind.end(),
                  [](const Role* r) { return r->force_command.has_value(); })) {
    const Role& first = *with_kind.front();
    for (const Role* role : with_kind) {
      if (*role->force_command == *first.force_command) continue;
      return Deny(Reason::kForceCommandConflict,
                  absl::StrCat("roles ", Q(first.name), " and ", Q(role->name),
                               " force different commands for ", KindName(kind),
                               " as ", Q(login), " on ", Q(host.name),
                               "; an administrator must make them agree"),
                  role->name, "force_command");
    }
    forced = first.force_command;
  }
  const Role& decider = *with_kind.front();
  Decision d;
  d.allowed = true;
  d.code = Reason::kAllowed;
  d.role = decider.name;
  d.rule = absl::StrCat("hosts[", MatchingSelector(decider.hosts, host), "]");
  d.reason =
      absl::StrCat("role ", Q(decider.name), " allows ", KindName(kind), " as ",
                   Q(login), " on ", Q(host.name), " (", d.rule, ")");
  d.record = RecordMode::kNever;
  d.record_mode = storage::RecordFailureMode::kBestEffort;
  for (const Role* role : with_kind) {
    if (role->record == RecordMode::kAlways) d.record = RecordMode::kAlways;
    FoldRecordingPolicy(*role, d);
  }
  if (forced.has_value()) {
    d.force_command = std::move(forced);
    absl::StrAppend(&d.reason, "; its command is forced");
  }
  return d;
}

// Steps 1 and 2 of Decide (everything before the host lookup).
std::optional<Decision> CheckBeforeLookup(const User& user,
                                          const std::vector<Role>& roles,
                                          const AccessRequest& request) {
  if (auto d = CheckNames(request.login, request.host)) return d;
  if (auto d = CheckDestination(request)) return d;
  return CheckUser(user, roles);
}

Permissions Refused(Decision d) {
  Permissions p;
  p.decision = std::move(d);
  return p;
}

Permissions PermissionsForKnownHost(const std::vector<Role>& roles,
                                    std::string_view login, const Host& host) {
  Permissions p;
  std::vector<Decision> refusals;
  // The session kinds' forced commands, while they agree.
  bool session_kind_seen = false;
  bool same_force_command = true;
  for (ChannelKind kind : kAllKinds) {
    Decision d = Evaluate(roles, login, host, kind);
    if (!d.allowed) {
      refusals.push_back(std::move(d));
      continue;
    }
    p.kinds.push_back(kind);
    if (IsSessionKind(kind)) {
      if (!session_kind_seen) {
        p.force_command = d.force_command;
        session_kind_seen = true;
      } else if (p.force_command != d.force_command) {
        same_force_command = false;
      }
    }
    // Every role that allows this kind contributes, not only the decider.
    for (const Role& role : roles) {
      if (MatchingSelector(role.hosts, host) >= 0 &&
          HasLogin(role.logins, login) && HasKind(role.channels, kind) &&
          !HasLogin(p.roles, role.name)) {
        p.roles.push_back(role.name);
      }
    }
  }
  if (p.kinds.empty()) {
    Decision first = refusals.front();
    const bool same =
        std::all_of(refusals.begin(), refusals.end(),
                    [&](const Decision& d) { return d.code == first.code; });
    if (same && first.code != Reason::kKindNotAllowed &&
        first.code != Reason::kDeniedByRule) {
      return Refused(std::move(first));
    }
    const bool one_rule =
        std::all_of(refusals.begin(), refusals.end(), [&](const Decision& d) {
          return d.code == Reason::kDeniedByRule && d.role == first.role &&
                 d.rule == first.rule;
        });
    if (one_rule) {
      return Refused(
          Deny(Reason::kDeniedByRule,
               absl::StrCat("role ", Q(first.role), " denies every channel as ",
                            Q(login), " on ", Q(host.name), " (", first.rule,
                            "); deny rules win over every allow"),
               first.role, first.rule));
    }
    return Refused(Deny(Reason::kKindNotAllowed,
                        absl::StrCat("your roles allow no channel kind as ",
                                     Q(login), " on ", Q(host.name))));
  }
  if (!same_force_command) p.force_command.reset();
  p.decision.allowed = true;
  p.decision.code = Reason::kAllowed;
  p.decision.reason = absl::StrCat(
      "roles allow ", Q(login), " on ", Q(host.name), ": ",
      absl::StrJoin(p.kinds, ", ", [](std::string* out, ChannelKind k) {
        out->append(storage::ChannelKindName(k));
      }));
  p.record = RecordMode::kNever;
  p.decision.record_mode = storage::RecordFailureMode::kBestEffort;
  p.max_ttl = absl::InfiniteDuration();
  for (const Role& role : roles) {
    if (!HasLogin(p.roles, role.name)) continue;
    if (role.record == RecordMode::kAlways) p.record = RecordMode::kAlways;
    FoldRecordingPolicy(role, p.decision);
    p.max_ttl = std::min(p.max_ttl, role.max_ttl);
  }
  p.decision.record = p.record;
  const auto has = [&](ChannelKind k) { return HasKind(p.kinds, k); };
  // Sorted by name, as certificates require.
  if (has(ChannelKind::kAgentForward)) {
    p.extensions.push_back(
        ssh::cert::CertOption::Flag(ssh::cert::kPermitAgentForwarding));
  }
  if (has(ChannelKind::kPortForward)) {
    p.extensions.push_back(
        ssh::cert::CertOption::Flag(ssh::cert::kPermitPortForwarding));
  }
  if (has(ChannelKind::kShell) || has(ChannelKind::kExec)) {
    p.extensions.push_back(ssh::cert::CertOption::Flag(ssh::cert::kPermitPty));
  }
  return p;
}

}  // namespace

std::string_view ReasonName(Reason reason) {
  for (const auto& [r, name] : kReasonNames) {
    if (r == reason) return name;
  }
  return "unknown";
}

void FoldRecordingPolicy(const Role& role, Decision& d) {
  if (role.record_mode == storage::RecordFailureMode::kStrict) {
    d.record_mode = storage::RecordFailureMode::kStrict;
  }
  if (role.record_input.has_value() && !d.record_input.value_or(false)) {
    d.record_input = role.record_input;
  }
}

Decision Decide(const User& user, const std::vector<Role>& roles,
                const AccessRequest& request, const std::optional<Host>& host) {
  if (auto d = CheckBeforeLookup(user, roles, request)) return *d;
  if (auto d = CheckHostKnown(request.host, host)) return *d;
  return Evaluate(roles, request.login, *host, request.kind);
}

absl::StatusOr<Decision> Decide(const User& user,
                                const std::vector<Role>& roles,
                                const AccessRequest& request,
                                HostLookup lookup) {
  if (auto d = CheckBeforeLookup(user, roles, request)) return *d;
  absl::StatusOr<std::optional<Host>> host = lookup(request.host);
  if (!host.ok()) return host.status();
  return Decide(user, roles, request, *host);
}

absl::StatusOr<std::optional<Host>> FindHost(storage::Store& store,
                                             std::string_view name) {
  absl::StatusOr<Host> host = store.GetHost(name);
  if (host.ok()) return std::optional<Host>(*std::move(host));
  if (absl::IsNotFound(host.status())) return std::optional<Host>();
  return host.status();
}

absl::StatusOr<std::optional<storage::Host>> FindHostByAddress(
    storage::Store& store, std::string_view address, uint32_t port,
    std::string* why) {
  if (!ValidateForwardDestination(address, port == 0 ? 22 : port).ok())
    return std::optional<storage::Host>();
  ASSIGN_OR_RETURN(std::vector<storage::Host> hosts, store.ListHosts());
  std::vector<const storage::Host*> same_address, same_port;
  for (const storage::Host& h : hosts) {
    if (!absl::EqualsIgnoreCase(
            h.address, absl::string_view(address.data(), address.size()))) {
      continue;
    }
    same_address.push_back(&h);
    if (port != 0 && h.port == port) same_port.push_back(&h);
  }
  if (same_port.size() == 1) return std::optional<storage::Host>(*same_port[0]);
  if (same_port.empty() && same_address.size() == 1)
    return std::optional<storage::Host>(*same_address[0]);
  if (same_address.size() > 1) {
    *why = absl::StrCat(
        "several inventory hosts have the address ", EscapeForReason(address),
        same_port.empty() ? "" : absl::StrCat(" and port ", port),
        "; connect to the host by its inventory name");
  }
  return std::optional<storage::Host>();
}

Permissions EffectivePermissions(const User& user,
                                 const std::vector<Role>& roles,
                                 std::string_view login,
                                 std::string_view host_name,
                                 const std::optional<Host>& host) {
  if (auto d = CheckNames(login, host_name)) return Refused(*d);
  if (auto d = CheckUser(user, roles)) return Refused(*d);
  if (auto d = CheckHostKnown(host_name, host)) return Refused(*d);
  return PermissionsForKnownHost(roles, login, *host);
}

absl::StatusOr<Permissions> EffectivePermissions(const User& user,
                                                 const std::vector<Role>& roles,
                                                 std::string_view login,
                                                 std::string_view host_name,
                                                 HostLookup lookup) {
  if (auto d = CheckNames(login, host_name)) return Refused(*d);
  if (auto d = CheckUser(user, roles)) return Refused(*d);
  absl::StatusOr<std::optional<Host>> host = lookup(host_name);
  if (!host.ok()) return host.status();
  return EffectivePermissions(user, roles, login, host_name, *host);
}

absl::StatusOr<ForwardDestination> ParseForwardDestination(
    std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError("destination must be HOST:PORT");
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(std::string(text.substr(colon + 1)), &port)) {
    return absl::InvalidArgumentError("destination must be HOST:PORT");
  }
  absl::Status valid = ValidateForwardDestination(host, port);
  if (!valid.ok()) return valid;
  return ForwardDestination{std::string(host), port};
}

}  // namespace sallyport::ca::rbac
