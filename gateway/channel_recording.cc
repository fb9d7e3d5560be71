// Record before forward (issue 14), the bridge's side: what the
// recording gate (gateway/recording_gate.h) releases goes to the other
// side; the recorder's wake looks at every channel.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "ssh/connection/messages.h"
#include "ssh/net/bulk_lane.h"

namespace sallyport::gateway {

using connection_internal::Safe;
using Side = RecordingGate::Side;
using Item = RecordingGate::Item;

namespace {

// What one recorder wake hands on at most (data bytes, all the
// connection's channels together). The rest goes on a wake queued again in
// the thread's bulk lane (ssh/net/bulk_lane.h): a channel whose whole
// window (2 MiB) was recorded at once must not hold up the thread's other
// connections while it is sent. With 200 such channels on 2 busy cores,
// a new connection's key exchange waited for minutes between its messages
// (gateway_load_e2e_test: asyncssh's 60 s login timeout).
constexpr size_t kReleaseBytesPerWake = 64 << 10;

}  // namespace

// ------------------------------------------------------------ record before
// forward: a byte reaches the other side only once the spool has it.

bool GatewayConnection::ReleaseGates(Bridge& b, size_t* budget) {
  for (Side side : {Side::kInput, Side::kOutput}) {
    const bool input = side == Side::kInput;
    while (*budget > 0) {
      std::optional<Item> g = b.gate.TakeRecorded(side, b.tap.get());
      if (!g.has_value()) break;
      switch (g->kind) {
        case Item::kData:
          *budget -= std::min(*budget, g->data.size());
          if (input) {
            SendInput(b, g->stream, g->data);
          } else {
            SendOutput(b, g->stream, g->data);
          }
          break;
        case Item::kEof:
          if (input && b.up.valid() && !b.up_closed) {
            (void)b.up.SendEof();
            WakeUp();
          } else if (!input && ToUser(b)) {
            (void)b.down.SendEof();
            WakeDown();
          }
          break;
        case Item::kRequest:
          if (input) {
            // The user's request parked by Forward: it goes to the host,
            // then the requests and data behind it.
            if (!b.parked.has_value()) break;
            PendingRequest r = std::move(*b.parked);
            b.parked.reset();
            b.busy = false;
            const uint32_t id = b.down.id();
            SendRequestUp(b, std::move(r));
            ProcessRequests(b);
            if (FindDown(id) != &b) return false;
          } else if (ToUser(b)) {
            // Like OnUpstreamRequest: even after the user's CLOSE (our
            // CLOSE answers it only in MaybeForget).
            (void)b.down.SendRequest(g->type, false, g->data);
            WakeDown();
          }
          break;
        case Item::kClose:
          if (input && b.up.valid() && !b.up_closed) {
            (void)b.up.Close();
            WakeUp();
          } else if (!input && !down_ended_ && !b.down_closed) {
            (void)b.down.Close();
            WakeDown();
          }
          break;
      }
    }
  }
  const uint32_t id = b.down.id();
  MaybeForget(b);
  return FindDown(id) != nullptr;
}

std::function<void()> GatewayConnection::RecorderWake() {
  std::weak_ptr<GatewayConnection> weak = weak_from_this();
  std::shared_ptr<std::atomic<bool>> posted = wake_posted_;
  asio::any_io_executor ex = executor_;
  // Bulk work: the wake takes its turn in the thread's bulk lane
  // (ssh/net/bulk_lane.h), behind the handshakes of new connections.
  return [weak, posted, ex] {
    if (posted->exchange(true)) return;
    ssh::net::BulkLane::Of(ex).Queue(ex, [weak, posted] {
      posted->store(false);
      std::shared_ptr<GatewayConnection> self = weak.lock();
      if (self == nullptr) return false;
      self->OnRecorderWake();
      return true;
    });
  };
}

void GatewayConnection::OnRecorderWake() {
  size_t budget = kReleaseBytesPerWake;
  std::vector<uint32_t> ids;
  for (const auto& [id, b] : bridges_) ids.push_back(id);
  for (uint32_t id : ids) {
    Bridge* b = FindDown(id);
    if (b == nullptr || b->tap == nullptr) continue;
    if (absl::Status health = b->tap->Health(); !health.ok()) {
      if (record_best_effort_) {
        GoUnrecorded(*b, health);
      } else {
        // Strict recording: nothing may pass unrecorded. End the session
        // with the reason (the user sees it).
        ReportRecordingFailed(*b, health, "session-ended");
        EndAt(Now(),
              absl::StrCat("the session recording failed: ",
                           Safe(health.message())),
              kOutcomeRecordingFailed);
        return;
      }
    }
    ReleaseGates(*b, &budget);
  }
  // Spent: what is left (recorded or not) is looked at again on a later
  // turn of the bulk lane.
  if (budget == 0) RecorderWake()();
}

// ------------------------------------------------------------ policy

bool GatewayConnection::AttachTap(Bridge& b) {
  b.info.wake = RecorderWake();
  b.info.record_input = record_input_;
  absl::StatusOr<std::unique_ptr<ChannelTap>> tap =
      SessionRecorder().Attach(b.info);
  if (tap.ok()) {
    b.tap = std::move(*tap);
    // `record: never`: a tap that keeps nothing, and no recording event.
    if (record_never_) return true;
    observer().AuditEvent(
        log_conn_, audit::kEventRecordingStarted,
        {{"channel", int64_t{b.down.id()}}, {"kind", b.type}});
    return true;
  }
  if (record_best_effort_) {
    GoUnrecorded(b, tap.status());
    return true;
  }
  ReportRecordingFailed(b, tap.status(), "channel-refused");
  RejectDown(b, ssh::connection::OpenFailure::kResourceShortage,
             absl::StrCat("the session cannot be recorded: ",
                          Safe(tap.status().message())));
  return false;
}

bool GatewayConnection::TapOk(Bridge& b, const absl::Status& st) {
  if (st.ok()) return true;
  if (record_best_effort_) {
    GoUnrecorded(b, st);
    return true;
  }
  ReportRecordingFailed(b, st, "session-ended");
  const std::string why =
      absl::StrCat("the session recording failed: ", Safe(st.message()));
  CloseBridge(b, why);
  EndAt(Now(), why, kOutcomeRecordingFailed);
  return false;
}

void GatewayConnection::GoUnrecorded(Bridge& b, const absl::Status& why) {
  ReportRecordingFailed(b, why, "unrecorded");
  if (b.tap != nullptr) b.tap->Close(Monotonic());
  b.tap = MakeNullTap();  // best effort: records nothing from now on
  // What waited for the old tap goes out on the next wake (in order).
  if (!b.gate.empty()) RecorderWake()();
}

void GatewayConnection::ReportRecordingFailed(Bridge& b,
                                              const absl::Status& why,
                                              std::string_view outcome) {
  const std::string mode = record_best_effort_ ? "best_effort" : "strict";
  const std::string reason(why.message());
  // Logged (at `error`) and sent to the CA as the audit event
  // recording.failed (audit/events.h) by the observer.
  observer().RecordingFailed(log_conn_, ChannelLog(b), mode, outcome, reason);
}

}  // namespace sallyport::gateway
