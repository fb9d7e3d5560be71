// `sallyport-gateway enroll` against a real CA (the in-process CaTestEnv
// over real TLS on loopback): the files and their modes, the host
// certificate as the real `ssh-keygen -L` reads it, the mTLS identity used
// for a real RPC, and each refusal. Renewing the identity is in
// enroll_identity_test.cc.
#include "gateway/enroll.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "gateway/enroll_main.h"
#include "gateway/enroll_test_fixture.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {
namespace {

using sallyport::testing::RunCommandOk;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

TEST_F(EnrollTest, EnrolmentWritesAWorkingIdentity) {
  EnrollOptions o = Options(Token(), "state");
  absl::StatusOr<EnrollResult> r = Enroll(o);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string state = o.state_dir;
  EXPECT_EQ(r->config_path, state + "/gateway.yaml");
  EXPECT_EQ(r->name, "gw1");
  EXPECT_EQ(r->host_principals,
            (std::vector<std::string>{"gw1", "gw1.example.com", "127.0.0.1"}));
  EXPECT_GT(r->tls_valid_before, absl::Now() + absl::Hours(24));

  EXPECT_EQ(Mode(state), 0700);
  EXPECT_EQ(Mode(state + "/ssh_host_ed25519_key"), 0600);
  EXPECT_EQ(Mode(state + "/gateway_tls.key"), 0600);
  EXPECT_EQ(Mode(state + "/gateway.yaml"), 0600);
  for (const char* pub :
       {"ssh_host_ed25519_key-cert.pub", "gateway_tls.crt", "ca.pem"}) {
    EXPECT_EQ(Mode(state + "/" + pub), 0644) << pub;
  }

  // The config loads with every file in place and names the CA.
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(r->config_path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ca, env_->server().address());
  EXPECT_EQ(s->ca_fingerprint, env_->init().tls_fingerprint);
  EXPECT_EQ(s->name, "gw1");
  EXPECT_EQ(s->listen, "127.0.0.1:2222");
  EXPECT_EQ(s->metrics_listen, "127.0.0.1:9102");
  EXPECT_EQ(s->state_dir, state);

  // The host certificate as OpenSSH reads it.
  auto listing = RunCommandOk(
      {"ssh-keygen", "-L", "-f", state + "/ssh_host_ed25519_key-cert.pub"});
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_TRUE(absl::StrContains(listing->out, "host certificate"))
      << listing->out;
  std::vector<std::string> principals;
  bool in_principals = false;
  for (absl::string_view line : absl::StrSplit(listing->out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(line, "Principals:")) {
      in_principals = true;
    } else if (in_principals && absl::StrContains(line, ":")) {
      // The next field ("Critical Options:") ends the list; IP principals
      // hold dots only.
      if (absl::EndsWith(line, ":") || absl::StrContains(line, ": ")) {
        in_principals = false;
      } else {
        principals.emplace_back(line);
      }
    } else if (in_principals && !line.empty()) {
      principals.emplace_back(line);
    }
  }
  EXPECT_EQ(principals,
            (std::vector<std::string>{"gw1", "gw1.example.com", "127.0.0.1"}))
      << listing->out;
  // Signed by the CA's host CA.
  auto host_ca_fp = RunCommandOk(
      {"sh", "-c", "echo \"$0\" | ssh-keygen -l -f - | cut -d' ' -f2",
       env_->init().host_ca_public_key});
  ASSERT_TRUE(host_ca_fp.ok()) << host_ca_fp.status();
  EXPECT_TRUE(absl::StrContains(
      listing->out, std::string(absl::StripAsciiWhitespace(host_ca_fp->out))))
      << listing->out;

  // The host key file is an OpenSSH key for the certified public key.
  auto pub =
      RunCommandOk({"ssh-keygen", "-y", "-f", state + "/ssh_host_ed25519_key"});
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto cert_text = base::ReadTextFile(state + "/ssh_host_ed25519_key-cert.pub");
  ASSERT_TRUE(cert_text.ok());
  auto cert = ssh::cert::Certificate::FromLine(*cert_text);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_TRUE(absl::StartsWith(pub->out, cert->key.ToAuthorizedKeysLine()))
      << pub->out;

  // The client certificate is a gateway identity the CA accepts.
  grpc::Status st = CallWithIdentity(r->config_path);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST_F(EnrollTest, AReusedTokenIsRefused) {
  const std::string token = Token();
  ASSERT_TRUE(Enroll(Options(token, "first")).ok());
  EnrollOptions again = Options(token, "second");
  again.name = "gw2";
  absl::StatusOr<EnrollResult> r = Enroll(again);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StartsWith(r.status().message(), "join token refused: "))
      << r.status();
  EXPECT_FALSE(absl::StrContains(r.status().message(), token));
  EXPECT_FALSE(Exists(again.state_dir + "/gateway.yaml"));
  EXPECT_FALSE(Exists(again.state_dir + "/ssh_host_ed25519_key"));
  EXPECT_FALSE(Exists(again.state_dir + "/gateway_tls.key"));
}

TEST_F(EnrollTest, AnUnknownTokenIsRefused) {
  absl::StatusOr<EnrollResult> r =
      Enroll(Options("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "s"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::StartsWith(r.status().message(), "join token refused: "))
      << r.status();
}

TEST_F(EnrollTest, AWrongFingerprintIsRefusedBeforeTheTokenIsSent) {
  const std::string token = Token();
  EnrollOptions o = Options(token, "s");
  o.ca_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  absl::StatusOr<EnrollResult> r = Enroll(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  // Both fingerprints are named.
  EXPECT_TRUE(absl::StrContains(r.status().message(), o.ca_fingerprint))
      << r.status();
  EXPECT_TRUE(
      absl::StrContains(r.status().message(), env_->init().tls_fingerprint))
      << r.status();
  EXPECT_FALSE(Exists(o.state_dir + "/gateway.yaml"));
  // The token was never shown to the CA, so it still works.
  EXPECT_TRUE(Enroll(Options(token, "s")).ok());
}

// Re-enrolling gw1 (`enroll --force`) takes a token made for gw1: the CA
// refuses a plain one for a name already enrolled, saying which to make.
TEST_F(EnrollTest, AnEnrolledStateDirIsKeptUnlessForced) {
  EnrollOptions o = Options(Token(), "s");
  ASSERT_TRUE(Enroll(o).ok());
  auto first_cert = base::ReadTextFile(o.state_dir + "/gateway_tls.crt");
  ASSERT_TRUE(first_cert.ok());
  EnrollOptions plain = Options(Token(), "s");
  plain.force = true;
  absl::StatusOr<EnrollResult> refused = Enroll(plain);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(),
                               "join token refused: gateway gw1 is already "
                               "enrolled"))
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "spctl tokens create --kind gateway "
                                "--gateway-name gw1"))
      << refused.status();
  EXPECT_EQ(*base::ReadTextFile(o.state_dir + "/gateway_tls.crt"), *first_cert);
  EnrollOptions again = Options(Token("gw1"), "s");
  absl::StatusOr<EnrollResult> r = Enroll(again);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "--force"));
  EXPECT_EQ(*base::ReadTextFile(o.state_dir + "/gateway_tls.crt"), *first_cert);
  again.force = true;
  r = Enroll(again);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(*base::ReadTextFile(o.state_dir + "/gateway_tls.crt"), *first_cert);
  EXPECT_TRUE(CallWithIdentity(r->config_path).ok());
}

