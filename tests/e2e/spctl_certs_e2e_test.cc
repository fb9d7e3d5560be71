// spctl hosts / tokens / certs / krl / ca against the real CA and the real
// OpenSSH tools (issue 15 "Done when"): `certs revoke --user` makes the CA
// refuse the user's certificate and shows in WatchRevocations; the KRL from
// `krl export` is read by `ssh-keygen -Q` and by sshd's RevokedKeys; `ca
// rotate` signs new certificates with the new key while sshd, trusting
// both, still takes an old one; a non-admin is refused by every admin verb.
#include <grpcpp/grpcpp.h>

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/ca.grpc.pb.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::ReadFileOrEmpty;
using sallyport::testing::RunCommand;
using sallyport::testing::RunCommandOk;
using sallyport::testing::SshClientArgs;
using sallyport::testing::SshdFixture;

class SpctlCertsTest : public SpctlTestBase {
 protected:
  void SetUp() override {
    SpctlTestBase::SetUp();
    // bob and carol may log in as the test's user (the "login" role).
    for (const char* u : {"bob", "carol"}) {
      AddUser(u, "login");
      ASSERT_TRUE(env_->Login(u, kPassword).ok());
    }
  }
  uint64_t Serial(const std::string& user) {
    auto r = RunCommandOk({"ssh-keygen", "-L", "-f", env_->CertPath(user)});
    std::smatch m;
    if (!r.ok() ||
        !std::regex_search(r->out, m, std::regex(R"(Serial: (\d+))"))) {
      return 0;
    }
    return std::stoull(m[1].str());
  }
  std::string SigningCa(const std::string& user) {
    auto r = RunCommandOk({"ssh-keygen", "-L", "-f", env_->CertPath(user)});
    std::smatch m;
    if (!r.ok() ||
        !std::regex_search(r->out, m,
                           std::regex(R"(Signing CA: \S+ (SHA256:\S+))"))) {
      return "";
    }
    return m[1].str();
  }
  // Runs `echo ok` over ssh as the test's user with `user`'s certificate.
  bool SshWorks(SshdFixture& sshd, const std::string& user) {
    auto args = SshClientArgs(sshd.port(), sshd.known_hosts_path(),
                              env_->KeyPath(user), env_->CertPath(user));
    args.push_back(env_->admin() + "@127.0.0.1");
    args.push_back("echo sallyport-ok");
    auto r = RunCommand(args);
    return r.ok() && r->ok() && r->out == "sallyport-ok\n";
  }
  admin::v1::ListCaKeysResponse CaKeys() {
    admin::v1::ListCaKeysResponse keys;
    auto r = env_->Spctl({"ca", "status", "--output", "json"});
    EXPECT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &keys).ok())
        << r.out;
    return keys;
  }
};

