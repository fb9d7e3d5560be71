// Record before forward (issue 14), the bridge's side: what the
// recording gate (gateway/recording_gate.h) releases goes to the other
// side; the recorder's wake looks at every channel.
#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "ssh/connection/messages.h"

namespace sallyport::gateway {

using connection_internal::Safe;
using Side = RecordingGate::Side;
using Item = RecordingGate::Item;

// ------------------------------------------------------------ record before
// forward: a byte reaches the other side only once the spool has it.

bool GatewayConnection::ReleaseGates(Bridge& b) {
  for (Side side : {Side::kInput, Side::kOutput}) {
    const bool input = side == Side::kInput;
    while (std::optional<Item> g = b.gate.TakeRecorded(side, b.tap.get())) {
      switch (g->kind) {
        case Item::kData:
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
          } else if (!input && !down_ended_) {
            (void)b.down.SendEof();
            WakeDown();
          }
          break;
        case Item::kRequest:
          // Like OnUpstreamRequest: even after the user's CLOSE (our CLOSE
          // answers it only in MaybeForget).
          if (!down_ended_) {
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
  return [weak, posted, ex] {
    if (posted->exchange(true)) return;
    asio::post(ex, [weak, posted] {
      posted->store(false);
      if (std::shared_ptr<GatewayConnection> self = weak.lock()) {
        self->OnRecorderWake();
      }
    });
  };
}

void GatewayConnection::OnRecorderWake() {
  std::vector<uint32_t> ids;
  for (const auto& [id, b] : bridges_) ids.push_back(id);
  for (uint32_t id : ids) {
    Bridge* b = FindDown(id);
    if (b == nullptr || b->tap == nullptr) continue;
    if (absl::Status health = b->tap->Health(); !health.ok()) {
      // Strict recording: nothing may pass unrecorded. End the session
      // with the reason (the user sees it).
      EndAt(Now(), absl::StrCat("the session recording failed: ",
                                Safe(health.message())));
      return;
    }
    ReleaseGates(*b);
  }
}

}  // namespace sallyport::gateway
