// GatewayServer's /healthz conditions (split from serve.cc): what makes a
// running gateway one a load balancer should send users to.
#ifndef SALLYPORT_GATEWAY_SERVE_HEALTH_H_
#define SALLYPORT_GATEWAY_SERVE_HEALTH_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "audit/recorder.h"

namespace sallyport::gateway {

// What GatewayServer::Health gathers for CheckHealth.
struct HealthFacts {
  bool draining = false;
  // Listeners were opened (ServeListeners::listening).
  bool listening = false;
  // The user CA keys were fetched from the CA.
  bool user_ca_keys = false;
  // The CA's revocation stream has not been down longer than
  // revocation_grace.
  bool revocations_current = false;
  // Why the spool could not be set up at start; empty: it could, or
  // recordings do not go to the spool.
  std::string spool_unusable;
  // The spool recorder, asked in turn whether it takes sessions, has disk
  // room and could write its last `.write-probe` (audit/recorder.h, every
  // probe_interval); null: recordings do not go to the spool.
  const audit::SpoolRecorder* spool = nullptr;
  // valid_before (Unix seconds) of the mTLS certificate and of the
  // presented SSH host certificate; 0: unknown, none, or forever.
  int64_t tls_not_after_unix = 0;
  int64_t host_not_after_unix = 0;
};

// OK, or kUnavailable with the first condition that fails, in this order:
// draining, not listening, no user CA keys, revocation list not current,
// spool unusable at start, spool refusing sessions / out of room / not
// writable, mTLS certificate expired, SSH host certificate expired (its
// renewal failed) at `now`.
absl::Status CheckHealth(const HealthFacts& facts, absl::Time now);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_SERVE_HEALTH_H_
