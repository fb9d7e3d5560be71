// sp config's files from a ListMyHosts answer: the Host blocks, the
// @cert-authority lines, hostile names from the CA that must not reach
// the file, paths that need quoting, and --install's idempotent edit of
// ~/.ssh/config. The same files under the real `ssh -G` are in
// tests/e2e/sp_config_e2e_test.
#include "cli/sp_config.h"

#include <sys/stat.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "cli/sp_home.h"
#include "gtest/gtest.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::cli {
namespace {

namespace v1 = ::sallyport::ca::v1;
using std::string_literals::operator""s;

// A host CA key (a real Ed25519 public key: RenderSpConfig parses it).
constexpr char kHostCaData[] =
    "AAAAC3NzaC1lZDI1NTE5AAAAIIpAH2KGrcY6GV57cg+nSNHUWr3vPH9Yc00nw2fpgcCF";
const std::string kHostCa = absl::StrCat("ssh-ed25519 ", kHostCaData);

SpConfigInput Input() {
  SpConfigInput in;
  in.user = "alice";
  in.ca = "127.0.0.1:7443";
  in.key = "/h/.sallyport/alice";
  in.certificate = "/h/.sallyport/alice-cert.pub";
  in.known_hosts = "/h/.sallyport/known_hosts";
  in.ssh_config = "/h/.sallyport/ssh_config";
  in.principals = {"root", "deploy"};
  in.host_ca_keys = {kHostCa};
  return in;
}

v1::MyHost* AddHost(v1::ListMyHostsResponse* r, const std::string& name,
                    std::vector<std::string> logins) {
  v1::MyHost* h = r->add_hosts();
  h->set_name(name);
  h->set_address("10.0.0.1");
  h->set_port(22);
  for (const std::string& l : logins) h->add_logins(l);
  return h;
}

v1::ListMyHostsResponse Sample() {
  v1::ListMyHostsResponse r;
  v1::GatewayAddress* g = r.add_gateways();
  g->set_host("gw.example.com");
  g->set_port(2222);
  AddHost(&r, "web01", {"root"});
  AddHost(&r, "db01", {"deploy", "root"});
  return r;
}

TEST(SpConfigTest, HostBlocksForTheGatewayAndEachHost) {
  auto files = RenderSpConfig(Input(), Sample());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->hosts, 2u);
  EXPECT_TRUE(files->skipped.empty());
  const std::string& c = files->ssh_config;
  EXPECT_EQ(ConfigHostNames(c),
            (std::vector<std::string>{"gw.example.com", "web01", "db01"}));
  const std::string identity =
      "  CertificateFile \"/h/.sallyport/alice-cert.pub\"\n"
      "  IdentityFile \"/h/.sallyport/alice\"\n"
      "  IdentitiesOnly yes\n"
      "  UserKnownHostsFile \"/h/.sallyport/known_hosts\"\n"
      "  StrictHostKeyChecking yes\n";
  EXPECT_TRUE(absl::StrContains(
      c, absl::StrCat("Host gw.example.com\n  Port 2222\n  User root\n",
                      identity)))
      << c;
  EXPECT_TRUE(absl::StrContains(
      c, absl::StrCat("Host web01\n  ProxyJump gw.example.com\n  User root\n",
                      identity)))
      << c;
  // Two logins: no User line (ssh LOGIN@db01).
  EXPECT_TRUE(absl::StrContains(
      c, "Host db01\n  ProxyJump gw.example.com\n  # logins: deploy, root"))
      << c;
  EXPECT_FALSE(absl::StrContains(c, "Host *")) << c;
  EXPECT_TRUE(absl::StrContains(c, "Include \"/h/.sallyport/ssh_config\""));
  EXPECT_EQ(files->known_hosts,
            "# Written by `sp config`: the Sallyport host CA, for the gateway "
            "and the inventory hosts only.\n"
            "@cert-authority [gw.example.com]:2222,web01,db01 " +
                kHostCa + "\n");
}

