#include "gateway/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/address_list.h"
#include "base/files.h"
#include "base/host_port.h"
#include "base/status_macros.h"
#include "base/tls_pin.h"
#include "base/yaml_proto.h"
#include "gateway/log.h"
#include "ssh/cert/source_address.h"

namespace sallyport::gateway {
namespace {

absl::Status Bad(std::string_view key, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("config: ", std::string(key), " ", std::string(what)));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string Resolve(const std::string& base, const std::string& path) {
  if (path.empty() || path[0] == '/') {
    return std::filesystem::path(path).lexically_normal().string();
  }
  return (std::filesystem::path(base) / path).lexically_normal().string();
}

// A config value within [lo, hi]; 0 in the file means the default.
absl::Status InRange(std::string_view key, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    return Bad(key,
               absl::StrCat("must be in ", lo, "..", hi, " (got ", value, ")"));
  }
  return absl::OkStatus();
}

absl::Status DurationIn(std::string_view key, absl::Duration d,
                        absl::Duration lo, absl::Duration hi) {
  if (d < lo || d > hi) {
    return Bad(key, absl::StrCat("must be in ", absl::FormatDuration(lo), "..",
                                 absl::FormatDuration(hi), " (got ",
                                 absl::FormatDuration(d), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckFile(std::string_view key, const std::string& path,
                       bool private_key) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    const std::string msg = absl::StrCat("config: ", std::string(key), ": ",
                                         path, ": ", strerror(err));
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::NotFoundError(msg);
  }
  if (!S_ISREG(st.st_mode)) {
    return Bad(key, absl::StrCat(path, " is not a regular file"));
  }
  if (private_key && (st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("config: ", std::string(key), ": ", path,
                     " is a private key but has "
                     "mode 0",
                     absl::Hex(st.st_mode & 0777),
                     "; it must be 0600 (chmod 600 ", path, ")"));
  }
  // Another user who owns the key can read it whatever its mode says
  // (sshd refuses such host keys likewise).
  if (private_key && st.st_uid != geteuid()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "config: ", std::string(key), ": ", path,
        " is a private key owned by uid ", st.st_uid,
        " but the gateway runs as uid ", geteuid(),
        "; it must be owned by uid ", geteuid(), " with mode 0600 (chown ",
        geteuid(), " ", path, " && chmod 600 ", path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateGatewayName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 &&
            absl::ascii_isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "a gateway name is 1..64 characters of [A-Za-z0-9._-] starting with "
        "a letter or digit");
  }
  return absl::OkStatus();
}

absl::StatusOr<MaxStartups> ParseMaxStartups(std::string_view text) {
  const std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(text.data(), text.size()), ':');
  if (parts.size() != 1 && parts.size() != 3) {
    return absl::InvalidArgumentError(
        "expected START:RATE:FULL (e.g. \"10:30:100\") or one number");
  }
  std::vector<int> n;
  for (const std::string& p : parts) {
    int v = 0;
    const bool digits =
        !p.empty() && p.size() <= 6 &&
        std::all_of(p.begin(), p.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        });
    if (!digits ||
        !absl::SimpleAtoi(absl::string_view(p.data(), p.size()), &v)) {
      return absl::InvalidArgumentError(
          "expected START:RATE:FULL with decimal numbers");
    }
    n.push_back(v);
  }
  MaxStartups out;
  if (n.size() == 1) {
    out = {n[0], 100, n[0]};
  } else {
    out = {n[0], n[1], n[2]};
  }
  if (out.start < 1 || out.full < out.start ||
      out.full > kMaxStartupsFullLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "START must be >= 1 and FULL in START..", kMaxStartupsFullLimit));
  }
  if (out.rate < 1 || out.rate > 100) {
    return absl::InvalidArgumentError("RATE must be in 1..100 (percent)");
  }
  return out;
}

