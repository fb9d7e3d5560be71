#include "ssh/connection/connection.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {
namespace {

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed ", std::string(what)));
}

}  // namespace

Connection::Connection(transport::Transport& transport,
                       ConnectionHandler& handler, ConnectionOptions options)
    : transport_(transport), handler_(handler), options_(options) {}

absl::Status Connection::Fail(absl::Status status) {
  transport_.Disconnect(transport::DisconnectReason::kProtocolError,
                        std::string(status.message().substr(0, 200)), status);
  return status;
}

absl::Status Connection::Send(const std::vector<uint8_t>& msg) {
  return transport_.Send(msg);
}

absl::StatusOr<Connection::Channel*> Connection::Find(uint32_t id) {
  auto it = channels_.find(id);
  if (it == channels_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("message for unknown channel ", id));
  }
  return &it->second;
}

absl::Status Connection::Handle(Bytes payload) {
  wire::Reader r(payload);
  auto type = r.ReadByte();
  if (!type.ok()) return Fail(type.status());
  absl::Status s;
  switch (*type) {
    case kMsgGlobalRequest:
      s = HandleGlobalRequest(r);
      break;
    case kMsgRequestSuccess:
    case kMsgRequestFailure:
      if (global_requests_pending_ == 0) {
        s = absl::InvalidArgumentError("unexpected global request reply");
        break;
      }
      --global_requests_pending_;
      handler_.OnGlobalRequestReply(*type == kMsgRequestSuccess, r.Rest());
      break;
    case kMsgChannelOpen:
      s = HandleOpen(r);
      break;
    default: {
      if (*type < kMsgChannelOpenConfirmation || *type > kMsgChannelFailure) {
        transport_.SendUnimplemented();
        return absl::OkStatus();
      }
      auto id = r.ReadUint32();
      if (!id.ok()) return Fail(Malformed("channel message"));
      auto ch = Find(*id);
      if (!ch.ok()) return Fail(ch.status());
      Channel& c = **ch;
      const bool confirming = *type == kMsgChannelOpenConfirmation ||
                              *type == kMsgChannelOpenFailure;
      if (confirming != (c.state == State::kOpening) ||
          c.state == State::kPendingAccept) {
        return Fail(absl::InvalidArgumentError(absl::StrCat(
            "message ", *type, " for channel ", *id, " in the wrong state")));
      }
      switch (*type) {
        case kMsgChannelOpenConfirmation: {
          auto remote = r.ReadUint32();
          auto window = r.ReadUint32();
          auto max_packet = r.ReadUint32();
          if (!remote.ok() || !window.ok() || !max_packet.ok()) {
            return Fail(Malformed("CHANNEL_OPEN_CONFIRMATION"));
          }
          if (*max_packet == 0)
            return Fail(absl::InvalidArgumentError("maximum packet size 0"));
          c.remote_id = *remote;
          c.remote_window = *window;
          c.remote_max_packet = *max_packet;
          c.state = State::kOpen;
          handler_.OnChannelOpenResult(*id, absl::OkStatus());
          break;
        }
        case kMsgChannelOpenFailure: {
          auto reason = r.ReadUint32();
          auto desc = r.ReadStringView(1024);
          if (!reason.ok() || !desc.ok())
            return Fail(Malformed("CHANNEL_OPEN_FAILURE"));
          std::string message =
              absl::StrCat("channel open refused (reason ", *reason, ")");
          channels_.erase(*id);
          handler_.OnChannelOpenResult(*id, absl::UnavailableError(message));
          return absl::OkStatus();
        }
        case kMsgChannelWindowAdjust: {
          auto n = r.ReadUint32();
          if (!n.ok() || !r.ExpectEnd().ok())
            return Fail(Malformed("WINDOW_ADJUST"));
          if (c.remote_window + *n > 0xffffffffull) {
            return Fail(
                absl::InvalidArgumentError("window adjust overflows 2^32"));
          }
          const bool was_closed = c.remote_window == 0;
          c.remote_window += *n;
          if (*n > 0 && (was_closed || true)) handler_.OnWindowAvailable(*id);
          break;
        }
        case kMsgChannelData:
        case kMsgChannelExtendedData: {
          uint32_t stream = 0;
          if (*type == kMsgChannelExtendedData) {
            auto st = r.ReadUint32();
            if (!st.ok()) return Fail(Malformed("EXTENDED_DATA"));
            stream = *st;
          }
          auto data = r.ReadString(options_.max_packet);
          if (!data.ok() || !r.ExpectEnd().ok()) {
            return Fail(absl::InvalidArgumentError(
                "malformed data or data larger than the maximum packet size"));
          }
          if (data->size() > c.local_window) {
            return Fail(absl::InvalidArgumentError(
                absl::StrCat("peer sent ", data->size(), " bytes on channel ",
                             *id, " beyond its window of ", c.local_window)));
          }
          c.local_window -= static_cast<uint32_t>(data->size());
          if (c.eof_received || c.close_sent) {
            // RFC 4254 §5.3: nothing after EOF; and after our CLOSE we no
            // longer care. Drop it but keep the window honest.
            c.to_adjust += data->size();
            break;
          }
          c.unconsumed += data->size();
          if (!data->empty()) handler_.OnData(*id, stream, *data);
          break;
        }
        case kMsgChannelEof:
          if (!r.ExpectEnd().ok()) return Fail(Malformed("EOF"));
          if (!c.eof_received) {
            c.eof_received = true;
            handler_.OnEof(*id);
          }
          break;
        case kMsgChannelClose: {
          if (!r.ExpectEnd().ok()) return Fail(Malformed("CLOSE"));
          if (!c.close_sent) {
            wire::Writer w;
            w.Byte(kMsgChannelClose).Uint32(c.remote_id);
            RETURN_IF_ERROR(Send(w.data()));
          }
          channels_.erase(*id);
          handler_.OnClose(*id);
          return absl::OkStatus();
        }
        case kMsgChannelRequest: {
          auto name = r.ReadCString(256);
          auto want_reply = r.ReadBool();
          if (!name.ok() || !want_reply.ok())
            return Fail(Malformed("CHANNEL_REQUEST"));
          if (c.close_sent) break;
          if (*want_reply) {
            if (c.peer_requests_pending >= 64) {
              return Fail(absl::ResourceExhaustedError(
                  "too many unanswered channel requests"));
            }
            ++c.peer_requests_pending;
          }
          if (*name == "keepalive@openssh.com") {
            if (*want_reply) RETURN_IF_ERROR(ReplyRequest(*id, false));
            break;
          }
          handler_.OnChannelRequest(*id, *name, *want_reply, r.Rest());
          break;
        }
        case kMsgChannelSuccess:
        case kMsgChannelFailure:
          if (!r.ExpectEnd().ok())
            return Fail(Malformed("channel request reply"));
          if (c.our_requests_pending == 0) {
            return Fail(
                absl::InvalidArgumentError("unexpected channel request reply"));
          }
          --c.our_requests_pending;
          handler_.OnChannelRequestReply(*id, *type == kMsgChannelSuccess);
          break;
      }
      return absl::OkStatus();
    }
  }
  if (!s.ok()) return Fail(s);
  return absl::OkStatus();
}