// With the KRL's path, every Host block checks it (RevokedHostKeys, the
// path quoted like the others); without, none does.
TEST(SpConfigTest, EveryHostBlockChecksTheRevokedHostKeys) {
  SpConfigInput in = Input();
  in.revoked_host_keys = "/h/.sallyport/revoked_host_keys";
  auto files = RenderSpConfig(in, Sample());
  ASSERT_TRUE(files.ok()) << files.status();
  const std::string line =
      "  StrictHostKeyChecking yes\n"
      "  RevokedHostKeys \"/h/.sallyport/revoked_host_keys\"\n";
  size_t n = 0;
  for (size_t at = files->ssh_config.find(line); at != std::string::npos;
       at = files->ssh_config.find(line, at + 1)) {
    ++n;
  }
  EXPECT_EQ(n, ConfigHostNames(files->ssh_config).size()) << files->ssh_config;
  EXPECT_EQ(n, 3u);
  in.revoked_host_keys = "/h/.sallyport/bad\"path";
  EXPECT_EQ(RenderSpConfig(in, Sample()).status().code(),
            absl::StatusCode::kInvalidArgument);
  files = RenderSpConfig(Input(), Sample());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_FALSE(absl::StrContains(files->ssh_config, "RevokedHostKeys"));
}

// The KRL as the real ssh-keygen -Q reads it: a host key revoked by key
// (and a certificate on it: a revoked gateway's host certificate and its
// recorded-jump target certificates are on its host key), a host
// certificate revoked by serial; a certificate with another serial on
// another key is not. Bad input from the CA is refused.
TEST(HostRevocationsKrlTest, SshKeygenFindsTheRevokedKeysAndSerials) {
  absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("krl");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<testing::KeyPair> ca =
      testing::GenerateKey(dir->path(), "host_ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  std::vector<testing::KeyPair> hosts;
  std::vector<std::string> certs;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<testing::KeyPair> key =
        testing::GenerateKey(dir->path(), absl::StrCat("host", i));
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> cert = testing::SignWithSshKeygen(
        ca->private_path, key->public_path, absl::StrCat("web0", i),
        absl::StrCat("web0", i), "-5m:+1h", /*host=*/true,
        {"-z", absl::StrCat(70 + i)});
    ASSERT_TRUE(cert.ok()) << cert.status();
    hosts.push_back(*key);
    certs.push_back(*cert);
  }
  absl::StatusOr<ssh::crypto::PublicKey> key0 =
      ssh::crypto::PublicKey::FromAuthorizedKeysLine(hosts[0].public_line);
  ASSERT_TRUE(key0.ok()) << key0.status();
  std::vector<v1::Revocation> revocations(3);
  revocations[0].set_id(1);
  revocations[0].set_key_fingerprint(key0->FingerprintSha256());
  revocations[1].set_id(2);
  revocations[1].set_serial(71);
  revocations[2].set_id(3);
  revocations[2].set_serial(4242);  // a user certificate's, say
  size_t entries = 0;
  absl::StatusOr<std::string> krl =
      HostRevocationsKrl({ca->public_line}, revocations, absl::Now(), &entries);
  ASSERT_TRUE(krl.ok()) << krl.status();
  EXPECT_EQ(entries, 3u);
  const std::string path = dir->File("revoked_host_keys");
  ASSERT_TRUE(base::WriteFileAtomic(path, *krl, 0644).ok());
  absl::StatusOr<testing::RunResult> q =
      testing::RunCommand({"ssh-keygen", "-Q", "-f", path, hosts[0].public_path,
                           certs[0], certs[1], certs[2], hosts[2].public_path});
  ASSERT_TRUE(q.ok()) << q.status();
  const std::vector<std::string> lines =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(q->out), '\n');
  ASSERT_EQ(lines.size(), 5u) << q->Describe();
  EXPECT_TRUE(absl::EndsWith(lines[0], ": REVOKED")) << lines[0];
  EXPECT_TRUE(absl::EndsWith(lines[1], ": REVOKED")) << lines[1];
  EXPECT_TRUE(absl::EndsWith(lines[2], ": REVOKED")) << lines[2];
  EXPECT_TRUE(absl::EndsWith(lines[3], ": ok")) << lines[3];
  EXPECT_TRUE(absl::EndsWith(lines[4], ": ok")) << lines[4];

  // Without a host CA key the serials are left out and not counted; a
  // serial listed twice counts once.
  revocations.push_back(revocations[0]);
  krl = HostRevocationsKrl({}, revocations, absl::Now(), &entries);
  ASSERT_TRUE(krl.ok()) << krl.status();
  EXPECT_EQ(entries, 1u);
  ASSERT_TRUE(base::WriteFileAtomic(path, *krl, 0644).ok());
  q = testing::RunCommand(
      {"ssh-keygen", "-Q", "-f", path, hosts[0].public_path, certs[1]});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(absl::StrContains(q->out, ": REVOKED")) << q->Describe();
  EXPECT_TRUE(absl::StrContains(q->out, ": ok")) << q->Describe();

  // No revocations: a KRL that revokes nothing (ssh needs the file).
  krl = HostRevocationsKrl({ca->public_line}, {}, absl::Now(), &entries);
  ASSERT_TRUE(krl.ok()) << krl.status();
  EXPECT_EQ(entries, 0u);
  ASSERT_TRUE(base::WriteFileAtomic(path, *krl, 0644).ok());
  q = testing::RunCommand({"ssh-keygen", "-Q", "-f", path, certs[1]});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(absl::StrContains(q->out, ": ok")) << q->Describe();

  v1::Revocation bad;
  bad.set_id(4);
  bad.set_key_fingerprint("SHA256:nonsense");
  EXPECT_EQ(
      HostRevocationsKrl({ca->public_line}, {bad}, absl::Now()).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HostRevocationsKrl({"ssh-ed25519 notakey"}, {}, absl::Now())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SpConfigTest, HostileNamesFromTheCaAreLeftOut) {
  v1::ListMyHostsResponse r = Sample();
  for (const char* bad :
       {"*", "web 02", "web03\n  ProxyCommand sh -c evil", "web04\rx", "!x",
        "web05,*", "-oProxyCommand=x", "we\"b06", "", "web07 *"}) {
    AddHost(&r, bad, {"root"});
  }
  AddHost(&r, "web08", {"root\n  ProxyCommand evil", "ok-login"});
  AddHost(&r, "web09", {"bad login"});
  AddHost(&r, "web10\0\nHost *\n  ProxyCommand evil"s, {"root"});
  auto files = RenderSpConfig(Input(), r);
  ASSERT_TRUE(files.ok()) << files.status();
  const std::string& c = files->ssh_config;
  EXPECT_EQ(
      ConfigHostNames(c),
      (std::vector<std::string>{"gw.example.com", "web01", "db01", "web08"}));
  EXPECT_EQ(files->skipped.size(), 11u);
  EXPECT_FALSE(absl::StrContains(c, "ProxyCommand")) << c;
  EXPECT_FALSE(absl::StrContains(c, "*")) << c;
  EXPECT_FALSE(absl::StrContains(files->known_hosts, "*"))
      << files->known_hosts;
  EXPECT_TRUE(absl::StrContains(c,
                                "Host web08\n  ProxyJump gw.example.com\n"
                                "  User ok-login\n"))
      << c;
  // Every line is a comment, blank, a Host line or an indented option.
  for (absl::string_view line : absl::StrSplit(c, '\n')) {
    EXPECT_TRUE(line.empty() || absl::StartsWith(line, "#") ||
                absl::StartsWith(line, "Host ") || absl::StartsWith(line, "  "))
        << line;
  }
}

