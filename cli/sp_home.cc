#include "cli/sp_home.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/safe_text.h"

namespace sallyport::cli {

absl::StatusOr<SpHome> SpHome::FromEnvironment() {
  const char* home = std::getenv("SALLYPORT_HOME");
  if (home != nullptr && home[0] != '\0') return SpHome(home);
  const char* user_home = std::getenv("HOME");
  if (user_home == nullptr || user_home[0] == '\0') {
    return absl::FailedPreconditionError(
        "neither SALLYPORT_HOME nor HOME is set");
  }
  return SpHome(absl::StrCat(user_home, "/.sallyport"));
}

absl::Status SpHome::Ensure() const {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir_, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

std::string SpHome::Path(std::string_view name) const {
  return absl::StrCat(dir_, "/", std::string(name));
}

std::string SpHome::public_key(std::string_view user) const {
  return Path(absl::StrCat(std::string(user), ".pub"));
}

std::string SpHome::certificate(std::string_view user) const {
  return Path(absl::StrCat(std::string(user), "-cert.pub"));
}

absl::StatusOr<SpState> SpHome::ReadState() const {
  SpState state;
  absl::StatusOr<std::string> text = ReadTextFile(this->state());
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) return state;
    return text.status();
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, "ca=")) state.ca = std::string(line);
    if (absl::ConsumePrefix(&line, "user=")) state.user = std::string(line);
  }
  return state;
}

absl::Status SpHome::WriteState(const SpState& state) const {
  return WriteFileAtomic(
      this->state(), absl::StrCat("ca=", state.ca, "\nuser=", state.user, "\n"),
      0644);
}

absl::Status RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot remove ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status CheckHomeForSsh(const SpHome& home) {
  const std::string& dir = home.dir();
  const auto refuse = [&dir](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot use \"", base::EscapeControls(dir), "\" for sp's files: ", why,
        "; set SALLYPORT_HOME to a directory whose path has only A-Z a-z "
        "0-9 / . _ @ + , -"));
  };
  if (dir.empty() || dir[0] != '/') return refuse("not an absolute path");
  for (char c : dir) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("/._@+,-").find(c) == std::string_view::npos) {
      return refuse(absl::StrCat("ssh_config would need to quote its \"",
                                 base::EscapeControls(std::string(1, c)),
                                 "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckUserNameForFiles(std::string_view user) {
  bool ok =
      !user.empty() && user.size() <= 64 && user[0] != '.' && user[0] != '-';
  for (char c : user) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '@' && c != '-') {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "user names for sp are 1..64 characters of [A-Za-z0-9._@-], not "
        "starting with '.' or '-'");
  }
  return absl::OkStatus();
}

}  // namespace sallyport::cli
