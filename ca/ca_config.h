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
