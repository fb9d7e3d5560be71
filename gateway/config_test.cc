// gateway.yaml: defaults, every refusal rule (each case breaks one key of a
// good config and expects the key named), paths, file checks on real files,
// and the file `enroll` writes.
#include "gateway/config.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/yaml_proto.h"
#include "gtest/gtest.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {
namespace {

constexpr char kFingerprint[] =
    "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

std::string Minimal() {
  return absl::StrCat("ca: 127.0.0.1:7443\nca_fingerprint: ", kFingerprint,
                      "\n");
}

absl::StatusOr<GatewaySettings> Parse(const std::string& yaml,
                                      const std::string& dir = "/etc/gw") {
  config::GatewayConfig c;
  absl::Status st = base::YamlToProto(yaml, "gateway.yaml", &c);
  if (!st.ok()) return st;
  return SettingsFromConfig(c, dir);
}

TEST(GatewayConfigTest, DefaultsFillAMinimalConfig) {
  absl::StatusOr<GatewaySettings> s = Parse(Minimal());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->listen, "127.0.0.1:2222");
  EXPECT_EQ(s->metrics_listen, "127.0.0.1:9102");
  EXPECT_EQ(s->ca, "127.0.0.1:7443");
  EXPECT_EQ(s->ca_fingerprint, kFingerprint);
  EXPECT_EQ(s->state_dir, "/etc/gw");
  EXPECT_EQ(s->threads, 0);
  EXPECT_EQ(s->log_format, base::LogFormat::kText);
  EXPECT_EQ(s->log_level, "info");
  EXPECT_FALSE(s->end_sessions_when_revocations_stale);  // refuse_new
  EXPECT_EQ(s->limits.max_startups.start, 10);
  EXPECT_EQ(s->limits.max_startups.rate, 30);
  EXPECT_EQ(s->limits.max_startups.full, 100);
  EXPECT_EQ(s->limits.login_grace, absl::Seconds(30));
  EXPECT_EQ(s->limits.max_auth_tries, 6);
  EXPECT_EQ(s->limits.max_channels_per_connection, 64);
  EXPECT_EQ(s->limits.max_sessions_per_user, 50);
  EXPECT_EQ(s->limits.idle_timeout, absl::ZeroDuration());
  EXPECT_EQ(s->limits.max_buffered_bytes_per_connection, 16 << 20);
  EXPECT_EQ(s->drain_timeout, absl::Seconds(30));
  EXPECT_EQ(s->revocation_grace, absl::Seconds(60));
  EXPECT_EQ(s->files.host_key, "/etc/gw/ssh_host_ed25519_key");
  EXPECT_EQ(s->files.host_certificate, "/etc/gw/ssh_host_ed25519_key-cert.pub");
  EXPECT_EQ(s->files.tls_key, "/etc/gw/gateway_tls.key");
  EXPECT_EQ(s->files.tls_certificate, "/etc/gw/gateway_tls.crt");
  EXPECT_EQ(s->files.ca_certificate, "/etc/gw/ca.pem");
  EXPECT_TRUE(s->egress_addresses.empty());
}

