#include "cli/partial_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sallyport::cli {
namespace {

// The PATH.partial files not yet committed, for the signal handler: slots
// of C strings in chunks that are never freed, read with atomic loads
// (async-signal-safe, and safe when the signal lands on another thread, a
// gRPC one). Registered and unregistered from one thread at a time.
struct Chunk {
  std::atomic<const char*> paths[64] = {};
  std::atomic<Chunk*> next{nullptr};
};
Chunk g_partials;

// The strings the slots point to: kept for the life of the process (a
// handler on another thread may still be reading one that was just
// unregistered), and reachable, so a leak checker does not count them.
std::vector<std::unique_ptr<std::string>>& KeptPaths() {
  static auto* kept = new std::vector<std::unique_ptr<std::string>>;
  return *kept;
}

std::mutex g_register_mutex;

extern "C" void RemovePartialFilesAndExit(int sig) {
  RemovePartialFilesNow();
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallHandlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // nohup
    struct sigaction remove {};
    remove.sa_handler = RemovePartialFilesAndExit;
    sigemptyset(&remove.sa_mask);
    for (int other : {SIGINT, SIGTERM, SIGHUP}) {
      sigaddset(&remove.sa_mask, other);
    }
    sigaction(sig, &remove, nullptr);
  }
}

std::atomic<const char*>* Register(const std::string& partial) {
  std::lock_guard<std::mutex> lock(g_register_mutex);
  InstallHandlers();
  KeptPaths().push_back(std::make_unique<std::string>(partial));
  const char* kept = KeptPaths().back()->c_str();
  for (Chunk* c = &g_partials;; c = c->next.load()) {
    for (std::atomic<const char*>& slot : c->paths) {
      if (slot.load() == nullptr) {
        slot.store(kept);
        return &slot;
      }
    }
    if (c->next.load() == nullptr) c->next.store(new Chunk);
  }
}

void Unregister(std::atomic<const char*>* slot) {
  if (slot == nullptr) return;
  std::lock_guard<std::mutex> lock(g_register_mutex);
  slot->store(nullptr);
}

std::string CannotWrite(const std::string& path, int err) {
  return absl::StrCat("cannot write ", path, ": ",
                      err != 0 ? std::strerror(err) : "write error");
}

absl::Status Exists(const std::string& path) {
  return absl::AlreadyExistsError(
      absl::StrCat("cannot write ", path, ": it exists"));
}

}  // namespace

void RemovePartialFilesNow() {
  const int saved = errno;
  for (Chunk* c = &g_partials; c != nullptr; c = c->next.load()) {
    for (std::atomic<const char*>& slot : c->paths) {
      const char* p = slot.load();
      if (p != nullptr) unlink(p);
    }
  }
  errno = saved;
}

PartialFile::FdBuf::FdBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof(buf_)); }

bool PartialFile::FdBuf::Drain() {
  const char* p = pbase();
  size_t n = static_cast<size_t>(pptr() - pbase());
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  setp(buf_, buf_ + sizeof(buf_));
  return true;
}

PartialFile::FdBuf::int_type PartialFile::FdBuf::overflow(int_type ch) {
  if (!Drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(ch, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
  }
  return traits_type::not_eof(ch);
}

int PartialFile::FdBuf::sync() { return Drain() ? 0 : -1; }

absl::StatusOr<std::unique_ptr<PartialFile>> PartialFile::Create(
    std::string path, bool replace) {
  const std::string partial = path + ".partial";
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    // Never replaced, --force or not (rename would fail the same way).
    if (S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(CannotWrite(path, EISDIR));
    }
    if (!replace) return Exists(path);
  }
  // Registered before it exists: a signal between the two removes nothing
  // of ours, where the other order could leave it behind.
  std::atomic<const char*>* slot = Register(partial);
  // The link itself when it is one; what it points to stays.
  if (replace && ::unlink(partial.c_str()) != 0 && errno != ENOENT) {
    const int err = errno;
    Unregister(slot);
    return absl::FailedPreconditionError(CannotWrite(path, err));
  }
  const int fd =
      ::open(partial.c_str(),
             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    Unregister(slot);
    if (err == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          "cannot write ", path, ": ", partial,
          " exists (left by an export that was killed, or made by someone "
          "else)"));
    }
    return absl::FailedPreconditionError(CannotWrite(path, err));
  }
  auto file = std::unique_ptr<PartialFile>(
      new PartialFile(std::move(path), replace, fd));
  file->slot_ = slot;
  return file;
}

PartialFile::PartialFile(std::string path, bool replace, int fd)
    : path_(std::move(path)),
      replace_(replace),
      fd_(fd),
      buf_(std::make_unique<FdBuf>(fd)),
      stream_(buf_.get()) {}

PartialFile::~PartialFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(partial().c_str());
  Unregister(slot_);
}

std::string PartialFile::error() const {
  return CannotWrite(path_, buf_->error());
}

absl::Status PartialFile::Commit() {
  stream_.flush();
  if (!stream_ || !buf_->Drain()) {
    return absl::FailedPreconditionError(error());
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    return absl::FailedPreconditionError(CannotWrite(path_, errno));
  }
  const std::string from = partial();
  int rc = 0;
  if (replace_) {
    rc = ::rename(from.c_str(), path_.c_str());
  } else {
    // A PATH made since Create is not replaced either.
    rc = ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, path_.c_str(),
                     RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
      // A file system without RENAME_NOREPLACE: link() does not replace.
      rc = ::link(from.c_str(), path_.c_str());
      if (rc == 0) ::unlink(from.c_str());
    }
  }
  if (rc != 0) {
    if (errno == EEXIST) return Exists(path_);
    return absl::FailedPreconditionError(CannotWrite(path_, errno));
  }
  committed_ = true;
  Unregister(slot_);
  slot_ = nullptr;
  return absl::OkStatus();
}

}  // namespace sallyport::cli
