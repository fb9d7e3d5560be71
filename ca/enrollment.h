// Enrolment with one-time join tokens (DESIGN.md §5 "Gateway identity",
// issue 11 "Host enrolment"): consuming a token of the right kind, checking
// the names a gateway or host enrols with, and recording an enrolled host's
// key in the inventory.
#ifndef SALLYPORT_CA_ENROLLMENT_H_
#define SALLYPORT_CA_ENROLLMENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/audit_log.h"
#include "ssh/crypto/keys.h"
#include "storage/store.h"

namespace sallyport::ca {

// Audit events of enrolment.
inline constexpr std::string_view kEventGatewayEnrolled = "gateway.enrolled";
inline constexpr std::string_view kEventGatewayRenewed = "gateway.renewed";
inline constexpr std::string_view kEventEnrollRefused = "enroll.refused";
inline constexpr std::string_view kEventHostEnrolled = "host.enrolled";

// A join token secret is URL-safe base64 of 32 bytes (43 characters); this
// bounds what we hash from a request.
inline constexpr size_t kMaxJoinTokenBytes = 128;

// Records kEventEnrollRefused for `subject` (kind, source, code, reason)
// and returns `why`.
absl::Status AuditEnrollRefused(AuditLog& audit, std::string_view subject,
                                std::string_view kind, std::string_view source,
                                absl::Status why);

// Consumes `token` (store.ConsumeJoinToken, exactly once across stores)
// and requires its kind to be `kind` ("gateway" or "host"). An unknown,
// used or expired token is kUnauthenticated with one message for all three;
// a token longer than kMaxJoinTokenBytes is kInvalidArgument with that
// reason (the store is not asked); a token of another kind is
// kPermissionDenied (it is consumed all the
// same: a token shown to the wrong endpoint is spent). kUnavailable when
// the store cannot be asked. Refusals are "enroll.refused" audit events
// naming `subject` and `source` (never the secret).
absl::StatusOr<storage::JoinToken> ConsumeJoinTokenOfKind(
    storage::Store& store, AuditLog& audit, std::string_view token,
    std::string_view kind, std::string_view subject, std::string_view source);

// 1..max_bytes of [A-Za-z0-9._-], starting with a letter or digit (gateway
// names, session ids). kInvalidArgument naming `field` otherwise.
absl::Status ValidateSimpleName(std::string_view field, std::string_view name,
                                size_t max_bytes);

// A user's display name: at most kMaxDisplayNameBytes of UTF-8 text
// (base::IsPrintableUtf8): no control characters (C0, DEL, C1), no
// bidirectional controls (U+202E...) and no invisible characters (U+200B,
// U+FEFF...): it is printed in admins' terminals (`spctl users ls`), where
// an escape sequence would act, a newline break the table and an override
// make the name read as another. Empty is fine. kInvalidArgument otherwise.
inline constexpr size_t kMaxDisplayNameBytes = 256;
absl::Status ValidateDisplayName(std::string_view name);
// The same rules for other free text admins see in spctl (a role's
// description, a revocation's reason), named `field` in the error.
absl::Status ValidateShownText(std::string_view field, std::string_view text,
                               size_t max_bytes);

// A gateway name: 1..64 bytes of [A-Za-z0-9._-], starting with a letter or
// digit. kInvalidArgument otherwise.
absl::Status ValidateGatewayName(std::string_view name);

// A name a host certificate may carry: an RFC 1123 host name (as the RBAC
// engine validates them) or an IPv4/IPv6 literal. kInvalidArgument
// otherwise.
absl::Status ValidateHostPrincipal(std::string_view name);

// A name a join token would put on a host certificate that is someone
// else's, and whose it is ("the name of host web01", "on host certificate
// 12 (key id "gw2"), valid until ...").
struct NameInUse {
  std::string name;
  std::string whose;
};
// The first of `names` (ignoring empty ones) that is, compared ignoring
// case, an inventory host's name or address, or a principal of a host
// certificate valid at `now` and not revoked (a gateway's, or a host's an
// admin deleted) whose key id is not `own_key_id` (when not empty: a
// gateway's own host certificates, key id = its name); nullopt when every
// name is free. Reads the whole inventory and every valid host
// certificate: call it only for a caller with a valid join token. Store
// errors pass through.
absl::StatusOr<std::optional<NameInUse>> FindNameInUse(
    storage::Store& store, const std::vector<std::string>& names,
    absl::Time now, std::string_view own_key_id = "");

// Who enrols a host (IssueHostCertificate): an administrator, or the host
// itself with a join token.
enum class HostEnrolledBy { kAdmin, kJoinToken };

// Whether host `name` may enrol `key`: returns the existing inventory
// record (nullopt for a new host). kNotFound for a new host without an
// address; kFailedPrecondition when `address` or `port` (when given)
// differ from the inventory's (enrolment never moves a host);
// kPermissionDenied when a join token would replace the key of an
// enrolled host (only an admin may), or would enrol a new host whose name
// or address (both principals of its certificate) is another inventory
// host's name or address, or a principal of a host certificate valid at
// `now` and not revoked (a gateway's), compared ignoring case. Checked
// before a token is spent with `names_in_use` false: that check reads the
// whole inventory and every valid host certificate, which a caller with
// no valid token must not make the CA do; RecordEnrolledHost makes it,
// after the token was spent (a token used to claim another host's name is
// spent too).
absl::StatusOr<std::optional<storage::Host>> CheckHostEnrolment(
    storage::Store& store, std::string_view name, std::string_view address,
    uint32_t port, const ssh::crypto::PublicKey& key, HostEnrolledBy by,
    absl::Time now, bool names_in_use = true);

// How many times RecordEnrolledHost checks and writes a host that keeps
// changing between the two.
inline constexpr int kHostEnrolmentAttempts = 3;

// The inventory after a host enrolled `key`: CheckHostEnrolment, then
// creates host `name` (port 22 when 0, trust host-ca) or sets the existing
// record's host key, on the condition that the host is still the one
// checked (Store::UpdateHost's unchanged_since; a new host: not created
// meanwhile). When it changed in between (an admin's `spctl hosts edit`,
// another enrolment), the check and the write run again on the host as it
// is now, so an enrolment never undoes a change it was not decided on;
// after kHostEnrolmentAttempts, kAborted (or kAlreadyExists). Returns the
// record; CheckHostEnrolment's refusals otherwise. `after_check`, when
// set, runs after each check and before its write (tests change the
// inventory there).
absl::StatusOr<storage::Host> RecordEnrolledHost(
    storage::Store& store, std::string_view name, std::string_view address,
    uint32_t port, const ssh::crypto::PublicKey& key, HostEnrolledBy by,
    absl::Time now, const std::function<void()>& after_check = nullptr);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_ENROLLMENT_H_
