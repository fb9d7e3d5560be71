#include "tests/interop/pq_backports_ssh.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"

namespace sallyport::testing {
namespace {

constexpr char kDir[] = "/opt/sallyport-openssh-backports";
constexpr char kMarker[] = "/.sallyport-done";
constexpr char kSources[] =
    "deb http://deb.debian.org/debian trixie-backports main\n";

}  // namespace

absl::StatusOr<std::string> BackportsSsh(const TrixieRoot& root) {
  mkdir((root.path() + "/opt").c_str(), 0755);
  absl::Status ready = BuildDirectoryOnce(
      root.path() + kDir, kMarker,
      root.path() + "/opt/.sallyport-backports.lock", root.path() + "/tmp",
      [&root](const TempDir& work) -> absl::Status {
        if (auto s = WriteFile(work.File("sources.list"), kSources); !s.ok()) {
          return s;
        }
        // The work dir as the root's programs see it.
        const std::string w = work.path().substr(root.path().size());
        const std::string apt_options = absl::StrCat(
            "-q -o Dir::Etc::SourceList=", w, "/sources.list",
            " -o Dir::Etc::SourceParts=- -o Dir::State::Lists=", w, "/lists",
            " -o Dir::Cache=", w, "/cache -o APT::Sandbox::User=root");
        const std::string script = absl::StrCat(
            "set -e; cd ", w, "; mkdir -p lists/partial cache/archives/partial",
            "; apt-get ", apt_options, " update; apt-get ", apt_options,
            " download openssh-client/trixie-backports; ",
            "dpkg-deb -x openssh-client_*.deb new; "
            "new/usr/bin/ssh -G -o WarnWeakCrypto=yes localhost >/dev/null");
        RunOptions run;
        run.timeout = absl::Minutes(10);
        auto fetched = root.RunOk({"/bin/sh", "-c", script}, run);
        if (!fetched.ok()) {
          return absl::UnavailableError(absl::StrCat(
              "fetching openssh-client from trixie-backports failed: ",
              fetched.status().message()));
        }
        return absl::OkStatus();
      });
  if (!ready.ok()) return ready;
  return std::string(kDir) + "/usr/bin/ssh";
}

}  // namespace sallyport::testing