absl::StatusOr<GatewaySettings> SettingsFromConfig(
    const config::GatewayConfig& config, std::string_view config_dir) {
  GatewaySettings s;
  const std::string dir = AbsolutePath(config_dir);
  s.state_dir =
      config.state_dir().empty() ? dir : Resolve(dir, config.state_dir());

  if (!config.listen().empty()) s.listen = config.listen();
  RETURN_IF_ERROR(base::ValidateListen("config: listen", s.listen));

  if (config.ca().empty()) return Bad("ca", "is required (HOST:PORT)");
  // One address, or the CA instances of an HA setup: HOST:PORT,HOST:PORT
  // (tried in order, base/address_list.h).
  if (absl::StatusOr<std::vector<base::HostPort>> ca =
          base::ParseAddressList(config.ca(), /*default_port=*/0);
      !ca.ok()) {
    return Bad("ca",
               absl::StrCat("\"", config.ca(), "\": ", ca.status().message()));
  }
  s.ca = config.ca();

  if (config.ca_fingerprint().empty()) {
    return Bad("ca_fingerprint", "is required (SHA256:...)");
  }
  if (!base::ParseFingerprint(config.ca_fingerprint()).ok()) {
    return Bad("ca_fingerprint",
               "must be SHA256:<base64> or 64 hex digits (the CA's TLS "
               "certificate fingerprint)");
  }
  s.ca_fingerprint = config.ca_fingerprint();

  if (config.has_metrics_listen()) s.metrics_listen = config.metrics_listen();
  if (!s.metrics_listen.empty()) {
    RETURN_IF_ERROR(
        base::ValidateListen("config: metrics_listen", s.metrics_listen));
  }

  s.threads = config.threads();
  RETURN_IF_ERROR(InRange("threads", s.threads, 0, kMaxThreads));

  if (!config.log_format().empty()) {
    absl::StatusOr<base::LogFormat> f =
        base::ParseLogFormat(config.log_format());
    if (!f.ok()) return Bad("log_format", "must be text or json");
    s.log_format = *f;
  }
  if (!config.log_level().empty()) s.log_level = config.log_level();
  if (!ParseLogLevel(s.log_level).has_value()) {
    return Bad("log_level", "must be debug, info, warn or error");
  }

  const config::GatewayLimits& limits = config.limits();
  GatewayLimitSettings& l = s.limits;
  if (!limits.max_startups().empty()) {
    absl::StatusOr<MaxStartups> ms = ParseMaxStartups(limits.max_startups());
    if (!ms.ok()) {
      return Bad("limits.max_startups",
                 absl::StrCat("\"", limits.max_startups(),
                              "\": ", ms.status().message()));
    }
    l.max_startups = *ms;
  }
  if (limits.has_login_grace()) l.login_grace = FromProto(limits.login_grace());
  RETURN_IF_ERROR(DurationIn("limits.login_grace", l.login_grace,
                             absl::Seconds(1), absl::Hours(1)));
  if (limits.max_auth_tries() != 0) l.max_auth_tries = limits.max_auth_tries();
  RETURN_IF_ERROR(InRange("limits.max_auth_tries", l.max_auth_tries, 1,
                          kMaxAuthTriesLimit));
  if (limits.max_channels_per_connection() != 0) {
    l.max_channels_per_connection = limits.max_channels_per_connection();
  }
  RETURN_IF_ERROR(InRange("limits.max_channels_per_connection",
                          l.max_channels_per_connection, 1,
                          kMaxChannelsPerConnectionLimit));
  if (limits.max_sessions_per_user() != 0) {
    l.max_sessions_per_user = limits.max_sessions_per_user();
  }
  RETURN_IF_ERROR(InRange("limits.max_sessions_per_user",
                          l.max_sessions_per_user, 1,
                          kMaxSessionsPerUserLimit));
  if (limits.has_idle_timeout()) {
    l.idle_timeout = FromProto(limits.idle_timeout());
  }
  RETURN_IF_ERROR(DurationIn("limits.idle_timeout", l.idle_timeout,
                             absl::ZeroDuration(), kMaxTimeout));
  if (limits.max_buffered_bytes_per_connection() != 0) {
    l.max_buffered_bytes_per_connection =
        limits.max_buffered_bytes_per_connection();
  }
  if (l.max_buffered_bytes_per_connection < kMinBufferedBytesPerConnection ||
      l.max_buffered_bytes_per_connection > kMaxBufferedBytesPerConnection) {
    return Bad("limits.max_buffered_bytes_per_connection",
               absl::StrCat("must be in ", kMinBufferedBytesPerConnection, "..",
                            kMaxBufferedBytesPerConnection, " (got ",
                            l.max_buffered_bytes_per_connection, ")"));
  }

  for (int i = 0; i < config.egress_addresses_size(); ++i) {
    const std::string& a = config.egress_addresses(i);
    // Addresses only: the gateway binds to them (networks belong in the
    // CA's gateway.egress_addresses, the certificates' source-address).
    if (absl::StrContains(a, '/') || !ssh::cert::ParseIpNetwork(a).ok()) {
      return Bad(absl::StrCat("egress_addresses[", i, "]"),
                 absl::StrCat("\"", a,
                              "\" is not an IP address (the addresses the "
                              "gateway connects from; networks go in the "
                              "CA's gateway.egress_addresses)"));
    }
    s.egress_addresses.push_back(a);
  }

  if (!config.name().empty()) {
    if (absl::Status st = ValidateGatewayName(config.name()); !st.ok()) {
      return Bad("name", absl::StrCat("is invalid: ", st.message()));
    }
  }
  s.name = config.name();

  const config::GatewayFiles& files = config.files();
  auto file = [&](const std::string& value, std::string_view fallback) {
    return Resolve(s.state_dir, value.empty() ? std::string(fallback) : value);
  };
  s.files.host_key = file(files.host_key(), kDefaultHostKeyFile);
  s.files.host_certificate =
      file(files.host_certificate(), kDefaultHostCertificateFile);
  s.files.tls_key = file(files.tls_key(), kDefaultTlsKeyFile);
  s.files.tls_certificate =
      file(files.tls_certificate(), kDefaultTlsCertificateFile);
  s.files.ca_certificate =
      file(files.ca_certificate(), kDefaultCaCertificateFile);

  if (config.has_drain_timeout()) {
    s.drain_timeout = FromProto(config.drain_timeout());
  }
  RETURN_IF_ERROR(DurationIn("drain_timeout", s.drain_timeout,
                             absl::ZeroDuration(), kMaxTimeout));
  if (config.has_revocation_grace()) {
    s.revocation_grace = FromProto(config.revocation_grace());
  }
  RETURN_IF_ERROR(DurationIn("revocation_grace", s.revocation_grace,
                             absl::Seconds(1), kMaxTimeout));
  if (const std::string& mode = config.revocation_fail_mode();
      mode == "end_sessions") {
    s.end_sessions_when_revocations_stale = true;
  } else if (!mode.empty() && mode != "refuse_new") {
    return Bad("revocation_fail_mode", "must be refuse_new or end_sessions");
  }

  s.spool_dir = Resolve(
      s.state_dir, config.spool_dir().empty() ? "spool" : config.spool_dir());
  if (config.has_spool_fsync_interval()) {
    s.spool_fsync_interval = FromProto(config.spool_fsync_interval());
  }
  RETURN_IF_ERROR(DurationIn("spool_fsync_interval", s.spool_fsync_interval,
                             absl::Milliseconds(10), absl::Minutes(10)));
  if (config.spool_max_bytes() != 0) {
    s.spool_max_bytes = config.spool_max_bytes();
  }
  if (s.spool_max_bytes < (int64_t{1} << 20)) {
    return Bad("spool_max_bytes", "must be at least 1048576 (1 MiB)");
  }
  if (config.record_exec_output_limit() != 0) {
    s.record_exec_output_limit = config.record_exec_output_limit();
  }
  if (s.record_exec_output_limit < 0 ||
      s.record_exec_output_limit > (int64_t{1} << 40)) {
    return Bad("record_exec_output_limit", "must be in 0..1099511627776");
  }
  return s;
}

