#include "ca/enrollment.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "ca/rbac/names.h"
#include "ca/service_util.h"

namespace sallyport::ca {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

absl::Status AuditEnrollRefused(AuditLog& audit, std::string_view subject,
                                std::string_view kind, std::string_view source,
                                absl::Status why) {
  // Best effort: the refusal stands whether or not it could be logged.
  (void)audit.Record(
      kEventEnrollRefused, subject,
      {{"kind", std::string(kind)},
       {"source", std::string(source)},
       {"code", std::string(absl::StatusCodeToString(why.code()))},
       {"reason", std::string(why.message())}});
  return why;
}

absl::StatusOr<storage::JoinToken> ConsumeJoinTokenOfKind(
    storage::Store& store, AuditLog& audit, std::string_view token,
    std::string_view kind, std::string_view subject, std::string_view source) {
  auto refuse = [&](absl::Status why) {
    return AuditEnrollRefused(audit, subject, kind, source, std::move(why));
  };
  // Too long to be one of ours: refused for its size, before the store
  // hashes and looks it up.
  if (token.size() > kMaxJoinTokenBytes) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("the join token is longer than ", kMaxJoinTokenBytes,
                     " bytes (a join token is 43 characters)")));
  }
  if (token.empty()) {
    return refuse(absl::UnauthenticatedError(
        "the join token is unknown, already used, revoked or expired"));
  }
  absl::StatusOr<storage::JoinToken> consumed =
      store.ConsumeJoinToken(base::SecretBytes::FromString(token));
  if (!consumed.ok()) {
    const absl::StatusCode code = consumed.status().code();
    if (code == absl::StatusCode::kNotFound ||
        code == absl::StatusCode::kFailedPrecondition ||
        code == absl::StatusCode::kInvalidArgument) {
      return refuse(absl::UnauthenticatedError(
          "the join token is unknown, already used, revoked or expired"));
    }
    return refuse(absl::UnavailableError("the CA's store is unavailable"));
  }
  if (consumed->purpose != kind) {
    return refuse(absl::PermissionDeniedError(
        absl::StrCat("this join token is for a ", consumed->purpose, ", not a ",
                     std::string(kind), " (the token is now used up)")));
  }
  return consumed;
}

absl::Status ValidateShownText(std::string_view field, std::string_view text,
                               size_t max_bytes) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": at most ", max_bytes, " bytes"));
  }
  if (!base::IsValidUtf8(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": not valid UTF-8"));
  }
  if (!base::IsPrintableUtf8(text)) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field),
        ": control characters (newlines, escapes), bidirectional controls "
        "and invisible characters (U+202E, U+200B) are not allowed"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDisplayName(std::string_view name) {
  return ValidateShownText("display name", name, kMaxDisplayNameBytes);
}

absl::Status ValidateSimpleName(std::string_view field, std::string_view name,
                                size_t max_bytes) {
  if (name.empty() || name.size() > max_bytes ||
      !absl::ascii_isalnum(static_cast<unsigned char>(name[0]))) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": 1..", max_bytes,
                     " characters of [A-Za-z0-9._-], starting with a letter "
                     "or digit"));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(field), ": only [A-Za-z0-9._-] are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateGatewayName(std::string_view name) {
  return ValidateSimpleName("gateway name", name, 64);
}

absl::Status ValidateHostPrincipal(std::string_view name) {
  if (rbac::ValidateHostName(name).ok()) return absl::OkStatus();
  // An IP literal (no zone ids, no brackets).
  const std::string text(name);
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1 ||
      inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "not a host name or IP address: ", rbac::EscapeForReason(name)));
}

namespace {

bool SameName(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(absl::string_view(a.data(), a.size()),
                                absl::string_view(b.data(), b.size()));
}

}  // namespace

absl::StatusOr<std::optional<NameInUse>> FindNameInUse(
    storage::Store& store, const std::vector<std::string>& names,
    absl::Time now, std::string_view own_key_id) {
  // The gateway checks an upstream host certificate for the inventory
  // name, and users' @cert-authority lines accept any name on it: a name
  // is taken when it is an inventory host's name or address, or a
  // principal of a host certificate still valid and not revoked (a
  // gateway's, whose names are in no inventory, or a host's an admin
  // deleted).
  ASSIGN_OR_RETURN(std::vector<storage::Host> hosts, store.ListHosts());
  for (const storage::Host& h : hosts) {
    for (const std::string& ours : names) {
      if (ours.empty()) continue;
      if (SameName(ours, h.name)) {
        return NameInUse{ours, absl::StrCat("the name of host ", h.name)};
      }
      if (SameName(ours, h.address)) {
        return NameInUse{ours, absl::StrCat("the address of host ", h.name)};
      }
    }
  }
  std::optional<NameInUse> found;
  storage::CertificateFilter filter;
  filter.purpose = storage::CertificatePurpose::kHost;
  filter.valid_at = now;
  RETURN_IF_ERROR(ForEachCertificate(
      store, filter,
      [&](const storage::IssuedCertificate& c) -> absl::StatusOr<bool> {
        if (!own_key_id.empty() && c.key_id == own_key_id) return true;
        for (const std::string& p : c.principals) {
          for (const std::string& ours : names) {
            if (ours.empty() || !SameName(ours, p)) continue;
            ASSIGN_OR_RETURN(
                bool revoked,
                store.IsRevoked(c.serial, c.public_key_fingerprint));
            if (revoked) continue;
            found = NameInUse{
                ours,
                absl::StrCat("on host certificate ", c.serial, " (key id ",
                             rbac::EscapeForReason(c.key_id), "), valid until ",
                             absl::FormatTime(c.valid_before))};
            return false;
          }
        }
        return true;
      }));
  return found;
}

