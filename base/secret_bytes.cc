#include "base/secret_bytes.h"

#include <openssl/crypto.h>

#include <utility>

namespace sallyport::base {
namespace {

void Wipe(std::vector<uint8_t>& v) {
  if (v.capacity() > 0) OPENSSL_cleanse(v.data(), v.capacity());
}

}  // namespace

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    Clear();
    bytes_ = other.bytes_;
  }
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : bytes_(std::move(other.bytes_)) {
  other.bytes_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

SecretBytes::~SecretBytes() { Wipe(bytes_); }

void SecretBytes::Clear() {
  Wipe(bytes_);
  bytes_.clear();
}

void SecretBytes::Resize(size_t size) {
  if (size <= bytes_.capacity()) {
    if (size < bytes_.size()) {
      OPENSSL_cleanse(bytes_.data() + size, bytes_.size() - size);
    }
    bytes_.resize(size, 0);
    return;
  }
  std::vector<uint8_t> bigger;
  bigger.reserve(size);
  bigger.assign(bytes_.begin(), bytes_.end());
  bigger.resize(size, 0);
  Wipe(bytes_);
  bytes_ = std::move(bigger);
}

void SecretBytes::Append(absl::Span<const uint8_t> data) {
  size_t old = bytes_.size();
  Resize(old + data.size());
  for (size_t i = 0; i < data.size(); ++i) bytes_[old + i] = data[i];
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  return ConstantTimeEquals(span(), other.span());
}

bool ConstantTimeEquals(absl::Span<const uint8_t> a,
                        absl::Span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sallyport::base
