// GatewayConnection's channel data both ways (see gateway_connection.h):
// data, EOF, CLOSE and the host's requests, with the windows as the only
// buffers, each passing the recording gate (gateway/recording_gate.h).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "gateway/proxy.h"
#include "ssh/connection/messages.h"

namespace sallyport::gateway {

using connection_internal::Safe;
using ssh::session::Channel;
using ssh::wire::Bytes;
using Side = RecordingGate::Side;
using Item = RecordingGate::Item;

// ------------------------------------------------------------ data

void GatewayConnection::OnData(Channel ch, uint32_t stream, Bytes data) {
  if (auto jump = jump_ports_.find(ch.id()); jump != jump_ports_.end()) {
    // rpj: recorded ProxyJump (the inner connection counts the bytes;
    // here only the idle clock).
    last_data_ = std::chrono::steady_clock::now();
    if (stream != 0) {
      // An SSH connection is stream 0 only: nobody reads the rest.
      ch.Consume(data.size());
      jump->second.ext_dropped_in += data.size();
      ReportExtendedDataDropped(ch.id(), /*from_user=*/true, stream,
                                data.size(), jump->second.dropped_ext_logged);
      return;
    }
    jump->second.port->OnData(stream, data);
    return;
  }
  if (TcpRelay* relay = FindRelay(ch.id())) {
    if (stream == 0) {
      relay->OnData(data);
    } else {
      // A TCP connection has no place for it.
      relay->DropExtendedData(data.size());
      ReportExtendedDataDropped(ch.id(), /*from_user=*/true, stream,
                                data.size(), relay->dropped_ext_logged());
    }
    return;
  }
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up.valid() || b->up_closed) {
    ch.Consume(data.size());
    return;
  }
  if (DropExtendedData(*b, ch, /*from_user=*/true, stream, data.size())) {
    return;
  }
  if (b->busy || !b->requests.empty() || !b->held.empty()) {
    AppendHeldData(b->held, stream, data);
    return;
  }
  ForwardInput(*b, stream, data);
}

bool GatewayConnection::DropExtendedData(Bridge& b, Channel ch, bool from_user,
                                         uint32_t stream, size_t n) {
  if (stream == 0 || (!from_user && stream == kHostExtendedDataCode)) {
    return false;
  }
  // Before the tap and the held data: a code of the peer's choosing must
  // not become a recorded stream (see kHostExtendedDataCode).
  ch.Consume(n);
  (from_user ? b.ext_dropped_in : b.ext_dropped_out) += n;
  ReportExtendedDataDropped(
      b.down.id(), from_user, stream, n,
      from_user ? b.dropped_ext_input : b.dropped_ext_output);
  return true;
}

void GatewayConnection::ReportExtendedDataDropped(uint32_t channel,
                                                  bool from_user, uint32_t code,
                                                  size_t n, bool& logged) {
  observer().ExtendedDataDropped(from_user, n);
  if (logged) return;
  logged = true;
  Log(absl::StrCat("event=channel.ext_data_dropped ", Describe(),
                   " channel=", channel, " from=", from_user ? "user" : "host",
                   " code=", code,
                   " (extended data neither recorded nor forwarded; "
                   "further drops on this channel are not logged)"));
}

void GatewayConnection::ForwardInput(Bridge& b, uint32_t stream, Bytes data) {
  Channel ch = b.down;
  if (!TapOk(b, b.tap->Data(Monotonic(), Direction::kInput, stream, data))) {
    ch.Consume(data.size());
    return;
  }
  if (b.gate.MustWait(Side::kInput, b.tap.get())) {
    b.gate.Hold(Side::kInput, Item::kData, b.tap.get(), stream, "", data);
    return;
  }
  SendInput(b, stream, data);
}

void GatewayConnection::SendInput(Bridge& b, uint32_t stream, Bytes data) {
  Channel ch = b.down;
  if (!b.up.valid() || b.up_closed) {
    ch.Consume(data.size());
    return;
  }
  NoteData(b, true, data.size());
  const size_t before = b.up.QueuedBytes();
  absl::StatusOr<size_t> taken = b.up.Queue(data, stream);
  if (!taken.ok() || *taken < data.size()) {
    ch.Consume(data.size());
    CloseBridge(b, "the host side is not keeping up");
    return;
  }
  // What went out at once is done with; the rest when it leaves the queue.
  GiveBackToUser(b, *taken - (b.up.QueuedBytes() - before));
  WakeUp();
  WakeDown();
}

