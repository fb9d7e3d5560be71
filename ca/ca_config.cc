#include "ca/ca_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ca/rbac/names.h"
#include "ca/yaml_proto.h"
#include "ssh/cert/source_address.h"

namespace sallyport::ca {
namespace {

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string Resolve(const std::string& base, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(base) / path).lexically_normal().string();
}

absl::Status Required(std::string_view field, const std::string& value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", std::string(field), " is required"));
  }
  return absl::OkStatus();
}

absl::Status Positive(std::string_view field, absl::Duration d) {
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", std::string(field), " must be positive"));
  }
  return absl::OkStatus();
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

absl::StatusOr<base::HostPort> ParseGatewaySshAddress(std::string_view text) {
  base::HostPort out;
  const size_t colons = std::count(text.begin(), text.end(), ':');
  if (!text.empty() && text.front() == '[' && text.back() == ']') {
    out.host = std::string(text.substr(1, text.size() - 2));
    out.port = kDefaultGatewaySshPort;
  } else if (colons == 0 || (colons > 1 && text.front() != '[')) {
    out.host = std::string(text);
    out.port = kDefaultGatewaySshPort;
  } else {
    absl::StatusOr<base::HostPort> hp = base::ParseHostPort(text);
    if (!hp.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "not HOST, HOST:PORT or [V6]:PORT: ", rbac::EscapeForReason(text)));
    }
    out = *hp;
  }
  if (!IsIpLiteral(out.host) && !rbac::ValidateHostName(out.host).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a host name or IP address: ", rbac::EscapeForReason(out.host)));
  }
  return out;
}