// Found in review: a gateway address was taken when inet_pton took it,
// and inet_pton reads up to the first NUL, so "10.0.0.1\0\nHost *\n
// ProxyCommand ..." from a hostile CA became a `Host *` block with a
// ProxyCommand in the user's ssh_config. Every gateway address goes
// through rbac::ValidateForwardDestination; one that fails refuses the
// whole file (it is the ProxyJump of every host).
TEST(SpConfigTest, ABadGatewayAddressRefusesTheFile) {
  const std::string nul_v4 = "10.0.0.1\0\nHost *\n  ProxyCommand sh -c evil"s;
  const std::string nul_v6 = "::1\0\nHost *\n  ProxyCommand sh -c evil"s;
  for (const auto& [host, port] :
       std::vector<std::pair<std::string, int>>{{nul_v4, 22},
                                                {nul_v6, 2222},
                                                {"gw.example.com\0"s, 22},
                                                {"gw2 *", 22},
                                                {"gw\n  ProxyCommand evil", 22},
                                                {"*", 22},
                                                {"-oProxyCommand=x", 22},
                                                {"", 22},
                                                {"10.0.0.1", 0},
                                                {"10.0.0.1", 65536}}) {
    v1::ListMyHostsResponse r = Sample();
    v1::GatewayAddress* g = r.add_gateways();
    g->set_host(host);
    g->set_port(port);
    absl::StatusOr<SpConfigFiles> files = RenderSpConfig(Input(), r);
    ASSERT_FALSE(files.ok()) << base::EscapeControls(host) << "\n"
                             << base::EscapeControls(files->ssh_config);
    EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(files.status().message(),
                                 "the CA sent a gateway address that is not"))
        << files.status();
    EXPECT_TRUE(
        base::IsUtf8WithoutControls(std::string(files.status().message())))
        << base::EscapeControls(std::string(files.status().message()));
  }
  // Addresses that are addresses stay.
  for (const std::string good : {"10.0.0.1", "::1", "fe80::1", "GW.example"}) {
    v1::ListMyHostsResponse r;
    v1::GatewayAddress* g = r.add_gateways();
    g->set_host(good);
    g->set_port(22);
    EXPECT_TRUE(RenderSpConfig(Input(), r).ok()) << good;
  }
}

