#include "ca/ca_config.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/yaml_proto.h"
#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

absl::StatusOr<CaSettings> Parse(const std::string& yaml) {
  config::CaConfig c;
  absl::Status st = YamlToProto(yaml, "ca.yaml", &c);
  if (!st.ok()) return st;
  return SettingsFromConfig(c, "/etc/sp");
}

const char kMinimal[] = R"(
store: sqlite:///var/lib/sallyport/ca.db
keys: {user_ca: user_ca, host_ca: /abs/host_ca}
tls: {cert: tls.crt, key: tls.key, client_ca_cert: client_ca.crt,
      client_ca_key: client_ca.key}
)";

TEST(CaConfigTest, DefaultsAndPaths) {
  auto s = Parse(kMinimal);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->listen, "127.0.0.1:7443");
  EXPECT_EQ(s->state_dir, "/etc/sp");
  EXPECT_EQ(s->user_ca_key, "/etc/sp/user_ca");
  EXPECT_EQ(s->host_ca_key, "/abs/host_ca");
  EXPECT_EQ(s->session_ca_key, "");  // optional: none
  EXPECT_EQ(s->client_ca_key, "/etc/sp/client_ca.key");
  EXPECT_EQ(s->lockout.max_failures, 5);
  EXPECT_EQ(s->lockout.lockout, absl::Minutes(15));
  EXPECT_EQ(s->failure_delay, absl::Milliseconds(250));
  EXPECT_EQ(s->scrypt.log_n, 15);
  EXPECT_EQ(s->user_certificates.max_ttl, absl::Hours(8));
  EXPECT_EQ(s->user_certificates.backdate, absl::Minutes(1));
}

TEST(CaConfigTest, GatewayEgressAddresses) {
  auto none = Parse(kMinimal);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->gateway_egress_addresses.empty());
  auto s = Parse(std::string(kMinimal) +
                 "gateway: {egress_addresses: [10.0.0.2/32, '2001:db8::7']}\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->gateway_egress_addresses,
            (std::vector<std::string>{"10.0.0.2/32", "2001:db8::7"}));
  for (const char* bad : {"gw.example.com", "10.0.0.1/8", "'10.0.0.1,10.0.0.2'",
                          "''", "10.0.0.300"}) {
    auto r = Parse(std::string(kMinimal) + "gateway: {egress_addresses: [" +
                   bad + "]}\n");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(
        absl::StrContains(r.status().message(), "gateway.egress_addresses"))
        << bad;
  }
}

TEST(CaConfigTest, Overrides) {
  auto s = Parse(std::string(kMinimal) + R"(
state_dir: state
listen: 127.0.0.1:1
login: {max_failures: 2, lockout: 2s, scrypt_log_n: 10, failure_delay: 0s}
certificates: {max_user_ttl: 1h, backdate: 30s}
logging: {level: debug}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state_dir, "/etc/sp/state");
  EXPECT_EQ(s->user_ca_key, "/etc/sp/state/user_ca");
  EXPECT_EQ(s->lockout.max_failures, 2);
  EXPECT_EQ(s->lockout.lockout, absl::Seconds(2));
  EXPECT_EQ(s->failure_delay, absl::ZeroDuration());
  EXPECT_EQ(s->user_certificates.max_ttl, absl::Hours(1));
}

TEST(CaConfigTest, RefusesMissingAndBadValues) {
  EXPECT_TRUE(absl::StrContains(Parse("listen: x\n").status().message(),
                                "store is required"));
  const char* bad[] = {
      "login: {max_failures: -1}",  "login: {lockout: -5s}",
      "login: {scrypt_log_n: 40}",  "certificates: {max_user_ttl: -1h}",
      "logging: {level: verbose}",  "certificates: {backdate: 2h}",
      "logging: {log_format: xml}",
  };
  for (const char* extra : bad) {
    auto s = Parse(std::string(kMinimal) + extra + "\n");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << extra;
  }
}

// `:99999` used to wrap to another port (99999 mod 65536).
TEST(CaConfigTest, ListenMustBeHostAndAPortIn1To65535) {
  for (const char* bad :
       {":99999", "127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:0",
        "127.0.0.1:-1", "127.0.0.1:", ":7443", "127.0.0.1", "::1:7443",
        "[::1]7443", "127.0.0.1:74x3", "127.0.0.1:000443000", "a b:1"}) {
    auto s = Parse(std::string(kMinimal) + "listen: \"" + bad + "\"\n");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(s.status().message(), "not HOST:PORT"))
        << bad << ": " << s.status();
  }
  for (const char* good : {"127.0.0.1:1", "127.0.0.1:65535", "[::1]:7443",
                           "ca.example:7443", "0.0.0.0:7443"}) {
    auto s = Parse(std::string(kMinimal) + "listen: \"" + good + "\"\n");
    EXPECT_TRUE(s.ok()) << good << ": " << s.status();
  }
  EXPECT_TRUE(ValidateListen("--listen", "127.0.0.1:0", true).ok());
  EXPECT_FALSE(ValidateListen("--listen", "127.0.0.1:0").ok());
}

