// A byte vector that does not zero-fill when it grows: resize() leaves the
// new bytes uninitialised. For output buffers that are written right after
// growing (sealed packets, data read straight into packet slots), where
// zero-filling first would cost as much as a second copy of the data.
// Whoever grows one must write every byte before it is read or sent.
#ifndef SALLYPORT_SSH_WIRE_BYTE_BUFFER_H_
#define SALLYPORT_SSH_WIRE_BYTE_BUFFER_H_

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace sallyport::ssh::wire {

// std::allocator, except that value-initialisation (what resize() asks
// for) becomes default-initialisation: no zero-fill for trivial types.
template <typename T>
class DefaultInitAllocator : public std::allocator<T> {
 public:
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;

  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    std::construct_at(p, std::forward<Args>(args)...);
  }
};

using ByteBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

}  // namespace sallyport::ssh::wire

#endif  // SALLYPORT_SSH_WIRE_BYTE_BUFFER_H_
