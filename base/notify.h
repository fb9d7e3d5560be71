// Service-manager notifications (sd_notify, DESIGN.md §10) for the
// `Type=notify` systemd units in deploy/systemd/. Each call is a no-op
// when $NOTIFY_SOCKET is unset (not started by systemd), and a failure to
// notify is never fatal: the server keeps running.
#ifndef SALLYPORT_BASE_NOTIFY_H_
#define SALLYPORT_BASE_NOTIFY_H_

#include <signal.h>

#include <string_view>

#include "absl/time/time.h"

namespace sallyport::base {

// "READY=1" with a STATUS= line (e.g. "listening on 127.0.0.1:7443"): the
// server accepts connections. Also sent after a reload finished.
void NotifyReady(std::string_view status);
// "RELOADING=1" (+ MONOTONIC_USEC): a SIGHUP reload has started; follow it
// with NotifyReady when it is done.
void NotifyReloading();
// "STOPPING=1": shutdown (drain) has started. With a positive
// `stop_time`, also "EXTEND_TIMEOUT_USEC=" that long: systemd waits at
// least that long from now before it kills the service, even beyond the
// unit's TimeoutStopSec (a drain_timeout set longer than the unit assumed).
void NotifyStopping(absl::Duration stop_time = absl::ZeroDuration());

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
// thread it starts afterwards) and returns that set, for a thread that
// takes them with sigwait: stop (TERM, INT) and reload (HUP).
sigset_t BlockLifecycleSignals();

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_NOTIFY_H_
