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

constexpr std::string_view kKeepalive = "keepalive@openssh.com";

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
    default:
      if (*type < kMsgChannelOpenConfirmation || *type > kMsgChannelFailure) {
        transport_.SendUnimplemented();
        return absl::OkStatus();
      }
      s = HandleChannelMessage(*type, r);
      break;
  }
  if (!s.ok() && !transport_.closed()) return Fail(s);
  return s;
}

absl::Status Connection::HandleChannelMessage(uint8_t type, wire::Reader& r) {
  auto id = r.ReadUint32();
  if (!id.ok()) return Malformed("channel message");
  ASSIGN_OR_RETURN(Channel * ch, Find(*id));
  Channel& c = *ch;
  const bool confirming =
      type == kMsgChannelOpenConfirmation || type == kMsgChannelOpenFailure;
  if (confirming != (c.state == State::kOpening) ||
      c.state == State::kPendingAccept) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message ", type, " for channel ", *id, " in the wrong state"));
  }
  switch (type) {
    case kMsgChannelOpenConfirmation: {
      auto remote = r.ReadUint32();
      auto window = r.ReadUint32();
      auto max_packet = r.ReadUint32();
      if (!remote.ok() || !window.ok() || !max_packet.ok())
        return Malformed("CHANNEL_OPEN_CONFIRMATION");
      if (*max_packet == 0)
        return absl::InvalidArgumentError("maximum packet size 0");
      c.remote_id = *remote;
      c.remote_window = *window;
      c.remote_max_packet = *max_packet;
      c.state = State::kOpen;
      // Closed while it was opening: close it now; OnClose follows.
      if (c.close_requested) return SendClose(c);
      handler_.OnChannelOpenResult(*id, OpenResult{});
      return absl::OkStatus();
    }
    case kMsgChannelOpenFailure: {
      auto reason = r.ReadUint32();
      auto desc = r.ReadStringView(1024);
      if (!reason.ok() || !desc.ok()) return Malformed("CHANNEL_OPEN_FAILURE");
      OpenResult result;
      result.reason = static_cast<OpenFailure>(*reason);
      result.description = std::string(*desc);
      result.status = absl::UnavailableError(
          absl::StrCat("channel open refused (reason ", *reason, ")",
                       desc->empty() ? "" : ": ", result.description));
      Erase(*id);
      handler_.OnChannelOpenResult(*id, result);
      return absl::OkStatus();
    }
    case kMsgChannelWindowAdjust: {
      auto n = r.ReadUint32();
      if (!n.ok() || !r.ExpectEnd().ok()) return Malformed("WINDOW_ADJUST");
      if (c.remote_window + *n > 0xffffffffull)
        return absl::InvalidArgumentError("window adjust overflows 2^32");
      c.remote_window += *n;
      RETURN_IF_ERROR(FlushChannel(*id, c));
      if (*n > 0 && channels_.count(*id)) handler_.OnWindowAvailable(*id);
      return absl::OkStatus();
    }
    case kMsgChannelData:
    case kMsgChannelExtendedData: {
      uint32_t stream = 0;
      if (type == kMsgChannelExtendedData) {
        auto st = r.ReadUint32();
        if (!st.ok()) return Malformed("EXTENDED_DATA");
        stream = *st;
      }
      auto data = r.ReadString(options_.max_packet);
      if (!data.ok() || !r.ExpectEnd().ok()) {
        return absl::InvalidArgumentError(
            "malformed data or data larger than the maximum packet size");
      }
      if (data->size() > c.local_window) {
        return absl::InvalidArgumentError(
            absl::StrCat("peer sent ", data->size(), " bytes on channel ", *id,
                         " beyond its window of ", c.local_window));
      }
      c.local_window -= static_cast<uint32_t>(data->size());
      if (!Receiving(c)) {
        // RFC 4254 §5.3: nothing after EOF; and after our Close we no
        // longer care. Dropped: it holds nothing (see StopReceiving).
        return absl::OkStatus();
      }
      c.unconsumed += data->size();
      if (!data->empty()) handler_.OnData(*id, stream, *data);
      return absl::OkStatus();
    }
    case kMsgChannelEof:
      if (!r.ExpectEnd().ok()) return Malformed("EOF");
      if (!c.eof_received && !c.close_received) {
        c.eof_received = true;
        StopReceiving(c);
        handler_.OnEof(*id);
      }
      return absl::OkStatus();
    case kMsgChannelClose:
      if (!r.ExpectEnd().ok()) return Malformed("CLOSE");
      if (c.close_received)
        return absl::InvalidArgumentError("second CLOSE on a channel");
      if (c.bridged && !c.close_sent) return HandleBridgedClose(*id, c);
      // The peer is gone: what we still had queued is dropped.
      if (!c.close_sent) RETURN_IF_ERROR(SendClose(c));
      Erase(*id);
      handler_.OnClose(*id);
      return absl::OkStatus();
    case kMsgChannelRequest:
      return HandleChannelRequest(*id, c, r);
    case kMsgChannelSuccess:
    case kMsgChannelFailure:
      if (!r.ExpectEnd().ok()) return Malformed("channel request reply");
      if (c.our_requests_pending == 0)
        return absl::InvalidArgumentError("unexpected channel request reply");
      --c.our_requests_pending;
      handler_.OnChannelRequestReply(*id, type == kMsgChannelSuccess);
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Connection::HandleChannelRequest(uint32_t id, Channel& c,
                                              wire::Reader& r) {
  auto name = r.ReadCString(256);
  auto want_reply = r.ReadBool();
  if (!name.ok() || !want_reply.ok()) return Malformed("CHANNEL_REQUEST");
  RequestId request = kNoReply;
  if (*want_reply) {
    ASSIGN_OR_RETURN(request, AddPending(c.replies));
  }
  // Keepalives, and anything after our Close (unless bridged) or after the
  // peer's CLOSE, are refused here, in order.
  if (*name == kKeepalive || (c.close_requested && !c.bridged) ||
      c.close_received) {
    if (!*want_reply) return absl::OkStatus();
    RETURN_IF_ERROR(Answer(c.replies, request, false, {}));
    return SendReplies(c.replies, &c);
  }
  handler_.OnChannelRequest(id, *name, *want_reply, r.Rest(), request);
  return absl::OkStatus();
}

absl::Status Connection::HandleGlobalRequest(wire::Reader& r) {
  auto name = r.ReadCString(256);
  auto want_reply = r.ReadBool();
  if (!name.ok() || !want_reply.ok()) return Malformed("GLOBAL_REQUEST");
  RequestId request = kNoReply;
  if (*want_reply) {
    ASSIGN_OR_RETURN(request, AddPending(global_replies_));
  }
  std::optional<bool> answer = false;
  if (*name != kKeepalive)
    answer = handler_.OnGlobalRequest(*name, *want_reply, r.Rest(), request);
  if (!*want_reply || !answer.has_value()) return absl::OkStatus();
  return ReplyGlobalRequest(request, *answer);
}

// ------------------------------------------------------------ replies

absl::StatusOr<RequestId> Connection::AddPending(Replies& replies) {
  if (replies.entries.size() >= options_.max_pending_requests) {
    return absl::ResourceExhaustedError("too many unanswered requests");
  }
  const RequestId id = replies.next_id++;
  replies.entries.push_back({id, std::nullopt, {}});
  return id;
}

absl::Status Connection::Answer(Replies& replies, RequestId request,
                                bool success, Bytes data) {
  auto it =
      std::find_if(replies.entries.begin(), replies.entries.end(),
                   [&](const Replies::Entry& e) { return e.id == request; });
  if (it == replies.entries.end() || it->answer.has_value())
    return absl::FailedPreconditionError("no such request to answer");
  it->answer = success;
  it->data.assign(data.begin(), data.end());
  return absl::OkStatus();
}

absl::Status Connection::SendReplies(Replies& replies, Channel* c) {
  while (!replies.entries.empty() &&
         replies.entries.front().answer.has_value()) {
    Replies::Entry e = std::move(replies.entries.front());
    replies.entries.pop_front();
    wire::Writer w;
    if (c != nullptr) {
      if (c->close_sent) continue;  // nothing may follow our CLOSE
      w.Byte(*e.answer ? kMsgChannelSuccess : kMsgChannelFailure)
          .Uint32(c->remote_id);
    } else {
      w.Byte(*e.answer ? kMsgRequestSuccess : kMsgRequestFailure).Raw(e.data);
    }
    RETURN_IF_ERROR(Send(w.data()));
  }
  return absl::OkStatus();
}

absl::Status Connection::ReplyRequest(uint32_t id, RequestId request,
                                      bool success) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  RETURN_IF_ERROR(Answer(c->replies, request, success, {}));
  return SendReplies(c->replies, c);
}

