// A byte buffer that does not zero-fill when it grows: resize() leaves the
// new bytes uninitialised. For output buffers that are written right after
// growing (sealed packets, data read straight into packet slots), where
// zero-filling first would cost as much as a second copy of the data.
// Whoever grows one must write every byte before it is read or sent.
//
// It is a small class over malloc/realloc rather than a std::vector with a
// default-initialising allocator: such a vector constructs and destroys
// element by element (one call per byte in an unoptimised build, which made
// every test's gateway spend most of its time there under load).
#ifndef SALLYPORT_SSH_WIRE_BYTE_BUFFER_H_
#define SALLYPORT_SSH_WIRE_BYTE_BUFFER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <type_traits>
#include <utility>

namespace sallyport::ssh::wire {

class ByteBuffer {
 public:
  using value_type = uint8_t;
  using size_type = size_t;
  using iterator = uint8_t*;
  using const_iterator = const uint8_t*;

  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer& other) { assign(other.begin(), other.end()); }
  ByteBuffer(ByteBuffer&& other) noexcept { swap(other); }
  ByteBuffer& operator=(const ByteBuffer& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    ByteBuffer(std::move(other)).swap(*this);
    return *this;
  }
  ~ByteBuffer() { std::free(data_); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  uint8_t* begin() { return data_; }
  uint8_t* end() { return data_ + size_; }
  const uint8_t* begin() const { return data_; }
  const uint8_t* end() const { return data_ + size_; }
  uint8_t& operator[](size_t i) { return data_[i]; }
  const uint8_t& operator[](size_t i) const { return data_[i]; }

  void reserve(size_t n) {
    if (n > capacity_) Reallocate(n);
  }
  // Grows without initialising the new bytes; shrinking keeps the memory.
  void resize(size_t n) {
    if (n > capacity_) Reallocate(n > 2 * capacity_ ? n : 2 * capacity_);
    size_ = n;
  }
  void clear() { size_ = 0; }
  void swap(ByteBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

  // Replaces the contents with [first, last) (any forward iterators of
  // byte-sized values, which may point into this buffer).
  template <typename It>
  void assign(It first, It last) {
    const auto n = static_cast<size_t>(std::distance(first, last));
    if constexpr (std::is_pointer_v<It>) {
      if (n > capacity_) {
        ByteBuffer fresh;
        fresh.Reallocate(n);
        if (n > 0) std::memcpy(fresh.data_, first, n);
        fresh.size_ = n;
        swap(fresh);
      } else {
        if (n > 0) std::memmove(data_, first, n);
        size_ = n;
      }
    } else {
      ByteBuffer fresh;
      fresh.insert(fresh.end(), first, last);
      swap(fresh);
    }
  }
  // Inserts [first, last) (forward iterators of byte-sized values, which
  // may point into this buffer) before `pos`, any position from begin() to
  // end(); returns the position of the first inserted byte.
  template <typename It>
  uint8_t* insert(uint8_t* pos, It first, It last) {
    const auto n = static_cast<size_t>(std::distance(first, last));
    const size_t at = static_cast<size_t>(pos - data_);
    if (n == 0) return data_ + at;
    if (at < size_ || size_ + n > capacity_) {
      // Into a new buffer: the tail's move cannot overwrite a source that
      // points into this one. (Appending within capacity needs neither.)
      ByteBuffer grown;
      grown.Reallocate(size_ + n > 2 * capacity_ ? size_ + n : 2 * capacity_);
      if (at > 0) std::memcpy(grown.data_, data_, at);
      std::copy(first, last, grown.data_ + at);
      if (size_ > at) std::memcpy(grown.data_ + at + n, data_ + at, size_ - at);
      grown.size_ = size_ + n;
      swap(grown);
      return data_ + at;
    }
    std::copy(first, last, data_ + at);
    size_ += n;
    return data_ + at;
  }
  // Removes [first, last) and moves the rest down.
  void erase(uint8_t* first, uint8_t* last) {
    const size_t tail = static_cast<size_t>(end() - last);
    if (tail > 0) std::memmove(first, last, tail);
    size_ -= static_cast<size_t>(last - first);
  }

 private:
  void Reallocate(size_t n) {
    void* p = std::realloc(data_, n);
    if (p == nullptr) std::abort();  // out of memory, as new would end it
    data_ = static_cast<uint8_t*>(p);
    capacity_ = n;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

inline void swap(ByteBuffer& a, ByteBuffer& b) noexcept { a.swap(b); }

}  // namespace sallyport::ssh::wire

#endif  // SALLYPORT_SSH_WIRE_BYTE_BUFFER_H_