absl::Status Connection::HandleOpen(wire::Reader& r) {
  auto type = r.ReadCString(256);
  auto sender = r.ReadUint32();
  auto window = r.ReadUint32();
  auto max_packet = r.ReadUint32();
  if (!type.ok() || !sender.ok() || !window.ok() || !max_packet.ok()) {
    return Malformed("CHANNEL_OPEN");
  }
  auto refuse = [&](OpenFailure reason, std::string_view why) {
    wire::Writer w;
    w.Byte(kMsgChannelOpenFailure)
        .Uint32(*sender)
        .Uint32(static_cast<uint32_t>(reason))
        .String(why)
        .String("");
    return Send(w.data());
  };
  if (*max_packet == 0)
    return absl::InvalidArgumentError("maximum packet size 0");
  if (channels_.size() >= options_.max_channels) {
    return refuse(OpenFailure::kResourceShortage, "too many channels");
  }
  uint32_t id = next_id_++;
  while (channels_.count(id)) id = next_id_++;
  Channel c;
  c.state = State::kPendingAccept;
  c.type = std::string(*type);
  c.remote_id = *sender;
  c.remote_window = *window;
  c.remote_max_packet = *max_packet;
  c.local_window = options_.initial_window;
  channels_.emplace(id, std::move(c));
  handler_.OnChannelOpen(id, *type, r.Rest());
  return absl::OkStatus();
}

absl::Status Connection::HandleGlobalRequest(wire::Reader& r) {
  auto name = r.ReadCString(256);
  auto want_reply = r.ReadBool();
  if (!name.ok() || !want_reply.ok()) return Malformed("GLOBAL_REQUEST");
  bool ok = false;
  if (*name != "keepalive@openssh.com")
    ok = handler_.OnGlobalRequest(*name, r.Rest());
  if (!*want_reply) return absl::OkStatus();
  const uint8_t reply = ok ? kMsgRequestSuccess : kMsgRequestFailure;
  return transport_.Send(absl::MakeConstSpan(&reply, 1));
}

absl::StatusOr<uint32_t> Connection::OpenChannel(std::string_view type,
                                                 Bytes extra) {
  if (channels_.size() >= options_.max_channels) {
    return absl::ResourceExhaustedError("too many channels");
  }
  uint32_t id = next_id_++;
  while (channels_.count(id)) id = next_id_++;
  Channel c;
  c.state = State::kOpening;
  c.type = std::string(type);
  c.local_window = options_.initial_window;
  wire::Writer w;
  w.Byte(kMsgChannelOpen)
      .String(type)
      .Uint32(id)
      .Uint32(options_.initial_window)
      .Uint32(options_.max_packet)
      .Raw(extra);
  RETURN_IF_ERROR(Send(w.data()));
  channels_.emplace(id, std::move(c));
  return id;
}

