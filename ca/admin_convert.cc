#include "ca/admin_convert.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "ca/enrollment.h"
#include "ca/rbac/names.h"
#include "ca/service_util.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;

void SelectorToProto(const storage::HostSelector& s, pb::HostSelector* out) {
  for (const auto& [k, v] : s.labels) (*out->mutable_labels())[k] = v;
  for (const std::string& g : s.name_globs) out->add_name_globs(g);
}

// Label keys are names (k8s style: letters, digits, '.', '_', '-', '/');
// values are one line of printable text (they are shown in `sp ls` and
// `spctl hosts ls` tables).
absl::Status ValidateLabels(
    std::string_view field,
    const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > kMaxHostLabels) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": ", labels.size(),
                     " labels, at most ", kMaxHostLabels, " are allowed"));
  }
  size_t bytes = 0;
  for (const auto& [k, v] : labels) bytes += k.size() + v.size();
  if (bytes > kMaxHostLabelBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), ": the labels' keys and values take ", bytes,
        " bytes, at most ", kMaxHostLabelBytes, " are allowed"));
  }
  for (const auto& [k, v] : labels) {
    bool ok = !k.empty() && k.size() <= kMaxLabelKeyBytes &&
              absl::ascii_isalnum(static_cast<unsigned char>(k[0]));
    for (char c : k) {
      ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '.' || c == '_' || c == '-' || c == '/');
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(field), ": label key ", rbac::EscapeForReason(k),
          " must be 1..", kMaxLabelKeyBytes,
          " of [A-Za-z0-9._/-] starting with a letter or digit"));
    }
    // Values are shown as they are (sp ls, spctl hosts ls): no control
    // characters (C1 included), bidirectional controls or invisible
    // characters, as display names.
    if (v.size() > kMaxLabelValueBytes || !base::IsPrintableUtf8(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), ": the value of label ", k,
                       " must be at most ", kMaxLabelValueBytes,
                       " bytes of UTF-8 text without control, bidirectional "
                       "or invisible characters"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::HostSelector> SelectorFromProto(
    const pb::HostSelector& s, std::string_view field) {
  RETURN_IF_ERROR(ValidateLabels(field, s.labels()));
  storage::HostSelector out;
  for (const auto& [k, v] : s.labels()) out.labels[k] = v;
  for (const std::string& g : s.name_globs()) {
    // A glob matches host names: their characters, '*' and '?'.
    bool ok = !g.empty() && g.size() <= rbac::kMaxHostNameBytes;
    for (char c : g) {
      ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '.' || c == '-' || c == '*' || c == '?');
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(field), ": name glob ", rbac::EscapeForReason(g),
          " must be 1..", rbac::kMaxHostNameBytes,
          " of host name characters, '*' and '?'"));
    }
    out.name_globs.push_back(g);
  }
  return out;
}

absl::Status ValidateLogins(
    std::string_view field,
    const google::protobuf::RepeatedPtrField<std::string>& logins) {
  for (const std::string& l : logins) {
    if (absl::Status bad = rbac::ValidateLogin(l); !bad.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), ": ", bad.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<storage::ChannelKind>> ChannelsFromProto(
    const google::protobuf::RepeatedPtrField<std::string>& names) {
  std::vector<storage::ChannelKind> out;
  for (const std::string& n : names) {
    std::optional<storage::ChannelKind> kind = storage::ParseChannelKind(n);
    if (!kind.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown channel kind ", rbac::EscapeForReason(n),
                       " (shell, exec, sftp, port-forward, agent-forward, "
                       "proxyjump-passthrough)"));
    }
    // A kind named twice is the kind once (the role reads back so).
    if (std::find(out.begin(), out.end(), *kind) == out.end()) {
      out.push_back(*kind);
    }
  }
  return out;
}

}  // namespace

void UserToProto(const storage::User& user,
                 const storage::Credentials* credentials, pb::User* out) {
  out->set_name(user.name);
  out->set_display_name(user.display_name);
  out->set_disabled(user.disabled);
  *out->mutable_created_at() = ToTimestamp(user.created_at);
  *out->mutable_updated_at() = ToTimestamp(user.updated_at);
  if (credentials != nullptr) {
    out->set_has_password(!credentials->password_hash.empty());
    out->set_has_totp(!credentials->totp_secret.empty());
    out->set_failed_attempts(credentials->failed_attempts);
    if (credentials->locked_until.has_value()) {
      *out->mutable_locked_until() = ToTimestamp(*credentials->locked_until);
    }
  }
}

