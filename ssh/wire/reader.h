// Bounds-checked reader for SSH wire data (RFC 4251 §5). Every parser of
// untrusted bytes in Sallyport reads through this class.
//
// Contract: a getter either succeeds and consumes exactly the bytes of the
// value, or fails with kInvalidArgument and consumes nothing. Lengths are
// checked without overflow before any arithmetic. Returned spans and views
// point into the reader's input and live as long as it does.
#ifndef SALLYPORT_SSH_WIRE_READER_H_
#define SALLYPORT_SSH_WIRE_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace sallyport::ssh::wire {

using Bytes = absl::Span<const uint8_t>;

// Default cap for a string field: larger than any packet we accept.
inline constexpr uint32_t kMaxStringLength = 256 * 1024;
// Default cap for an mpint's magnitude (16384-bit RSA moduli are 2048 bytes).
inline constexpr uint32_t kMaxMpintBytes = 2049;
// Default caps for name-lists.
inline constexpr size_t kMaxNameListLength = 64 * 1024;
inline constexpr size_t kMaxNameListEntries = 1024;
inline constexpr size_t kMaxNameLength = 256;

class Reader {
 public:
  explicit Reader(Bytes data) : data_(data) {}
  explicit Reader(std::string_view data)
      : data_(reinterpret_cast<const uint8_t*>(data.data()), data.size()) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }
  // The unread bytes.
  Bytes Rest() const { return data_.subspan(pos_); }

  absl::StatusOr<uint8_t> ReadByte();
  // RFC 4251: any non-zero value is TRUE.
  absl::StatusOr<bool> ReadBool();
  absl::StatusOr<uint32_t> ReadUint32();
  absl::StatusOr<uint64_t> ReadUint64();
  // Exactly n raw bytes.
  absl::StatusOr<Bytes> ReadRaw(size_t n);
  // uint32 length + bytes, length ≤ max_length.
  absl::StatusOr<Bytes> ReadString(uint32_t max_length = kMaxStringLength);
  absl::StatusOr<std::string_view> ReadStringView(
      uint32_t max_length = kMaxStringLength);
  // A string that must not contain NUL bytes (names, user names, commands
  // passed to C APIs).
  absl::StatusOr<std::string_view> ReadCString(
      uint32_t max_length = kMaxStringLength);
  // A non-negative mpint; returns its magnitude, big-endian, with no leading
  // zero bytes (empty for zero). Refuses negative numbers, non-minimal
  // encodings and magnitudes longer than max_bytes.
  absl::StatusOr<Bytes> ReadMpint(uint32_t max_bytes = kMaxMpintBytes);
  // A name-list: comma-separated, non-empty names of printable US-ASCII
  // without commas; an empty string is the empty list. Bounded in total
  // length, entries and name length.
  absl::StatusOr<std::vector<std::string>> ReadNameList(
      size_t max_entries = kMaxNameListEntries);

  // kInvalidArgument if any bytes remain: every message parser ends with it.
  absl::Status ExpectEnd() const;

 private:
  Bytes data_;
  size_t pos_ = 0;
};

// Bytes of a string_view, for passing text where Bytes are expected.
inline Bytes AsBytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsStringView(Bytes b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace sallyport::ssh::wire

#endif  // SALLYPORT_SSH_WIRE_READER_H_
