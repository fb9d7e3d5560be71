// Connection protocol messages and channel requests (RFC 4254, OpenSSH
// PROTOCOL §2).
#ifndef SALLYPORT_SSH_CONNECTION_MESSAGES_H_
#define SALLYPORT_SSH_CONNECTION_MESSAGES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::connection {

using wire::Bytes;

// RFC 4254 §9.
inline constexpr uint8_t kMsgGlobalRequest = 80;
inline constexpr uint8_t kMsgRequestSuccess = 81;
inline constexpr uint8_t kMsgRequestFailure = 82;
inline constexpr uint8_t kMsgChannelOpen = 90;
inline constexpr uint8_t kMsgChannelOpenConfirmation = 91;
inline constexpr uint8_t kMsgChannelOpenFailure = 92;
inline constexpr uint8_t kMsgChannelWindowAdjust = 93;
inline constexpr uint8_t kMsgChannelData = 94;
inline constexpr uint8_t kMsgChannelExtendedData = 95;
inline constexpr uint8_t kMsgChannelEof = 96;
inline constexpr uint8_t kMsgChannelClose = 97;
inline constexpr uint8_t kMsgChannelRequest = 98;
inline constexpr uint8_t kMsgChannelSuccess = 99;
inline constexpr uint8_t kMsgChannelFailure = 100;

// RFC 4254 §5.1 open failure reasons.
enum class OpenFailure : uint32_t {
  kAdministrativelyProhibited = 1,
  kConnectFailed = 2,
  kUnknownChannelType = 3,
  kResourceShortage = 4,
};

inline constexpr uint32_t kExtendedDataStderr = 1;

// RFC 4254 §6.2.
struct PtyRequest {
  std::string term;
  uint32_t columns = 80, rows = 24, width_px = 0, height_px = 0;
  std::string modes;  // encoded terminal modes (§8)
  static absl::StatusOr<PtyRequest> Parse(Bytes data);
  std::vector<uint8_t> Serialize() const;
};

// RFC 4254 §6.7.
struct WindowChange {
  uint32_t columns = 0, rows = 0, width_px = 0, height_px = 0;
  static absl::StatusOr<WindowChange> Parse(Bytes data);
  std::vector<uint8_t> Serialize() const;
};

// RFC 4254 §6.4.
struct EnvRequest {
  std::string name, value;
  static absl::StatusOr<EnvRequest> Parse(Bytes data);
  std::vector<uint8_t> Serialize() const;
};

// RFC 4254 §6.10.
struct ExitSignal {
  std::string signal;  // without "SIG"
  bool core_dumped = false;
  std::string message, language;
  static absl::StatusOr<ExitSignal> Parse(Bytes data);
  std::vector<uint8_t> Serialize() const;
};

// RFC 4254 §7.2: the extra data of a "direct-tcpip" open.
struct DirectTcpip {
  std::string host;
  uint32_t port = 0;
  std::string originator_address;
  uint32_t originator_port = 0;
  static absl::StatusOr<DirectTcpip> Parse(Bytes data);
  std::vector<uint8_t> Serialize() const;
};

// RFC 4254 §6.10 signal names without "SIG" ("INT", "TERM", ...): the
// local signal number, or 0 for a name we do not know.
int SignalNumber(std::string_view name);
// The RFC 4254 name of a local signal number, or "SIG@openssh.com" (what
// OpenSSH sends for signals without a standard name).
std::string SignalName(int signal_number);

// Request data that is one string: exec (command), subsystem (name),
// signal (name). NUL bytes refused.
absl::StatusOr<std::string> ParseStringRequest(Bytes data,
                                               uint32_t max_length = 64 * 1024);
std::vector<uint8_t> SerializeStringRequest(std::string_view s);
// exit-status: one uint32.
absl::StatusOr<uint32_t> ParseExitStatus(Bytes data);
std::vector<uint8_t> SerializeExitStatus(uint32_t status);

}  // namespace sallyport::ssh::connection

#endif  // SALLYPORT_SSH_CONNECTION_MESSAGES_H_