storage::User UserFromProto(const pb::User& user) {
  storage::User out;
  out.name = user.name();
  out.display_name = user.display_name();
  out.disabled = user.disabled();
  return out;
}

void RoleToProto(const storage::Role& role, pb::Role* out) {
  out->set_name(role.name);
  out->set_description(role.description);
  for (const std::string& l : role.logins) out->add_logins(l);
  for (const auto& s : role.hosts) SelectorToProto(s, out->add_hosts());
  for (auto c : role.channels) {
    out->add_channels(std::string(storage::ChannelKindName(c)));
  }
  *out->mutable_max_ttl() = ToDurationProto(role.max_ttl);
  out->set_record(std::string(storage::RecordModeName(role.record)));
  out->set_record_mode(
      std::string(storage::RecordFailureModeName(role.record_mode)));
  if (role.record_input.has_value()) out->set_record_input(*role.record_input);
  if (role.force_command.has_value()) {
    out->set_force_command(*role.force_command);
  }
  for (const storage::DenyRule& d : role.deny) {
    pb::DenyRule* rule = out->add_deny();
    for (const std::string& l : d.logins) rule->add_logins(l);
    for (const auto& s : d.hosts) SelectorToProto(s, rule->add_hosts());
    for (auto c : d.channels) {
      rule->add_channels(std::string(storage::ChannelKindName(c)));
    }
  }
  *out->mutable_created_at() = ToTimestamp(role.created_at);
  *out->mutable_updated_at() = ToTimestamp(role.updated_at);
}

absl::StatusOr<storage::Role> RoleFromProto(const pb::Role& role) {
  // A role's name is shown to users in refusals ("denied by role 'x'") and
  // typed in spctl commands; its logins become certificate principals.
  RETURN_IF_ERROR(
      ValidateSimpleName("role name", role.name(), kMaxRoleNameBytes));
  RETURN_IF_ERROR(ValidateLogins("role logins", role.logins()));
  RETURN_IF_ERROR(ValidateShownText("role description", role.description(),
                                    storage::kMaxTextBytes));
  storage::Role out;
  out.name = role.name();
  out.description = role.description();
  out.logins.assign(role.logins().begin(), role.logins().end());
  for (const auto& s : role.hosts()) {
    ASSIGN_OR_RETURN(storage::HostSelector selector,
                     SelectorFromProto(s, "role hosts"));
    out.hosts.push_back(std::move(selector));
  }
  ASSIGN_OR_RETURN(out.channels, ChannelsFromProto(role.channels()));
  const absl::Duration ttl = FromDurationProto(role.max_ttl());
  out.max_ttl = ttl == absl::ZeroDuration() ? absl::Hours(8) : ttl;
  // As `sp login --ttl`: a certificate shorter than a minute would expire
  // before its user could use it. Both bounds in one message (a negative
  // or too long one said "must be in (0, 366 days]", from the store).
  if (out.max_ttl < kMinRoleMaxTtl || out.max_ttl > kMaxRoleMaxTtl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "role max_ttl must be at least ", absl::FormatDuration(kMinRoleMaxTtl),
        " and at most 366 days (", absl::FormatDuration(kMaxRoleMaxTtl),
        "); it is ", absl::FormatDuration(out.max_ttl)));
  }
  if (!role.record().empty()) {
    std::optional<storage::RecordMode> mode =
        storage::ParseRecordMode(role.record());
    if (!mode.has_value()) {
      return absl::InvalidArgumentError("record must be always or never");
    }
    out.record = *mode;
  }
  if (!role.record_mode().empty()) {
    std::optional<storage::RecordFailureMode> mode =
        storage::ParseRecordFailureMode(role.record_mode());
    if (!mode.has_value()) {
      return absl::InvalidArgumentError(
          "record_mode must be strict or best_effort");
    }
    out.record_mode = *mode;
  }
  if (role.has_record_input()) out.record_input = role.record_input();
  if (role.has_force_command()) out.force_command = role.force_command();
  for (const pb::DenyRule& d : role.deny()) {
    storage::DenyRule rule;
    RETURN_IF_ERROR(ValidateLogins("deny logins", d.logins()));
    rule.logins.assign(d.logins().begin(), d.logins().end());
    for (const auto& s : d.hosts()) {
      ASSIGN_OR_RETURN(storage::HostSelector selector,
                       SelectorFromProto(s, "deny hosts"));
      rule.hosts.push_back(std::move(selector));
    }
    ASSIGN_OR_RETURN(rule.channels, ChannelsFromProto(d.channels()));
    out.deny.push_back(std::move(rule));
  }
  return out;
}

