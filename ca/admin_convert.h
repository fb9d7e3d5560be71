// Conversions between the Store's records and admin.proto messages. The
// From* functions check enum-like strings ("shell", "always", "host-ca",
// ...) and the names an admin gives (role and host names, logins, label
// keys, name globs: what users type and see, and what certificates name),
// and return kInvalidArgument naming the field; the Store validates the
// rest.
#ifndef SALLYPORT_CA_ADMIN_CONVERT_H_
#define SALLYPORT_CA_ADMIN_CONVERT_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/admin.pb.h"
#include "storage/records.h"

namespace sallyport::ca {

// Named limits of the admin API's names (beyond the Store's).
inline constexpr size_t kMaxRoleNameBytes = 64;
inline constexpr size_t kMaxLabelKeyBytes = 63;
inline constexpr size_t kMaxLabelValueBytes = 256;
// A host's labels: at most kMaxHostLabels, their keys and values at most
// kMaxHostLabelBytes in all, so that a host record stays small (every
// listing carries it). A role's or deny rule's selector has the same
// limits (it matches only hosts with all of its labels). Hosts stored
// before these limits are still read and listed as they are; an update
// must bring them within.
inline constexpr size_t kMaxHostLabels = 64;
inline constexpr size_t kMaxHostLabelBytes = 8192;
// The shortest role max_ttl (as the shortest `sp login --ttl`) and the
// longest (storage::Role::Validate's bound).
inline constexpr absl::Duration kMinRoleMaxTtl = absl::Minutes(1);
inline constexpr absl::Duration kMaxRoleMaxTtl = absl::Hours(24 * 366);

void UserToProto(const storage::User& user,
                 const storage::Credentials* credentials, admin::v1::User* out);
storage::User UserFromProto(const admin::v1::User& user);

void RoleToProto(const storage::Role& role, admin::v1::Role* out);
absl::StatusOr<storage::Role> RoleFromProto(const admin::v1::Role& role);

void BindingToProto(const storage::RoleBinding& binding,
                    admin::v1::RoleBinding* out);

void HostToProto(const storage::Host& host, admin::v1::Host* out);
absl::StatusOr<storage::Host> HostFromProto(const admin::v1::Host& host);

// A session as listings show it: while active, the bytes so far (of the
// open channels too); `abandoned` when an admin marked it.
void SessionSummaryToProto(const storage::Session& s,
                           admin::v1::SessionSummary* out);
// The admin's mark of `s` (s.abandoned_at must be set).
void SessionAbandonedToProto(const storage::Session& s,
                             admin::v1::SessionAbandoned* out);

void CertificateToProto(const storage::IssuedCertificate& cert,
                        admin::v1::IssuedCertificate* out);
void RevocationToAdminProto(const storage::Revocation& r,
                            admin::v1::RevokedEntry* out);

// Revocations by what they revoke, to find a listed certificate's.
class RevocationIndex {
 public:
  explicit RevocationIndex(std::vector<storage::Revocation> all);
  // The revocation of `cert`'s serial or of its key (the older, by id, when
  // both are revoked); nullptr when neither is.
  const storage::Revocation* Find(const storage::IssuedCertificate& cert) const;

 private:
  std::vector<storage::Revocation> all_;
  absl::flat_hash_map<uint64_t, size_t> by_serial_;
  absl::flat_hash_map<std::string, size_t> by_key_;
};
// `cert` as the API lists it, with its revocation from `revoked`.
void CertificateToProto(const storage::IssuedCertificate& cert,
                        const RevocationIndex& revoked,
                        admin::v1::IssuedCertificate* out);
void CaKeyToProto(const storage::CaKey& key, admin::v1::CaKey* out);

absl::StatusOr<storage::CaKeyPurpose> CaKeyPurposeFromString(
    std::string_view purpose);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_ADMIN_CONVERT_H_