TEST_F(SpctlCertsTest, RevokeUserKrlAndSshd) {
  const uint64_t bob = Serial("bob");
  const uint64_t carol = Serial("carol");
  ASSERT_NE(bob, 0u);

  // A watcher on the revocation stream (the gateway's view), as the admin.
  const std::string home = env_->Home("admin");
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFileOrEmpty(home + "/ca.pem");
  tls.pem_private_key = ReadFileOrEmpty(home + "/tls.key");
  tls.pem_cert_chain = ReadFileOrEmpty(home + "/tls.crt");
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("sallyport-ca");
  auto channel = grpc::CreateCustomChannel(env_->ca().address(),
                                           grpc::SslCredentials(tls), args);
  auto stub = ca::v1::CertificateAuthority::NewStub(channel);

  // Before: bob's certificate works with sshd and the CA (as a non-admin
  // he is refused for lack of the role, not for his certificate).
  SshdFixture::Options options;
  options.config["TrustedUserCAKeys"] = env_->ca().user_ca_pub();
  const std::string krl = env_->Path("revoked.krl");
  options.config["RevokedKeys"] = krl;
  auto empty = env_->Spctl({"krl", "export", "-o", krl});
  ASSERT_TRUE(empty.ok()) << empty.Describe();
  auto sshd = SshdFixture::Start(options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  EXPECT_TRUE(SshWorks(**sshd, "bob"));
  EXPECT_EQ(env_->Spctl({"users", "ls"}, "bob").exit_code, 4);

  auto ls = env_->Spctl({"certs", "ls", "--user", "bob", "--active"});
  EXPECT_TRUE(absl::StrContains(ls.out, absl::StrCat("\n", bob, " ")))
      << ls.out;
  auto show = env_->Spctl({"certs", "show", std::to_string(bob)});
  EXPECT_TRUE(absl::StrContains(show.out, "Key ID:       bob")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "Revoked:      no\n")) << show.out;
  auto show_yaml =
      env_->Spctl({"certs", "show", std::to_string(bob), "--output", "yaml"});
  EXPECT_TRUE(absl::StrContains(show_yaml.out, "\nrevoked: false\n"))
      << show_yaml.out;
  EXPECT_EQ(env_->Spctl({"certs", "show", "999999"}).exit_code, 3);
  // A negative serial is a usage error (it was read as 2^64-1), and a
  // leading 0 is not octal (010 was serial 8).
  auto negative = env_->Spctl({"certs", "show", "-1"});
  EXPECT_EQ(negative.exit_code, 2) << negative.Describe();
  EXPECT_TRUE(absl::StrContains(negative.err, "SERIAL: want a decimal number"))
      << negative.err;
  EXPECT_EQ(env_->Spctl({"certs", "revoke", "--serial", "-1"}).exit_code, 2);
  auto padded = env_->Spctl({"certs", "show", absl::StrCat("00", bob)});
  EXPECT_TRUE(absl::StrContains(padded.out, "Key ID:       bob")) << padded.out;

  auto revoke = env_->Spctl(
      {"certs", "revoke", "--user", "bob", "--reason", "laptop stolen"});
  ASSERT_TRUE(revoke.ok()) << revoke.Describe();
  EXPECT_TRUE(absl::StrContains(revoke.out, absl::StrCat("serials ", bob)))
      << revoke.out;
  // show and ls say revoked, when, by whom, why, in every format (the
  // table of ls said it; show and the JSON/YAML did not).
  show = env_->Spctl({"certs", "show", std::to_string(bob)});
  EXPECT_TRUE(std::regex_search(
      show.out, std::regex(R"(\nRevoked:      \d{4}-\d\d-\d\d [\d:]+ UTC by )" +
                           env_->admin() + ": laptop stolen\n")))
      << show.out;
  auto show_json =
      env_->Spctl({"certs", "show", std::to_string(bob), "--output", "json"});
  EXPECT_TRUE(IsJson(show_json.out)) << show_json.out;
  EXPECT_TRUE(absl::StrContains(show_json.out, "\"revoked\": true"))
      << show_json.out;
  EXPECT_TRUE(absl::StrContains(show_json.out, "\"reason\": \"laptop stolen\""))
      << show_json.out;
  EXPECT_TRUE(absl::StrContains(show_json.out, "\"revoked_at\": \""))
      << show_json.out;
  auto revoked_yaml =
      env_->Spctl({"certs", "show", std::to_string(bob), "--output", "yaml"});
  EXPECT_TRUE(std::regex_search(
      revoked_yaml.out, std::regex(R"(\nrevoked: true\nrevocation:\n(  .*\n)*)"
                                   R"(  reason: "laptop stolen"\n)")))
      << revoked_yaml.out;
  auto ls_json = env_->Spctl({"certs", "ls", "--output", "json"});
  admin::v1::ListCertificatesResponse listed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(ls_json.out, &listed).ok())
      << ls_json.out;
  int seen_revoked = 0, seen_valid = 0;
  for (const admin::v1::IssuedCertificate& c : listed.certificates()) {
    if (c.serial() == bob) {
      ++seen_revoked;
      EXPECT_TRUE(c.revoked());
      EXPECT_EQ(c.revocation().reason(), "laptop stolen");
      EXPECT_EQ(c.revocation().serial(), bob);
    }
    if (c.serial() == carol) {
      ++seen_valid;
      EXPECT_FALSE(c.revoked());
      EXPECT_FALSE(c.has_revocation());
    }
  }
  EXPECT_EQ(seen_revoked, 1) << ls_json.out;
  EXPECT_EQ(seen_valid, 1) << ls_json.out;
  EXPECT_TRUE(absl::StrContains(ls_json.out, "\"revoked\": false"))
      << ls_json.out;

  // The CA refuses bob's certificate now (UNAUTHENTICATED, not "no role").
  auto refused = env_->Spctl({"users", "ls"}, "bob");
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_TRUE(absl::StrContains(refused.err, "did not accept your login"))
      << refused.err;
  // ... and the stream carries the serial.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    ca::v1::WatchRevocationsRequest req;
    auto reader = stub->WatchRevocations(&ctx, req);
    ca::v1::Revocation rev;
    bool seen = false;
    while (!seen && reader->Read(&rev)) seen = rev.serial() == bob;
    EXPECT_TRUE(seen);
    ctx.TryCancel();
  }
  auto active = env_->Spctl({"certs", "ls", "--user", "bob", "--active"});
  EXPECT_FALSE(absl::StrContains(active.out, absl::StrCat("\n", bob, " ")))
      << active.out;

  // The KRL: ssh-keygen -Q says revoked for bob, ok for carol.
  auto exported = env_->Spctl({"krl", "export", "-o", krl});
  ASSERT_TRUE(exported.ok()) << exported.Describe();
  auto q = RunCommand({"ssh-keygen", "-Q", "-f", krl, env_->CertPath("bob"),
                       env_->CertPath("carol")});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(absl::StrContains(q->out, "(bob): REVOKED")) << q->Describe();
  EXPECT_TRUE(absl::StrContains(q->out, "(carol): ok")) << q->Describe();
  // The real sshd with RevokedKeys refuses bob and lets carol in.
  EXPECT_FALSE(SshWorks(**sshd, "bob"));
  EXPECT_TRUE(SshWorks(**sshd, "carol"));
  EXPECT_TRUE(absl::StrContains((*sshd)->Log(), "revoked")) << (*sshd)->Log();

  // Revoking carol's key (by fingerprint) and a serial.
  auto fp =
      RunCommandOk({"ssh-keygen", "-l", "-f", env_->KeyPath("carol") + ".pub"});
  ASSERT_TRUE(fp.ok());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(fp->out, m, std::regex(R"((SHA256:\S+))")));
  EXPECT_EQ(
      env_->Spctl({"certs", "revoke", "--key", "SHA256:nonsense"}).exit_code,
      2);
  EXPECT_TRUE(env_->Spctl({"certs", "revoke", "--key", m[1].str()}).ok());
  ASSERT_TRUE(env_->Spctl({"krl", "export", "-o", krl}).ok());
  q = RunCommand({"ssh-keygen", "-Q", "-f", krl, env_->CertPath("carol")});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(absl::StrContains(q->out, "(carol): REVOKED")) << q->Describe();
  auto again =
      env_->Spctl({"certs", "revoke", "--serial", std::to_string(carol)});
  EXPECT_TRUE(again.ok()) << again.Describe();
  EXPECT_EQ(env_->Spctl({"certs", "revoke"}).exit_code, 2);
  // A serial no SSH certificate has (a typo?): revoked (it may be an mTLS
  // certificate's), but the admin is told (it said only "Revoked").
  auto unknown = env_->Spctl({"certs", "revoke", "--serial", "999999"});
  EXPECT_TRUE(unknown.ok()) << unknown.Describe();
  EXPECT_TRUE(absl::StrContains(
      unknown.err, "no SSH certificate this CA issued has serial 999999"))
      << unknown.Describe();
  EXPECT_FALSE(absl::StrContains(again.err, "no SSH certificate"))
      << again.Describe();
}

