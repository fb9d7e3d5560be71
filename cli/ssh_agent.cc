#include "cli/ssh_agent.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/sp_home.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

extern char** environ;

namespace sallyport::cli {

bool AgentAvailable() {
  const char* sock = std::getenv("SSH_AUTH_SOCK");
  return sock != nullptr && sock[0] != '\0';
}

absl::Status RunQuietly(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) {
    posix_spawn_file_actions_addopen(&actions, fd, "/dev/null",
                                     fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", argv[0], ": ", strerror(rc)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(argv[0], " failed (status ", status, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Captured> RunCapture(const std::vector<std::string>& argv) {
  constexpr size_t kMaxOutput = 1 << 20;
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::FailedPreconditionError("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", argv[0], ": ", strerror(rc)));
  }
  Captured out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.out.size() < kMaxOutput)
      out.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

absl::StatusOr<std::vector<std::string>> AgentList() {
  absl::StatusOr<Captured> r = RunCapture({"ssh-add", "-L"});
  if (!r.ok()) return r.status();
  // Exit 1 with "The agent has no identities." on stdout.
  if (r->exit_status == 1) return std::vector<std::string>();
  if (r->exit_status != 0) {
    return absl::FailedPreconditionError("cannot list the agent's keys");
  }
  std::vector<std::string> lines;
  for (absl::string_view line :
       absl::StrSplit(r->out, '\n', absl::SkipEmpty())) {
    lines.emplace_back(absl::StripAsciiWhitespace(line));
  }
  return lines;
}

absl::Status AgentRemoveLine(const std::string& line,
                             const std::string& scratch_path) {
  if (absl::Status st = WriteFileAtomic(scratch_path, line + "\n", 0600);
      !st.ok()) {
    return st;
  }
  absl::Status st = RunQuietly({"ssh-add", "-q", "-d", scratch_path});
  (void)RemoveFile(scratch_path);
  return st;
}

std::vector<std::string> SallyportAgentLines(
    const std::vector<std::string>& agent_lines, const std::string& user,
    const std::vector<std::string>& user_ca_keys) {
  std::vector<ssh::crypto::PublicKey> cas;
  for (const std::string& k : user_ca_keys) {
    absl::StatusOr<ssh::crypto::PublicKey> ca =
        ssh::crypto::PublicKey::FromAuthorizedKeysLine(k);
    if (ca.ok()) cas.push_back(*ca);
  }
  std::vector<ssh::crypto::PublicKey> certified;
  std::vector<std::string> out;
  for (const std::string& line : agent_lines) {
    absl::StatusOr<ssh::cert::Certificate> cert =
        ssh::cert::Certificate::FromLine(line);
    if (!cert.ok() || cert->key_id != user || !cert->signature_key) continue;
    bool ours = false;
    for (const auto& ca : cas) ours = ours || ca == *cert->signature_key;
    if (!ours) continue;
    out.push_back(line);
    certified.push_back(cert->key);
  }
  for (const std::string& line : agent_lines) {
    absl::StatusOr<ssh::crypto::PublicKey> key =
        ssh::crypto::PublicKey::FromAuthorizedKeysLine(line);
    if (!key.ok()) continue;
    for (const auto& k : certified) {
      if (k == *key) {
        out.push_back(line);
        break;
      }
    }
  }
  return out;
}

absl::Status AgentAdd(const std::string& key_path, absl::Duration lifetime) {
  int64_t seconds =
      absl::ToInt64Seconds(absl::Ceil(lifetime, absl::Seconds(1)));
  if (seconds < 1) seconds = 1;
  return RunQuietly({"ssh-add", "-q", "-t", std::to_string(seconds), key_path});
}

absl::Status AgentRemove(const std::string& key_path) {
  return RunQuietly({"ssh-add", "-q", "-d", key_path});
}

}  // namespace sallyport::cli
