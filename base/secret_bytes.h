// SecretBytes holds key material, passwords and session keys. Its storage is
// wiped with OPENSSL_cleanse when it is destroyed, cleared or reassigned, and
// it has no operator<< or AbslStringify, so it cannot be logged by accident.
#ifndef SALLYPORT_BASE_SECRET_BYTES_H_
#define SALLYPORT_BASE_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace sallyport::base {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : bytes_(size, 0) {}
  explicit SecretBytes(absl::Span<const uint8_t> data)
      : bytes_(data.begin(), data.end()) {}
  static SecretBytes FromString(std::string_view s) {
    return SecretBytes(absl::Span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }

  SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  uint8_t& operator[](size_t i) { return bytes_[i]; }
  const uint8_t& operator[](size_t i) const { return bytes_[i]; }

  absl::Span<const uint8_t> span() const { return bytes_; }
  absl::Span<uint8_t> mutable_span() { return absl::MakeSpan(bytes_); }
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(bytes_.data()),
                            bytes_.size());
  }

  // Wipes the contents and makes the buffer empty.
  void Clear();
  // Resizes, wiping the old storage if the buffer moves.
  void Resize(size_t size);
  // Appends bytes, wiping the old storage if the buffer moves.
  void Append(absl::Span<const uint8_t> data);

  // Constant-time equality (lengths are not secret).
  bool Equals(const SecretBytes& other) const;

 private:
  std::vector<uint8_t> bytes_;
};

// Constant-time comparison of two equal-length byte strings; false when the
// lengths differ. Use for MACs, tags and password hashes.
bool ConstantTimeEquals(absl::Span<const uint8_t> a,
                        absl::Span<const uint8_t> b);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_SECRET_BYTES_H_