absl::Status Connection::AcceptChannel(uint32_t id) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kPendingAccept)
    return absl::FailedPreconditionError("not pending");
  c->state = State::kOpen;
  wire::Writer w;
  w.Byte(kMsgChannelOpenConfirmation)
      .Uint32(c->remote_id)
      .Uint32(id)
      .Uint32(options_.initial_window)
      .Uint32(options_.max_packet);
  return Send(w.data());
}

absl::Status Connection::RejectChannel(uint32_t id, OpenFailure reason,
                                       std::string_view description) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kPendingAccept)
    return absl::FailedPreconditionError("not pending");
  wire::Writer w;
  w.Byte(kMsgChannelOpenFailure)
      .Uint32(c->remote_id)
      .Uint32(static_cast<uint32_t>(reason))
      .String(description)
      .String("");
  channels_.erase(id);
  return Send(w.data());
}

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
  if (c->state != State::kOpen || c->eof_sent || c->close_sent) {
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

absl::StatusOr<size_t> Connection::SendData(uint32_t id, Bytes data,
                                            uint32_t stream) {
  ASSIGN_OR_RETURN(Channel * c, FindForData(id));
  size_t taken = 0;
  while (taken < data.size() && c->remote_window > 0) {
    size_t n = std::min<size_t>(
        {data.size() - taken, c->remote_window, MaxDataPerPacket(*c)});
    // The header is built here and the data goes to the transport as a
    // second part: bulk data is copied once, into the packet.
    uint8_t header[kMaxDataHeaderSize];
    WriteDataHeader(header, c->remote_id, stream, n);
    RETURN_IF_ERROR(transport_.Send(Bytes(header, DataHeaderSize(stream)),
                                    data.subspan(taken, n)));
    c->remote_window -= n;
    taken += n;
  }
  return taken;
}

absl::StatusOr<size_t> Connection::SendDataInPlace(
    uint32_t id, size_t max, uint32_t stream,
    transport::Transport::FillFunction fill) {
  ASSIGN_OR_RETURN(Channel * c, FindForData(id));
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

uint32_t Connection::ReceiveWindow(uint32_t id) const {
  auto it = channels_.find(id);
  return it == channels_.end() ? 0 : it->second.local_window;
}

uint64_t Connection::Unconsumed(uint32_t id) const {
  auto it = channels_.find(id);
  return it == channels_.end() ? 0 : it->second.unconsumed;
}

absl::Status Connection::SendEof(uint32_t id) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kOpen)
    return absl::FailedPreconditionError("channel not open");
  if (c->eof_sent || c->close_sent) return absl::OkStatus();
  c->eof_sent = true;
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
  if (c->state == State::kOpening || c->close_sent) {
    c->close_sent =
        true;  // CLOSE after the confirmation arrives is not possible: wait
    return absl::OkStatus();
  }
  c->close_sent = true;
  wire::Writer w;
  w.Byte(kMsgChannelClose).Uint32(c->remote_id);
  return Send(w.data());
}

absl::Status Connection::SendRequest(uint32_t id, std::string_view type,
                                     bool want_reply, Bytes data) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kOpen || c->close_sent) {
    return absl::FailedPreconditionError("channel not open");
  }
  if (want_reply) ++c->our_requests_pending;
  wire::Writer w;
  w.Byte(kMsgChannelRequest)
      .Uint32(c->remote_id)
      .String(type)
      .Bool(want_reply)
      .Raw(data);
  return Send(w.data());
}

absl::Status Connection::ReplyRequest(uint32_t id, bool success) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->peer_requests_pending == 0)
    return absl::FailedPreconditionError("no request to answer");
  --c->peer_requests_pending;
  if (c->close_sent) return absl::OkStatus();
  wire::Writer w;
  w.Byte(success ? kMsgChannelSuccess : kMsgChannelFailure)
      .Uint32(c->remote_id);
  return Send(w.data());
}

absl::Status Connection::SendGlobalRequest(std::string_view name,
                                           bool want_reply, Bytes data) {
  if (want_reply) ++global_requests_pending_;
  wire::Writer w;
  w.Byte(kMsgGlobalRequest).String(name).Bool(want_reply).Raw(data);
  return Send(w.data());
}

void Connection::Consume(uint32_t id, size_t n) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return;
  Channel& c = it->second;
  n = std::min<uint64_t>(n, c.unconsumed);
  c.unconsumed -= n;
  c.to_adjust += n;
  // Re-advertise in half-window steps so the peer never waits on us.
  if (c.to_adjust >= options_.initial_window / 2 && !c.close_sent &&
      c.state == State::kOpen) {
    const uint32_t add = static_cast<uint32_t>(
        std::min<uint64_t>(c.to_adjust, 0xffffffffull - c.local_window));
    c.to_adjust -= add;
    c.local_window += add;
    wire::Writer w;
    w.Byte(kMsgChannelWindowAdjust).Uint32(c.remote_id).Uint32(add);
    (void)Send(w.data());
  }
}

}  // namespace sallyport::ssh::connection
