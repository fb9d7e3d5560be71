#include "gateway/observer.h"

#include <string>

namespace sallyport::gateway {
namespace {
bool Has(std::string_view r, std::string_view part) {
  return r.find(part) != std::string_view::npos;
}
}  // namespace

bool IsSessionOutcome(std::string_view outcome) {
  return outcome == kOutcomeOk || outcome == kOutcomeRevoked ||
         outcome == kOutcomeExpired || outcome == kOutcomeIdleTimeout ||
         outcome == kOutcomeDrained || outcome == kOutcomeRecordingFailed ||
         outcome == kOutcomeRevocationsUnknown;
}

std::string_view SessionEndReason(std::string_view outcome) {
  if (outcome == kOutcomeRevoked) return "certificate revoked";
  if (outcome == kOutcomeExpired) {
    return "certificate expired (valid_before reached)";
  }
  if (outcome == kOutcomeIdleTimeout) {
    return "idle: no data for limits.idle_timeout";
  }
  if (outcome == kOutcomeDrained) {
    return "gateway shut down (drain_timeout ran out)";
  }
  if (outcome == kOutcomeRecordingFailed) return "recording failed";
  if (outcome == kOutcomeRevocationsUnknown) {
    return "revocations could not be checked (revocation_grace ran out)";
  }
  return "";
}

std::string_view AuthFailureCode(std::string_view reason) {
  // Only our own words count: what a user or an admin chose (a login, a
  // host, a certificate's principals, a key id) is quoted in the reasons
  // (rbac::EscapeForReason, ssh/cert), and a login "revoked" made
  // `principal "revoked" is not listed` a revocation (its metric, and the
  // hint "Your certificate was revoked").
  // A quoted name's own quotes are escaped (\" or \x22).
  std::string r;
  r.reserve(reason.size());
  bool quoted = false;
  for (size_t i = 0; i < reason.size(); ++i) {
    const char c = reason[i];
    if (c == '"') {
      quoted = !quoted;
      r.push_back(c);
    } else if (quoted && c == '\\') {
      ++i;  // and what it escapes
    } else if (!quoted) {
      r.push_back(c);
    }
  }
  // Most specific first; the texts come from ssh/auth, ssh/cert and
  // gateway_connection.cc.
  if (Has(r, "plain key")) return kPlainKeyCode;
  if (Has(r, "LOGIN+HOST") || Has(r, "target")) return "bad-target";
  if (Has(r, "revoked")) return "revoked";
  if (Has(r, "not yet valid")) return "not-yet-valid";
  if (Has(r, "expired")) return "expired";
  if (Has(r, "principal")) return "principal";
  if (Has(r, "trusted") || Has(r, "CA key")) return "untrusted-ca";
  if (Has(r, "signature")) return "bad-signature";
  if (Has(r, "max_sessions_per_user")) return "max-sessions-per-user";
  if (Has(r, "max_auth_tries") || Has(r, "too many")) return "max-auth-tries";
  if (Has(r, "method")) return "method";
  return "other";
}

}  // namespace sallyport::gateway