TEST(CaConfigTest, LogFormat) {
  auto s = Parse(kMinimal);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->log_format, "text");
  s = Parse(std::string(kMinimal) + "log_format: json\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->log_format, "json");
  s = Parse(std::string(kMinimal) +
            "log_format: json\nlogging: {log_format: text}\n");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "disagree"))
      << s.status();
  EXPECT_FALSE(Parse(std::string(kMinimal) + "log_format: xml\n").ok());
  s = Parse(std::string(kMinimal) + "logging: {log_format: json}\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->log_format, "json");
}

TEST(CaConfigTest, GatewaySshAddresses) {
  auto s = Parse(std::string(kMinimal) +
                 "gateway: {ssh_addresses: [gw.example.com, "
                 "\"10.0.0.5:22\", \"[::1]:2200\", \"::1\", \"[fe80::1]\"]}\n");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->gateway_ssh_addresses.size(), 5u);
  EXPECT_EQ(s->gateway_ssh_addresses[0].host, "gw.example.com");
  EXPECT_EQ(s->gateway_ssh_addresses[0].port, kDefaultGatewaySshPort);
  EXPECT_EQ(s->gateway_ssh_addresses[1].host, "10.0.0.5");
  EXPECT_EQ(s->gateway_ssh_addresses[1].port, 22);
  EXPECT_EQ(s->gateway_ssh_addresses[2].host, "::1");
  EXPECT_EQ(s->gateway_ssh_addresses[2].port, 2200);
  EXPECT_EQ(s->gateway_ssh_addresses[3].host, "::1");
  EXPECT_EQ(s->gateway_ssh_addresses[3].port, kDefaultGatewaySshPort);
  EXPECT_EQ(s->gateway_ssh_addresses[4].host, "fe80::1");
  // Names that could smuggle ssh_config syntax or patterns are refused.
  for (const char* bad :
       {"*", "gw *", "gw\\nHost *", "gw:0", "gw:x", "-oProxyCommand=x", "a..b",
        "", "gw,other", "[::1]x", "!gw"}) {
    EXPECT_FALSE(ParseGatewaySshAddress(bad).ok()) << bad;
  }
  std::string many = "gateway: {ssh_addresses: [";
  for (int i = 0; i <= kMaxGatewaySshAddresses; ++i) {
    absl::StrAppend(&many, i ? ", " : "", "gw", i);
  }
  auto too_many = Parse(std::string(kMinimal) + many + "]}\n");
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  many = many.substr(0, many.rfind(','));
  EXPECT_TRUE(Parse(std::string(kMinimal) + many + "]}\n").ok());
}

TEST(CaConfigTest, GatewayMaxOpenSessions) {
  auto defaults = Parse(kMinimal);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->gateway_max_open_sessions,
            kDefaultMaxOpenSessionsPerGateway);
  for (int64_t n :
       {int64_t{1}, int64_t{250000}, kMaxOpenSessionsPerGatewayLimit}) {
    auto s = Parse(
        absl::StrCat(kMinimal, "gateway: {max_open_sessions: ", n, "}\n"));
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->gateway_max_open_sessions, n);
  }
  // Each new session counts the gateway's open ones up to the limit.
  auto big = Parse(absl::StrCat(kMinimal, "gateway: {max_open_sessions: ",
                                kMaxOpenSessionsPerGatewayLimit + 1, "}\n"));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(big.status().message(), "gateway.max_open_sessions"))
      << big.status();
  for (const char* bad : {"-1", "many", "1.5"}) {
    EXPECT_FALSE(Parse(absl::StrCat(kMinimal, "gateway: {max_open_sessions: ",
                                    bad, "}\n"))
                     .ok())
        << bad;
  }
}

TEST(CaConfigTest, GatewayWriteBudget) {
  auto defaults = Parse(kMinimal);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->gateway_write_rate_bytes_per_second,
            kDefaultGatewayWriteRateBytesPerSecond);
  EXPECT_EQ(defaults->gateway_write_burst_bytes,
            kDefaultGatewayWriteBurstBytes);
  auto s = Parse(std::string(kMinimal) +
                 "gateway: {write_rate_bytes_per_second: 1048576, "
                 "write_burst_bytes: 4194304}\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->gateway_write_rate_bytes_per_second, 1048576u);
  EXPECT_EQ(s->gateway_write_burst_bytes, kMinGatewayWriteBurstBytes);
  // A burst that one request could exceed would refuse that request for
  // good.
  auto small =
      Parse(std::string(kMinimal) + "gateway: {write_burst_bytes: 4194303}\n");
  EXPECT_EQ(small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(small.status().message(), "gateway.write_burst_bytes"))
      << small.status();
  EXPECT_FALSE(Parse(std::string(kMinimal) +
                     "gateway: {write_rate_bytes_per_second: -1}\n")
                   .ok());
  EXPECT_FALSE(
      Parse(std::string(kMinimal) + "gateway: {write_rows_per_second: 1}\n")
          .ok());
}

}  // namespace
}  // namespace sallyport::ca
