// The transport's input and packet decoding, message dispatch, timers and
// disconnects. Key exchange is in transport_kex.cc, output and the kex queue
// in transport_output.cc.
#include "ssh/transport/transport.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/crypto/cipher.h"
#include "ssh/transport/transport_internal.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {

using internal::Contains;
using internal::PhaseName;
using internal::Sanitize;

bool PeerMessageAllowed(Role role, Phase phase, uint8_t type) {
  const bool connection =
      type >= kMsgConnectionFirst && type <= kMsgConnectionLast;
  if (role == Role::kServer) {
    switch (phase) {
      case Phase::kInitialKex:
        return false;
      case Phase::kService:
        return type == kMsgServiceRequest;
      case Phase::kUserauth:
        return type == kMsgUserauthRequest;
      case Phase::kAuthenticated:
        return connection;
    }
  } else {
    switch (phase) {
      case Phase::kInitialKex:
        return false;
      case Phase::kService:
        return type == kMsgServiceAccept;
      case Phase::kUserauth:
        return type == kMsgUserauthFailure || type == kMsgUserauthSuccess ||
               type == kMsgUserauthBanner || type == kMsgUserauthPkOk;
      case Phase::kAuthenticated:
        return connection;
    }
  }
  return false;
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::Create(
    TransportOptions options) {
  if (options.role == Role::kServer && options.host_keys.empty()) {
    return absl::InvalidArgumentError("a server needs at least one host key");
  }
  if (options.role == Role::kClient && options.host_key_policy == nullptr) {
    return absl::InvalidArgumentError("a client needs a host key policy");
  }
  if (options.rekey_packets > (uint64_t{1} << 31))
    options.rekey_packets = uint64_t{1} << 31;
  if (options.kex_algorithms.empty())
    options.kex_algorithms = SupportedKexAlgorithms();
  if (options.ciphers.empty()) options.ciphers = crypto::SupportedCiphers();
  if (options.macs.empty()) options.macs = crypto::SupportedMacs();
  for (const auto& c : options.ciphers) {
#ifdef SALLYPORT_FUZZING_NULL_CIPHER
    if (c == "none" && options.fuzzing_allow_none_cipher) continue;
#endif
    if (!crypto::LookupCipher(c).ok() || c == "none") {
      return absl::InvalidArgumentError(absl::StrCat("unsupported cipher ", c));
    }
  }
  for (const auto& k : options.kex_algorithms) {
    if (!Contains(SupportedKexAlgorithms(), k)) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported kex ", k));
    }
  }
  std::unique_ptr<Transport> t(new Transport(std::move(options)));
  RETURN_IF_ERROR(t->Start());
  return t;
}

Transport::Transport(TransportOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : base::Clock::Real()),
      version_reader_(/*allow_pre_banner=*/options_.role == Role::kClient) {}

Transport::~Transport() = default;

absl::Status Transport::Start() {
  start_time_ = clock_->Monotonic();
  last_kex_time_ = start_time_;
  our_version_ = absl::StrCat("SSH-2.0-", options_.software_version);
  if (our_version_.size() > kMaxVersionLineLength - 2) {
    return absl::InvalidArgumentError("software version too long");
  }
  std::string line = our_version_ + "\r\n";
  out_.insert(out_.end(), line.begin(), line.end());
  // Our KEXINIT goes out right behind the version line (RFC 4253 §7.1).
  return SendKexInit();
}

// ---------------------------------------------------------------- input

void Transport::Feed(wire::Bytes data) {
  if (closed_) return;
  auto dst = PrepareInput(data.size());
  std::memcpy(dst.data(), data.data(), data.size());
  CommitInput(data.size());
}

absl::Span<uint8_t> Transport::PrepareInput(size_t n) {
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
  } else if (in_start_ > 0) {
    std::memmove(in_.data(), in_.data() + in_start_, in_end_ - in_start_);
    in_end_ -= in_start_;
    in_start_ = 0;
  }
  // The buffer only grows (zero-filled once); resizing it for every read
  // would zero-fill the whole read chunk each time, even for a 36-byte
  // WINDOW_ADJUST.
  if (in_.size() < in_end_ + n) in_.resize(in_end_ + n);
  prepared_ = n;
  return absl::MakeSpan(in_.data() + in_end_, n);
}

void Transport::CommitInput(size_t n) {
  n = std::min(n, prepared_);
  in_end_ += n;
  prepared_ = 0;
  total_bytes_in_ += n;
}