// `enroll --force` replaces each file by a rename, never by rewriting it
// in place: a file the old identity had (here, hard links to each, as a
// process that has it open would see it) stays whole, and the new ones
// are whole too, with their modes, and no temporary file is left.
TEST_F(EnrollTest, ForceReplacesEveryFileWhole) {
  EnrollOptions o = Options(Token(), "s");
  ASSERT_TRUE(Enroll(o).ok());
  const std::vector<std::pair<std::string, int>> files = {
      {"gateway.yaml", 0600},
      {"ssh_host_ed25519_key", 0600},
      {"ssh_host_ed25519_key-cert.pub", 0644},
      {"gateway_tls.key", 0600},
      {"gateway_tls.crt", 0644},
      {"ca.pem", 0644}};
  std::map<std::string, std::string> before;
  for (const auto& [name, mode] : files) {
    const std::string path = o.state_dir + "/" + name;
    absl::StatusOr<std::string> text = base::ReadTextFile(path);
    ASSERT_TRUE(text.ok()) << text.status();
    before[name] = *text;
    ASSERT_EQ(link(path.c_str(), (path + ".old").c_str()), 0) << name;
  }
  EnrollOptions again = Options(Token("gw1"), "s");
  again.force = true;
  absl::StatusOr<EnrollResult> r = Enroll(again);
  ASSERT_TRUE(r.ok()) << r.status();
  for (const auto& [name, mode] : files) {
    const std::string path = o.state_dir + "/" + name;
    EXPECT_EQ(*base::ReadTextFile(path + ".old"), before[name]) << name;
    EXPECT_EQ(Mode(path), mode) << name;
    EXPECT_FALSE(TemporaryLeft(path)) << name;
  }
  for (const char* renewed :
       {"ssh_host_ed25519_key", "ssh_host_ed25519_key-cert.pub",
        "gateway_tls.key", "gateway_tls.crt"}) {
    EXPECT_NE(*base::ReadTextFile(o.state_dir + "/" + renewed), before[renewed])
        << renewed;
  }
  EXPECT_TRUE(CallWithIdentity(r->config_path).ok());
}