void BindingToProto(const storage::RoleBinding& binding, pb::RoleBinding* out) {
  out->set_user(binding.user);
  out->set_role(binding.role);
  *out->mutable_created_at() = ToTimestamp(binding.created_at);
}

void HostToProto(const storage::Host& host, pb::Host* out) {
  out->set_name(host.name);
  out->set_address(host.address);
  out->set_port(host.port);
  for (const auto& [k, v] : host.labels) (*out->mutable_labels())[k] = v;
  out->set_trust(std::string(storage::HostTrustName(host.trust)));
  out->set_host_key(host.host_key);
  *out->mutable_created_at() = ToTimestamp(host.created_at);
  *out->mutable_updated_at() = ToTimestamp(host.updated_at);
}

absl::StatusOr<storage::Host> HostFromProto(const pb::Host& host) {
  storage::Host out;
  out.name = host.name();
  out.address = host.address();
  // An inventory name is what users type (LOGIN+HOST, ssh HOST) and what
  // host certificates name: a name RBAC refuses before any lookup would
  // make a host nobody can reach (and put `;` or spaces into ssh_config
  // and host certificates).
  if (absl::Status bad = rbac::ValidateInventoryName(out.name); !bad.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("host name: ", bad.message()));
  }
  if (absl::Status bad = ValidateHostPrincipal(out.address); !bad.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("host address: ", bad.message()));
  }
  RETURN_IF_ERROR(ValidateLabels("host labels", host.labels()));
  if (host.port() > 65535) {
    return absl::InvalidArgumentError("port must be 1..65535");
  }
  out.port = host.port() == 0 ? 22 : static_cast<uint16_t>(host.port());
  for (const auto& [k, v] : host.labels()) out.labels[k] = v;
  if (!host.trust().empty()) {
    std::optional<storage::HostTrust> trust =
        storage::ParseHostTrust(host.trust());
    if (!trust.has_value()) {
      return absl::InvalidArgumentError("trust must be host-ca or pinned-key");
    }
    out.trust = *trust;
  }
  out.host_key = host.host_key();
  // `spctl hosts show` prints the key line as it is: its comment must not
  // carry an escape sequence or a newline (the key itself would parse).
  RETURN_IF_ERROR(
      ValidateShownText("host key", out.host_key, storage::kMaxTextBytes));
  // A pinned key the gateway could never compare with anything would fail
  // every connection to the host; refuse it now, when the admin is there.
  if (out.trust == storage::HostTrust::kPinnedKey && out.host_key.empty()) {
    return absl::InvalidArgumentError(
        "host key: trust pinned-key needs the host's public key (an OpenSSH "
        "public key line, e.g. the host's "
        "/etc/ssh/ssh_host_ed25519_key.pub; "
        "spctl: --host-key FILE)");
  }
  if (out.trust == storage::HostTrust::kPinnedKey || !out.host_key.empty()) {
    absl::StatusOr<ssh::crypto::PublicKey> key =
        ssh::crypto::PublicKey::FromAuthorizedKeysLine(out.host_key);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("host key: not an OpenSSH public key line: ",
                       key.status().message()));
    }
  }
  return out;
}

void SessionSummaryToProto(const storage::Session& s, pb::SessionSummary* out) {
  out->set_id(s.id);
  out->set_user(s.user);
  out->set_login(s.login);
  out->set_host(s.host);
  *out->mutable_started_at() = ToTimestamp(s.started_at);
  if (s.ended_at) *out->mutable_ended_at() = ToTimestamp(*s.ended_at);
  // While active: the bytes so far, of the open channels too.
  out->set_bytes_in(s.BytesInSoFar());
  out->set_bytes_out(s.BytesOutSoFar());
  out->set_status(std::string(storage::SessionStatusName(s.status)));
  if (s.abandoned_at) SessionAbandonedToProto(s, out->mutable_abandoned());
}

