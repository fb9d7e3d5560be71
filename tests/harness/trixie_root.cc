#include "tests/harness/trixie_root.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::testing {
namespace {

// Written last into a finished root, before the rename.
constexpr char kMarker[] = "/.sallyport-trixie-root";
constexpr char kMirror[] = "http://deb.debian.org/debian";

absl::StatusOr<std::string> CacheDir() {
  std::string base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/') {
    base = xdg;
  } else {
    // Not $HOME: Bazel points it at the test's private directory.
    const passwd* pw = getpwuid(getuid());
    if (pw == nullptr || pw->pw_dir == nullptr) {
      return absl::FailedPreconditionError("no home directory for our uid");
    }
    base = absl::StrCat(pw->pw_dir, "/.cache");
  }
  std::string dir = base + "/sallyport";
  for (const std::string& d : {base, dir}) {
    if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("mkdir ", d, ": ", std::strerror(errno)));
    }
  }
  return dir;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Bazel's test PATH lacks the sbin directories the root's programs use.
RunOptions WithPath(RunOptions options) {
  options.env.emplace("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
  return options;
}

}  // namespace

absl::Status BuildDirectoryOnce(
    const std::string& target, const std::string& marker,
    const std::string& lock_path, const std::string& work_parent,
    absl::FunctionRef<absl::Status(const TempDir& work)> build) {
  if (Exists(target + marker)) return absl::OkStatus();
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
  if (Exists(target + marker)) return absl::OkStatus();  // built meanwhile

  auto work = TempDir::Create("build.tmp", work_parent);
  if (!work.ok()) return work.status();
  if (absl::Status built = build(*work); !built.ok()) return built;
  const std::string fresh = work->File("new");
  if (absl::Status marked = WriteFile(fresh + marker, "finished\n");
      !marked.ok()) {
    return marked;
  }
  if (Exists(target)) {
    // Unfinished, from an interrupted run (no marker): move it into the
    // work dir, which is deleted below.
    if (rename(target.c_str(), work->File("stale").c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("rename ", target, ": ", std::strerror(errno)));
    }
  }
  if (rename(fresh.c_str(), target.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("rename to ", target, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrixieRoot> TrixieRoot::Get() {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "the trixie root needs root (debootstrap and chroot)");
  }
  absl::StatusOr<std::string> cache = CacheDir();
  if (!cache.ok()) return cache.status();
  const std::string root = *cache + "/trixie-root";
  absl::Status ready = BuildDirectoryOnce(
      root, kMarker, *cache + "/trixie-root.lock", *cache,
      [](const TempDir& work) -> absl::Status {
        RunOptions opts = WithPath({});
        opts.timeout = absl::Minutes(30);
        auto built =
            RunCommandOk({"/usr/sbin/debootstrap", "--variant=minbase",
                          "--include=openssh-client,openssh-server,openssl",
                          "trixie", work.File("new"), kMirror},
                         opts);
        if (!built.ok()) {
          return absl::UnavailableError(
              absl::StrCat("debootstrap of Debian trixie failed: ",
                           built.status().message()));
        }
        return absl::OkStatus();
      });
  if (!ready.ok()) return ready;
  return TrixieRoot(root);
}

absl::StatusOr<TrixieRoot::Dir> TrixieRoot::MakeDir(
    const std::string& prefix) const {
  auto dir = TempDir::Create(prefix, path_ + "/tmp");
  if (!dir.ok()) return dir.status();
  std::string inside = dir->path().substr(path_.size());
  return Dir{std::move(*dir), std::move(inside)};
}

std::vector<std::string> TrixieRoot::Command(
    const std::vector<std::string>& argv) const {
  std::vector<std::string> full = {"/usr/sbin/chroot", path_};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

absl::StatusOr<RunResult> TrixieRoot::Run(const std::vector<std::string>& argv,
                                          const RunOptions& options) const {
  return RunCommand(Command(argv), WithPath(options));
}

absl::StatusOr<RunResult> TrixieRoot::RunOk(
    const std::vector<std::string>& argv, const RunOptions& options) const {
  return RunCommandOk(Command(argv), WithPath(options));
}

}  // namespace sallyport::testing