absl::Status CheckKeyFiles(const GatewayFileSettings& files) {
  RETURN_IF_ERROR(CheckFile("files.host_key", files.host_key, true));
  return CheckFile("files.tls_key", files.tls_key, true);
}

absl::Status CheckFiles(const GatewaySettings& settings) {
  RETURN_IF_ERROR(CheckFile("files.host_key", settings.files.host_key, true));
  RETURN_IF_ERROR(CheckFile("files.host_certificate",
                            settings.files.host_certificate, false));
  RETURN_IF_ERROR(CheckFile("files.tls_key", settings.files.tls_key, true));
  RETURN_IF_ERROR(CheckFile("files.tls_certificate",
                            settings.files.tls_certificate, false));
  RETURN_IF_ERROR(
      CheckFile("files.ca_certificate", settings.files.ca_certificate, false));
  return absl::OkStatus();
}

std::string AbsolutePath(std::string_view path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(std::string(path), ec);
  if (ec) p = std::string(path);
  return p.lexically_normal().string();
}

absl::StatusOr<GatewaySettings> LoadGatewaySettings(const std::string& path) {
  config::GatewayConfig config;
  RETURN_IF_ERROR(base::YamlFileToProto(path, &config));
  return SettingsFromConfig(
      config, std::filesystem::path(AbsolutePath(path)).parent_path().string());
}

absl::StatusOr<GatewaySettings> LoadGatewayConfig(const std::string& path) {
  ASSIGN_OR_RETURN(GatewaySettings settings, LoadGatewaySettings(path));
  RETURN_IF_ERROR(CheckFiles(settings));
  return settings;
}

absl::StatusOr<std::string> GeneratedConfigText(
    const std::string& path, const config::GatewayConfig& config) {
  RETURN_IF_ERROR(
      SettingsFromConfig(
          config,
          std::filesystem::path(AbsolutePath(path)).parent_path().string())
          .status());
  ASSIGN_OR_RETURN(std::string yaml, base::ProtoToYaml(config));
  return absl::StrCat(
      "# sallyport-gateway's config, written by `sallyport-gateway enroll`.\n"
      "# Keys: proto/config.proto GatewayConfig. Relative paths are relative\n"
      "# to state_dir (default: this file's directory).\n",
      yaml);
}

absl::Status WriteGeneratedConfig(const std::string& path,
                                  const config::GatewayConfig& config) {
  ASSIGN_OR_RETURN(std::string text, GeneratedConfigText(path, config));
  return base::WriteFileAtomic(path, text, 0600);
}

}  // namespace sallyport::gateway