// A state dir that exists is the admin's: enroll leaves its mode alone
// (it made any existing one 0700), warning when group or others may list
// it.
TEST_F(EnrollTest, AnExistingStateDirKeepsItsMode) {
  for (const int mode : {0750, 0711, 0700}) {
    const std::string sub = absl::StrCat("s", mode);
    ASSERT_EQ(mkdir(dir_->File(sub).c_str(), 0700), 0);
    ASSERT_EQ(chmod(dir_->File(sub).c_str(), mode), 0);
    absl::StatusOr<EnrollResult> r = Enroll(Options(Token("gw1"), sub));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Mode(dir_->File(sub)), mode);
    if (mode == 0750) {
      ASSERT_EQ(r->warnings.size(), 1u);
      EXPECT_TRUE(absl::StrContains(r->warnings[0], "mode 0750"))
          << r->warnings[0];
      EXPECT_TRUE(
          absl::StrContains(r->warnings[0], "chmod 700 " + dir_->File(sub)))
          << r->warnings[0];
    } else {
      EXPECT_TRUE(r->warnings.empty()) << mode << ": " << r->warnings[0];
    }
    // Nested and missing: made 0700, whatever the umask.
    const mode_t umask_before = umask(0);
    r = Enroll(Options(Token("gw1"), sub + "/new/state"));
    umask(umask_before);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Mode(dir_->File(sub + "/new/state")), 0700);
    EXPECT_TRUE(r->warnings.empty());
  }
}

// A state dir that group or others may write to is refused with the fix,
// before anything is written or sent (the token still works after it);
// enroll made it 0700 and went on.
TEST_F(EnrollTest, AStateDirOthersMayWriteToIsRefused) {
  const std::string token = Token();
  const std::string dir = dir_->File("s");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  for (const int mode : {0770, 0720, 0702, 01777}) {
    ASSERT_EQ(chmod(dir.c_str(), mode), 0);
    absl::StatusOr<EnrollResult> r = Enroll(Options(token, "s"));
    ASSERT_FALSE(r.ok()) << mode;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
        << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(),
                                  absl::StrFormat("mode %04o", mode)))
        << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "chmod 700 " + dir))
        << r.status();
    EXPECT_EQ(Mode(dir), mode);
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << mode;
  }
  ASSERT_EQ(chmod(dir.c_str(), 0700), 0);
  EXPECT_TRUE(Enroll(Options(token, "s")).ok());
}

// A state dir another user owns is refused with the fix (run as root,
// the only user that can give a directory away).
TEST_F(EnrollTest, AStateDirOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string token = Token();
  const std::string dir = dir_->File("s");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(chown(dir.c_str(), 65534, 65534), 0);
  absl::StatusOr<EnrollResult> r = Enroll(Options(token, "s"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
      << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "owned by uid 65534"))
      << r.status();
  EXPECT_TRUE(
      absl::StrContains(r.status().message(), absl::StrCat("chown 0 ", dir)))
      << r.status();
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  ASSERT_EQ(chown(dir.c_str(), 0, 0), 0);
  EXPECT_TRUE(Enroll(Options(token, "s")).ok());
}

