// The CA's audit events (DESIGN.md §9): stable event codes with a small JSON
// payload, appended to the Store's hash-chained log. Secrets (passwords,
// one-time codes, private keys, token secrets) never go into a payload.
#ifndef SALLYPORT_CA_AUDIT_LOG_H_
#define SALLYPORT_CA_AUDIT_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "storage/store.h"

namespace sallyport::ca {

// Stable event codes.
inline constexpr std::string_view kEventLoginOk = "login.ok";
inline constexpr std::string_view kEventLoginFailed = "login.failed";
inline constexpr std::string_view kEventCertIssued = "cert.issued";
inline constexpr std::string_view kEventCertRefused = "cert.refused";
inline constexpr std::string_view kEventAdminDenied = "admin.denied";
inline constexpr std::string_view kEventAccessDenied = "authz.denied";
inline constexpr std::string_view kEventCaInitialised = "ca.initialised";
// Admin calls are "admin." + the RPC method name, e.g. "admin.CreateUser".

// One payload field: a string, an integer, a boolean or a list of strings.
using AuditValue =
    std::variant<std::string, int64_t, bool, std::vector<std::string>>;
using AuditField = std::pair<std::string, AuditValue>;

// {"k":"v",...} in the order given, with JSON string escaping (control
// characters as \u00XX; invalid UTF-8 bytes replaced by U+FFFD, so the
// payload is always valid JSON).
std::string AuditPayloadJson(const std::vector<AuditField>& fields);

class AuditLog {
 public:
  explicit AuditLog(storage::Store* store) : store_(store) {}

  // Appends one event. The store's errors pass through (callers that must
  // fail closed return them; others log them).
  absl::Status Record(std::string_view type, std::string_view actor,
                      const std::vector<AuditField>& fields);
  // Records an issued certificate and its audit event in one transaction
  // (both or neither).
  absl::Status RecordCertificate(const storage::IssuedCertificate& cert,
                                 std::string_view type, std::string_view actor,
                                 const std::vector<AuditField>& fields);

  // The event as appended: an empty actor (e.g. a login with an empty user
  // name) becomes "-", one the store refuses (bad UTF-8, too long)
  // "(invalid)", so the event is kept.
  static storage::AuditEventInput Event(std::string_view type,
                                        std::string_view actor,
                                        const std::vector<AuditField>& fields);

 private:
  storage::Store* store_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_AUDIT_LOG_H_