TEST_F(SpctlCertsTest, RotateSignsWithTheNewKeyAndOldCertificatesStayTrusted) {
  const std::string before = SigningCa("bob");
  auto status = env_->Spctl({"ca", "status"});
  EXPECT_TRUE(absl::StrContains(status.out, before)) << status.out;

  auto rotate = env_->Spctl({"ca", "rotate"});
  ASSERT_TRUE(rotate.ok()) << rotate.Describe();
  admin::v1::ListCaKeysResponse keys = CaKeys();
  std::string bundle, active, retired;
  for (const auto& k : keys.keys()) {
    if (k.purpose() != "user") continue;
    absl::StrAppend(&bundle, k.public_key(), "\n");
    (k.state() == "active" ? active : retired) = k.fingerprint();
  }
  EXPECT_EQ(retired, before);
  EXPECT_NE(active, before);
  status = env_->Spctl({"ca", "status"});
  EXPECT_TRUE(std::regex_search(
      status.out,
      std::regex("user\\s+retired\\s+" +
                 std::regex_replace(before, std::regex(R"([+/])"), "."))))
      << status.out;

  // carol logs in again: signed by the new key; bob keeps the old one.
  ASSERT_TRUE(env_->Login("carol", kPassword).ok());
  EXPECT_EQ(SigningCa("carol"), active);
  EXPECT_EQ(SigningCa("bob"), before);

  // `ca target-keys` prints what targets must trust now: both keys (no
  // session CA key here), the lines ListCaKeys has.
  auto target_keys = env_->Spctl({"ca", "target-keys"});
  ASSERT_TRUE(target_keys.ok()) << target_keys.Describe();
  for (const auto& k : keys.keys()) {
    if (k.purpose() != "user") continue;
    EXPECT_TRUE(absl::StrContains(target_keys.out, k.public_key() + "\n"))
        << target_keys.out;
  }
  EXPECT_EQ(target_keys.out.size(), bundle.size()) << target_keys.out;
  EXPECT_TRUE(absl::StrContains(target_keys.err, "the user CA keys"))
      << target_keys.err;
  const std::string trusted = env_->Path("trusted.pub");
  auto written = env_->Spctl({"ca", "target-keys", "-o", trusted});
  ASSERT_TRUE(written.ok()) << written.Describe();
  EXPECT_EQ(ReadFileOrEmpty(trusted), target_keys.out);

  // sshd trusting them (both keys) takes both certificates.
  SshdFixture::Options options;
  options.config["TrustedUserCAKeys"] = trusted;
  auto sshd = SshdFixture::Start(options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  EXPECT_TRUE(SshWorks(**sshd, "bob"));
  EXPECT_TRUE(SshWorks(**sshd, "carol"));
}

// `spctl hosts edit` changes a host's address, port, trust or pinned key in
// place (the only way was rm and add again, which lost its labels): only
// the options given change, the CA checks the values as for `hosts add`,
// and `hosts show` and the audit log show the new ones.
TEST_F(SpctlCertsTest, HostsEditChangesOnlyWhatIsGiven) {
  ASSERT_TRUE(env_->Spctl({"hosts", "add", "web01", "--address", "127.0.0.1",
                           "--port", "2200", "--label", "env=dev"})
                  .ok());
  auto show = [&] {
    auto r = env_->Spctl({"hosts", "show", "web01"});
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.out;
  };
  auto address = env_->Spctl({"hosts", "edit", "web01", "--address", "db.lan"});
  ASSERT_TRUE(address.ok()) << address.Describe();
  EXPECT_EQ(address.out, "Updated host web01\n");
  std::string shown = show();
  EXPECT_TRUE(absl::StrContains(shown, "Address:  db.lan\n")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "Port:     2200\n")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "Labels:   env=dev\n")) << shown;

  ASSERT_TRUE(env_->Spctl({"hosts", "edit", "WEB01", "--port", "2222"}).ok());
  shown = show();
  EXPECT_TRUE(absl::StrContains(shown, "Address:  db.lan\n")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "Port:     2222\n")) << shown;

  // Pinning needs a key: none given and none stored is the CA's refusal,
  // saying what to give (it said "not an OpenSSH public key line" of the
  // empty key; found by a QA run).
  auto no_key =
      env_->Spctl({"hosts", "edit", "web01", "--trust", "pinned-key"});
  EXPECT_EQ(no_key.exit_code, 2) << no_key.Describe();
  EXPECT_TRUE(absl::StrContains(
      no_key.err,
      "host key: trust pinned-key needs the host's public key (an OpenSSH "
      "public key line, e.g. the host's /etc/ssh/ssh_host_ed25519_key.pub; "
      "spctl: --host-key FILE)"))
      << no_key.Describe();
  auto first = sallyport::testing::GenerateKey(env_->Path(""), "first");
  auto second = sallyport::testing::GenerateKey(env_->Path(""), "second");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(env_->Spctl({"hosts", "edit", "web01", "--trust", "pinned-key",
                           "--host-key", first->public_path})
                  .ok());
  shown = show();
  EXPECT_TRUE(absl::StrContains(shown, "Trust:    pinned-key\n")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "Host key: " + first->public_line))
      << shown;
  ASSERT_TRUE(
      env_->Spctl({"hosts", "edit", "web01", "--host-key", second->public_path})
          .ok());
  shown = show();
  EXPECT_TRUE(absl::StrContains(shown, "Trust:    pinned-key\n")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "Host key: " + second->public_line))
      << shown;
  EXPECT_TRUE(absl::StrContains(shown, "Port:     2222\n")) << shown;

  // Refused: an unknown host (3), values the CA refuses (2, saying why),
  // nothing to change (2); the host is as it was.
  auto unknown = env_->Spctl({"hosts", "edit", "web09", "--port", "22"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.Describe();
  // A port is a decimal number from 1 (spctl's check: 0x16 is not 22).
  for (const std::string bad : {"70000", "0x16", "0"}) {
    auto port = env_->Spctl({"hosts", "edit", "web01", "--port", bad});
    EXPECT_EQ(port.exit_code, 2) << port.Describe();
    EXPECT_TRUE(absl::StrContains(
        port.err, "--port: want a decimal number from 1 to 65535"))
        << port.Describe();
  }
  auto bad_address =
      env_->Spctl({"hosts", "edit", "web01", "--address", "db.lan;id"});
  EXPECT_EQ(bad_address.exit_code, 2) << bad_address.Describe();
  EXPECT_TRUE(absl::StrContains(bad_address.err, "host address"))
      << bad_address.Describe();
  auto nothing = env_->Spctl({"hosts", "edit", "web01"});
  EXPECT_EQ(nothing.exit_code, 2) << nothing.Describe();
  EXPECT_TRUE(absl::StrContains(nothing.err,
                                "nothing to change: pass --address, --port, "
                                "--trust or --host-key"))
      << nothing.Describe();
  EXPECT_EQ(show(), shown);

  // Each edit is an admin.UpdateHost event naming what it set.
  auto log = env_->Spctl({"audit", "export", "--json"});
  ASSERT_TRUE(log.ok()) << log.Describe();
  int edits = 0;
  for (absl::string_view line : absl::StrSplit(log.out, '\n')) {
    if (!absl::StrContains(line, "\"type\":\"admin.UpdateHost\"")) continue;
    ++edits;
    if (absl::StrContains(line, "\"code\":\"OK\"") &&
        absl::StrContains(line, "\"port\":2222")) {
      EXPECT_TRUE(absl::StrContains(line, "\"address\":\"db.lan\"")) << line;
    }
  }
  // (The ports spctl refused never reached the CA.)
  EXPECT_EQ(edits, 6) << log.out;
}

TEST_F(SpctlCertsTest, ALabelValueWithACommaIsShownQuoted) {
  // One label, team, whose value holds ",env=prod": printed as it was,
  // "team=a,env=prod" read as two labels, env=prod among them, which no
  // role selecting env=prod matches (nor a deny rule on it).
  auto add = env_->Spctl({"hosts", "add", "lab01", "--address", "127.0.0.1",
                          "--label", "team=a,env=prod"});
  ASSERT_TRUE(add.ok()) << add.Describe();
  const std::string role =
      env_->WriteFile("team.yaml",
                      "name: team-a\n"
                      "logins: [deploy]\n"
                      "hosts:\n"
                      "  - labels: {team: \"a,env=prod\"}\n"
                      "channels: [shell]\n");
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f", role}).ok());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"hosts", "ls"},
                                             {"hosts", "show", "lab01"},
                                             {"hosts", "label", "lab01", "k=1"},
                                             {"roles", "ls"}}) {
    RunResult r = env_->Spctl(args);
    ASSERT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.out, "team=\"a,env=prod\"")) << r.out;
    EXPECT_FALSE(absl::StrContains(r.out, "team=a,")) << r.out;
  }
  // An empty value and a quote in one are quoted too.
  RunResult r = env_->Spctl({"hosts", "label", "lab01", "k=", "q=say \"hi\""});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "k=\"\"")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "q=\"say \\x22hi\\x22\"")) << r.out;
}

