// Reading small text files (keys, certificates, authorized_keys) and
// writing files atomically, in one place.
#ifndef SALLYPORT_BASE_FILES_H_
#define SALLYPORT_BASE_FILES_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sallyport::base {

inline constexpr size_t kMaxTextFileSize = 4 << 20;

// The whole contents of the regular file at `path`. Every error names the
// file and says why: the errno code and "cannot read PATH: No such file or
// directory" (kNotFound), "...: Permission denied" (kPermissionDenied) when
// it cannot be opened or read; kInvalidArgument "cannot read PATH: Is a
// directory" for a directory, "PATH is not a regular file" for another
// kind of file, and "PATH is larger than N bytes" past `max_size`.
// The file (a private key) is read straight into the string returned and
// any storage it outgrew is wiped, so the string is the only copy left in
// memory: the caller wipes it when it holds a secret.
absl::StatusOr<std::string> ReadTextFile(const std::string& path,
                                         size_t max_size = kMaxTextFileSize);

// ReadTextFile for a file a user names on a command line or in a config,
// which may also be a pipe or a character device (`--password-file
// <(pass show x)`, /dev/stdin): read to its end, up to `max_size`, with
// the same errors.
absl::StatusOr<std::string> ReadTextFileOrPipe(
    const std::string& path, size_t max_size = kMaxTextFileSize);

// A secret (a password) from the first line of the file at `path` ("-" is
// standard input; the file may be a pipe, `--password-file <(pass show x)`),
// without its line end ("\n" or "\r\n"). When the file cannot be read,
// ReadTextFileOrPipe's error naming it and why ("cannot read PATH: Is a
// directory"); kInvalidArgument "PATH: empty first line" or "PATH: the
// first line is not valid UTF-8". The rest of the file is wiped from memory.
absl::StatusOr<std::string> ReadFirstLine(const std::string& path);

// Writes `data` to `path` atomically with permission bits `mode`: a new
// temporary file `path`.tmp.XXXXXX of its own (mkostemp, O_CLOEXEC), fsync,
// rename. Concurrent writers of one path each rename a whole file of
// their own (the last one wins), and a file or link at another temporary
// name is never touched. kFailedPrecondition "cannot write PATH: WHY" when
// it cannot; the temporary file is then removed.
absl::Status WriteFileAtomic(const std::string& path, std::string_view data,
                             int mode);

// WriteFileAtomic in two steps, for files that must change together (a
// key and its certificate): Write writes `data` whole under a temporary
// name beside `path` (mode `mode`, fsynced) and Commit renames it onto
// `path`. Stage every file first, then commit them one after the other:
// a failed write then replaces nothing, and the files change within a few
// renames of each other. A StagedFile destroyed without a successful
// Commit removes its temporary file. Errors as WriteFileAtomic's.
class StagedFile {
 public:
  static absl::StatusOr<StagedFile> Write(const std::string& path,
                                          std::string_view data, int mode);
  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();

  // Puts the file in place (once).
  absl::Status Commit();
  const std::string& path() const { return path_; }

 private:
  StagedFile(std::string path, std::string tmp)
      : path_(std::move(path)), tmp_(std::move(tmp)) {}
  std::string path_;
  std::string tmp_;  // empty once committed or moved from
};

// fsync of the directory that holds `path`, so that the renames into it
// (WriteFileAtomic, StagedFile::Commit) so far survive a crash, before
// any later one. kFailedPrecondition "cannot sync DIR: WHY".
absl::Status SyncDirectoryOf(const std::string& path);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_FILES_H_