namespace {

// A join token names no host, so the names a new host enrolled with it
// gets on its certificate (its name and address) must be nobody else's
// (FindNameInUse).
absl::Status CheckNewHostNamesAreFree(storage::Store& store,
                                      std::string_view name,
                                      std::string_view address,
                                      absl::Time now) {
  const std::vector<std::string> names = {std::string(name),
                                          std::string(address)};
  ASSIGN_OR_RETURN(std::optional<NameInUse> taken,
                   FindNameInUse(store, names, now));
  if (!taken.has_value()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "a join token cannot enrol a host as ",
      rbac::EscapeForReason(taken->name), ": that name is ", taken->whose,
      " (an administrator can add the host first: spctl hosts add ",
      rbac::EscapeForReason(name), " --address ...)"));
}

}  // namespace

absl::StatusOr<std::optional<storage::Host>> CheckHostEnrolment(
    storage::Store& store, std::string_view name, std::string_view address,
    uint32_t port, const ssh::crypto::PublicKey& key, HostEnrolledBy by,
    absl::Time now, bool names_in_use) {
  if (port > 65535) {
    return absl::InvalidArgumentError("port must be 1..65535");
  }
  if (!address.empty()) RETURN_IF_ERROR(ValidateHostPrincipal(address));
  absl::StatusOr<storage::Host> existing = store.GetHost(name);
  if (existing.status().code() == absl::StatusCode::kNotFound) {
    if (address.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "host ", rbac::EscapeForReason(name),
          " is not in the inventory; give its address to enrol it"));
    }
    // A new inventory host: its name is what users will type, so the
    // admin API's rule for names applies (an IP address is its address).
    if (absl::Status st = rbac::ValidateInventoryName(name); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("host name: ", st.message()));
    }
    if (by == HostEnrolledBy::kJoinToken && names_in_use) {
      RETURN_IF_ERROR(CheckNewHostNamesAreFree(store, name, address, now));
    }
    return std::optional<storage::Host>();
  }
  if (!existing.ok()) return existing.status();
  // Enrolment never moves a host: users reach it at its inventory
  // address, which an administrator chose.
  if (!address.empty() &&
      !absl::EqualsIgnoreCase(
          existing->address,
          absl::string_view(address.data(), address.size()))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "host ", existing->name, " is in the inventory with address ",
        rbac::EscapeForReason(existing->address), ", not ",
        rbac::EscapeForReason(address),
        ": enrolment does not change it (leave the address out, or have an "
        "admin change it: spctl hosts edit ",
        existing->name, " --address ", rbac::EscapeForReason(address), ")"));
  }
  if (port != 0 && port != existing->port) {
    return absl::FailedPreconditionError(absl::StrCat(
        "host ", existing->name, " is in the inventory with port ",
        existing->port, ", not ", port,
        ": enrolment does not change it (leave the port out, or have an admin "
        "change it: spctl hosts edit ",
        existing->name, " --port ", port, ")"));
  }
  // A join token names no host: it enrols a new one, or one an
  // administrator added without a key, never replaces the key of an
  // enrolled host (whoever holds a token could take its name, and the
  // sessions the gateway opens to it).
  if (by == HostEnrolledBy::kJoinToken && !existing->host_key.empty() &&
      existing->host_key != key.ToAuthorizedKeysLine()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "host ", existing->name,
        " is already enrolled with another key; a join token cannot replace "
        "it (an administrator can: spctl hosts sign ",
        existing->name, " --public-key FILE)"));
  }
  return std::optional<storage::Host>(*std::move(existing));
}

namespace {

// The write of an enrolment checked against `checked` (nullopt: a new
// host): kAborted when the host changed since it was read, kAlreadyExists
// when a new host of that name was created since.
absl::StatusOr<storage::Host> WriteEnrolledHost(
    storage::Store& store, const std::optional<storage::Host>& checked,
    std::string_view name, std::string_view address, uint32_t port,
    const ssh::crypto::PublicKey& key) {
  if (checked.has_value()) {
    storage::Host host = *checked;
    host.host_key = key.ToAuthorizedKeysLine();
    return store.UpdateHost(host, checked->updated_at);
  }
  storage::Host host;
  host.name = std::string(name);
  host.address = std::string(address);
  host.port = port == 0 ? 22 : static_cast<uint16_t>(port);
  host.trust = storage::HostTrust::kHostCa;
  host.host_key = key.ToAuthorizedKeysLine();
  return store.CreateHost(host);
}

}  // namespace

absl::StatusOr<storage::Host> RecordEnrolledHost(
    storage::Store& store, std::string_view name, std::string_view address,
    uint32_t port, const ssh::crypto::PublicKey& key, HostEnrolledBy by,
    absl::Time now, const std::function<void()>& after_check) {
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(
        std::optional<storage::Host> checked,
        CheckHostEnrolment(store, name, address, port, key, by, now));
    if (after_check) after_check();
    absl::StatusOr<storage::Host> written =
        WriteEnrolledHost(store, checked, name, address, port, key);
    // The host is not the one checked any more: decide again on the
    // current one (an admin who just moved it refuses an enrolment that
    // names the old address).
    const absl::StatusCode code = written.status().code();
    const bool changed =
        code == absl::StatusCode::kAborted ||
        (code == absl::StatusCode::kAlreadyExists && !checked.has_value());
    if (!changed || attempt == kHostEnrolmentAttempts) return written;
  }
}

}  // namespace sallyport::ca
