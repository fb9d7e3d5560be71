// Connection: what we send on channels — data (direct, zero-copy or
// through the per-channel ordered queue), requests, EOF and CLOSE.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/connection/connection.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {
namespace {

// CHANNEL_DATA or CHANNEL_EXTENDED_DATA up to the data itself: type, id,
// [data type code,] length.
constexpr size_t kMaxDataHeaderSize = 13;
size_t DataHeaderSize(uint32_t stream) {
  return stream == 0 ? 9 : kMaxDataHeaderSize;
}

void WriteDataHeader(uint8_t* out, uint32_t remote_id, uint32_t stream,
                     size_t n) {
  size_t at = 0;
  const auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out[at++] = static_cast<uint8_t>(v >> shift);
  };
  out[at++] = stream == 0 ? kMsgChannelData : kMsgChannelExtendedData;
  put32(remote_id);
  if (stream != 0) put32(stream);
  put32(static_cast<uint32_t>(n));
}

}  // namespace

absl::StatusOr<Connection::Channel*> Connection::FindForData(uint32_t id) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kOpen || c->eof_sent || c->close_requested ||
      c->close_received) {
    return absl::FailedPreconditionError(
        absl::StrCat("channel ", id, " is not open for data"));
  }
  return c;
}

size_t Connection::MaxDataPerPacket(const Channel& c) const {
  return std::min<size_t>(
      {c.remote_max_packet, options_.max_packet,
       transport::kMaxOutgoingPayload - kMaxDataHeaderSize});
}

absl::Status Connection::SendNow(Channel& c, Bytes data, uint32_t stream,
                                 size_t* sent) {
  size_t& taken = *sent;
  taken = 0;
  while (taken < data.size() && c.remote_window > 0) {
    size_t n = std::min<size_t>(
        {data.size() - taken, c.remote_window, MaxDataPerPacket(c)});
    // The header is built here and the data goes to the transport as a
    // second part: bulk data is copied once, into the packet.
    uint8_t header[kMaxDataHeaderSize];
    WriteDataHeader(header, c.remote_id, stream, n);
    RETURN_IF_ERROR(transport_.Send(Bytes(header, DataHeaderSize(stream)),
                                    data.subspan(taken, n)));
    c.remote_window -= n;
    taken += n;
  }
  return absl::OkStatus();
}

// The transport refusing more for now (its key-exchange queue is full) is
// no error of the channel: what is left waits in the queue for Flush().
bool Connection::TransportFull(const absl::Status& status) const {
  return status.code() == absl::StatusCode::kResourceExhausted &&
         !transport_.closed();
}

absl::StatusOr<size_t> Connection::SendData(uint32_t id, Bytes data,
                                            uint32_t stream) {
  ASSIGN_OR_RETURN(Channel * c, FindForData(id));
  if (!c->out.empty()) return 0;  // never ahead of queued output
  size_t sent = 0;
  absl::Status s = SendNow(*c, data, stream, &sent);
  if (!s.ok() && !(TransportFull(s) && sent > 0)) return s;
  return sent;
}

absl::StatusOr<size_t> Connection::QueueData(uint32_t id, Bytes data,
                                             uint32_t stream) {
  ASSIGN_OR_RETURN(Channel * c, FindForData(id));
  size_t taken = 0;
  if (c->out.empty()) {
    absl::Status s = SendNow(*c, data, stream, &taken);
    if (!s.ok() && !TransportFull(s)) return s;
  }
  const size_t room = options_.max_queued_bytes -
                      std::min(options_.max_queued_bytes, c->queued_bytes);
  const size_t n = std::min(room, data.size() - taken);
  if (n == 0) return taken;
  Bytes rest = data.subspan(taken, n);
  // Appended to the last entry if it is data of the same stream of which
  // nothing was sent yet (only the first entry is ever partly sent, so
  // there are at most two data entries per run).
  if (c->out.empty() || c->out.back().kind != Output::Kind::kData ||
      c->out.back().stream != stream || c->out.back().sent > 0) {
    c->out.push_back({Output::Kind::kData, stream, {}, 0});
  }
  std::vector<uint8_t>& bytes = c->out.back().bytes;
  bytes.insert(bytes.end(), rest.begin(), rest.end());
  c->queued_bytes += n;
  return taken + n;
}

absl::StatusOr<size_t> Connection::SendDataInPlace(
    uint32_t id, size_t max, uint32_t stream,
    transport::Transport::FillFunction fill) {
  ASSIGN_OR_RETURN(Channel * c, FindForData(id));
  if (!c->out.empty()) return 0;  // never ahead of queued output
  const size_t total = std::min<uint64_t>(max, c->remote_window);
  if (total == 0) return 0;
  const uint32_t remote_id = c->remote_id;
  ASSIGN_OR_RETURN(size_t sent,
                   transport_.SendInPlace(
                       DataHeaderSize(stream), MaxDataPerPacket(*c), total,
                       fill, [&](absl::Span<uint8_t> head, size_t n) {
                         WriteDataHeader(head.data(), remote_id, stream, n);
                       }));
  c->remote_window -= sent;
  return sent;
}

uint32_t Connection::SendWindow(uint32_t id) const {
  auto it = channels_.find(id);
  if (it == channels_.end() || it->second.state != State::kOpen) return 0;
  return static_cast<uint32_t>(
      std::min<uint64_t>(it->second.remote_window, 0xffffffffu));
}

size_t Connection::QueuedBytes(uint32_t id) const {
  auto it = channels_.find(id);
  return it == channels_.end() ? 0 : it->second.queued_bytes;
}