// ha16: several CA instances (HA), tried in order by the CA channel.
TEST(GatewayConfigTest, CaTakesSeveralAddresses) {
  absl::StatusOr<GatewaySettings> s =
      Parse(absl::StrCat("ca: \"10.0.1.11:7443, 10.0.1.12:7443\"\n",
                         "ca_fingerprint: ", kFingerprint, "\n"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ca, "10.0.1.11:7443, 10.0.1.12:7443");
}

TEST(GatewayConfigTest, EveryKeyIsRead) {
  absl::StatusOr<GatewaySettings> s =
      Parse(absl::StrCat(Minimal(),
                         "listen: \"[::1]:2200\"\n"
                         "state_dir: state\n"
                         "metrics_listen: 127.0.0.1:9200\n"
                         "threads: 3\n"
                         "log_format: json\n"
                         "log_level: debug\n"
                         "limits:\n"
                         "  max_startups: \"5:50:20\"\n"
                         "  login_grace: 10s\n"
                         "  max_auth_tries: 3\n"
                         "  max_channels_per_connection: 8\n"
                         "  max_sessions_per_user: 4\n"
                         "  idle_timeout: 15m\n"
                         "  max_buffered_bytes_per_connection: 4194304\n"
                         "egress_addresses: [192.0.2.7, \"2001:db8::7\"]\n"
                         "name: gw-1.example\n"
                         "files:\n"
                         "  host_key: keys/host\n"
                         "  host_certificate: /abs/host-cert.pub\n"
                         "  tls_key: tls.key\n"
                         "  tls_certificate: ../tls.crt\n"
                         "drain_timeout: 1m30s\n"
                         "revocation_grace: 2m\n"
                         "revocation_fail_mode: end_sessions\n"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->end_sessions_when_revocations_stale);
  EXPECT_EQ(s->listen, "[::1]:2200");
  EXPECT_EQ(s->state_dir, "/etc/gw/state");
  EXPECT_EQ(s->metrics_listen, "127.0.0.1:9200");
  EXPECT_EQ(s->threads, 3);
  EXPECT_EQ(s->log_format, base::LogFormat::kJson);
  EXPECT_EQ(s->log_level, "debug");
  EXPECT_EQ(s->limits.max_startups.start, 5);
  EXPECT_EQ(s->limits.max_startups.rate, 50);
  EXPECT_EQ(s->limits.max_startups.full, 20);
  EXPECT_EQ(s->limits.login_grace, absl::Seconds(10));
  EXPECT_EQ(s->limits.max_auth_tries, 3);
  EXPECT_EQ(s->limits.max_channels_per_connection, 8);
  EXPECT_EQ(s->limits.max_sessions_per_user, 4);
  EXPECT_EQ(s->limits.idle_timeout, absl::Minutes(15));
  EXPECT_EQ(s->limits.max_buffered_bytes_per_connection, 4 << 20);
  EXPECT_EQ(s->egress_addresses,
            (std::vector<std::string>{"192.0.2.7", "2001:db8::7"}));
  EXPECT_EQ(s->name, "gw-1.example");
  EXPECT_EQ(s->files.host_key, "/etc/gw/state/keys/host");
  EXPECT_EQ(s->files.host_certificate, "/abs/host-cert.pub");
  EXPECT_EQ(s->files.tls_key, "/etc/gw/state/tls.key");
  EXPECT_EQ(s->files.tls_certificate, "/etc/gw/tls.crt");
  EXPECT_EQ(s->drain_timeout, absl::Seconds(90));
  EXPECT_EQ(s->revocation_grace, absl::Minutes(2));
}

TEST(GatewayConfigTest, AnEmptyMetricsListenTurnsMetricsOff) {
  absl::StatusOr<GatewaySettings> off =
      Parse(absl::StrCat(Minimal(), "metrics_listen: \"\"\n"));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->metrics_listen, "");
  // A key without a value leaves the default.
  absl::StatusOr<GatewaySettings> unset =
      Parse(absl::StrCat(Minimal(), "metrics_listen:\n"));
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_EQ(unset->metrics_listen, "127.0.0.1:9102");
}

TEST(GatewayConfigTest, UnknownKeysAreRefusedWithTheirLine) {
  absl::StatusOr<GatewaySettings> s =
      Parse(absl::StrCat(Minimal(), "lisen: 127.0.0.1:22\n"));
  ASSERT_FALSE(s.ok());
  // Named where it is and with the keys that are known there, not with
  // the .proto type's name ("in sallyport.config.GatewayLimits").
  EXPECT_TRUE(absl::StartsWith(s.status().message(),
                               "gateway.yaml:3: unknown key 'lisen' (the keys "
                               "there: listen, "))
      << s.status();
  EXPECT_FALSE(absl::StrContains(s.status().message(), "sallyport."));
  s = Parse(absl::StrCat(Minimal(), "limits:\n  max_startup: 1\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StartsWith(s.status().message(),
                               "gateway.yaml:4: unknown key 'max_startup' in "
                               "'limits' (the keys there: max_startups, "))
      << s.status();
  s = Parse(absl::StrCat(Minimal(), "threads: many\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "gateway.yaml:3:"))
      << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "'threads'"));
}

TEST(GatewayConfigTest, InvalidUtf8IsRefusedAndNotEchoed) {
  absl::StatusOr<GatewaySettings> s =
      Parse(absl::StrCat(Minimal(), "name: \"gw\xff\"\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "gateway.yaml:3:"));
  EXPECT_TRUE(absl::StrContains(s.status().message(), "not valid UTF-8"));
  s = Parse(absl::StrCat(Minimal(), "na\xffme: x\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "'na\\xffme'"))
      << s.status();
}

struct Refusal {
  std::string yaml;      // replaces or adds to Minimal()
  std::string expected;  // in the message
  bool replace = false;  // yaml is the whole file
};

class GatewayConfigRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(GatewayConfigRefusalTest, NamesTheKey) {
  const Refusal& r = GetParam();
  // The good config passes; the one broken key fails.
  ASSERT_TRUE(Parse(Minimal()).ok());
  absl::StatusOr<GatewaySettings> s =
      Parse(r.replace ? r.yaml : absl::StrCat(Minimal(), r.yaml));
  ASSERT_FALSE(s.ok()) << r.yaml;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.status().message(), r.expected))
      << s.status() << " for " << r.yaml;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, GatewayConfigRefusalTest,
    ::testing::Values(
        Refusal{absl::StrCat("ca_fingerprint: ", kFingerprint, "\n"),
                "config: ca is required", true},
        Refusal{"ca_fingerprint: x\nca: 127.0.0.1:7443\n",
                "config: ca_fingerprint must be", true},
        Refusal{"ca: 127.0.0.1:7443\n", "config: ca_fingerprint is required",
                true},
        Refusal{
            absl::StrCat("ca: 127.0.0.1\nca_fingerprint: ", kFingerprint, "\n"),
            "config: ca \"127.0.0.1\"", true},
        Refusal{
            absl::StrCat("ca: \"h:0\"\nca_fingerprint: ", kFingerprint, "\n"),
            "config: ca \"h:0\"", true},
        // ha16: a list of CA instances, each with its port, no repeats.
        Refusal{absl::StrCat("ca: \"127.0.0.1:7443,\"\nca_fingerprint: ",
                             kFingerprint, "\n"),
                "config: ca \"127.0.0.1:7443,\"", true},
        Refusal{
            absl::StrCat("ca: \"a:1,b\"\nca_fingerprint: ", kFingerprint, "\n"),
            "config: ca \"a:1,b\"", true},
        Refusal{absl::StrCat("ca: \"a:1,a:1\"\nca_fingerprint: ", kFingerprint,
                             "\n"),
                "listed twice", true},
        Refusal{"listen: 127.0.0.1\n", "config: listen"},
        Refusal{"listen: \"::1:22\"\n", "config: listen"},
        Refusal{"listen: 127.0.0.1:65536\n", "config: listen"},
        Refusal{"listen: \"a;b:22\"\n", "config: listen"},
        Refusal{"metrics_listen: localhost\n", "config: metrics_listen"},
        Refusal{"threads: -1\n", "config: threads must be in 0..256"},
        Refusal{"threads: 257\n", "config: threads must be in 0..256"},
        Refusal{"log_format: xml\n", "config: log_format must be text or json"},
        Refusal{"revocation_fail_mode: strict\n",
                "config: revocation_fail_mode must be refuse_new or "
                "end_sessions"},
        Refusal{"log_level: loud\n", "config: log_level must be"},
        Refusal{"limits:\n  max_startups: \"10:30\"\n",
                "config: limits.max_startups \"10:30\""},
        Refusal{"limits:\n  max_startups: \"10:0:100\"\n",
                "config: limits.max_startups"},
        Refusal{"limits:\n  max_startups: \"10:101:100\"\n",
                "config: limits.max_startups"},
        Refusal{"limits:\n  max_startups: \"20:30:10\"\n",
                "config: limits.max_startups"},
        Refusal{"limits:\n  max_startups: \"0:30:100\"\n",
                "config: limits.max_startups"},
        Refusal{"limits:\n  max_startups: \"+1:30:100\"\n",
                "config: limits.max_startups"},
        Refusal{"limits:\n  max_startups: \"10:30:1000000\"\n",
                "config: limits.max_startups"},
        Refusal{"limits:\n  login_grace: 0s\n",
                "config: limits.login_grace must be in 1s..1h"},
        Refusal{"limits:\n  login_grace: 2h\n", "config: limits.login_grace"},
        Refusal{"limits:\n  max_auth_tries: -1\n",
                "config: limits.max_auth_tries must be in 1..100"},
        Refusal{"limits:\n  max_auth_tries: 101\n",
                "config: limits.max_auth_tries"},
        Refusal{"limits:\n  max_channels_per_connection: 4097\n",
                "config: limits.max_channels_per_connection must be in "
                "1..4096"},
        Refusal{"limits:\n  max_sessions_per_user: -5\n",
                "config: limits.max_sessions_per_user"},
        Refusal{"limits:\n  idle_timeout: -1s\n",
                "config: limits.idle_timeout"},
        Refusal{"limits:\n  idle_timeout: 25h\n",
                "config: limits.idle_timeout"},
        Refusal{"limits:\n  max_buffered_bytes_per_connection: 1048575\n",
                "config: limits.max_buffered_bytes_per_connection must be in "
                "1048576..1073741824"},
        Refusal{"limits:\n  max_buffered_bytes_per_connection: 1073741825\n",
                "config: limits.max_buffered_bytes_per_connection"},
        Refusal{"egress_addresses: [192.0.2.1, gw.example]\n",
                "config: egress_addresses[1] \"gw.example\""},
        Refusal{"egress_addresses: [\"10.0.0.1/8\"]\n",
                "config: egress_addresses[0]"},
        // A network cannot be bound to (not even a one-address network).
        Refusal{"egress_addresses: [192.0.2.1, \"2001:db8::/64\"]\n",
                "config: egress_addresses[1] \"2001:db8::/64\" is not an IP "
                "address"},
        Refusal{"egress_addresses: [\"192.0.2.1/32\"]\n",
                "config: egress_addresses[0] \"192.0.2.1/32\" is not an IP "
                "address"},
        Refusal{"name: \"-gw\"\n", "config: name is invalid"},
        Refusal{"name: \"gw 1\"\n", "config: name is invalid"},
        Refusal{absl::StrCat("name: ", std::string(65, 'g'), "\n"),
                "config: name is invalid"},
        Refusal{"drain_timeout: -1s\n", "config: drain_timeout"},
        Refusal{"revocation_grace: 0s\n", "config: revocation_grace"}));

TEST(GatewayConfigTest, ParseMaxStartups) {
  absl::StatusOr<MaxStartups> m = ParseMaxStartups("10:30:100");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->start, 10);
  EXPECT_EQ(m->rate, 30);
  EXPECT_EQ(m->full, 100);
  m = ParseMaxStartups("7");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->start, 7);
  EXPECT_EQ(m->rate, 100);
  EXPECT_EQ(m->full, 7);
  m = ParseMaxStartups("1:100:100000");
  EXPECT_TRUE(m.ok());
  for (const char* bad :
       {"", ":", "1:2", "1:2:3:4", "a:b:c", "10:30:100 ", " 10", "10:-1:100",
        "0x10", "1:1:100001", "99999999999999999999"}) {
    EXPECT_FALSE(ParseMaxStartups(bad).ok()) << bad;
  }
}

class GatewayConfigFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = sallyport::testing::TempDir::Create("gwcfg");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<sallyport::testing::TempDir>(std::move(*dir));
    path_ = dir_->File("gateway.yaml");
    ASSERT_TRUE(base::WriteFileAtomic(path_, Minimal(), 0600).ok());
    for (const auto& [name, mode] : std::vector<std::pair<std::string, int>>{
             {"ssh_host_ed25519_key", 0600},
             {"ssh_host_ed25519_key-cert.pub", 0644},
             {"gateway_tls.key", 0600},
             {"gateway_tls.crt", 0644},
             {"ca.pem", 0644}}) {
      ASSERT_TRUE(base::WriteFileAtomic(dir_->File(name), "x\n", mode).ok());
    }
  }
  std::unique_ptr<sallyport::testing::TempDir> dir_;
  std::string path_;
};