absl::Status Connection::ReplyRequest(uint32_t id, bool success) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  for (const auto& e : c->replies.entries) {
    if (!e.answer.has_value()) return ReplyRequest(id, e.id, success);
  }
  return absl::FailedPreconditionError("no request to answer");
}

absl::Status Connection::ReplyGlobalRequest(RequestId request, bool success,
                                            Bytes data) {
  RETURN_IF_ERROR(Answer(global_replies_, request, success, data));
  return SendReplies(global_replies_, nullptr);
}

absl::Status Connection::SendGlobalRequest(std::string_view name,
                                           bool want_reply, Bytes data) {
  if (want_reply) ++global_requests_pending_;
  wire::Writer w;
  w.Byte(kMsgGlobalRequest).String(name).Bool(want_reply).Raw(data);
  return Send(w.data());
}

// ------------------------------------------------------------ channels

absl::Status Connection::HandleOpen(wire::Reader& r) {
  auto type = r.ReadCString(256);
  auto sender = r.ReadUint32();
  auto window = r.ReadUint32();
  auto max_packet = r.ReadUint32();
  if (!type.ok() || !sender.ok() || !window.ok() || !max_packet.ok()) {
    return Malformed("CHANNEL_OPEN");
  }
  if (*max_packet == 0)
    return absl::InvalidArgumentError("maximum packet size 0");
  if (CountedChannels() >= options_.max_channels) {
    wire::Writer w;
    w.Byte(kMsgChannelOpenFailure)
        .Uint32(*sender)
        .Uint32(static_cast<uint32_t>(OpenFailure::kResourceShortage))
        .String("too many channels")
        .String("");
    return Send(w.data());
  }
  uint32_t id = next_id_++;
  while (channels_.count(id)) id = next_id_++;
  Channel c;
  c.state = State::kPendingAccept;
  c.type = std::string(*type);
  c.remote_id = *sender;
  c.remote_window = *window;
  c.remote_max_packet = *max_packet;
  Reserve(c);
  channels_.emplace(id, std::move(c));
  handler_.OnChannelOpen(id, *type, r.Rest());
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Connection::OpenChannel(std::string_view type,
                                                 Bytes extra) {
  if (CountedChannels() >= options_.max_channels) {
    return absl::ResourceExhaustedError("too many channels");
  }
  uint32_t id = next_id_++;
  while (channels_.count(id)) id = next_id_++;
  Channel c;
  c.state = State::kOpening;
  c.type = std::string(type);
  wire::Writer w;
  w.Byte(kMsgChannelOpen)
      .String(type)
      .Uint32(id)
      .Uint32(FirstWindow())
      .Uint32(options_.max_packet)
      .Raw(extra);
  RETURN_IF_ERROR(Send(w.data()));
  Reserve(c);
  channels_.emplace(id, std::move(c));
  return id;
}

absl::Status Connection::AbandonOpen(uint32_t id) {
  ASSIGN_OR_RETURN(Channel * c, Find(id));
  if (c->state != State::kOpening || c->abandoned)
    return absl::FailedPreconditionError("not an open of ours in progress");
  if (abandoned_ >= options_.max_channels)
    return absl::ResourceExhaustedError("too many abandoned channel opens");
  c->abandoned = true;
  c->close_requested = true;  // CLOSE once confirmed
  StopReceiving(*c);
  ++abandoned_;
  return absl::OkStatus();
}

Connection::~Connection() {
  WindowBudget* budget = options_.window_budget;
  if (budget == nullptr) return;
  for (const auto& [id, c] : channels_) {
    budget->reserved_ -= c.reservation;
    --budget->channels_;
  }
}

uint32_t Connection::FirstWindow() const {
  return options_.window_budget == nullptr
             ? options_.initial_window
             : std::min(options_.initial_window, WindowBudget::kFloor);
}

void Connection::Reserve(Channel& c) {
  c.reservation = FirstWindow();
  c.local_window = FirstWindow();
  if (WindowBudget* budget = options_.window_budget; budget != nullptr) {
    budget->reserved_ += c.reservation;
    ++budget->channels_;
  }
}

void Connection::Rebalance(Channel& c) {
  WindowBudget* budget = options_.window_budget;
  if (budget == nullptr) return;
  const uint64_t share = std::clamp<uint64_t>(
      budget->total_ / std::max<size_t>(budget->channels_, 1), FirstWindow(),
      options_.initial_window);
  // The peer has at least half its window in use (sent, not yet
  // re-advertised): it is sending in bulk and may be waiting for us, so
  // the window doubles. A channel that only sees keystrokes never gets
  // there and keeps its floor, leaving the budget to those that need it.
  const bool window_used = c.local_window <= c.reservation / 2;
  if (c.reservation < share && window_used && c.state == State::kOpen) {
    const uint64_t room = budget->total_ > budget->reserved_
                              ? budget->total_ - budget->reserved_
                              : 0;
    const uint64_t grow =
        std::min({share - c.reservation, c.reservation, room});
    c.reservation += grow;
    c.to_adjust += grow;
    budget->reserved_ += grow;
  } else if (c.reservation > share) {
    const uint64_t shrink = std::min(c.reservation - share, c.to_adjust);
    c.reservation -= shrink;
    c.to_adjust -= shrink;
    budget->reserved_ -= shrink;
  }
}

void Connection::StopReceiving(Channel& c) {
  if (Receiving(c)) return;
  const uint64_t freed = c.reservation - c.unconsumed;
  c.reservation = c.unconsumed;
  c.to_adjust = 0;
  if (WindowBudget* budget = options_.window_budget; budget != nullptr)
    budget->reserved_ -= freed;
}

void Connection::Erase(uint32_t id) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return;
  if (it->second.abandoned) --abandoned_;
  if (WindowBudget* budget = options_.window_budget; budget != nullptr) {
    budget->reserved_ -= it->second.reservation;
    --budget->channels_;
  }
  channels_.erase(it);
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
      .Uint32(c->local_window)
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
      .String(description.substr(0, 1024))
      .String("");
  Erase(id);
  return Send(w.data());
}

uint32_t Connection::ReceiveWindow(uint32_t id) const {
  auto it = channels_.find(id);
  return it == channels_.end() ? 0 : it->second.local_window;
}

uint64_t Connection::Unconsumed(uint32_t id) const {
  auto it = channels_.find(id);
  return it == channels_.end() ? 0 : it->second.unconsumed;
}

uint64_t Connection::ReservedWindow() const {
  uint64_t sum = 0;
  for (const auto& [id, c] : channels_) sum += c.reservation;
  return sum;
}

void Connection::Consume(uint32_t id, size_t n) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return;
  Channel& c = it->second;
  n = std::min<uint64_t>(n, c.unconsumed);
  c.unconsumed -= n;
  if (!Receiving(c)) {
    // Nothing more to re-advertise: what was held is given back.
    c.reservation -= n;
    if (WindowBudget* budget = options_.window_budget; budget != nullptr)
      budget->reserved_ -= n;
    return;
  }
  c.to_adjust += n;
  Rebalance(c);
  // Re-advertise in half-window steps so the peer never waits on us.
  if (c.to_adjust > 0 && c.to_adjust >= c.reservation / 2 &&
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