size_t Connection::QueueRoom(uint32_t id) const {
  auto it = channels_.find(id);
  if (it == channels_.end()) return 0;
  const Channel& c = it->second;
  if (c.state != State::kOpen || c.eof_sent || c.close_requested ||
      c.close_received)
    return 0;
  return options_.max_queued_bytes -
         std::min(options_.max_queued_bytes, c.queued_bytes);
}

absl::Status Connection::SendClose(Channel& c) {
  c.close_requested = true;
  StopReceiving(c);
  c.close_sent = true;
  c.out.clear();
  c.queued_bytes = 0;
  wire::Writer w;
  w.Byte(kMsgChannelClose).Uint32(c.remote_id);
  return Send(w.data());
}

absl::Status Connection::FlushChannel(uint32_t id, Channel& c) {
  size_t data_sent = 0;
  absl::Status status;
  while (!c.out.empty() && c.state == State::kOpen && !c.close_sent) {
    Output& o = c.out.front();
    if (o.kind == Output::Kind::kData) {
      size_t sent = 0;
      status = SendNow(c, absl::MakeConstSpan(o.bytes).subspan(o.sent),
                       o.stream, &sent);
      o.sent += sent;
      c.queued_bytes -= sent;
      data_sent += sent;
      if (!status.ok()) break;
      if (o.sent < o.bytes.size()) break;  // the window is closed
      c.out.pop_front();
      continue;
    }
    if (o.kind == Output::Kind::kClose) {
      status = SendClose(c);
      break;
    }
    wire::Writer eof;
    if (o.kind == Output::Kind::kEof)
      eof.Byte(kMsgChannelEof).Uint32(c.remote_id);
    status = Send(o.kind == Output::Kind::kEof ? eof.data() : o.bytes);
    if (!status.ok()) break;
    c.queued_bytes -= o.kind == Output::Kind::kRequest ? o.bytes.size() : 0;
    c.out.pop_front();
  }
  if (data_sent > 0) handler_.OnQueuedDataSent(id, data_sent);
  EraseIfClosedBothWays(id, c);  // c may be gone
  return TransportFull(status) ? absl::OkStatus() : status;
}

void Connection::EraseIfClosedBothWays(uint32_t id, const Channel& c) {
  if (c.close_received && c.close_sent) Erase(id);
}

absl::Status Connection::HandleBridgedClose(uint32_t id, Channel& c) {
  c.close_received = true;
  StopReceiving(c);
  // The peer reads no more data; requests, EOF and our CLOSE (if Close()
  // was called already) still go out, in order.
  for (auto it = c.out.begin(); it != c.out.end();) {
    if (it->kind == Output::Kind::kData) {
      c.queued_bytes -= it->bytes.size() - it->sent;
      it = c.out.erase(it);
    } else {
      ++it;
    }
  }
  absl::Status status = FlushChannel(id, c);  // c may be gone
  handler_.OnClose(id);
  return status;
}

absl::Status Connection::Flush() {
  std::vector<uint32_t> ids;
  for (const auto& [id, c] : channels_) {
    if (!c.out.empty()) ids.push_back(id);
  }
  for (uint32_t id : ids) {
    auto it = channels_.find(id);
    if (it != channels_.end()) RETURN_IF_ERROR(FlushChannel(id, it->second));
  }
  return absl::OkStatus();
}

absl::Status Connection::SendEof(uint32_t id) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kOpen)
    return absl::FailedPreconditionError("channel not open");
  if (c->eof_sent || c->close_requested) return absl::OkStatus();
  c->eof_sent = true;
  if (!c->out.empty()) {
    c->out.push_back({Output::Kind::kEof, 0, {}, 0});
    return absl::OkStatus();
  }
  wire::Writer w;
  w.Byte(kMsgChannelEof).Uint32(c->remote_id);
  return Send(w.data());
}

absl::Status Connection::Close(uint32_t id) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state == State::kPendingAccept) {
    return RejectChannel(id, OpenFailure::kAdministrativelyProhibited,
                         "closed");
  }
  if (c->close_requested) return absl::OkStatus();
  c->close_requested = true;
  StopReceiving(*c);
  // Still opening: CLOSE goes out when the confirmation arrives.
  if (c->state == State::kOpening) return absl::OkStatus();
  if (!c->out.empty()) {
    c->out.push_back({Output::Kind::kClose, 0, {}, 0});
    return absl::OkStatus();
  }
  absl::Status status = SendClose(*c);
  EraseIfClosedBothWays(id, *c);
  return status;
}

absl::Status Connection::SetBridged(uint32_t id) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  c->bridged = true;
  return absl::OkStatus();
}

absl::Status Connection::SendRequest(uint32_t id, std::string_view type,
                                     bool want_reply, Bytes data) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kOpen || c->close_requested) {
    return absl::FailedPreconditionError("channel not open");
  }
  wire::Writer w;
  w.Byte(kMsgChannelRequest)
      .Uint32(c->remote_id)
      .String(type)
      .Bool(want_reply)
      .Raw(data);
  if (!c->out.empty()) {
    if (c->queued_bytes + w.data().size() > options_.max_queued_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("output queue of channel ", id, " is full"));
    }
    c->queued_bytes += w.data().size();
    c->out.push_back({Output::Kind::kRequest, 0, w.Take(), 0});
  } else {
    RETURN_IF_ERROR(Send(w.data()));
  }
  if (want_reply) ++c->our_requests_pending;
  return absl::OkStatus();
}

}  // namespace sallyport::ssh::connection