TEST_F(GatewayConfigFilesTest, AConfigWithItsFilesLoads) {
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(path_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state_dir, dir_->path());
  EXPECT_EQ(s->files.tls_key, dir_->File("gateway_tls.key"));
}

TEST_F(GatewayConfigFilesTest, AMissingFileIsNamed) {
  ASSERT_EQ(unlink(dir_->File("gateway_tls.crt").c_str()), 0);
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(s.status().message(),
                                "config: files.tls_certificate: "))
      << s.status();
  // The settings alone still load (no file is touched).
  EXPECT_TRUE(LoadGatewaySettings(path_).ok());
}

TEST_F(GatewayConfigFilesTest, PrivateKeysMustBeMode0600) {
  for (const char* key : {"ssh_host_ed25519_key", "gateway_tls.key"}) {
    for (int mode : {0640, 0604, 0660, 0644}) {
      ASSERT_EQ(chmod(dir_->File(key).c_str(), mode), 0);
      absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(path_);
      ASSERT_FALSE(s.ok()) << key << " " << mode;
      EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
      EXPECT_TRUE(absl::StrContains(s.status().message(), "must be 0600"))
          << s.status();
      EXPECT_TRUE(absl::StrContains(s.status().message(), key));
    }
    ASSERT_EQ(chmod(dir_->File(key).c_str(), 0400), 0);
    EXPECT_TRUE(LoadGatewayConfig(path_).ok()) << key;
    ASSERT_EQ(chmod(dir_->File(key).c_str(), 0600), 0);
  }
  // Certificates are public.
  ASSERT_EQ(chmod(dir_->File("gateway_tls.crt").c_str(), 0644), 0);
  EXPECT_TRUE(LoadGatewayConfig(path_).ok());
}

