// One bridged channel of a GatewayConnection (gateway/gateway_connection.h):
// the user's channel and its twin on the host, with what waits on it (the
// user's requests, held data, the recording gate). Internal to
// //gateway:proxy: GatewayConnection (as its Bridge and PendingRequest)
// reads and writes it in channel_bridge.cc, channel_requests.cc,
// channel_data.cc, channel_recording.cc and reverse_channels.cc.
#ifndef SALLYPORT_GATEWAY_CHANNEL_BRIDGE_H_
#define SALLYPORT_GATEWAY_CHANNEL_BRIDGE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/recorder.h"
#include "gateway/recording_gate.h"
#include "ssh/connection/connection.h"
#include "ssh/session/session.h"

namespace sallyport::gateway {

// A channel request of the user's, waiting in its bridge's queue.
struct PendingChannelRequest {
  std::string type;
  bool want_reply = false;
  std::vector<uint8_t> data;
  ssh::connection::RequestId id = ssh::connection::kNoReply;
};

// A downstream channel and its upstream twin.
struct ChannelBridge {
  uint64_t serial = 0;
  ssh::session::Channel down;
  ssh::session::Channel up;
  // "session" or "direct-tcpip"; opened by the host (reverse):
  // "forwarded-tcpip" or "auth-agent@openssh.com".
  std::string type;
  bool reverse = false;  // the host opened it; we opened `down`
  std::vector<uint8_t> open_extra;
  ChannelInfo info;
  std::unique_ptr<ChannelTap> tap;
  bool up_open = false;
  bool down_closed = false, up_closed = false;
  bool started = false;  // shell/exec/subsystem went out
  bool pty = false;      // a pty-req went out (one per channel)
  bool busy = false;     // waiting for an authorization
  // CloseBridge ran: nothing more of the host's goes to the user (no
  // exit-status after output was cut short).
  bool aborted = false;
  // Bytes of the gateway's own lines (QueueNotice) still in `down`'s
  // queue: OnQueuedDataSent reports them like the host's data, but they
  // were never the host's, so they are not consumed on `up` (that would
  // open the host's window by as much beyond what `down`'s queue holds,
  // and the queue overflows: gateway_load_e2e_test, "not keeping up").
  size_t notice_queued = 0;
  // Flow control beyond the windows (a peer may advertise 4 GiB and stop
  // reading): bytes that went on to the other side's transport but
  // whose window is not reopened yet, because that transport's output
  // backlog has no room (GiveBackToHost, GiveBackToUser): the host's
  // data sent to the user (owed to `up`) and the user's sent to the host
  // (owed to `down`). Given back once it drains (OnDownProgress,
  // OnUpProgress); until then that sender is stopped by its window.
  size_t owed_up = 0;
  size_t owed_down = 0;
  std::deque<PendingChannelRequest> requests;
  // Downstream want_reply requests forwarded upstream, oldest first.
  std::deque<ssh::connection::RequestId> forwarded;
  // User data (and EOF) that arrived while requests before it wait for
  // an authorization or the recorder: it must reach the host after them.
  // Not consumed yet, so the channel window bounds it; small packets of
  // a stream are joined (AppendHeldData).
  HeldData held;
  bool eof_held = false;
  // Record before forward: a request of the user's (its record, or what
  // came before it, not yet recorded) waits here, the bridge busy, until
  // the gate releases its place (an input kRequest item).
  std::optional<PendingChannelRequest> parked;
  // Operations (gwops): payload relayed, and whether ChannelOpened was
  // reported (so ChannelClosed is reported once).
  uint64_t bytes_in = 0, bytes_out = 0;
  bool reported_open = false;
  // Extended data of a code not passed (kHostExtendedDataCode) was dropped
  // and logged: from the user, from the host (once each per channel); its
  // bytes each way, for the close event.
  bool dropped_ext_input = false, dropped_ext_output = false;
  uint64_t ext_dropped_in = 0, ext_dropped_out = 0;
  // The host's exit-status or exit-signal (its name), as recorded, for
  // the close event; none until it sends one.
  std::optional<uint32_t> exit_status;
  std::string exit_signal;
  // Record before forward (issue 14): what waits for the recorder.
  RecordingGate gate;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_CHANNEL_BRIDGE_H_
