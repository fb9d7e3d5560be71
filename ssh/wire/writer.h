// Writer for SSH wire data (RFC 4251 §5). Appends to a byte vector that it
// owns (or borrows), so buffers can be reused without reallocating.
#ifndef SALLYPORT_SSH_WIRE_WRITER_H_
#define SALLYPORT_SSH_WIRE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::wire {

class Writer {
 public:
  // Writes into a buffer of its own.
  Writer() : out_(&own_) {}
  // Appends to `out`, which must outlive the writer.
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Writer& Byte(uint8_t v);
  Writer& Bool(bool v) { return Byte(v ? 1 : 0); }
  Writer& Uint32(uint32_t v);
  Writer& Uint64(uint64_t v);
  Writer& Raw(Bytes data);
  Writer& Raw(std::string_view data) { return Raw(AsBytes(data)); }
  // uint32 length + bytes. Caller keeps data under 4 GiB.
  Writer& String(Bytes data);
  Writer& String(std::string_view data) { return String(AsBytes(data)); }
  // Writes a non-negative mpint from its unsigned big-endian magnitude:
  // leading zero bytes are stripped and a 0x00 is added when the top bit is
  // set.
  Writer& Mpint(Bytes magnitude);
  // Comma-joined names as one string.
  Writer& NameList(const std::vector<std::string>& names);

  // Reserves a uint32 length at the current position; FinishLength writes
  // the number of bytes appended since then into it.
  size_t BeginLength();
  void FinishLength(size_t marker);

  const std::vector<uint8_t>& data() const { return *out_; }
  std::vector<uint8_t> Take() { return std::move(*out_); }
  std::string TakeString() { return std::string(out_->begin(), out_->end()); }
  size_t size() const { return out_->size(); }

 private:
  std::vector<uint8_t> own_;
  std::vector<uint8_t>* out_;
};

}  // namespace sallyport::ssh::wire

#endif  // SALLYPORT_SSH_WIRE_WRITER_H_