TEST_F(GatewayConfigFilesTest, ADirectoryIsNotAFile) {
  ASSERT_EQ(unlink(dir_->File("gateway_tls.key").c_str()), 0);
  ASSERT_EQ(mkdir(dir_->File("gateway_tls.key").c_str(), 0700), 0);
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "not a regular file"));
  ASSERT_EQ(rmdir(dir_->File("gateway_tls.key").c_str()), 0);
}

TEST_F(GatewayConfigFilesTest, AMissingConfigFileIsNotFound) {
  absl::StatusOr<GatewaySettings> s =
      LoadGatewayConfig(dir_->File("nothing.yaml"));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GatewayConfigFilesTest, TheGeneratedConfigReadsBack) {
  config::GatewayConfig c;
  c.set_listen("127.0.0.1:2222");
  c.set_ca("ca.example:7443");
  c.set_ca_fingerprint(kFingerprint);
  c.set_state_dir(dir_->path());
  c.set_metrics_listen("");  // present and empty: metrics off
  c.set_name("gw1");
  c.add_egress_addresses("127.0.0.1");
  c.set_log_format("json");
  c.mutable_limits()->set_max_startups("10:30:100");
  c.mutable_limits()->mutable_login_grace()->set_seconds(30);
  c.mutable_files()->set_host_key("ssh_host_ed25519_key");
  c.mutable_drain_timeout()->set_seconds(90);
  c.mutable_revocation_grace()->set_nanos(500000000);
  c.mutable_revocation_grace()->set_seconds(1);
  const std::string out = dir_->File("written.yaml");
  ASSERT_TRUE(WriteGeneratedConfig(out, c).ok());
  struct stat st;
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  absl::StatusOr<std::string> text = base::ReadTextFile(out);
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(absl::StartsWith(*text, "# sallyport-gateway's config"));
  config::GatewayConfig back;
  ASSERT_TRUE(base::YamlFileToProto(out, &back).ok()) << *text;
  EXPECT_EQ(back.SerializeAsString(), c.SerializeAsString()) << *text;
  EXPECT_TRUE(back.has_metrics_listen());
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->metrics_listen, "");
  EXPECT_EQ(s->revocation_grace, absl::Milliseconds(1500));
}

