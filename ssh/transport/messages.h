// Transport-layer message numbers and messages (RFC 4250 §4.1, RFC 4253,
// RFC 8308, OpenSSH PROTOCOL).
#ifndef SALLYPORT_SSH_TRANSPORT_MESSAGES_H_
#define SALLYPORT_SSH_TRANSPORT_MESSAGES_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::transport {

using wire::Bytes;

// RFC 4253 §12, RFC 8308 §2.3.
inline constexpr uint8_t kMsgDisconnect = 1;
inline constexpr uint8_t kMsgIgnore = 2;
inline constexpr uint8_t kMsgUnimplemented = 3;
inline constexpr uint8_t kMsgDebug = 4;
inline constexpr uint8_t kMsgServiceRequest = 5;
inline constexpr uint8_t kMsgServiceAccept = 6;
inline constexpr uint8_t kMsgExtInfo = 7;
inline constexpr uint8_t kMsgKexInit = 20;
inline constexpr uint8_t kMsgNewKeys = 21;
// RFC 5656 §7.1 / RFC 8731: ECDH and curve25519 share these numbers.
inline constexpr uint8_t kMsgKexEcdhInit = 30;
inline constexpr uint8_t kMsgKexEcdhReply = 31;
// RFC 4252 §6 (numbers the transport's dispatch table needs to know).
inline constexpr uint8_t kMsgUserauthRequest = 50;
inline constexpr uint8_t kMsgUserauthFailure = 51;
inline constexpr uint8_t kMsgUserauthSuccess = 52;
inline constexpr uint8_t kMsgUserauthBanner = 53;
inline constexpr uint8_t kMsgUserauthPkOk = 60;
// RFC 4254 §9: connection protocol range.
inline constexpr uint8_t kMsgConnectionFirst = 80;
inline constexpr uint8_t kMsgConnectionLast = 127;
// OpenSSH PROTOCOL §1.9 (transport ping).
inline constexpr uint8_t kMsgPing = 192;
inline constexpr uint8_t kMsgPong = 193;

// RFC 4253 §11.1 disconnect reason codes.
enum class DisconnectReason : uint32_t {
  kHostNotAllowedToConnect = 1,
  kProtocolError = 2,
  kKeyExchangeFailed = 3,
  kReserved = 4,
  kMacError = 5,
  kCompressionError = 6,
  kServiceNotAvailable = 7,
  kProtocolVersionNotSupported = 8,
  kHostKeyNotVerifiable = 9,
  kConnectionLost = 10,
  kByApplication = 11,
  kTooManyConnections = 12,
  kAuthCancelledByUser = 13,
  kNoMoreAuthMethodsAvailable = 14,
  kIllegalUserName = 15,
};

// A readable name for a message number ("KEXINIT", "msg 99").
std::string MessageName(uint8_t type);

// RFC 4253 §7.1.
struct KexInitMsg {
  std::array<uint8_t, 16> cookie{};
  std::vector<std::string> kex_algorithms;
  std::vector<std::string> server_host_key_algorithms;
  std::vector<std::string> encryption_c2s;
  std::vector<std::string> encryption_s2c;
  std::vector<std::string> mac_c2s;
  std::vector<std::string> mac_s2c;
  std::vector<std::string> compression_c2s;
  std::vector<std::string> compression_s2c;
  std::vector<std::string> languages_c2s;
  std::vector<std::string> languages_s2c;
  bool first_kex_packet_follows = false;
  uint32_t reserved = 0;

  // Parses a whole KEXINIT payload (starting with the message number).
  static absl::StatusOr<KexInitMsg> Parse(Bytes payload);
  std::vector<uint8_t> Serialize() const;
};

// RFC 4253 §11.1.
struct DisconnectMsg {
  uint32_t reason = 0;
  std::string description;
  std::string language;
  static absl::StatusOr<DisconnectMsg> Parse(Bytes payload);
  std::vector<uint8_t> Serialize() const;
};

// RFC 8308 §2.3.
struct ExtInfoMsg {
  std::vector<std::pair<std::string, std::string>> extensions;
  // At most 1024 entries, names and values without NUL.
  static absl::StatusOr<ExtInfoMsg> Parse(Bytes payload);
  std::vector<uint8_t> Serialize() const;
};

// RFC 4253 §10: SERVICE_REQUEST and SERVICE_ACCEPT carry one name.
absl::StatusOr<std::string> ParseServiceMsg(uint8_t expected_type,
                                            Bytes payload);
std::vector<uint8_t> SerializeServiceMsg(uint8_t type,
                                         std::string_view service);

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_MESSAGES_H_