void GatewayConnection::FlushHeld(Bridge& b) {
  while (!b.held.empty() && !b.busy && b.requests.empty()) {
    std::pair<uint32_t, std::vector<uint8_t>> piece = std::move(b.held.front());
    b.held.pop_front();
    if (!b.up.valid() || b.up_closed) {
      b.down.Consume(piece.second.size());
      continue;
    }
    ForwardInput(b, piece.first, piece.second);
  }
  if (b.held.empty() && b.eof_held && b.up.valid()) {
    b.eof_held = false;
    if (b.gate.MustWait(Side::kInput, b.tap.get())) {
      b.gate.Hold(Side::kInput, Item::kEof, b.tap.get(), 0, "", {});
      return;
    }
    (void)b.up.SendEof();
    WakeUp();
  }
}

void GatewayConnection::OnQueuedDataSent(Channel ch, size_t n) {
  if (ssh::net::ChannelPort* port = FindJumpPort(ch.id())) {
    last_data_ = std::chrono::steady_clock::now();  // rpj: ProxyJump
    port->OnQueuedDataSent();
    return;
  }
  // Downstream queue drained: the host may send that much more (not for
  // the gateway's own lines in it, counted first: never more than the
  // host sent; at worst its window opens a little later).
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up.valid()) return;
  const size_t own = std::min(n, b->notice_queued);
  b->notice_queued -= own;
  if (n > own) GiveBackToHost(*b, n - own);
  WakeUp();
}

void GatewayConnection::OnUpstreamData(Channel ch, uint32_t stream,
                                       Bytes data) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || !ToUser(*b) || b->down_closed) {
    ch.Consume(data.size());
    return;
  }
  if (DropExtendedData(*b, ch, /*from_user=*/false, stream, data.size())) {
    return;
  }
  if (!TapOk(*b, b->tap->Data(Monotonic(), Direction::kOutput, stream, data))) {
    ch.Consume(data.size());
    return;
  }
  if (b->gate.MustWait(Side::kOutput, b->tap.get())) {
    b->gate.Hold(Side::kOutput, Item::kData, b->tap.get(), stream, "", data);
    return;
  }
  SendOutput(*b, stream, data);
}

void GatewayConnection::SendOutput(Bridge& b, uint32_t stream, Bytes data) {
  Channel ch = b.up;
  if (!ToUser(b) || b.down_closed) {
    ch.Consume(data.size());
    return;
  }
  NoteData(b, false, data.size());
  const size_t before = b.down.QueuedBytes();
  absl::StatusOr<size_t> taken = b.down.Queue(data, stream);
  if (!taken.ok() || *taken < data.size()) {
    ch.Consume(data.size());
    CloseBridge(b, "the user side is not keeping up");
    return;
  }
  GiveBackToHost(b, *taken - (b.down.QueuedBytes() - before));
  WakeDown();
  WakeUp();
}

void GatewayConnection::OnUpstreamQueuedDataSent(Channel ch, size_t n) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || down_ended_) return;
  GiveBackToUser(*b, n);
  WakeDown();
}

// The windows alone do not bound what the gateway buffers: a user whose
// client advertises a 4 GiB window and stops reading its socket would have
// the host's output pile up in the user's transport (the driver's high
// watermark stops only reading from the user). So the host's window
// reopens for data handed to the user only while the user's transport has
// room; otherwise the host stops at its window (at most one window per
// channel held here) until the user reads. The same holds the other way.

bool GatewayConnection::DownOutputRoom() const {
  return down_driver_ == nullptr || down_ended_ || down_driver_->OutputRoom();
}

bool GatewayConnection::UpOutputRoom() const {
  return upstream_ == nullptr || upstream_->driver == nullptr ||
         upstream_->done || upstream_->driver->OutputRoom();
}

void GatewayConnection::GiveBackToHost(Bridge& b, size_t n) {
  b.owed_up += n;
  if (b.owed_up == 0 || !DownOutputRoom()) return;
  b.up.Consume(std::exchange(b.owed_up, 0));
  WakeUp();
}

void GatewayConnection::GiveBackToUser(Bridge& b, size_t n) {
  b.owed_down += n;
  if (b.owed_down == 0 || !UpOutputRoom()) return;
  b.down.Consume(std::exchange(b.owed_down, 0));
  WakeDown();
}

void GatewayConnection::OnDownProgress() {
  PumpRelays();
  for (auto& [id, jump] : jump_ports_) jump.port->OnOutputProgress();
  if (!DownOutputRoom()) return;
  for (auto& [id, b] : bridges_) {
    if (b->owed_up > 0) GiveBackToHost(*b, 0);
  }
}

void GatewayConnection::OnUpProgress() {
  if (down_ended_ || !UpOutputRoom()) return;
  for (auto& [id, b] : bridges_) {
    if (b->owed_down > 0) GiveBackToUser(*b, 0);
  }
}