void SessionAbandonedToProto(const storage::Session& s,
                             pb::SessionAbandoned* out) {
  *out->mutable_at() = ToTimestamp(s.abandoned_at.value_or(absl::UnixEpoch()));
  out->set_by(s.abandoned_by);
  out->set_reason(s.abandon_reason);
}

void CertificateToProto(const storage::IssuedCertificate& cert,
                        pb::IssuedCertificate* out) {
  out->set_serial(cert.serial);
  out->set_key_id(cert.key_id);
  out->set_user(cert.user);
  for (const std::string& p : cert.principals) out->add_principals(p);
  *out->mutable_valid_after() = ToTimestamp(cert.valid_after);
  *out->mutable_valid_before() = ToTimestamp(cert.valid_before);
  out->set_public_key_fingerprint(cert.public_key_fingerprint);
  out->set_ca_key_fingerprint(cert.ca_key_fingerprint);
  out->set_purpose(std::string(storage::CertificatePurposeName(cert.purpose)));
  *out->mutable_issued_at() = ToTimestamp(cert.issued_at);
}

void RevocationToAdminProto(const storage::Revocation& r,
                            pb::RevokedEntry* out) {
  out->set_id(r.id);
  if (r.serial.has_value()) out->set_serial(*r.serial);
  if (r.key_fingerprint.has_value()) {
    out->set_key_fingerprint(*r.key_fingerprint);
  }
  out->set_reason(r.reason);
  out->set_revoked_by(r.revoked_by);
  *out->mutable_revoked_at() = ToTimestamp(r.revoked_at);
}

RevocationIndex::RevocationIndex(std::vector<storage::Revocation> all)
    : all_(std::move(all)) {
  // By id, so that the first of each target is kept.
  std::sort(all_.begin(), all_.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  for (size_t i = 0; i < all_.size(); ++i) {
    if (all_[i].serial.has_value()) by_serial_.emplace(*all_[i].serial, i);
    if (all_[i].key_fingerprint.has_value()) {
      by_key_.emplace(*all_[i].key_fingerprint, i);
    }
  }
}

const storage::Revocation* RevocationIndex::Find(
    const storage::IssuedCertificate& cert) const {
  std::optional<size_t> found;
  if (auto it = by_serial_.find(cert.serial); it != by_serial_.end()) {
    found = it->second;
  }
  if (auto it = by_key_.find(cert.public_key_fingerprint);
      it != by_key_.end() && (!found.has_value() || it->second < *found)) {
    found = it->second;
  }
  return found.has_value() ? &all_[*found] : nullptr;
}

void CertificateToProto(const storage::IssuedCertificate& cert,
                        const RevocationIndex& revoked,
                        pb::IssuedCertificate* out) {
  CertificateToProto(cert, out);
  if (const storage::Revocation* r = revoked.Find(cert)) {
    out->set_revoked(true);
    RevocationToAdminProto(*r, out->mutable_revocation());
  }
}

void CaKeyToProto(const storage::CaKey& key, pb::CaKey* out) {
  out->set_fingerprint(key.fingerprint);
  out->set_purpose(std::string(storage::CaKeyPurposeName(key.purpose)));
  out->set_public_key(key.public_key);
  out->set_state(std::string(storage::CaKeyStateName(key.state)));
  *out->mutable_created_at() = ToTimestamp(key.created_at);
  if (key.retired_at.has_value()) {
    *out->mutable_retired_at() = ToTimestamp(*key.retired_at);
  }
}

absl::StatusOr<storage::CaKeyPurpose> CaKeyPurposeFromString(
    std::string_view purpose) {
  std::optional<storage::CaKeyPurpose> p = storage::ParseCaKeyPurpose(purpose);
  if (!p.has_value()) {
    return absl::InvalidArgumentError("purpose must be user, host or session");
  }
  return *p;
}

}  // namespace sallyport::ca
