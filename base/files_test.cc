// WriteFileAtomic (base/files): concurrent writers of one file, other
// files at temporary names, the mode, and nothing left behind by a write
// that fails; StagedFile. ReadTextFile: files and pipes of every size, byte
// for byte.
#include "base/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sallyport::base {
namespace {

class WriteFileAtomicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/filesXXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }
  // The names in dir_, sorted.
  std::set<std::string> Names() const {
    std::set<std::string> names;
    DIR* d = opendir(dir_.c_str());
    if (d == nullptr) return names;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.insert(name);
    }
    closedir(d);
    return names;
  }
  std::string dir_;
};

// Found in review: every write used the one temporary name PATH.tmp,
// unlinking what was there first, so of two writers of one file one
// removed the other's half-written file (its rename then failed with
// "No such file or directory") or renamed it into place half-written.
TEST_F(WriteFileAtomicTest, ConcurrentWritersEachWriteAWholeFile) {
  const std::string path = dir_ + "/state";
  constexpr int kWriters = 4;
  constexpr int kWrites = 100;
  // Each writer's content: 64 KiB of its own letter.
  std::vector<std::string> contents;
  for (int w = 0; w < kWriters; ++w) {
    contents.push_back(std::string(64 << 10, static_cast<char>('a' + w)));
  }
  ASSERT_TRUE(WriteFileAtomic(path, contents[0], 0644).ok());
  std::atomic<int> failures{0};
  std::atomic<int> torn{0};
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      absl::StatusOr<std::string> text = ReadTextFile(path);
      if (!text.ok() || std::find(contents.begin(), contents.end(), *text) ==
                            contents.end()) {
        ++torn;
      }
    }
  });
  std::vector<std::thread> writers;
  std::vector<std::string> errors(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWrites; ++i) {
        absl::Status st = WriteFileAtomic(path, contents[w], 0644);
        if (!st.ok()) {
          ++failures;
          errors[w] = std::string(st.message());
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0)
      << errors[0] << errors[1] << errors[2] << errors[3];
  EXPECT_EQ(torn.load(), 0);
  // Nothing left but the file itself.
  EXPECT_EQ(Names(), std::set<std::string>{"state"});
}

