// A file `spctl sessions export` writes: as PATH.partial, renamed to PATH
// once complete, so a failed or interrupted export leaves no cut-off
// recording and keeps an older file. A recording may hold passwords typed
// at a prompt, and PATH may be in a directory others can write to (/tmp):
// PATH.partial is created new (never through a link someone planted, never
// reusing a file someone else opened), owner-only from its first byte,
// removed when Ctrl-C or kill ends spctl, and an existing PATH is replaced
// only when asked. Internal to spctl_lib.
#ifndef SALLYPORT_CLI_PARTIAL_FILE_H_
#define SALLYPORT_CLI_PARTIAL_FILE_H_

#include <atomic>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sallyport::cli {

class PartialFile {
 public:
  // Creates PATH.partial, mode 0600 from the start (O_CREAT|O_EXCL|
  // O_NOFOLLOW: never an existing file or a symbolic link), and has it
  // removed if SIGINT, SIGTERM or SIGHUP ends the process before Commit
  // (RemovePartialFilesNow). Errors name PATH ("cannot write PATH: ...");
  // kAlreadyExists when PATH exists and `replace` is false (checked again
  // at Commit), or when PATH.partial exists (left by an export that was
  // killed, or planted): with `replace` a PATH.partial that exists is
  // removed first (the link itself, never what it points to). A directory
  // at PATH is never replaced ("Is a directory").
  static absl::StatusOr<std::unique_ptr<PartialFile>> Create(std::string path,
                                                             bool replace);
  // Removes PATH.partial unless committed.
  ~PartialFile();
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  const std::string& path() const { return path_; }
  std::string partial() const { return path_ + ".partial"; }
  // Where the contents go. Once a write failed (a full disk) the stream is
  // in error and error() is "cannot write PATH: <why>".
  std::ostream& stream() { return stream_; }
  bool failed() const { return !stream_; }
  std::string error() const;
  // Writes out what is buffered, closes PATH.partial and renames it to
  // PATH: over an existing PATH only with `replace` (kAlreadyExists
  // otherwise, and PATH.partial is removed). Errors name PATH.
  absl::Status Commit();

 private:
  // A stream buffer over a file descriptor that keeps the errno of a
  // failed write.
  class FdBuf : public std::streambuf {
   public:
    explicit FdBuf(int fd);
    int error() const { return error_; }
    bool Drain();

   protected:
    int_type overflow(int_type ch) override;
    int sync() override;

   private:
    int fd_;
    int error_ = 0;
    char buf_[64 << 10];
  };

  PartialFile(std::string path, bool replace, int fd);

  std::string path_;
  bool replace_;
  int fd_;
  // Where partial() is registered for RemovePartialFilesNow.
  std::atomic<const char*>* slot_ = nullptr;
  bool committed_ = false;
  std::unique_ptr<FdBuf> buf_;
  std::ostream stream_;
};

// What the SIGINT/SIGTERM/SIGHUP handler does (async-signal-safe: unlink of
// the fixed list of PATH.partial files not yet committed), for tests.
void RemovePartialFilesNow();

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_PARTIAL_FILE_H_