void GatewayConnection::OnEof(Channel ch) {
  if (ssh::net::ChannelPort* port = FindJumpPort(ch.id())) {
    port->OnEof();  // rpj: recorded ProxyJump
    return;
  }
  if (TcpRelay* relay = FindRelay(ch.id())) {
    relay->OnEof();
    return;
  }
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up.valid()) return;
  if (b->busy || !b->requests.empty() || !b->held.empty()) {
    b->eof_held = true;
    return;
  }
  if (b->gate.MustWait(Side::kInput, b->tap.get())) {
    b->gate.Hold(Side::kInput, Item::kEof, b->tap.get(), 0, "", {});
    return;
  }
  (void)b->up.SendEof();
  WakeUp();
}

void GatewayConnection::OnUpstreamEof(Channel ch) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || !ToUser(*b)) return;
  if (b->gate.MustWait(Side::kOutput, b->tap.get())) {
    b->gate.Hold(Side::kOutput, Item::kEof, b->tap.get(), 0, "", {});
    return;
  }
  (void)b->down.SendEof();
  WakeDown();
}

void GatewayConnection::OnClose(Channel ch) {
  if (auto it = jump_ports_.find(ch.id()); it != jump_ports_.end()) {
    JumpChannel jump = std::move(it->second);  // rpj: recorded ProxyJump
    jump_ports_.erase(it);
    jump.port->OnClose();
    ReportJumpClosed(ch.id(), jump, "closed");
    return;
  }
  if (auto it = relays_.find(ch.id()); it != relays_.end()) {
    // What the user sent before CLOSE still reaches the destination.
    std::shared_ptr<TcpRelay> relay = std::move(it->second);
    relays_.erase(it);
    closing_relays_[relay.get()] = relay;
    relay->OnClose("closed");
    return;
  }
  Bridge* b = FindDown(ch.id());
  if (b == nullptr) return;
  b->down_closed = true;
  if (b->up.valid() && !b->up_closed) {
    if (b->gate.MustWait(Side::kInput, b->tap.get())) {
      b->gate.Hold(Side::kInput, Item::kClose, b->tap.get(), 0, "", {});
      return;
    }
    (void)b->up.Close();
    WakeUp();
  }
  MaybeForget(*b);
}

void GatewayConnection::OnUpstreamClose(Channel ch) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr) return;
  b->up_closed = true;
  if (!down_ended_ && !b->down_closed) {
    if (b->gate.MustWait(Side::kOutput, b->tap.get())) {
      b->gate.Hold(Side::kOutput, Item::kClose, b->tap.get(), 0, "", {});
      return;
    }
    (void)b->down.Close();
    WakeDown();
  }
  MaybeForget(*b);
}

void GatewayConnection::OnUpstreamRequest(Channel ch, std::string_view type,
                                          bool want_reply, Bytes data,
                                          ssh::connection::RequestId request) {
  Bridge* b = FindUp(ch.id());
  const bool passes = type == "exit-status" || type == "exit-signal" ||
                      type == "eow@openssh.com";
  if (b == nullptr || !passes || !ToUser(*b)) {
    if (want_reply) (void)ch.Reply(request, false);
    WakeUp();
    return;
  }
  // Record before forward holds the host's requests too: a host that
  // keeps sending them while the recorder lags must not fill the
  // gateway's memory.
  if (b->gate.held_requests(Side::kOutput) >= kMaxHeldHostRequests ||
      b->gate.held_request_bytes(Side::kOutput) + type.size() + data.size() >
          kMaxHeldHostRequestBytes) {
    if (want_reply) (void)ch.Reply(request, false);
    CloseBridge(*b, absl::StrCat(Safe(target_.host),
                                 " sent more channel requests than the "
                                 "gateway holds while it records them (",
                                 kMaxHeldHostRequests, " or ",
                                 kMaxHeldHostRequestBytes >> 10, " KiB)"));
    return;
  }
  std::string summary;
  if (type == "exit-status") {
    auto code = ssh::connection::ParseExitStatus(data);
    if (code.ok()) {
      b->exit_status = *code;
      summary = absl::StrCat(*code);
    }
  } else if (type == "exit-signal") {
    auto sig = ssh::connection::ExitSignal::Parse(data);
    if (sig.ok()) summary = b->exit_signal = sig->signal;
  }
  if (!TapOk(*b,
             b->tap->Request(Monotonic(), Direction::kOutput, type, summary))) {
    return;
  }
  if (b->gate.MustWait(Side::kOutput, b->tap.get())) {
    b->gate.Hold(Side::kOutput, Item::kRequest, b->tap.get(), 0,
                 std::string(type), data);
  } else {
    (void)b->down.SendRequest(type, false, data);
  }
  if (want_reply) (void)ch.Reply(request, true);
  WakeDown();
  WakeUp();
}

void GatewayConnection::OnUpstreamReply(Channel ch, bool success) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || b->forwarded.empty() || down_ended_) return;
  const ssh::connection::RequestId id = b->forwarded.front();
  b->forwarded.pop_front();
  (void)b->down.Reply(id, success);
  WakeDown();
}

}  // namespace sallyport::gateway
