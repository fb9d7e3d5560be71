#include "tests/interop/pq_trixie_sshd.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing {

absl::StatusOr<std::unique_ptr<TrixieSshd>> TrixieSshd::Start(
    const TrixieRoot& root, const std::string& authorized_key_line,
    const std::vector<std::string>& extra_config) {
  auto dir = root.MakeDir("pqsshd");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<TrixieSshd> d(new TrixieSshd(std::move(*dir)));
  chmod(d->dir_.outside.path().c_str(), 0755);
  const std::string in = d->dir_.inside;
  auto keygen = root.RunOk({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            "trixie-sshd", "-f", in + "/ssh_host_key"});
  if (!keygen.ok()) return keygen.status();
  if (auto s = WriteFile(d->dir_.outside.File("authorized_keys"),
                         authorized_key_line + "\n");
      !s.ok()) {
    return s;
  }
  const std::string host_line(absl::StripTrailingAsciiWhitespace(
      ReadFileOrEmpty(d->host_public_key_path())));

  // A port can be taken between our probe and sshd's bind: retry a few times.
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    d->port_ = *port;
    std::string config = absl::StrCat(
        "Port ", d->port_, "\nListenAddress 127.0.0.1\n", "HostKey ", in,
        "/ssh_host_key\nPidFile ", in, "/sshd.pid\n", "AuthorizedKeysFile ", in,
        "/authorized_keys\n",
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nLogLevel DEBUG1\n"
        "MaxStartups 100:30:200\nMaxSessions 100\nPrintMotd no\n"
        "UseDNS no\n");
    for (const auto& line : extra_config) absl::StrAppend(&config, line, "\n");
    if (auto s = WriteFile(d->dir_.outside.File("sshd_config"), config);
        !s.ok()) {
      return s;
    }
    if (auto s = WriteFile(
            d->dir_.outside.File("known_hosts"),
            absl::StrCat("[127.0.0.1]:", d->port_, " ", host_line, "\n"));
        !s.ok()) {
      return s;
    }
    auto check = root.Run({"/usr/sbin/sshd", "-t", "-f", in + "/sshd_config"});
    if (!check.ok()) return check.status();
    if (!check->ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sshd -t rejected the config:\n", config, "\n", check->Describe()));
    }
    BackgroundProcess::Options po;
    po.log_path = d->dir_.outside.File("sshd.stderr");
    auto proc = BackgroundProcess::Start(
        root.Command({"/usr/sbin/sshd", "-D", "-f", in + "/sshd_config", "-E",
                      in + "/sshd.log"}),
        po);
    if (!proc.ok()) return proc.status();
    d->process_ = std::move(*proc);
    last = WaitForTcpListener("127.0.0.1", d->port_, absl::Seconds(10));
    if (last.ok() && d->process_->Running()) return d;
    d->process_.reset();
    if (d->Log().find("Address already in use") == std::string::npos) break;
  }
  return absl::UnavailableError(absl::StrCat(
      "trixie sshd did not start: ", last.message(), "\n--- sshd log ---\n",
      d->Log(), ReadFileOrEmpty(d->dir_.outside.File("sshd.stderr"))));
}

TrixieSshd::~TrixieSshd() {
  if (process_) process_->Stop();
}

}  // namespace sallyport::testing