TEST_F(GatewayConfigFilesTest, AnInvalidConfigIsNotWritten) {
  config::GatewayConfig c;
  c.set_ca("ca.example:7443");
  c.set_ca_fingerprint("nonsense");
  const std::string out = dir_->File("bad.yaml");
  absl::Status st = WriteGeneratedConfig(out, c);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(absl::StrContains(st.message(), "ca_fingerprint"));
  EXPECT_NE(access(out.c_str(), F_OK), 0);
}

TEST_F(GatewayConfigFilesTest, HostileStringsSurviveTheRoundTrip) {
  config::GatewayConfig c;
  c.set_ca("ca.example:7443");
  c.set_ca_fingerprint(kFingerprint);
  // Not a valid state_dir for a real gateway, but the writer must keep any
  // string intact: quotes, newlines, YAML syntax, control bytes, UTF-8.
  c.set_state_dir(
      absl::StrCat(dir_->path(), "/a\"b\\c\nd: e # f\x01\t{}[]&*!|>'%@`é"));
  const std::string out = dir_->File("hostile.yaml");
  ASSERT_TRUE(WriteGeneratedConfig(out, c).ok());
  config::GatewayConfig back;
  ASSERT_TRUE(base::YamlFileToProto(out, &back).ok());
  EXPECT_EQ(back.state_dir(), c.state_dir());
}