// A file or link that someone else has at PATH.tmp (the temporary name
// of before, which anyone could know in advance) is left as it is, and
// never written through.
TEST_F(WriteFileAtomicTest, OtherFilesAtTemporaryNamesAreLeftAlone) {
  const std::string path = dir_ + "/ssh_config";
  const std::string victim = dir_ + "/victim";
  ASSERT_TRUE(WriteFileAtomic(victim, "precious\n", 0600).ok());
  ASSERT_EQ(symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  ASSERT_TRUE(
      WriteFileAtomic(path + ".tmp.other", "another writer's\n", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "Host web01\n", 0640).ok());
  EXPECT_EQ(*ReadTextFile(path), "Host web01\n");
  EXPECT_EQ(*ReadTextFile(victim), "precious\n");
  struct stat st;
  ASSERT_EQ(lstat((path + ".tmp").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(*ReadTextFile(path + ".tmp.other"), "another writer's\n");
  EXPECT_EQ(Names(), (std::set<std::string>{"ssh_config", "ssh_config.tmp",
                                            "ssh_config.tmp.other", "victim"}));
  // The mode asked for, whatever the umask.
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

// A write that fails says why and leaves no temporary file behind.
TEST_F(WriteFileAtomicTest, AFailedWriteLeavesNothingBehind) {
  // PATH is a directory that is not empty: the rename fails.
  const std::string path = dir_ + "/known_hosts";
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  ASSERT_TRUE(WriteFileAtomic(path + "/inside", "x", 0600).ok());
  absl::Status st = WriteFileAtomic(path, "data", 0644);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      absl::StartsWith(st.message(), absl::StrCat("cannot write ", path, ": ")))
      << st;
  EXPECT_EQ(Names(), std::set<std::string>{"known_hosts"});

  st = WriteFileAtomic(dir_ + "/no-such-dir/file", "data", 0644);
  EXPECT_EQ(st.message(), absl::StrCat("cannot write ", dir_,
                                       "/no-such-dir/file: No such file or "
                                       "directory"));
}

// A staged file replaces nothing until it is committed, and one dropped
// uncommitted (a later file of the same change failed) leaves nothing
// behind.
TEST_F(WriteFileAtomicTest, AStagedFileReplacesNothingUntilCommitted) {
  const std::string key = dir_ + "/key";
  const std::string cert = dir_ + "/cert";
  ASSERT_TRUE(WriteFileAtomic(key, "old key", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(cert, "old cert", 0644).ok());
  {
    absl::StatusOr<StagedFile> staged = StagedFile::Write(key, "new key", 0600);
    ASSERT_TRUE(staged.ok()) << staged.status();
    EXPECT_EQ(*ReadTextFile(key), "old key");
    EXPECT_EQ(Names().size(), 3u);  // key, cert and the temporary file
  }
  EXPECT_EQ(Names(), (std::set<std::string>{"cert", "key"}));
  EXPECT_EQ(*ReadTextFile(key), "old key");

  absl::StatusOr<StagedFile> new_key = StagedFile::Write(key, "new key", 0600);
  absl::StatusOr<StagedFile> new_cert =
      StagedFile::Write(cert, "new cert", 0644);
  ASSERT_TRUE(new_key.ok() && new_cert.ok());
  EXPECT_EQ(*ReadTextFile(key), "old key");
  EXPECT_EQ(*ReadTextFile(cert), "old cert");
  ASSERT_TRUE(new_key->Commit().ok());
  ASSERT_TRUE(new_cert->Commit().ok());
  EXPECT_EQ(new_key->Commit().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadTextFile(key), "new key");
  EXPECT_EQ(*ReadTextFile(cert), "new cert");
  struct stat st;
  ASSERT_EQ(stat(cert.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(Names(), (std::set<std::string>{"cert", "key"}));
  EXPECT_TRUE(SyncDirectoryOf(key).ok());
}

// ReadTextFile reads straight into the string it returns (so that no
// other copy of a private key is left in memory; that part is not
// observable here): every size around its first read (the file's size and
// a byte; 16 KiB for a file without one), up to max_size, byte for byte.
class ReadTextFileTest : public WriteFileAtomicTest {
 protected:
  // `size` bytes of every value, NUL included.
  static std::string Bytes(size_t size) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) {
      bytes[i] = static_cast<char>((i * 131 + i / 256) & 0xff);
    }
    return bytes;
  }
};

constexpr size_t kFirstRead = 16 << 10;

TEST_F(ReadTextFileTest, ReadsEveryByteOfFilesOfEverySize) {
  for (const size_t size :
       {size_t{0}, size_t{1}, kFirstRead - 1, kFirstRead, kFirstRead + 1,
        size_t{1 << 20} + 7, kMaxTextFileSize}) {
    const std::string path = absl::StrCat(dir_, "/f", size);
    const std::string bytes = Bytes(size);
    ASSERT_TRUE(WriteFileAtomic(path, bytes, 0600).ok());
    absl::StatusOr<std::string> read = ReadTextFile(path);
    ASSERT_TRUE(read.ok()) << size << ": " << read.status();
    EXPECT_EQ(read->size(), size);
    EXPECT_TRUE(*read == bytes) << size;
    // The same through ReadTextFileOrPipe, and at max_size exactly.
    read = ReadTextFileOrPipe(path, size);
    ASSERT_TRUE(read.ok()) << size << ": " << read.status();
    EXPECT_TRUE(*read == bytes) << size;
    if (size > 0) {
      EXPECT_EQ(ReadTextFile(path, size - 1).status(),
                absl::InvalidArgumentError(absl::StrCat(
                    path, " is larger than ", size - 1, " bytes")));
    }
  }
  const std::string over = dir_ + "/over";
  ASSERT_TRUE(WriteFileAtomic(over, Bytes(kMaxTextFileSize + 1), 0600).ok());
  EXPECT_EQ(ReadTextFile(over).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A regular file whose size says 0 (the kernel's /proc files) is read to
// its end, not to its size.
TEST_F(ReadTextFileTest, ReadsAFileThatSaysItIsEmptyToItsEnd) {
  struct stat st;
  ASSERT_EQ(stat("/proc/self/status", &st), 0);
  ASSERT_EQ(st.st_size, 0);
  absl::StatusOr<std::string> status = ReadTextFile("/proc/self/status");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(absl::StartsWith(*status, "Name:")) << *status;
  EXPECT_TRUE(absl::StrContains(*status, "\nPid:")) << *status;
  EXPECT_TRUE(absl::EndsWith(*status, "\n")) << *status;
}

// A pipe has no size: it is read in growing steps, every byte, up to
// max_size.
TEST_F(ReadTextFileTest, ReadsEveryByteOfAPipe) {
  signal(SIGPIPE, SIG_IGN);  // a writer whose reader gave up
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  constexpr size_t kMax = 100000;
  for (const size_t size :
       {size_t{0}, size_t{1}, kFirstRead - 1, kFirstRead, kFirstRead + 1,
        2 * kFirstRead + 1, kMax, kMax + 1}) {
    const std::string bytes = Bytes(size);
    std::thread writer([&] {
      const int fd = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return;
      size_t done = 0;
      while (done < bytes.size()) {
        const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      close(fd);
    });
    absl::StatusOr<std::string> read = ReadTextFileOrPipe(fifo, kMax);
    writer.join();
    if (size > kMax) {
      EXPECT_EQ(read.status(), absl::InvalidArgumentError(absl::StrCat(
                                   fifo, " is larger than ", kMax, " bytes")));
      continue;
    }
    ASSERT_TRUE(read.ok()) << size << ": " << read.status();
    EXPECT_EQ(read->size(), size);
    EXPECT_TRUE(*read == bytes) << size;
  }
}

}  // namespace
}  // namespace sallyport::base