std::optional<wire::Bytes> Transport::Next() {
  while (!closed_) {
    if (!version_reader_.done()) {
      auto used = version_reader_.Feed(
          absl::MakeConstSpan(in_.data() + in_start_, in_end_ - in_start_));
      if (!used.ok()) {
        Fail(DisconnectReason::kProtocolVersionNotSupported, used.status());
        return std::nullopt;
      }
      in_start_ += *used;
      if (!version_reader_.done()) return std::nullopt;
      peer_version_ = version_reader_.version();
      continue;
    }
    auto decoded = decoder_.Decode(
        absl::MakeSpan(in_.data() + in_start_, in_end_ - in_start_));
    if (!decoded.ok()) {
      Fail(DisconnectReason::kMacError, decoded.status());
      return std::nullopt;
    }
    if (!decoded->has_value()) return std::nullopt;
    const PacketDecoder::Packet packet = **decoded;
    in_start_ += packet.consumed;
    bytes_in_since_kex_ += packet.consumed;
    ++packets_in_since_kex_;
    last_seq_ = packet.sequence_number;
    if (phase_ == Phase::kInitialKex && decoder_.wrapped()) {
      Fail(DisconnectReason::kProtocolError,
           absl::InvalidArgumentError(
               "sequence number wrapped during the initial key exchange"));
      return std::nullopt;
    }
    const uint8_t type = packet.payload[0];
    if (!first_packet_seen_) {
      first_packet_seen_ = true;
      first_packet_was_kexinit_ = type == kMsgKexInit;
    }
    bool consumed = false;
    absl::Status s = HandleTransportMessage(type, packet.payload, &consumed);
    if (!s.ok()) {
      Fail(s.code() == absl::StatusCode::kUnauthenticated
               ? DisconnectReason::kHostKeyNotVerifiable
           : s.code() == absl::StatusCode::kFailedPrecondition
               ? DisconnectReason::kKeyExchangeFailed
               : DisconnectReason::kProtocolError,
           s);
      return std::nullopt;
    }
    if (!consumed) {
      if ((kex_ != nullptr) && kex_->kexinit_received &&
          !kex_->newkeys_received) {
        Fail(DisconnectReason::kProtocolError,
             absl::InvalidArgumentError(absl::StrCat(
                 "unexpected ", MessageName(type), " during key exchange")));
        return std::nullopt;
      }
      if (options_.role == Role::kServer && phase_ == Phase::kAuthenticated &&
          type == kMsgUserauthRequest) {
        continue;  // RFC 4252 §5.1: requests after success are ignored
      }
      if (!PeerMessageAllowed(options_.role, phase_, type)) {
        if (phase_ == Phase::kAuthenticated && type > kMsgConnectionLast) {
          SendUnimplemented();
          continue;
        }
        Fail(DisconnectReason::kProtocolError,
             absl::InvalidArgumentError(
                 absl::StrCat("unexpected ", MessageName(type), " during ",
                              PhaseName(phase_))));
        return std::nullopt;
      }
      if (options_.role == Role::kClient) {
        if (type == kMsgServiceAccept) phase_ = Phase::kUserauth;
        if (type == kMsgUserauthSuccess) phase_ = Phase::kAuthenticated;
      }
    }
    if (absl::Status v = MaybeRekeyForVolume(); !v.ok()) {
      Fail(DisconnectReason::kProtocolError, v);
      return std::nullopt;
    }
    if (!consumed) return packet.payload;
  }
  return std::nullopt;
}

