#include "cli/ssh_agent.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

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
