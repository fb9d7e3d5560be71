// The SSH transport layer (RFC 4253) as an I/O-free state machine, for both
// roles: version exchange, binary packet protocol, key exchange
// (mlkem768x25519-sha256, curve25519-sha256, ecdh-sha2-nistp256) with strict
// kex, EXT_INFO, rekeying, and the per-phase table of which messages a peer
// may send.
//
// Bytes in:  Feed() (or PrepareInput()/CommitInput() to read straight into
//            the transport's buffer).
// Out:       Next() hands up the messages for the layers above (service,
//            userauth, connection); PendingOutput()/Consume() give the bytes
//            to write to the peer.
// Time:      the driver calls OnTimer() at NextDeadline().
// Once closed() the transport takes no more input; flush PendingOutput()
// (it may hold a DISCONNECT) and close the socket.
#ifndef SALLYPORT_SSH_TRANSPORT_TRANSPORT_H_
#define SALLYPORT_SSH_TRANSPORT_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "base/secret_bytes.h"
#include "ssh/crypto/key_agreement.h"
#include "ssh/transport/host_key.h"
#include "ssh/transport/kex.h"
#include "ssh/transport/messages.h"
#include "ssh/transport/packet_codec.h"
#include "ssh/transport/version.h"
#include "ssh/wire/byte_buffer.h"

namespace sallyport::ssh::transport {

enum class Role { kClient, kServer };

struct TransportOptions {
  Role role = Role::kServer;
  // Our version line is "SSH-2.0-" + software_version.
  std::string software_version = "Sallyport_0.1";

  // Algorithm preferences; empty means our defaults (DESIGN.md §4).
  std::vector<std::string> kex_algorithms;
  std::vector<std::string> ciphers;
  std::vector<std::string> macs;

  // Server role: at least one host key.
  std::vector<ServerHostKey> host_keys;
  // Client role: required.
  std::shared_ptr<HostKeyPolicy> host_key_policy;
  // Server role: the algorithms listed in EXT_INFO server-sig-algs.
  std::vector<std::string> server_sig_algs = {
      "ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"};

  // Rekey after this many bytes in either direction or this much time
  // since the last key exchange, whichever comes first (only once
  // authenticated; hitting a byte limit before authentication disconnects).
  uint64_t rekey_bytes = uint64_t{1} << 30;
  absl::Duration rekey_interval = absl::Hours(1);
  // Rekey after this many packets in either direction (≤ 2^31).
  uint64_t rekey_packets = uint64_t{1} << 31;
  // The whole handshake, from connect to USERAUTH_SUCCESS (LoginGraceTime).
  absl::Duration login_grace_time = absl::Seconds(120);
  // Any single key re-exchange.
  absl::Duration kex_timeout = absl::Seconds(60);
  // Upper-layer messages queued while a key exchange runs; Send() refuses
  // beyond this (kResourceExhausted).
  size_t max_queued_bytes = 8 << 20;
  const base::Clock* clock = nullptr;  // null: the real clock

  // Test-only (fuzzing): allow the "none" cipher after NEWKEYS. Exists only
  // in the //ssh/transport:transport_for_fuzzing build.
  bool fuzzing_allow_none_cipher = false;
};

// Where the connection is in its life, for the message dispatch table.
enum class Phase {
  kInitialKex,     // before the first NEWKEYS in both directions
  kService,        // waiting for SERVICE_REQUEST / SERVICE_ACCEPT
  kUserauth,       // ssh-userauth accepted, not yet authenticated
  kAuthenticated,  // USERAUTH_SUCCESS seen
};

// Whether a message of `type` from the peer may be handed to the layers
// above in `phase` (transport messages 1–49 are handled inside and are not
// covered here). Everything else before authentication disconnects.
bool PeerMessageAllowed(Role role, Phase phase, uint8_t type);

class Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Create(
      TransportOptions options);
  ~Transport();

  // ---- input
  void Feed(wire::Bytes data);
  // Zero-copy input: a writable region of at least `n` bytes; then commit
  // how many were filled.
  absl::Span<uint8_t> PrepareInput(size_t n);
  void CommitInput(size_t n);
  // Received bytes not yet processed by Next() (a driver that pauses
  // dispatch stops reading once this is large).
  size_t BufferedInputBytes() const { return in_end_ - in_start_; }