absl::Status Transport::HandleTransportMessage(uint8_t type,
                                               wire::Bytes payload,
                                               bool* consumed) {
  const bool is_kex_message = type == kMsgKexInit || type == kMsgNewKeys ||
                              (type >= kMsgKexEcdhInit && type <= 49);
  if (phase_ == Phase::kInitialKex && !is_kex_message) {
    // Strict kex: nothing but kex messages until the first NEWKEYS (once we
    // know strictness, i.e. after the peer's KEXINIT; anything before that
    // KEXINIT is caught by the packet-0 rule in OnKexInit).
    if (strict_kex_) {
      return absl::InvalidArgumentError(absl::StrCat("strict kex: unexpected ",
                                                     MessageName(type),
                                                     " during key exchange"));
    }
    if (type == kMsgDisconnect || type == kMsgIgnore || type == kMsgDebug ||
        type == kMsgUnimplemented) {
      // fall through to the generic handling below
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected ", MessageName(type), " during key exchange"));
    }
  }
  *consumed = true;
  switch (type) {
    case kMsgDisconnect: {
      auto d = DisconnectMsg::Parse(payload);
      closed_ = true;
      close_status_ = absl::UnavailableError(
          d.ok() ? absl::StrCat("peer disconnected (reason ", d->reason,
                                "): ", Sanitize(d->description))
                 : std::string("peer disconnected"));
      return absl::OkStatus();
    }
    case kMsgIgnore:
    case kMsgDebug:
    case kMsgUnimplemented:
      return absl::OkStatus();
    case kMsgExtInfo:
      return OnExtInfo(payload);
    case kMsgKexInit:
      return OnKexInit(payload);
    case kMsgNewKeys:
      return OnNewKeys();
    case kMsgKexEcdhInit:
      if (options_.role == Role::kServer) return OnEcdhInit(payload);
      break;
    case kMsgKexEcdhReply:
      if (options_.role == Role::kClient) return OnEcdhReply(payload);
      break;
    case kMsgPing:
      // OpenSSH PROTOCOL §1.9; never answered before auth or during kex
      // (CVE-2025-26466).
      if (phase_ == Phase::kAuthenticated && !(kex_ != nullptr)) {
        wire::Reader r(payload.subspan(1));
        auto data = r.ReadString(1024);
        if (data.ok()) {
          wire::Writer w;
          w.Byte(kMsgPong).String(*data);
          SendPacket(w.data());
        }
      }
      return absl::OkStatus();
    case kMsgPong:
      return absl::OkStatus();
    default:
      break;
  }
  if (type >= kMsgKexEcdhInit && type <= 49) {
    if ((kex_ != nullptr) && kex_->ignore_next_kex_packet &&
        kex_->kexinit_received) {
      kex_->ignore_next_kex_packet = false;
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected ", MessageName(type)));
  }
  if ((type >= 8 && type <= 19) || (type >= 22 && type <= 29)) {
    if (phase_ == Phase::kAuthenticated) {
      SendUnimplemented();
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected ", MessageName(type), " before authentication"));
  }
  *consumed = false;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- time

absl::Duration Transport::DueAt() const {
  absl::Duration t = absl::InfiniteDuration();
  if (phase_ != Phase::kAuthenticated)
    t = std::min(t, start_time_ + options_.login_grace_time);
  if ((kex_ != nullptr) && phase_ == Phase::kAuthenticated) {
    t = std::min(t, kex_->started + options_.kex_timeout);
  }
  if (!(kex_ != nullptr) && phase_ == Phase::kAuthenticated) {
    t = std::min(t, last_kex_time_ + options_.rekey_interval);
  }
  return t;
}

absl::Time Transport::NextDeadline() const {
  if (closed_) return absl::InfiniteFuture();
  // As a wall-clock time taken now: a wait until it lasts as long as the
  // durations measured on the monotonic clock, whatever the wall clock did.
  return clock_->Now() + (DueAt() - clock_->Monotonic());
}

void Transport::OnTimer() {
  if (closed_) return;
  const absl::Duration now = clock_->Monotonic();
  if (phase_ != Phase::kAuthenticated &&
      now >= start_time_ + options_.login_grace_time) {
    Fail(DisconnectReason::kProtocolError,
         absl::DeadlineExceededError(
             absl::StrCat("login grace time (",
                          absl::FormatDuration(options_.login_grace_time),
                          ") exceeded during ", PhaseName(phase_))));
    return;
  }
  if (phase_ != Phase::kAuthenticated) return;
  if ((kex_ != nullptr)) {
    if (now >= kex_->started + options_.kex_timeout) {
      Fail(DisconnectReason::kKeyExchangeFailed,
           absl::DeadlineExceededError(
               "key re-exchange did not finish in time"));
    }
    return;
  }
  if (now >= last_kex_time_ + options_.rekey_interval) {
    ++our_rekeys_;
    absl::Status s = SendKexInit();
    if (!s.ok()) Fail(DisconnectReason::kKeyExchangeFailed, s);
  }
}

// ---------------------------------------------------------------- control

absl::Status Transport::StartRekey() {
  if (closed_) return absl::FailedPreconditionError("transport is closed");
  if (phase_ != Phase::kAuthenticated) {
    return absl::FailedPreconditionError(
        "no key re-exchange before authentication");
  }
  if ((kex_ != nullptr)) return absl::OkStatus();
  ++our_rekeys_;
  return SendKexInit();
}

void Transport::SendUnimplemented() {
  wire::Writer w;
  w.Byte(kMsgUnimplemented).Uint32(last_seq_);
  SendPacket(w.data());
}

void Transport::Disconnect(DisconnectReason reason,
                           std::string_view description, absl::Status why) {
  if (closed_) return;
  DisconnectMsg d;
  d.reason = static_cast<uint32_t>(reason);
  d.description = std::string(description);
  if (version_reader_.done() || options_.role == Role::kServer)
    SendPacket(d.Serialize());
  closed_ = true;
  close_status_ = why.ok() ? absl::CancelledError(absl::StrCat(
                                 "disconnected: ", std::string(description)))
                           : std::move(why);
}

void Transport::Fail(DisconnectReason reason, absl::Status status) {
  if (closed_) return;
  // No binary DISCONNECT to a peer that never spoke SSH.
  if (version_reader_.done()) {
    DisconnectMsg d;
    d.reason = static_cast<uint32_t>(reason);
    d.description = std::string(status.message().substr(0, 200));
    SendPacket(d.Serialize());
  }
  closed_ = true;
  close_status_ = std::move(status);
}

}  // namespace sallyport::ssh::transport
