// sallyport-ca's settings: the YAML config file (proto/config.proto
// CaConfig) with defaults applied, file paths resolved and values checked.
#ifndef SALLYPORT_CA_CA_CONFIG_H_
#define SALLYPORT_CA_CA_CONFIG_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/host_port.h"
#include "ca/cert_policy.h"
#include "ca/password_hash.h"
#include "ca/write_budget.h"
#include "proto/config.pb.h"
#include "storage/records.h"

namespace sallyport::ca {

inline constexpr std::string_view kDefaultListen = "127.0.0.1:7443";
// The gateway's SSH port when gateway.ssh_addresses gives none.
inline constexpr uint16_t kDefaultGatewaySshPort = 2222;
// At most this many gateway.ssh_addresses.
inline constexpr int kMaxGatewaySshAddresses = 16;

// gateway.max_open_sessions: the most sessions a gateway may have open at
// the CA at once (UploadRecording refuses the upload that would open one
// more). An honest gateway's open sessions are those its users have at
// once (gateway limits.max_sessions_per_user, 50 by default, each) and
// those whose spool it has not shipped yet; 100,000 is far above that,
// and bounds what a compromised or broken gateway leaves open for good.
// The most the config takes: each new session counts the gateway's open
// ones up to the limit (Store::CountOpenSessions reads that many index
// entries).
inline constexpr int64_t kDefaultMaxOpenSessionsPerGateway = 100'000;
inline constexpr int64_t kMaxOpenSessionsPerGatewayLimit =
    storage::kMaxOpenSessionsCounted;

struct CaSettings {
  std::string listen = std::string(kDefaultListen);
  std::string state_dir;
  std::string store_url;
  // Absolute paths.
  std::string user_ca_key;
  std::string host_ca_key;
  std::string session_ca_key;  // empty: the user CA key signs sessions
  std::string tls_cert;
  std::string tls_key;
  std::string client_ca_cert;
  std::string client_ca_key;
  storage::LockoutPolicy lockout;
  int max_failures_per_address = 20;
  absl::Duration failure_delay = absl::Milliseconds(250);
  ScryptParams scrypt;
  UserCertificatePolicy user_certificates;
  absl::Duration host_certificate_ttl = absl::Hours(720);
  std::string log_level = "info";
  // gateway.egress_addresses, checked as a source-address list.
  std::vector<std::string> gateway_egress_addresses;
  // gateway.ssh_addresses (ListMyHosts): where users reach the gateway,
  // the port defaulted to kDefaultGatewaySshPort.
  std::vector<base::HostPort> gateway_ssh_addresses;
  // gateway.write_rate_bytes_per_second and gateway.write_burst_bytes:
  // each gateway's write budget (GatewayWriteBudget).
  uint64_t gateway_write_rate_bytes_per_second =
      kDefaultGatewayWriteRateBytesPerSecond;
  uint64_t gateway_write_burst_bytes = kDefaultGatewayWriteBurstBytes;
  // gateway.max_open_sessions.
  int64_t gateway_max_open_sessions = kDefaultMaxOpenSessionsPerGateway;
  std::string log_format = "text";  // or "json"
};

// Checks a listen address (moved to //base:host_port, shared with the
// gateway).
using base::ValidateListen;

// One gateway.ssh_addresses entry: "HOST", "HOST:PORT", "[V6]" or
// "[V6]:PORT" (a bare IPv6 literal is taken whole), HOST an RFC 1123 name
// or an IP literal; the port defaults to kDefaultGatewaySshPort.
// kInvalidArgument otherwise.
absl::StatusOr<base::HostPort> ParseGatewaySshAddress(std::string_view text);

// Applies defaults to `config` and checks it. Relative paths are resolved
// against state_dir, which defaults to `config_dir`. kInvalidArgument naming
// the field for missing or bad values.
absl::StatusOr<CaSettings> SettingsFromConfig(const config::CaConfig& config,
                                              std::string_view config_dir);

// Reads and checks a config file (YamlFileToProto + SettingsFromConfig).
absl::StatusOr<CaSettings> LoadCaSettings(const std::string& path);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_CA_CONFIG_H_