  // The next message (payload starting with its message number) for the
  // layers above, or nullopt when more bytes are needed or the transport is
  // closed. The span is valid until the next Feed/PrepareInput/Next call.
  std::optional<wire::Bytes> Next();

  // ---- output
  // Queues a message from the layers above. Queued (not sent) while a key
  // exchange runs. kFailedPrecondition when closed or before the first key
  // exchange completed; kResourceExhausted when the kex queue is full.
  absl::Status Send(wire::Bytes payload);
  // The same for a message given in two parts, head ‖ tail (e.g. a
  // CHANNEL_DATA header and the data), so bulk data is copied once.
  absl::Status Send(wire::Bytes head, wire::Bytes tail);
  // Zero-copy variant of Send for bulk data: up to `total` bytes in
  // consecutive messages, each `head_size` header bytes followed by at most
  // `per_message` data bytes. `fill` gets the data space of every message,
  // in order, inside the sealed-packet buffer, writes data from the first
  // byte on (as readv(2) does) and returns how many bytes it wrote;
  // `write_head(head, data_size)` then writes each message's header. No
  // byte is copied. Returns what `fill` wrote (0: nothing is sent). While a
  // key exchange runs the messages are queued as Send queues them.
  // Errors as for Send; kInvalidArgument when a message would exceed the
  // largest payload.
  using FillFunction =
      absl::FunctionRef<size_t(absl::Span<const absl::Span<uint8_t>> slots)>;
  using HeadFunction =
      absl::FunctionRef<void(absl::Span<uint8_t> head, size_t data_size)>;
  absl::StatusOr<size_t> SendInPlace(size_t head_size, size_t per_message,
                                     size_t total, FillFunction fill,
                                     HeadFunction write_head);
  wire::Bytes PendingOutput() const;
  void Consume(size_t n);
  // Moves all pending output into `buffer` (replacing its contents) without
  // copying when possible: the transport keeps `buffer`'s old storage for
  // its next output. For drivers that write asynchronously while the
  // transport keeps producing.
  void TakeOutput(wire::ByteBuffer* buffer);
  // Bytes written by Send and not yet consumed by the driver (output buffer
  // + kex queue): the layers above stop producing when this is large.
  size_t BufferedOutputBytes() const;
  // Releases the input and output buffers' memory when they hold nothing
  // (for idle connections after a burst); a no-op otherwise. The next
  // PrepareInput/Send allocates again.
  void ShrinkBuffers();
  // Bytes allocated for the input and output buffers (for tests, metrics).
  size_t BufferCapacity() const { return in_.capacity() + out_.capacity(); }

  // ---- time
  // When OnTimer() must next be called (InfiniteFuture when nothing waits):
  // a wall-clock time taken from the clock's Now() at each call, for
  // deadlines kept on its Monotonic(), so a wait of NextDeadline() - Now()
  // lasts as long whatever steps the wall clock took.
  absl::Time NextDeadline() const;
  void OnTimer();

  // ---- control
  // Starts a key re-exchange (only after authentication).
  absl::Status StartRekey();
  // Sends DISCONNECT and closes. close_status() becomes `why` when given
  // (so the layers above can record their reason), kCancelled otherwise.
  void Disconnect(DisconnectReason reason, std::string_view description,
                  absl::Status why = absl::OkStatus());
  // Answers an unknown message (RFC 4253 §11.4) with UNIMPLEMENTED for the
  // packet most recently returned by Next().
  void SendUnimplemented();

  // ---- state
  bool closed() const { return closed_; }
  // Why the transport closed (OK if it has not).
  const absl::Status& close_status() const { return close_status_; }
  bool handshake_done() const { return phase_ != Phase::kInitialKex; }
  Phase phase() const { return phase_; }
  bool in_kex() const { return kex_ != nullptr; }
  Role role() const { return options_.role; }
  const std::vector<uint8_t>& session_id() const { return session_id_; }
  const std::string& peer_version() const { return peer_version_; }
  const std::string& our_version() const { return our_version_; }
  const Algorithms& algorithms() const { return algorithms_; }
  bool strict_kex() const { return strict_kex_; }
  // Completed key exchanges (1 after the initial one).
  int kex_count() const { return kex_count_; }
  // Key exchanges started by the peer / by us after the initial one.
  int peer_initiated_rekeys() const { return peer_rekeys_; }
  int our_initiated_rekeys() const { return our_rekeys_; }
  // Client: server-sig-algs from the server's EXT_INFO (empty if none).
  const std::vector<std::string>& server_sig_algs() const {
    return peer_sig_algs_;
  }
  // Server: whether the client asked for EXT_INFO.
  bool peer_wants_ext_info() const { return peer_ext_info_; }
  // Client: the host key the server proved it holds (after the first kex).
  const std::optional<crypto::PublicKey>& server_host_key() const {
    return server_host_key_;
  }
  const std::vector<uint8_t>& server_host_key_blob() const {
    return server_host_key_blob_;
  }
  uint32_t last_received_sequence_number() const { return last_seq_; }