absl::StatusOr<CaSettings> SettingsFromConfig(const config::CaConfig& config,
                                              std::string_view config_dir) {
  CaSettings s;
  if (!config.listen().empty()) s.listen = config.listen();
  s.state_dir = config.state_dir().empty()
                    ? std::string(config_dir)
                    : Resolve(std::string(config_dir), config.state_dir());
  s.store_url = config.store();
  RETURN_IF_ERROR(Required("store", s.store_url));
  RETURN_IF_ERROR(ValidateListen("config: listen", s.listen));
  s.user_ca_key = Resolve(s.state_dir, config.keys().user_ca());
  s.host_ca_key = Resolve(s.state_dir, config.keys().host_ca());
  s.session_ca_key = Resolve(s.state_dir, config.keys().session_ca());
  s.tls_cert = Resolve(s.state_dir, config.tls().cert());
  s.tls_key = Resolve(s.state_dir, config.tls().key());
  s.client_ca_cert = Resolve(s.state_dir, config.tls().client_ca_cert());
  s.client_ca_key = Resolve(s.state_dir, config.tls().client_ca_key());
  RETURN_IF_ERROR(Required("keys.user_ca", s.user_ca_key));
  RETURN_IF_ERROR(Required("keys.host_ca", s.host_ca_key));
  RETURN_IF_ERROR(Required("tls.cert", s.tls_cert));
  RETURN_IF_ERROR(Required("tls.key", s.tls_key));
  RETURN_IF_ERROR(Required("tls.client_ca_cert", s.client_ca_cert));
  RETURN_IF_ERROR(Required("tls.client_ca_key", s.client_ca_key));

  const config::LoginPolicy& login = config.login();
  if (login.max_failures() != 0) s.lockout.max_failures = login.max_failures();
  if (login.max_failures_per_address() != 0) {
    s.max_failures_per_address = login.max_failures_per_address();
  }
  if (login.has_lockout()) s.lockout.lockout = FromProto(login.lockout());
  if (login.has_failure_delay()) {
    s.failure_delay = FromProto(login.failure_delay());
  }
  if (login.scrypt_log_n() != 0) s.scrypt.log_n = login.scrypt_log_n();
  if (s.lockout.max_failures < 1) {
    return absl::InvalidArgumentError(
        "config: login.max_failures must be >= 1");
  }
  if (s.max_failures_per_address < 1) {
    return absl::InvalidArgumentError(
        "config: login.max_failures_per_address must be >= 1");
  }
  RETURN_IF_ERROR(Positive("login.lockout", s.lockout.lockout));
  if (s.failure_delay < absl::ZeroDuration() ||
      s.failure_delay > absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        "config: login.failure_delay must be in [0s, 10s]");
  }
  if (!s.scrypt.Validate().ok()) {
    return absl::InvalidArgumentError(
        "config: login.scrypt_log_n must be in 10..20");
  }

  const config::CertificatePolicy& certs = config.certificates();
  if (certs.has_max_user_ttl()) {
    s.user_certificates.max_ttl = FromProto(certs.max_user_ttl());
  }
  if (certs.has_backdate()) {
    s.user_certificates.backdate = FromProto(certs.backdate());
  }
  if (certs.has_host_ttl())
    s.host_certificate_ttl = FromProto(certs.host_ttl());
  RETURN_IF_ERROR(
      Positive("certificates.max_user_ttl", s.user_certificates.max_ttl));
  RETURN_IF_ERROR(Positive("certificates.host_ttl", s.host_certificate_ttl));
  if (s.user_certificates.backdate < absl::ZeroDuration() ||
      s.user_certificates.backdate > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        "config: certificates.backdate must be in [0s, 1h]");
  }
  if (!config.logging().level().empty()) s.log_level = config.logging().level();
  if (s.log_level != "debug" && s.log_level != "info" &&
      s.log_level != "warn" && s.log_level != "error") {
    return absl::InvalidArgumentError(
        "config: logging.level must be debug, info, warn or error");
  }
  for (const std::string& a : config.gateway().egress_addresses()) {
    if (a.empty() || !ssh::cert::ParseSourceAddressList(a).ok() ||
        a.find(',') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config: gateway.egress_addresses: not an address or CIDR: ", a));
    }
    s.gateway_egress_addresses.push_back(a);
  }
  if (config.gateway().ssh_addresses_size() > kMaxGatewaySshAddresses) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: gateway.ssh_addresses: at most ", kMaxGatewaySshAddresses));
  }
  for (const std::string& a : config.gateway().ssh_addresses()) {
    absl::StatusOr<base::HostPort> hp = ParseGatewaySshAddress(a);
    if (!hp.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config: gateway.ssh_addresses: ", hp.status().message()));
    }
    s.gateway_ssh_addresses.push_back(*hp);
  }
  if (config.gateway().write_rate_bytes_per_second() != 0) {
    s.gateway_write_rate_bytes_per_second =
        config.gateway().write_rate_bytes_per_second();
  }
  if (config.gateway().write_burst_bytes() != 0) {
    s.gateway_write_burst_bytes = config.gateway().write_burst_bytes();
  }
  if (s.gateway_write_burst_bytes < kMinGatewayWriteBurstBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: gateway.write_burst_bytes must be at least ",
                     kMinGatewayWriteBurstBytes,
                     " (the most one request of a gateway costs)"));
  }
  if (config.gateway().max_open_sessions() >
      static_cast<uint64_t>(kMaxOpenSessionsPerGatewayLimit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: gateway.max_open_sessions must be at most ",
                     kMaxOpenSessionsPerGatewayLimit,
                     " (each new session counts the gateway's open ones)"));
  }
  if (config.gateway().max_open_sessions() != 0) {
    s.gateway_max_open_sessions =
        static_cast<int64_t>(config.gateway().max_open_sessions());
  }
  if (!config.log_format().empty() && !config.logging().log_format().empty() &&
      config.log_format() != config.logging().log_format()) {
    return absl::InvalidArgumentError(
        "config: log_format and logging.log_format disagree; set one");
  }
  if (!config.logging().log_format().empty()) {
    s.log_format = config.logging().log_format();
  }
  if (!config.log_format().empty()) s.log_format = config.log_format();
  if (s.log_format != "text" && s.log_format != "json") {
    return absl::InvalidArgumentError(
        "config: log_format (logging.log_format) must be text or json");
  }
  return s;
}

absl::StatusOr<CaSettings> LoadCaSettings(const std::string& path) {
  config::CaConfig config;
  RETURN_IF_ERROR(YamlFileToProto(path, &config));
  std::string dir = std::filesystem::absolute(std::filesystem::path(path))
                        .parent_path()
                        .lexically_normal()
                        .string();
  return SettingsFromConfig(config, dir);
}

}  // namespace sallyport::ca
