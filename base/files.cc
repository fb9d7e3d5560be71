#include "base/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "openssl/crypto.h"

namespace sallyport::base {

namespace {

// What a pipe (or a regular file that says it is empty, like those in
// /proc) is first read into; the buffer doubles as it fills.
constexpr size_t kFirstReadSize = 16 << 10;

// Makes `s` `size` bytes long (larger), wiping the storage it leaves: a
// std::string that grows in place of its own frees the old copy of what it
// held (a private key) without wiping it.
void GrowWiped(std::string* s, size_t size) {
  std::string larger(size, '\0');
  memcpy(larger.data(), s->data(), s->size());
  OPENSSL_cleanse(s->data(), s->size());
  s->swap(larger);
}

// ReadTextFile, and with `pipes` ReadTextFileOrPipe, into `contents`. The
// bytes are read straight into `contents`, never through a buffer of
// their own, and whatever `contents` held is wiped before it is freed
// (also on an error), so the only copy of a private key read here is the
// caller's.
absl::Status Read(const std::string& path, size_t max_size, bool pipes,
                  std::string* contents) {
  max_size = std::min(max_size, SIZE_MAX - 1);  // max_size + 1 is a size
  const std::string cannot_read = absl::StrCat("cannot read ", path);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, cannot_read);
  const auto too_large = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is larger than ", max_size, " bytes"));
  };
  absl::Status status;
  size_t size = 0;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    status = absl::ErrnoToStatus(errno, cannot_read);
  } else if (S_ISDIR(st.st_mode)) {
    // open() takes a directory; read() would say EISDIR, as this does.
    status = absl::InvalidArgumentError(
        absl::StrCat(cannot_read, ": ", strerror(EISDIR)));
  } else if (!S_ISREG(st.st_mode) &&
             !(pipes && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))) {
    status = absl::InvalidArgumentError(
        absl::StrCat(path, " is not a regular file"));
  } else if (S_ISREG(st.st_mode) &&
             static_cast<uint64_t>(st.st_size) > max_size) {
    status = too_large();
  } else {
    // A regular file's size, and a byte more to see its end in the same
    // read; the buffer grows only when the file grew since fstat or has
    // no size (a pipe, /proc).
    contents->assign(S_ISREG(st.st_mode) && st.st_size > 0
                         ? static_cast<size_t>(st.st_size) + 1
                         : std::min(kFirstReadSize, max_size + 1),
                     '\0');
    while (true) {
      if (size == contents->size()) {
        GrowWiped(contents, std::min(2 * size, max_size + 1));
      }
      const ssize_t n =
          read(fd, contents->data() + size, contents->size() - size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::ErrnoToStatus(errno, cannot_read);
        break;
      }
      if (n == 0) break;
      size += static_cast<size_t>(n);
      if (size > max_size) {
        status = too_large();
        break;
      }
    }
  }
  close(fd);
  if (!status.ok()) {
    OPENSSL_cleanse(contents->data(), contents->size());
    contents->clear();
    return status;
  }
  contents->resize(size);  // shrinks in place
  return absl::OkStatus();
}

// Read, into the string returned (one named StatusOr, so it is built
// where the caller gets it and never moved through a copy).
absl::StatusOr<std::string> ReadInPlace(const std::string& path,
                                        size_t max_size, bool pipes) {
  absl::StatusOr<std::string> contents(absl::in_place);
  if (absl::Status st = Read(path, max_size, pipes, &*contents); !st.ok()) {
    contents = std::move(st);
  }
  return contents;
}

}  // namespace

absl::StatusOr<std::string> ReadTextFile(const std::string& path,
                                         size_t max_size) {
  return ReadInPlace(path, max_size, /*pipes=*/false);
}

absl::StatusOr<std::string> ReadTextFileOrPipe(const std::string& path,
                                               size_t max_size) {
  return ReadInPlace(path, max_size, /*pipes=*/true);
}

absl::StatusOr<std::string> ReadFirstLine(const std::string& path) {
  std::string line;
  if (path == "-") {
    std::getline(std::cin, line);
  } else {
    absl::StatusOr<std::string> text = ReadTextFileOrPipe(path);
    if (!text.ok()) return text.status();
    line = text->substr(0, text->find('\n'));
    OPENSSL_cleanse(text->data(), text->size());
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty first line"));
  }
  if (!IsValidUtf8(line)) {
    OPENSSL_cleanse(line.data(), line.size());
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the first line is not valid UTF-8"));
  }
  return line;
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view data,
                             int mode) {
  absl::StatusOr<StagedFile> staged = StagedFile::Write(path, data, mode);
  if (!staged.ok()) return staged.status();
  return staged->Commit();
}

namespace {

absl::Status CannotWrite(const std::string& path, int error) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot write ", path, ": ", strerror(error)));
}

}  // namespace

absl::StatusOr<StagedFile> StagedFile::Write(const std::string& path,
                                             std::string_view data, int mode) {
  // A temporary name of its own for every write (mkostemp: O_CREAT|O_EXCL,
  // mode 0600). The fixed PATH.tmp was unlinked and created again, so two
  // writers of one file (two `sp` commands) removed or renamed each
  // other's half-written file, and whatever someone put at that name was
  // removed.
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return CannotWrite(path, errno);
  int error = 0;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (error == 0 && fchmod(fd, static_cast<mode_t>(mode)) != 0) error = errno;
  if (error == 0 && fsync(fd) != 0) error = errno;
  if (close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    unlink(tmp.c_str());
    return CannotWrite(path, error);
  }
  return StagedFile(path, std::move(tmp));
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)), tmp_(std::exchange(other.tmp_, "")) {}

StagedFile& StagedFile::operator=(StagedFile&& other) noexcept {
  if (this != &other) {
    if (!tmp_.empty()) unlink(tmp_.c_str());
    path_ = std::move(other.path_);
    tmp_ = std::exchange(other.tmp_, "");
  }
  return *this;
}

StagedFile::~StagedFile() {
  if (!tmp_.empty()) unlink(tmp_.c_str());
}

absl::Status StagedFile::Commit() {
  if (tmp_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write ", path_, ": already committed"));
  }
  if (rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    unlink(tmp_.c_str());
    tmp_.clear();
    return CannotWrite(path_, error);
  }
  tmp_.clear();
  return absl::OkStatus();
}

absl::Status SyncDirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const auto cannot = [&dir](int error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot sync ", dir, ": ", strerror(error)));
  };
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return cannot(errno);
  const int error = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return error == 0 ? absl::OkStatus() : cannot(error);
}

}  // namespace sallyport::base
