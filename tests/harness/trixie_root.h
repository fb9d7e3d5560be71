// A Debian 13 (trixie) root file system, made with debootstrap, holding
// OpenSSH 10 (ssh, sshd) and OpenSSL 3.5: peers nobody here wrote, for the
// post-quantum key exchange. Built once per user and cached under
// $XDG_CACHE_HOME/sallyport/trixie-root (default ~/.cache, ~ from the
// password database); concurrent tests serialise on a lock file and the root
// appears by an atomic rename, so a half-built root is never used. Its
// programs run through chroot, which needs root (tests run as root).
#ifndef SALLYPORT_TESTS_HARNESS_TRIXIE_ROOT_H_
#define SALLYPORT_TESTS_HARNESS_TRIXIE_ROOT_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

class TrixieRoot {
 public:
  // The cached root, building it first if needed (several minutes, needs
  // http://deb.debian.org). Errors say why it could not be built.
  static absl::StatusOr<TrixieRoot> Get();

  const std::string& path() const { return path_; }

  // A fresh directory inside the root: `inside` is its path as programs in
  // the chroot see it, `outside` (TempDir) as we do. Deleted with the TempDir.
  struct Dir {
    TempDir outside;
    std::string inside;
  };
  absl::StatusOr<Dir> MakeDir(const std::string& prefix) const;

  // Runs argv inside the root: chroot ROOT argv...
  absl::StatusOr<RunResult> Run(const std::vector<std::string>& argv,
                                const RunOptions& options = {}) const;
  absl::StatusOr<RunResult> RunOk(const std::vector<std::string>& argv,
                                  const RunOptions& options = {}) const;
  // The argv prefix that runs a program inside the root.
  std::vector<std::string> Command(const std::vector<std::string>& argv) const;

 private:
  explicit TrixieRoot(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A directory made once and cached (the trixie root, things added to it):
// `target` is finished when `target + marker` exists, and then this returns
// at once. Otherwise, holding an exclusive flock on `lock_path` (concurrent
// callers wait, then find it finished), `build(work)` makes the new
// directory at `work + "/new"`, where `work` is a fresh TempDir under
// `work_parent` (same file system as `target`); the marker is written into
// it and it is renamed to `target`, after moving aside an unfinished
// `target` left by an interrupted run. Errors come from `build` or the
// file system.
absl::Status BuildDirectoryOnce(
    const std::string& target, const std::string& marker,
    const std::string& lock_path, const std::string& work_parent,
    absl::FunctionRef<absl::Status(const TempDir& work)> build);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_TRIXIE_ROOT_H_
