#include "tests/harness/ssh_clients.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/harness/listening_process.h"

namespace sallyport::testing {
namespace {

constexpr char kPython[] = "/usr/bin/python3";  // Debian's, with the modules

absl::Status Need(const char* path, const char* package) {
  if (access(path, X_OK) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      path, " not found (install ", package, ": deploy/bootstrap.sh)"));
}

}  // namespace

std::string SshClientName(SshClientKind kind) {
  switch (kind) {
    case SshClientKind::kPlink:
      return "plink";
    case SshClientKind::kParamiko:
      return "paramiko";
    case SshClientKind::kAsyncssh:
      return "asyncssh";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<SshClients>> SshClients::Create() {
  for (const auto& [path, package] :
       {std::pair{"/usr/bin/plink", "putty-tools"},
        std::pair{"/usr/bin/pscp", "putty-tools"},
        std::pair{"/usr/bin/puttygen", "putty-tools"},
        std::pair{kPython, "python3"}}) {
    if (absl::Status st = Need(path, package); !st.ok()) return st;
  }
  for (const char* module : {"paramiko", "asyncssh"}) {
    absl::StatusOr<RunResult> r = RunCommand(
        {kPython, "-W", "ignore", "-c", absl::StrCat("import ", module)});
    if (!r.ok()) return r.status();
    if (!r->ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("python3 cannot import ", module, " (install python3-",
                       module, ": deploy/bootstrap.sh): ", r->err));
    }
  }
  absl::StatusOr<TempDir> dir = TempDir::Create("clients");
  if (!dir.ok()) return dir.status();
  return std::unique_ptr<SshClients>(new SshClients(std::move(*dir)));
}

RunOptions SshClients::Options() const {
  RunOptions ro;
  // PuTTY keeps its random seed and settings under $HOME/.putty.
  ro.env["HOME"] = dir_.path();
  ro.env["SSH_AUTH_SOCK"] = "";
  // The scripts run from the source tree (runfiles are symlinks): no
  // __pycache__ written next to them.
  ro.env["PYTHONDONTWRITEBYTECODE"] = "1";
  ro.timeout = absl::Seconds(120);
  return ro;
}

absl::StatusOr<std::string> SshClients::PuttyKey(const SshEndpoint& to) {
  const std::string ppk = dir_.File(absl::StrCat("key", ppk_count_++, ".ppk"));
  absl::StatusOr<RunResult> r =
      RunCommandOk({"puttygen", to.key, "--certificate", to.certificate, "-O",
                    "private", "-o", ppk},
                   Options());
  if (!r.ok()) return r.status();
  return ppk;
}

absl::StatusOr<std::vector<std::string>> SshClients::PuttyArgs(
    const SshEndpoint& to, const std::string& tool) {
  absl::StatusOr<std::string> ppk = PuttyKey(to);
  if (!ppk.ok()) return ppk.status();
  // plink -hostkey takes the SHA256 fingerprint of the expected key.
  const std::string pub = dir_.File("hostkey.pub");
  if (absl::Status st = WriteFile(pub, to.host_public_key + "\n"); !st.ok()) {
    return st;
  }
  absl::StatusOr<RunResult> fp =
      RunCommandOk({"ssh-keygen", "-l", "-E", "sha256", "-f", pub});
  if (!fp.ok()) return fp.status();
  const size_t start = fp->out.find("SHA256:");
  if (start == std::string::npos) {
    return absl::InternalError("no fingerprint in: " + fp->out);
  }
  const std::string fingerprint =
      fp->out.substr(start, fp->out.find(' ', start) - start);
  return std::vector<std::string>{
      tool,       "-batch", "-noagent", "-P", std::to_string(to.port),
      "-l",       to.user,  "-i",       *ppk, "-hostkey",
      fingerprint};
}

absl::StatusOr<RunResult> SshClients::Python(
    SshClientKind kind, const SshEndpoint& to,
    const std::vector<std::string>& op) {
  const std::string script = RunfilePath(absl::StrCat(
      "tests/harness/clients/", SshClientName(kind), "_client.py"));
  std::vector<std::string> argv = {
      kPython,  "-W",          "ignore", script,
      "--host", to.host,       "--port", std::to_string(to.port),
      "--user", to.user,       "--key",  to.key,
      "--cert", to.certificate};
  if (kind == SshClientKind::kAsyncssh && !to.known_hosts.empty()) {
    argv.insert(argv.end(), {"--known-hosts", to.known_hosts});
  } else {
    argv.insert(argv.end(), {"--host-key", to.host_public_key});
  }
  argv.insert(argv.end(), op.begin(), op.end());
  return RunCommand(argv, Options());
}

absl::StatusOr<RunResult> SshClients::Exec(SshClientKind kind,
                                           const SshEndpoint& to,
                                           const std::string& command) {
  if (kind != SshClientKind::kPlink) {
    return Python(kind, to, {"exec", command});
  }
  absl::StatusOr<std::vector<std::string>> argv = PuttyArgs(to, "plink");
  if (!argv.ok()) return argv.status();
  argv->insert(argv->end(), {"-T", to.host, command});
  return RunCommand(*argv, Options());
}

absl::StatusOr<RunResult> SshClients::Pscp(const SshEndpoint& endpoint,
                                           const std::string& protocol,
                                           const std::string& from,
                                           const std::string& to) {
  absl::StatusOr<std::vector<std::string>> argv = PuttyArgs(endpoint, "pscp");
  if (!argv.ok()) return argv.status();
  argv->insert(argv->end(), {"-q", protocol, from, to});
  return RunCommand(*argv, Options());
}

absl::StatusOr<RunResult> SshClients::Put(SshClientKind kind,
                                          const SshEndpoint& to,
                                          const std::string& local,
                                          const std::string& remote) {
  if (kind == SshClientKind::kPlink) {
    return Pscp(to, "-sftp", local, to.host + ":" + remote);
  }
  return Python(kind, to, {"put", local, remote});
}

absl::StatusOr<RunResult> SshClients::Get(SshClientKind kind,
                                          const SshEndpoint& to,
                                          const std::string& remote,
                                          const std::string& local) {
  if (kind == SshClientKind::kPlink) {
    return Pscp(to, "-sftp", to.host + ":" + remote, local);
  }
  return Python(kind, to, {"get", remote, local});
}

absl::StatusOr<RunResult> SshClients::ConcurrentSessions(
    const SshEndpoint& to, int count, const std::string& command,
    int64_t expect_bytes, int parallel, bool barrier) {
  RunOptions ro = Options();
  ro.timeout = absl::Minutes(10);
  std::vector<std::string> argv = {
      kPython,          "-W",
      "ignore",         RunfilePath("tests/harness/clients/load_sessions.py"),
      "--host",         to.host,
      "--port",         std::to_string(to.port),
      "--user",         to.user,
      "--key",          to.key,
      "--cert",         to.certificate,
      "--host-key",     to.host_public_key,
      "--count",        std::to_string(count),
      "--command",      command,
      "--expect-bytes", std::to_string(expect_bytes),
      "--parallel",     std::to_string(parallel)};
  if (barrier) argv.push_back("--barrier");
  return RunCommand(argv, ro);
}

}  // namespace sallyport::testing