// Found in review: the host CA keys from the CA went into known_hosts as
// they came, so a newline in one (a hostile or broken CA) added lines of
// its choosing (an @cert-authority for every host, a @revoked). Each key
// is parsed and written again as "type base64"; one that is not a key
// refuses the whole file.
TEST(SpConfigTest, HostCaKeysAreWrittenAsParsed) {
  SpConfigInput in = Input();
  in.host_ca_keys = {kHostCa + " a comment\n@cert-authority * " + kHostCa};
  absl::StatusOr<SpConfigFiles> files = RenderSpConfig(in, Sample());
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(files.status().message(),
                               "the CA sent a host CA key that is not an SSH "
                               "public key: "))
      << files.status();
  EXPECT_EQ(files.status().message().find('\n'), absl::string_view::npos);
  for (const std::string& bad :
       {std::string("ssh-ed25519"), std::string("ssh-ed25519 AAAAhostca"),
        "ssh-ed25519-cert-v01@openssh.com " + std::string(kHostCaData),
        "ssh-rsa " + std::string(kHostCaData), std::string("")}) {
    in.host_ca_keys = {bad};
    EXPECT_FALSE(RenderSpConfig(in, Sample()).ok()) << bad;
    EXPECT_FALSE(CaKeyLine("host CA key", bad).ok()) << bad;
  }
  // A comment (the CA's text too) is not written.
  in.host_ca_keys = {kHostCa + " ca@example"};
  files = RenderSpConfig(in, Sample());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_TRUE(absl::EndsWith(files->known_hosts, " " + kHostCa + "\n"))
      << files->known_hosts;
  EXPECT_EQ(*CaKeyLine("user CA key", kHostCa + " x"), kHostCa);
}

TEST(SpConfigTest, NoGatewayMeansNoHostBlocksAndNoCaNames) {
  v1::ListMyHostsResponse r = Sample();
  r.clear_gateways();
  auto files = RenderSpConfig(Input(), r);
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(ConfigHostNames(files->ssh_config).empty());
  EXPECT_EQ(files->hosts, 0u);
  ASSERT_EQ(files->skipped.size(), 1u);
  EXPECT_FALSE(absl::StrContains(files->known_hosts, "@cert-authority"));
  // The host CA stays visible as a comment.
  EXPECT_TRUE(absl::StrContains(files->known_hosts, kHostCaData));
}

