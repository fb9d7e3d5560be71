// Temporary directories that delete themselves.
#ifndef SALLYPORT_TESTS_HARNESS_TEMP_DIR_H_
#define SALLYPORT_TESTS_HARNESS_TEMP_DIR_H_

#include <string>

#include "absl/status/statusor.h"

namespace sallyport::testing {

class TempDir {
 public:
  // Creates a fresh directory (mode 0700) under `parent`, or under /tmp when
  // empty. /tmp is the default, not $TEST_TMPDIR, because sockets need short
  // paths and daemons running as other users must be able to reach it.
  static absl::StatusOr<TempDir> Create(const std::string& prefix = "sp",
                                        const std::string& parent = "");
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_TEMP_DIR_H_
