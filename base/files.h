// Reading small text files (keys, certificates, authorized_keys) and
// writing files atomically, in one place.
#ifndef SALLYPORT_BASE_FILES_H_
#define SALLYPORT_BASE_FILES_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sallyport::base {

inline constexpr size_t kMaxTextFileSize = 4 << 20;

// The whole contents of the regular file at `path`. kNotFound / errno
// codes when it cannot be opened or read; kInvalidArgument when it is not a
// regular file or is larger than `max_size`.
absl::StatusOr<std::string> ReadTextFile(const std::string& path,
                                         size_t max_size = kMaxTextFileSize);

// Writes `data` to `path` atomically (a temporary file `path`.tmp, fsync,
// rename) with permission bits `mode`. kFailedPrecondition naming the path
// and the reason when it cannot.
absl::Status WriteFileAtomic(const std::string& path, std::string_view data,
                             int mode);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_FILES_H_