TEST(SpConfigTest, GatewayOnPort22AndIpv6AndManyHosts) {
  v1::ListMyHostsResponse r;
  v1::GatewayAddress* g = r.add_gateways();
  g->set_host("::1");
  g->set_port(22);
  for (int i = 0; i < 40; ++i) AddHost(&r, absl::StrCat("h", i), {"root"});
  auto files = RenderSpConfig(Input(), r);
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(
      absl::StrContains(files->ssh_config, "Host h0\n  ProxyJump [::1]\n"));
  EXPECT_FALSE(absl::StrContains(files->ssh_config, "Port"));
  // 41 names: two @cert-authority lines of at most 32.
  std::vector<std::string> lines =
      absl::StrSplit(files->known_hosts, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(lines[1], "@cert-authority ::1,h0,"));
  EXPECT_EQ(
      std::vector<std::string>(
          absl::StrSplit(
              std::vector<std::string>(absl::StrSplit(lines[1], ' '))[1], ','))
          .size(),
      kNamesPerCertAuthorityLine);
}

TEST(SpConfigTest, PathsAreQuotedAndPercentsDoubled) {
  EXPECT_EQ(*QuoteConfigPath("/a b/100%/k"), "\"/a b/100%%/k\"");
  for (const char* bad : {"rel/k", "", "/a\"b", "/a\nb", "/a\tb"}) {
    EXPECT_FALSE(QuoteConfigPath(bad).ok()) << bad;
  }
  SpConfigInput in = Input();
  in.key = "/h/x\"\n  ProxyCommand evil/alice";
  EXPECT_FALSE(RenderSpConfig(in, Sample()).ok());
}