  // Counters (for tests and metrics).
  uint64_t bytes_sent() const { return total_bytes_out_; }
  uint64_t bytes_received() const { return total_bytes_in_; }

 private:
  struct KexState;

  explicit Transport(TransportOptions options);
  absl::Status Start();

  // Input processing.
  void ProcessInput();
  // Handles a transport-level message; returns true if it was consumed.
  absl::Status HandleTransportMessage(uint8_t type, wire::Bytes payload,
                                      bool* consumed);
  absl::Status OnKexInit(wire::Bytes payload);
  absl::Status OnEcdhInit(wire::Bytes payload);
  absl::Status OnEcdhReply(wire::Bytes payload);
  absl::Status OnNewKeys();
  absl::Status OnExtInfo(wire::Bytes payload);

  // Output.
  void SendPacket(wire::Bytes payload) { SendPacket(payload, {}); }
  void SendPacket(wire::Bytes head, wire::Bytes tail);
  // Drops consumed output before more is appended to out_.
  void CompactOutput();
  void CountSent(size_t bytes, size_t packets);
  absl::StatusOr<size_t> SendQueued(size_t head_size, size_t per_message,
                                    size_t total, FillFunction fill,
                                    HeadFunction write_head);
  absl::Status SendKexInit();
  absl::Status SendNewKeysAndSwitch();
  void FlushQueue();
  void NoteSent(wire::Bytes payload);
  absl::Status MaybeRekeyForVolume();

  absl::Status InstallKeys(const base::SecretBytes& shared_secret,
                           const std::vector<uint8_t>& h);
  void Fail(DisconnectReason reason, absl::Status status);
  // The earliest of this layer's deadlines, on the clock's Monotonic().
  absl::Duration DueAt() const;

  TransportOptions options_;
  const base::Clock* clock_;
  std::string our_version_;
  std::string peer_version_;
  VersionReader version_reader_;

  std::vector<uint8_t> in_;  // input is in_[in_start_, in_end_)
  size_t in_start_ = 0;
  size_t in_end_ = 0;
  size_t prepared_ = 0;   // bytes added by PrepareInput, not yet committed
  wire::ByteBuffer out_;  // sealed packets; output is out_[out_start_, end)
  size_t out_start_ = 0;
  std::deque<std::vector<uint8_t>> queued_;
  size_t queued_bytes_ = 0;

  PacketEncoder encoder_;
  PacketDecoder decoder_;

  Phase phase_ = Phase::kInitialKex;
  bool closed_ = false;
  absl::Status close_status_;
  bool first_packet_seen_ = false;
  bool first_packet_was_kexinit_ = false;

  std::unique_ptr<KexState> kex_;
  std::vector<uint8_t> session_id_;
  Algorithms algorithms_;
  bool strict_kex_ = false;
  bool peer_ext_info_ = false;
  int kex_count_ = 0;
  int peer_rekeys_ = 0;
  int our_rekeys_ = 0;
  int ext_info_received_ = 0;
  std::vector<std::string> peer_sig_algs_;
  std::optional<crypto::PublicKey> server_host_key_;
  std::vector<uint8_t> server_host_key_blob_;
  uint32_t last_seq_ = 0;

  // On the clock's Monotonic(): a wall-clock step (NTP after a VM resume,
  // `date -s`) neither stretches nor cuts the login grace, kex_timeout or
  // rekey_interval.
  absl::Duration start_time_;
  absl::Duration last_kex_time_;
  uint64_t bytes_out_since_kex_ = 0;
  uint64_t bytes_in_since_kex_ = 0;
  uint64_t packets_out_since_kex_ = 0;
  uint64_t packets_in_since_kex_ = 0;
  uint64_t total_bytes_out_ = 0;
  uint64_t total_bytes_in_ = 0;
};

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_TRANSPORT_H_