TEST_F(SpctlCertsTest, HostsAndTokens) {
  auto add = env_->Spctl({"hosts", "add", "web01", "--address", "127.0.0.1",
                          "--port", "2200", "--label", "env=dev"});
  ASSERT_TRUE(add.ok()) << add.Describe();
  EXPECT_EQ(env_->Spctl({"hosts", "add", "web02", "--address", "a", "--label",
                         "novalue"})
                .exit_code,
            2);
  auto label =
      env_->Spctl({"hosts", "label", "web01", "team=a", "--remove", "env"});
  ASSERT_TRUE(label.ok()) << label.Describe();
  EXPECT_EQ(label.err, "");
  // A key given twice, or set and removed at once, is a usage error that
  // names it (the last value was kept without a word); a bad label given
  // as a word is not called --label. A key to remove that the host lacks
  // is said (a typo went unnoticed).
  for (const auto& [args, err] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"hosts", "label", "web01", "k=1", "k=2"},
            "spctl: label k=2: k is given twice; give each key once\n"},
           {{"hosts", "add", "web09", "--address", "a", "--label", "k=1",
             "--label", "k=2"},
            "spctl: --label k=2: k is given twice; give each key once\n"},
           {{"hosts", "label", "web01", "k=1", "--remove", "k"},
            "spctl: label k is both set and removed (--remove)\n"},
           {{"hosts", "label", "web01", "=x"},
            "spctl: label =x: write KEY=VALUE\n"}}) {
    RunResult r = env_->Spctl(args);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_EQ(r.err, err) << r.Describe();
  }
  label = env_->Spctl({"hosts", "label", "web01", "--remove", "tema"});
  ASSERT_TRUE(label.ok()) << label.Describe();
  EXPECT_EQ(label.err, "spctl: web01 had no label tema to remove\n");
  auto show = env_->Spctl({"hosts", "show", "web01"});
  EXPECT_TRUE(absl::StrContains(show.out, "Labels:   team=a")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "Port:     2200")) << show.out;
  auto ls = env_->Spctl({"hosts", "ls"});
  EXPECT_TRUE(
      std::regex_search(ls.out, std::regex(R"(\nweb01\s+127\.0\.0\.1\s+2200)")))
      << ls.out;

  // hosts sign: a host certificate ssh-keygen reads, to stdout and -o.
  auto key = sallyport::testing::GenerateKey(env_->Path(""), "hostkey");
  ASSERT_TRUE(key.ok()) << key.status();
  auto sign =
      env_->Spctl({"hosts", "sign", "web01", "--public-key", key->public_path});
  ASSERT_TRUE(sign.ok()) << sign.Describe();
  EXPECT_TRUE(absl::StartsWith(sign.out, "ssh-ed25519-cert-v01@openssh.com "))
      << sign.out;
  // The private key file by mistake: refused here, never sent to the CA
  // (it was sent, and refused there as a key line with a line break).
  auto private_key = env_->Spctl(
      {"hosts", "sign", "web01", "--public-key", key->private_path});
  EXPECT_EQ(private_key.exit_code, 1) << private_key.Describe();
  EXPECT_TRUE(absl::StrContains(private_key.err,
                                "holds a private key (or PEM), not an OpenSSH "
                                "public key line: pass its .pub file"))
      << private_key.Describe();
  const std::string cert = env_->Path("hostkey-cert.pub");
  ASSERT_TRUE(env_->Spctl({"hosts", "sign", "web01", "--public-key",
                           key->public_path, "-o", cert})
                  .ok());
  auto l = RunCommandOk({"ssh-keygen", "-L", "-f", cert});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_TRUE(absl::StrContains(l->out, "host certificate")) << l->out;
  EXPECT_TRUE(absl::StrContains(l->out, "Key ID: \"web01\"")) << l->out;

  EXPECT_TRUE(env_->Spctl({"hosts", "rm", "web01"}).ok());
  EXPECT_EQ(env_->Spctl({"hosts", "show", "web01"}).exit_code, 3);

  // tokens create prints only the token; json the whole record.
  auto token =
      env_->Spctl({"tokens", "create", "--kind", "host", "--ttl", "2h"});
  ASSERT_TRUE(token.ok()) << token.Describe();
  EXPECT_TRUE(
      std::regex_match(token.out, std::regex(R"([A-Za-z0-9_-]{43}=?\n)")))
      << token.out;
  auto json = env_->Spctl(
      {"tokens", "create", "--kind", "gateway", "--output", "json"});
  EXPECT_TRUE(IsJson(json.out)) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"token_hash\"")) << json.out;
  EXPECT_EQ(env_->Spctl({"tokens", "create", "--kind", "laptop"}).exit_code, 2);
  EXPECT_EQ(env_->Spctl({"tokens", "create", "--kind", "host", "--ttl", "soon"})
                .exit_code,
            2);
  // Below a second: refused, not a token of the default hour (the TTL was
  // cut to whole seconds, 0, which the CA takes for "the default").
  for (const char* ttl : {"500ms", "999ms"}) {
    auto short_ttl =
        env_->Spctl({"tokens", "create", "--kind", "host", "--ttl", ttl});
    EXPECT_EQ(short_ttl.exit_code, 2) << ttl << " " << short_ttl.Describe();
    EXPECT_TRUE(absl::StrContains(short_ttl.err, "--ttl must be at least 1s"))
        << short_ttl.Describe();
  }
}