TEST(SpConfigTest, InstallIsIdempotentKeepsABackupAndGoesOnTop) {
  char tmpl[] = "/tmp/spcfgXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string config = std::string(tmpl) + "/.ssh/config";
  const std::string include = IncludeLine("/h/.sallyport/ssh_config");

  // No ~/.ssh yet: created (0700) with the file (0600).
  auto first = InstallInclude(config, include);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  EXPECT_EQ(*ReadTextFile(config), include + "\n");
  struct stat st;
  ASSERT_EQ(stat((std::string(tmpl) + "/.ssh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(config.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A user's own config, with the line once further down (inside a Host
  // block, where it would apply only to that host).
  const std::string own =
      "# mine\nHost github.com\n  IdentityFile ~/.ssh/gh\n" + include +
      "\nHost *\n  ServerAliveInterval 30\n";
  ASSERT_TRUE(WriteFileAtomic(config, own, 0644).ok());
  auto second = InstallInclude(config, include);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(*second);
  const std::string expected =
      include +
      "\n# mine\nHost github.com\n  IdentityFile ~/.ssh/gh\nHost *\n"
      "  ServerAliveInterval 30\n";
  EXPECT_EQ(*ReadTextFile(config), expected);
  EXPECT_EQ(*ReadTextFile(config + ".sallyport-backup"), own);
  ASSERT_EQ(stat(config.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // the user's mode is kept

  // Twice more: nothing changes, the backup stays the user's original.
  for (int i = 0; i < 2; ++i) {
    auto again = InstallInclude(config, include);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);
    EXPECT_EQ(*ReadTextFile(config), expected);
    EXPECT_EQ(*ReadTextFile(config + ".sallyport-backup"), own);
  }
}

// Found in review: `sp login`'s fragment suggested `Include PATH` and `sp
// config` `Include "PATH"`, and --install knew only the second, so a user
// who had followed the first got a second Include of the same file on
// top. Either form (or another case, '=' after the keyword) is the line
// already installed; copies further down go, whatever their form.
TEST(SpConfigTest, InstallTakesTheIncludeInEitherForm) {
  char tmpl[] = "/tmp/spcfgXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string config = std::string(tmpl) + "/config";
  const std::string path = "/h/.sallyport/ssh_config";
  const std::string include = IncludeLine(path);
  EXPECT_EQ(include, "Include \"/h/.sallyport/ssh_config\"");
  for (const std::string& on_top :
       {"Include " + path, "  include \"" + path + "\"", "INCLUDE=" + path,
        "Include = \"" + path + "\"", "Include\t" + path + "  "}) {
    const std::string own = "# mine\n\n" + on_top + "\nHost gh\n  User git\n";
    ASSERT_TRUE(WriteFileAtomic(config, own, 0600).ok());
    absl::StatusOr<bool> changed = InstallInclude(config, include);
    ASSERT_TRUE(changed.ok()) << changed.status();
    EXPECT_FALSE(*changed) << on_top;
    EXPECT_EQ(*ReadTextFile(config), own) << on_top;
  }
  // Further down, in any form: moved to the top, once.
  const std::string own = "Host gh\n  User git\nInclude " + path +
                          "\n  include=\"" + path + "\"\nHost x\n";
  ASSERT_TRUE(WriteFileAtomic(config, own, 0600).ok());
  absl::StatusOr<bool> changed = InstallInclude(config, include);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(*ReadTextFile(config), include + "\nHost gh\n  User git\nHost x\n");
  // Another file, or several, is another line.
  for (const std::string& other :
       {"Include " + path + ".old", "Include " + path + " /etc/x",
        "Includes " + path, "# Include " + path}) {
    ASSERT_TRUE(WriteFileAtomic(config, other + "\n", 0600).ok());
    changed = InstallInclude(config, include);
    ASSERT_TRUE(changed.ok()) << changed.status();
    EXPECT_TRUE(*changed) << other;
    EXPECT_EQ(*ReadTextFile(config), include + "\n" + other + "\n") << other;
  }
  std::system(("rm -rf " + std::string(tmpl)).c_str());
}

// ~/.ssh/config as a link into a dotfiles repository: the linked file is
// edited and the link stays (it was replaced by a regular file, the
// repository's file left as it was). A second install with another
// include line keeps the first backup, the file before Sallyport's first
// change (it was overwritten). No backup is named for a new file.
TEST(SpConfigTest, InstallFollowsALinkAndKeepsTheFirstBackup) {
  char tmpl[] = "/tmp/spcfgXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(mkdir((dir + "/.ssh").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((dir + "/dotfiles").c_str(), 0700), 0);
  const std::string real = dir + "/dotfiles/ssh_config";
  const std::string own = "Host github.com\n  User git\n";
  ASSERT_TRUE(WriteFileAtomic(real, own, 0644).ok());
  const std::string link = dir + "/.ssh/config";
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);

  const std::string first_line = IncludeLine("/h/.sallyport/ssh_config");
  std::string backup;
  auto first = InstallInclude(link, first_line, &backup);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  struct stat st;
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(*ReadTextFile(real), first_line + "\n" + own);
  EXPECT_EQ(backup, real + ".sallyport-backup");
  EXPECT_EQ(*ReadTextFile(backup), own);

  const std::string second_line = IncludeLine("/other/ssh_config");
  auto second = InstallInclude(link, second_line, &backup);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(*second);
  EXPECT_EQ(*ReadTextFile(real), second_line + "\n" + first_line + "\n" + own);
  EXPECT_EQ(*ReadTextFile(real + ".sallyport-backup"), own);  // still the first

  // A link to nothing: refused, nothing written.
  const std::string dangling = dir + "/.ssh/dangling";
  ASSERT_EQ(symlink((dir + "/nowhere").c_str(), dangling.c_str()), 0);
  auto refused = InstallInclude(dangling, first_line);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(stat((dir + "/nowhere").c_str(), &st), 0);

  // A new file: no backup to name.
  auto fresh = InstallInclude(dir + "/.ssh/new_config", first_line, &backup);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(backup.empty()) << backup;
}

}  // namespace
}  // namespace sallyport::cli
