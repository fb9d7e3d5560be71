#include "tests/interop/pq_backports_ssh.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::testing {
namespace {

constexpr char kDir[] = "/opt/sallyport-openssh-backports";
constexpr char kMarker[] = "/.sallyport-done";
constexpr char kSources[] =
    "deb http://deb.debian.org/debian trixie-backports main\n";

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<std::string> BackportsSsh(const TrixieRoot& root) {
  const std::string inside_ssh = std::string(kDir) + "/usr/bin/ssh";
  const std::string outside = root.path() + kDir;
  if (Exists(outside + kMarker)) return inside_ssh;

  const std::string lock_path = root.path() + "/opt/.sallyport-backports.lock";
  int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    if (lock >= 0) close(lock);
    return absl::InternalError(
        absl::StrCat("lock ", lock_path, ": ", std::strerror(errno)));
  }
  struct Unlock {
    int fd;
    ~Unlock() { close(fd); }
  } unlock{lock};
  if (Exists(outside + kMarker)) return inside_ssh;  // fetched meanwhile

  auto work = root.MakeDir("backports");
  if (!work.ok()) return work.status();
  if (auto s = WriteFile(work->outside.File("sources.list"), kSources);
      !s.ok()) {
    return s;
  }
  const std::string w = work->inside;
  const std::string apt_options = absl::StrCat(
      "-q -o Dir::Etc::SourceList=", w, "/sources.list",
      " -o Dir::Etc::SourceParts=- -o Dir::State::Lists=", w, "/lists",
      " -o Dir::Cache=", w, "/cache -o APT::Sandbox::User=root");
  const std::string script = absl::StrCat(
      "set -e; cd ", w, "; mkdir -p lists/partial cache/archives/partial; ",
      "apt-get ", apt_options, " update; ", "apt-get ", apt_options,
      " download openssh-client/trixie-backports; ",
      "dpkg-deb -x openssh-client_*.deb unpacked; "
      "unpacked/usr/bin/ssh -G -o WarnWeakCrypto=yes localhost >/dev/null");
  RunOptions run;
  run.timeout = absl::Minutes(10);
  auto fetched = root.RunOk({"/bin/sh", "-c", script}, run);
  if (!fetched.ok()) {
    return absl::UnavailableError(
        absl::StrCat("fetching openssh-client from trixie-backports failed: ",
                     fetched.status().message()));
  }
  const std::string unpacked = work->outside.File("unpacked");
  if (auto s = WriteFile(unpacked + kMarker, "from trixie-backports\n");
      !s.ok()) {
    return s;
  }
  mkdir((root.path() + "/opt").c_str(), 0755);
  if (Exists(outside)) {
    // Left by an interrupted run (no marker): move it into the work dir,
    // which is deleted below.
    if (rename(outside.c_str(), work->outside.File("stale").c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("rename ", outside, ": ", std::strerror(errno)));
    }
  }
  if (rename(unpacked.c_str(), outside.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("rename to ", outside, ": ", std::strerror(errno)));
  }
  return inside_ssh;
}

}  // namespace sallyport::testing