TEST_F(SpctlCertsTest, NonAdminIsRefusedByEveryAdminVerb) {
  const std::string role = env_->WriteFile("r.yaml", "name: r\nlogins: [x]\n");
  const std::string key = env_->KeyPath("bob") + ".pub";
  const std::vector<std::vector<std::string>> verbs = {
      {"users", "add", "mallory"},
      {"users", "ls"},
      {"users", "show", "carol"},
      {"users", "edit", "carol", "--display-name", "x"},
      {"users", "disable", "carol"},
      {"users", "enable", "carol"},
      {"users", "rm", "carol"},
      {"users", "reset-password", "carol"},
      {"users", "unlock", "carol"},
      {"users", "totp-enroll", "carol"},
      {"users", "totp-remove", "carol"},
      {"roles", "create", "-f", role},
      {"roles", "edit", "login", "-f", role},
      {"roles", "ls"},
      {"roles", "show", "login"},
      {"roles", "rm", "login"},
      {"bindings", "add", "bob", "admin"},
      {"bindings", "rm", "carol", "login"},
      {"bindings", "ls"},
      {"hosts", "add", "h1", "--address", "127.0.0.1"},
      {"hosts", "ls"},
      {"hosts", "show", "h1"},
      {"hosts", "label", "h1", "a=b"},
      {"hosts", "rm", "h1"},
      {"hosts", "sign", "h1", "--public-key", key, "--address", "127.0.0.1"},
      {"tokens", "create", "--kind", "host"},
      {"tokens", "ls"},
      {"tokens", "revoke", "1"},
      {"certs", "ls"},
      {"certs", "show", "1"},
      {"certs", "revoke", "--serial", "1"},
      {"certs", "revoke", "--user", "carol"},
      {"krl", "export", "-o", env_->Path("bob.krl")},
      {"ca", "status"},
      {"ca", "rotate"},
      {"access", "check", "carol", "x", "h1"},
  };
  for (const auto& verb : verbs) {
    auto r = env_->Spctl(verb, "bob");
    EXPECT_EQ(r.exit_code, 4)
        << absl::StrJoin(verb, " ") << ": " << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, "permission denied"))
        << absl::StrJoin(verb, " ") << ": " << r.err;
  }
  // Nothing changed.
  EXPECT_TRUE(env_->Login("carol", kPassword).ok());
}

}  // namespace
}  // namespace sallyport::e2e
