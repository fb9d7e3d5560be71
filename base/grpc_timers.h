// Keeps gRPC's timers on time when the wall clock steps.
//
// gRPC 1.51 (Debian 12) runs its timers (call deadlines, keepalive pings,
// reconnect backoff) from a timer thread that sleeps until the next one is
// due with an absolute CLOCK_REALTIME deadline. When the wall clock steps
// back while it sleeps (NTP correcting a VM resumed from a snapshot, an
// operator's `date -s`), the sleep lasts longer by the size of the step,
// and no gRPC timer fires meanwhile: a call to a CA that stopped answering
// is not ended at its deadline but an hour later. A timer added later only
// wakes the thread when it is due before the one it sleeps for, which by
// then is overdue.
//
// While a handle from KeepGrpcTimersOnTime() is held, one thread per
// process wakes gRPC's timer thread every kGrpcTimerKickInterval of the
// steady clock (grpc_kick_poller: what gRPC does itself when a timer due
// earlier arrives), which then fires what is due and sleeps again from
// the current time. A gRPC timer is then at most about that interval late
// whatever the wall clock does. Holders: CaClient (the gateway), the CA's
// server, the CLIs.
#ifndef SALLYPORT_BASE_GRPC_TIMERS_H_
#define SALLYPORT_BASE_GRPC_TIMERS_H_

#include <cstdint>
#include <memory>

#include "absl/time/time.h"

namespace sallyport::base {

inline constexpr absl::Duration kGrpcTimerKickInterval =
    absl::Milliseconds(500);

// A handle on the process's kicking thread: it runs while any handle is
// held (the first starts it, the last to go stops and joins it). Holding a
// handle also holds gRPC initialised (grpc_init), so the thread never
// kicks a gRPC that was shut down. Thread-safe.
std::shared_ptr<const void> KeepGrpcTimersOnTime();

// Kicks made by the thread so far, in this process (tests).
uint64_t GrpcTimerKicksForTest();

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_GRPC_TIMERS_H_
