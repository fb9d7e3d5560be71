// A thread-safe map from byte strings to values that holds at most a fixed
// number of entries and, when full, starts over (clears) instead of keeping
// any eviction order: for results that cost far more to compute than to
// look up and that a process sees over and over (the parsed public keys of
// ssh/crypto/keys.cc, the verified CA signatures of ssh/cert/verify.cc).
// Memory stays bounded whatever a peer sends; a miss only costs the work.
#ifndef SALLYPORT_BASE_BOUNDED_CACHE_H_
#define SALLYPORT_BASE_BOUNDED_CACHE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace sallyport::base {

template <typename Value>
class BoundedCache {
 public:
  explicit BoundedCache(size_t max_entries) : max_entries_(max_entries) {}
  BoundedCache(const BoundedCache&) = delete;
  BoundedCache& operator=(const BoundedCache&) = delete;

  // A copy of the value stored for `key`, if any.
  std::optional<Value> Find(absl::string_view key) const {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  // Stores `value` for `key` (replacing one stored before); when the cache
  // already holds max_entries, everything else is dropped first.
  void Add(std::string key, Value value) {
    absl::MutexLock lock(&mu_);
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_.insert_or_assign(std::move(key), std::move(value));
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }

 private:
  const size_t max_entries_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Value> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_BOUNDED_CACHE_H_