TEST(GatewayConfigTest, RecordingKeys) {
  absl::StatusOr<GatewaySettings> d = Parse(Minimal());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->spool_dir, "/etc/gw/spool");
  EXPECT_EQ(d->spool_fsync_interval, absl::Seconds(1));
  EXPECT_EQ(d->spool_max_bytes, int64_t{10} << 30);
  EXPECT_EQ(d->record_exec_output_limit, int64_t{16} << 20);
  absl::StatusOr<GatewaySettings> s =
      Parse(absl::StrCat(Minimal(),
                         "spool_dir: /var/spool/sp\n"
                         "spool_fsync_interval: 250ms\n"
                         "spool_max_bytes: 2097152\n"
                         "record_exec_output_limit: 1024\n"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->spool_dir, "/var/spool/sp");
  EXPECT_EQ(s->spool_fsync_interval, absl::Milliseconds(250));
  EXPECT_EQ(s->spool_max_bytes, 2097152);
  EXPECT_EQ(s->record_exec_output_limit, 1024);
  for (const char* bad :
       {"spool_fsync_interval: 1ms\n", "spool_fsync_interval: 1h\n",
        "spool_max_bytes: 1000\n", "record_exec_output_limit: -1\n"}) {
    absl::StatusOr<GatewaySettings> r = Parse(absl::StrCat(Minimal(), bad));
    EXPECT_FALSE(r.ok()) << bad;
  }
}

}  // namespace
}  // namespace sallyport::gateway
