#include "gateway/serve_health.h"

#include "absl/strings/str_cat.h"

namespace sallyport::gateway {

absl::Status CheckHealth(const HealthFacts& facts, absl::Time now) {
  if (facts.draining) return absl::UnavailableError("draining (shutting down)");
  if (!facts.listening) return absl::UnavailableError("not listening");
  if (!facts.user_ca_keys) {
    return absl::UnavailableError("no user CA keys from the CA yet");
  }
  if (!facts.revocations_current) {
    return absl::UnavailableError(
        "revocation list not current: the CA's revocation stream has been "
        "down longer than revocation_grace");
  }
  // Recorded sessions would be refused: send users to another gateway.
  if (!facts.spool_unusable.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "the recording spool cannot be used: ", facts.spool_unusable));
  }
  if (facts.spool != nullptr) {
    if (absl::Status st = facts.spool->AcceptingSessions(); !st.ok()) {
      return absl::UnavailableError(st.message());
    }
    if (absl::Status st = facts.spool->DiskRoom(); !st.ok()) {
      return absl::UnavailableError(st.message());
    }
    if (absl::Status st = facts.spool->SpoolWritable(); !st.ok()) {
      return absl::UnavailableError(st.message());
    }
  }
  const int64_t not_after = facts.tls_not_after_unix;
  if (not_after != 0 && absl::FromUnixSeconds(not_after) <= now) {
    return absl::UnavailableError(
        "the gateway's mTLS certificate has expired: enrol again");
  }
  // Clients that trust the host CA refuse the gateway: its renewal has
  // failed (the log says why) for as long as the certificate lasted.
  const int64_t host_not_after = facts.host_not_after_unix;
  if (host_not_after != 0 && absl::FromUnixSeconds(host_not_after) <= now) {
    return absl::UnavailableError(absl::StrCat(
        "the gateway's SSH host certificate expired at ",
        absl::FormatTime(absl::RFC3339_sec,
                         absl::FromUnixSeconds(host_not_after),
                         absl::UTCTimeZone()),
        ": its renewal failed (see the log); SIGHUP renews it once the CA "
        "answers"));
  }
  return absl::OkStatus();
}

}  // namespace sallyport::gateway