TEST_F(EnrollTest, BadOptionsAreRefusedBeforeAnyNetwork) {
  struct Case {
    std::function<void(EnrollOptions&)> change;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {[](EnrollOptions& o) { o.ca = "nohost"; }, "--ca:"},
           {[](EnrollOptions& o) { o.ca_fingerprint = "SHA256:short"; },
            "--ca-fingerprint"},
           {[](EnrollOptions& o) { o.token = ""; }, "--token"},
           {[](EnrollOptions& o) { o.name = "bad name"; }, "--name"},
           {[](EnrollOptions& o) { o.state_dir = ""; }, "--state-dir"}}) {
    EnrollOptions o = Options("t", "s");
    c.change(o);
    absl::StatusOr<EnrollResult> r = Enroll(o);
    ASSERT_FALSE(r.ok()) << c.expected;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.expected))
        << r.status();
  }
  EXPECT_FALSE(Exists(dir_->File("s")));
}

TEST_F(EnrollTest, TheCommandPrintsTheOutcome) {
  std::ostringstream out, err;
  EXPECT_EQ(RunEnrollCommand(Options(Token(), "s"), out, err), 0) << err.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "Enrolled gateway gw1"));
  EXPECT_TRUE(absl::StrContains(out.str(), "sallyport-gateway serve --config"));
  std::ostringstream out2, err2;
  EnrollOptions bad = Options("secret-token-value", "t");
  EXPECT_EQ(RunEnrollCommand(bad, out2, err2), 1);
  EXPECT_TRUE(absl::StrContains(err2.str(), "join token refused"))
      << err2.str();
  EXPECT_FALSE(absl::StrContains(err2.str(), "secret-token-value"));
}

// The token from a file, or from stdin (`--token-file -`, `--token -`),
// so it is not in ps or the shell's history; with the real binary.
TEST_F(EnrollTest, TheTokenIsReadFromAFileOrStdin) {
  const std::string binary =
      testing::RunfilePath("gateway/sallyport-gateway-enroll");
  auto enroll = [&](const std::string& sub, std::vector<std::string> token_args,
                    const std::string& stdin_data = "") {
    std::vector<std::string> argv = {binary,
                                     "enroll",
                                     "--ca",
                                     env_->server().address(),
                                     "--ca-fingerprint",
                                     env_->init().tls_fingerprint,
                                     "--state-dir",
                                     dir_->File(sub),
                                     "--name",
                                     "gw1"};
    argv.insert(argv.end(), token_args.begin(), token_args.end());
    testing::RunOptions o;
    o.stdin_data = stdin_data;
    o.timeout = absl::Seconds(60);
    absl::StatusOr<testing::RunResult> r = testing::RunCommand(argv, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::RunResult();
  };
  const std::string file = dir_->File("token");
  ASSERT_TRUE(testing::WriteFile(file, Token() + "\n", 0600).ok());
  testing::RunResult r = enroll("a", {"--token-file", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "Enrolled gateway gw1")) << r.out;
  EXPECT_TRUE(Exists(dir_->File("a/gateway.yaml")));

  r = enroll("b", {"--token-file", "-"}, Token("gw1") + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Exists(dir_->File("b/gateway.yaml")));
  r = enroll("c", {"--token", "-"}, Token("gw1") + "\r\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Exists(dir_->File("c/gateway.yaml")));

  // Refusals: nothing is enrolled and the token is never printed.
  const std::string unused = Token("gw1");
  ASSERT_TRUE(testing::WriteFile(file, unused + "\n", 0600).ok());
  r = enroll("d", {"--token", unused, "--token-file", file});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.err, "excludes")) << r.err;
  r = enroll("d", {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err,
                                "--token-file PATH (or --token) is "
                                "required"))
      << r.err;
  r = enroll("d", {"--token-file", dir_->File("no-such-file")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "--token-file: cannot read ")) << r.err;
  r = enroll("d", {"--token-file", "-"}, "\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "empty first line")) << r.err;
  EXPECT_FALSE(Exists(dir_->File("d")));
  EXPECT_FALSE(absl::StrContains(r.err + r.out, unused));
  // The unused token still enrols: none of the refusals reached the CA.
  r = enroll("e", {"--token-file", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace sallyport::gateway
