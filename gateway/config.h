// sallyport-gateway's settings (DESIGN.md §10, issue 12): DIR/gateway.yaml
// (proto/config.proto GatewayConfig) read with the strict YAML mapper
// (unknown keys refused with their line), defaults applied, values checked
// with errors that name the key, relative paths resolved against the state
// directory; and the file `sallyport-gateway enroll` writes.
#ifndef SALLYPORT_GATEWAY_CONFIG_H_
#define SALLYPORT_GATEWAY_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/event_line.h"
#include "proto/config.pb.h"

namespace sallyport::gateway {

inline constexpr std::string_view kConfigFileName = "gateway.yaml";
inline constexpr std::string_view kDefaultListen = "127.0.0.1:2222";
inline constexpr std::string_view kDefaultMetricsListen = "127.0.0.1:9102";
inline constexpr std::string_view kDefaultHostKeyFile = "ssh_host_ed25519_key";
inline constexpr std::string_view kDefaultHostCertificateFile =
    "ssh_host_ed25519_key-cert.pub";
inline constexpr std::string_view kDefaultTlsKeyFile = "gateway_tls.key";
inline constexpr std::string_view kDefaultTlsCertificateFile =
    "gateway_tls.crt";
inline constexpr std::string_view kDefaultCaCertificateFile = "ca.pem";

// Upper bounds of the limits (a config beyond them is refused).
inline constexpr int kMaxThreads = 256;
inline constexpr int kMaxAuthTriesLimit = 100;
inline constexpr int kMaxChannelsPerConnectionLimit = 4096;
inline constexpr int kMaxSessionsPerUserLimit = 100000;
inline constexpr int64_t kMinBufferedBytesPerConnection = int64_t{1} << 20;
inline constexpr int64_t kMaxBufferedBytesPerConnection = int64_t{1} << 30;
inline constexpr int kMaxStartupsFullLimit = 100000;
inline constexpr absl::Duration kMaxTimeout = absl::Hours(24);

// sshd's MaxStartups "start:rate:full": below `start` unauthenticated
// connections are all admitted; from `start` on each new one is refused
// with probability rate% rising linearly to 100% at `full`. A single
// number N means N:100:N.
struct MaxStartups {
  int start = 10;
  int rate = 30;
  int full = 100;
};
// 1 <= start <= full <= kMaxStartupsFullLimit, 1 <= rate <= 100, decimal
// numbers only. kInvalidArgument saying what is wrong.
absl::StatusOr<MaxStartups> ParseMaxStartups(std::string_view text);

// The CA's rule for gateway names (proto/gateway.proto
// EnrollGatewayRequest.name): 1..64 bytes of [A-Za-z0-9._-] starting with a
// letter or digit. kInvalidArgument saying so.
absl::Status ValidateGatewayName(std::string_view name);

struct GatewayLimitSettings {
  MaxStartups max_startups;
  absl::Duration login_grace = absl::Seconds(30);
  int max_auth_tries = 6;
  int max_channels_per_connection = 64;
  int max_sessions_per_user = 50;
  absl::Duration idle_timeout = absl::ZeroDuration();  // zero: off
  int64_t max_buffered_bytes_per_connection = int64_t{16} << 20;
};

// Absolute paths of the files `enroll` writes.
struct GatewayFileSettings {
  std::string host_key;
  std::string host_certificate;
  std::string tls_key;
  std::string tls_certificate;
  std::string ca_certificate;
};

struct GatewaySettings {
  std::string listen = std::string(kDefaultListen);
  std::string ca;              // HOST:PORT or HOST:PORT,HOST:PORT,...
  std::string ca_fingerprint;  // as written; it parses (base/tls_pin.h)
  std::string state_dir;       // absolute
  // Empty: no metrics endpoint.
  std::string metrics_listen = std::string(kDefaultMetricsListen);
  int threads = 0;  // 0: one per core
  base::LogFormat log_format = base::LogFormat::kText;
  std::string log_level = "info";
  GatewayLimitSettings limits;
  std::vector<std::string> egress_addresses;
  std::string name;
  GatewayFileSettings files;
  absl::Duration drain_timeout = absl::Seconds(30);
  absl::Duration revocation_grace = absl::Seconds(60);
  // revocation_fail_mode: "end_sessions" (true) or "refuse_new" (false).
  bool end_sessions_when_revocations_stale = false;
  // Session recordings (issue 14).
  std::string spool_dir;  // absolute; default STATE_DIR/spool
  absl::Duration spool_fsync_interval = absl::Seconds(1);
  int64_t spool_max_bytes = int64_t{10} << 30;
  int64_t record_exec_output_limit = int64_t{16} << 20;
};

// Applies defaults to `config` and checks every value (HOST:PORT
// addresses, the fingerprint, max_startups, ranges, the log format and
// level, egress addresses, the name). Relative paths resolve against
// state_dir, which itself defaults to (and resolves against)
// `config_dir`. Touches no file. kInvalidArgument "config: KEY ..." naming
// the key.
absl::StatusOr<GatewaySettings> SettingsFromConfig(
    const config::GatewayConfig& config, std::string_view config_dir);

// Checks the files of `settings`: each exists as a regular file, and the
// two private keys (host_key, tls_key) are CheckKeyFiles's. kNotFound /
// kPermissionDenied / kInvalidArgument naming the config key and the path.
absl::Status CheckFiles(const GatewaySettings& settings);

// The two private keys (host_key, tls_key) exist as regular files, are not
// readable or writable by group or others (mode 0600 or stricter) and are
// owned by the user this process runs as. kPermissionDenied naming the
// config key, the path and the fix ("chmod 600 PATH"); kNotFound /
// kInvalidArgument as CheckFiles.
absl::Status CheckKeyFiles(const GatewayFileSettings& files);

// `path` made absolute (against the working directory) and normalised,
// without exceptions: a path that cannot be made absolute stays as it is.
std::string AbsolutePath(std::string_view path);

// Reads `path` (YamlFileToProto: unknown keys, wrong types, duplicates
// refused with the line), then SettingsFromConfig and CheckFiles.
absl::StatusOr<GatewaySettings> LoadGatewayConfig(const std::string& path);

// The same without CheckFiles (for tools that only read the settings).
absl::StatusOr<GatewaySettings> LoadGatewaySettings(const std::string& path);

// What WriteGeneratedConfig writes to `path`, with its errors.
absl::StatusOr<std::string> GeneratedConfigText(
    const std::string& path, const config::GatewayConfig& config);
// Writes `config` as YAML to `path` atomically with mode 0600, after a
// header comment, refusing a config SettingsFromConfig would refuse (with
// `path`'s directory as config_dir). The file reads back to an equal
// message.
absl::Status WriteGeneratedConfig(const std::string& path,
                                  const config::GatewayConfig& config);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_CONFIG_H_
