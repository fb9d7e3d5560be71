#include "tests/harness/sshd_fixture.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing {
namespace {

constexpr char kSshd[] = "/usr/sbin/sshd";  // sshd must be run by absolute path

std::map<std::string, std::string> DefaultConfig(uint16_t port) {
  return {
      {"Port", std::to_string(port)},
      {"ListenAddress", "127.0.0.1"},
      {"HostKey", "%DIR%/ssh_host_key"},
      {"PidFile", "%DIR%/sshd.pid"},
      {"AuthorizedKeysFile", "%DIR%/authorized_keys"},
      {"StrictModes", "no"},
      {"UsePAM", "no"},
      {"PasswordAuthentication", "no"},
      {"KbdInteractiveAuthentication", "no"},
      {"PermitRootLogin", "prohibit-password"},
      {"LogLevel", "DEBUG1"},
      {"Subsystem", "sftp /usr/lib/openssh/sftp-server"},
      {"AcceptEnv", "LANG LC_*"},
      {"MaxStartups", "100:30:200"},
      {"MaxSessions", "100"},
      {"PrintMotd", "no"},
      {"UseDNS", "no"},
      // Debian's bash sources ~/.bashrc for every command sshd runs (it
      // sees SSH_CLIENT at shell level 1); SHLVL=1 makes that bash level 2,
      // which skips it (interactive shells still read it). The tests' login
      // is the machine's user, whose rc is not ours: root's here runs
      // `pyenv init`, whose rehash waits up to 60 s for a lock while other
      // commands rehash: the likely cause of a command of
      // gateway_limits_e2e_test starting 58 s late in a full run, beside
      // the load tests' 200 sessions, whose targets read the rc then.
      {"SetEnv", "SHLVL=1"},
  };
}

}  // namespace

std::string CurrentUserName() {
  struct passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

absl::StatusOr<std::unique_ptr<SshdFixture>> SshdFixture::Start(
    Options options) {
  if (access(kSshd, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "sshd not found at /usr/sbin/sshd (install openssh-server: "
        "deploy/bootstrap.sh)");
  }
  auto dir = TempDir::Create("sshd");
  if (!dir.ok()) return dir.status();
  // sshd as root refuses to start without its privilege separation dir,
  // which only the package's service start would have created.
  if (geteuid() == 0) {
    mkdir("/run/sshd", 0755);
  }
  std::unique_ptr<SshdFixture> f(new SshdFixture(std::move(*dir)));
  // sshd reads everything as root, but the per-connection child runs as the
  // login user: keep the directory reachable.
  chmod(f->dir().c_str(), 0755);

  auto keygen =
      RunCommandOk({"ssh-keygen", "-q", "-t", options.host_key_type, "-N", "",
                    "-C", "sallyport-test-host", "-f", f->host_key_path()});
  if (!keygen.ok()) return keygen.status();
  f->host_public_key_ = std::string(absl::StripTrailingAsciiWhitespace(
      ReadFileOrEmpty(f->host_key_path() + ".pub")));

  // A port can be taken between our probe and sshd's bind: retry a few times.
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    f->port_ = *port;
    std::map<std::string, std::string> config = DefaultConfig(f->port_);
    for (const auto& [k, v] : options.config) config[k] = v;
    std::string text;
    for (const auto& [k, v] : config) {
      absl::StrAppend(&text, k, " ",
                      absl::StrReplaceAll(v, {{"%DIR%", f->dir()}}), "\n");
    }
    for (const auto& line : options.extra_lines) {
      absl::StrAppend(&text, absl::StrReplaceAll(line, {{"%DIR%", f->dir()}}),
                      "\n");
    }
    std::string config_path = f->dir_.File("sshd_config");
    if (auto s = WriteFile(config_path, text); !s.ok()) return s;
    if (auto s = WriteFile(f->authorized_keys_path(), "", 0644); !s.ok())
      return s;
    std::string host_line =
        absl::StrCat("[127.0.0.1]:", f->port_, " ", f->host_public_key_, "\n");
    if (auto s = WriteFile(f->known_hosts_path(), host_line); !s.ok()) return s;

    // Validate the configuration first so a typo is reported clearly.
    auto check = RunCommand({kSshd, "-t", "-f", config_path});
    if (!check.ok()) return check.status();
    if (!check->ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sshd -t rejected the config:\n", text, "\n", check->Describe()));
    }
    BackgroundProcess::Options po;
    po.log_path = f->log_path();
    auto proc = BackgroundProcess::Start(
        {kSshd, "-D", "-f", config_path, "-E", f->log_path()}, po);
    if (!proc.ok()) return proc.status();
    f->process_ = std::move(*proc);
    last = WaitForTcpListener("127.0.0.1", f->port_, absl::Seconds(10));
    if (last.ok() && f->process_->Running()) return f;
    f->process_.reset();
    if (f->Log().find("Address already in use") == std::string::npos) break;
  }
  return absl::UnavailableError(
      absl::StrCat("sshd did not start: ", last.message(),
                   "\n--- sshd log ---\n", f->Log()));
}

SshdFixture::~SshdFixture() {
  if (process_) process_->Stop();
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- sshd log (" << log_path() << ") ---\n"
              << Log() << "--- end ---\n";
  }
}

std::vector<std::string> SshClientArgs(uint16_t port,
                                       const std::string& known_hosts,
                                       const std::string& identity,
                                       const std::string& certificate) {
  std::vector<std::string> args = {
      "ssh",
      "-F",
      "/dev/null",
      "-p",
      std::to_string(port),
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "UserKnownHostsFile=" + known_hosts,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
      "-o",
      "ConnectTimeout=20",
      "-o",
      "ServerAliveInterval=0",
      "-i",
      identity,
  };
  if (!certificate.empty()) {
    args.push_back("-o");
    args.push_back("CertificateFile=" + certificate);
  }
  return args;
}

absl::StatusOr<KeyPair> GenerateKey(const std::string& dir,
                                    const std::string& name,
                                    const std::string& type) {
  KeyPair k;
  k.private_path = dir + "/" + name;
  k.public_path = k.private_path + ".pub";
  std::vector<std::string> argv = {
      "ssh-keygen", "-q", "-t", type, "-N",
      "",           "-C", name, "-f", k.private_path};
  if (type == "rsa") {
    argv.push_back("-b");
    argv.push_back("2048");
  }
  auto r = RunCommandOk(argv);
  if (!r.ok()) return r.status();
  k.public_line = std::string(
      absl::StripTrailingAsciiWhitespace(ReadFileOrEmpty(k.public_path)));
  return k;
}

absl::StatusOr<std::string> SignWithSshKeygen(
    const std::string& ca_private_path, const std::string& public_path,
    const std::string& key_id, const std::string& principals,
    const std::string& validity, bool host,
    const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {"ssh-keygen", "-q",   "-s", ca_private_path,
                                   "-I",         key_id, "-V", validity};
  if (!principals.empty()) {
    argv.push_back("-n");
    argv.push_back(principals);
  }
  if (host) argv.push_back("-h");
  for (const auto& a : extra_args) argv.push_back(a);
  argv.push_back(public_path);
  auto r = RunCommandOk(argv);
  if (!r.ok()) return r.status();
  std::string base(absl::StripSuffix(public_path, ".pub"));
  return base + "-cert.pub";
}

}  // namespace sallyport::testing
