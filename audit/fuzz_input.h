// What every audit fuzz target shares: the entry point's common part (the
// first byte picks a mode, a ByteReader reads the rest), a bounded reader
// over the fuzzer's bytes, invariant checks and a scratch directory.
#ifndef SALLYPORT_AUDIT_FUZZ_INPUT_H_
#define SALLYPORT_AUDIT_FUZZ_INPUT_H_

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace sallyport::audit::fuzz {

// A broken invariant: says which, and aborts (the fuzzer keeps the input).
inline void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  abort();
}

// A new directory for the target's files, removed at exit: on tmpfs when
// there is one (the spool's Repair and SQLite fsync; a loaded disk is slow).
inline std::string TempDir(std::string_view name) {
  static std::string* dir = nullptr;
  if (dir != nullptr) return *dir;
  const char* base =
      access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TEST_TMPDIR");
  std::string tmpl =
      std::string(base ? base : "/tmp") + "/" + std::string(name) + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    abort();
  }
  dir = new std::string(tmpl);
  atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(*dir, ignored);
  });
  return *dir;
}

// Takes bytes from the front of the input; past the end it yields zeros.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | U8();
    return v;
  }
  uint64_t U64() { return (uint64_t{U32()} << 32) | U32(); }
  // Up to `max` raw bytes (the length is the next byte, mod max + 1).
  std::string Bytes(size_t max) {
    const size_t n = max == 0 ? 0 : U8() % (max + 1);
    std::string out;
    for (size_t i = 0; i < n && pos_ < size_; ++i) {
      out.push_back(static_cast<char>(data_[pos_++]));
    }
    return out;
  }
  // Up to `max` bytes of printable ASCII (always valid record text).
  std::string Text(size_t max) {
    std::string out = Bytes(max);
    for (char& c : out) c = static_cast<char>(0x20 + (c & 0x7f) % 0x5f);
    return out;
  }
  bool empty() const { return pos_ >= size_; }
  std::string_view Rest() {
    std::string_view rest(reinterpret_cast<const char*>(data_ + pos_),
                          size_ - pos_);
    pos_ = size_;
    return rest;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The body of LLVMFuzzerTestOneInput: skips the empty input, else runs
// `one(first byte, reader over the rest)`; returns 0 (libFuzzer's only
// accepted answer). A target's entry point is then one line:
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
//     return sallyport::audit::fuzz::RunOne(d, n, sallyport::audit::FuzzOne);
//   }
template <typename Fn>
int RunOne(const uint8_t* data, size_t size, Fn&& one) {
  if (size == 0) return 0;
  ByteReader in(data + 1, size - 1);
  one(data[0], in);
  return 0;
}

}  // namespace sallyport::audit::fuzz

#endif  // SALLYPORT_AUDIT_FUZZ_INPUT_H_
