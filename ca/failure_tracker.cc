#include "ca/failure_tracker.h"

#include <algorithm>
#include <vector>

namespace sallyport::ca {

std::optional<absl::Time> FailureTracker::LockedUntil(std::string_view key,
                                                      absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end() || it->second.locked_until <= now) {
    return std::nullopt;
  }
  return it->second.locked_until;
}

bool FailureTracker::RecordFailure(std::string_view key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    if (entries_.size() >= policy_.max_entries) MakeRoom(now);
    it = entries_.emplace(std::string(key), Entry()).first;
  }
  Entry& e = it->second;
  if (e.locked_until > now) return false;
  if (e.failures > 0 && now - e.last_failure >= policy_.lockout) {
    e.failures = 0;
  }
  e.failures++;
  e.last_failure = now;
  if (e.failures >= policy_.max_failures) {
    e.failures = 0;
    e.locked_until = now + policy_.lockout;
    return true;
  }
  return false;
}

int FailureTracker::Failures(std::string_view key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end() ||
      now - it->second.last_failure >= policy_.lockout) {
    return 0;
  }
  return it->second.failures;
}

void FailureTracker::Reset(std::string_view key) {
  absl::MutexLock lock(&mu_);
  entries_.erase(std::string(key));
}

std::vector<std::pair<std::string, absl::Time>> FailureTracker::Locked(
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, absl::Time>> out;
  for (const auto& [key, e] : entries_) {
    if (e.locked_until > now) out.emplace_back(key, e.locked_until);
  }
  return out;
}

size_t FailureTracker::size() {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

void FailureTracker::MakeRoom(absl::Time now) {
  // Drop entries that neither lock nor count any more.
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (e.locked_until <= now && now - e.last_failure >= policy_.lockout) {
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  if (entries_.size() < policy_.max_entries) return;
  // Still full: drop the oldest tenth by last failure.
  std::vector<std::pair<absl::Time, std::string>> by_age;
  by_age.reserve(entries_.size());
  for (const auto& [key, e] : entries_)
    by_age.emplace_back(e.last_failure, key);
  const size_t drop = std::max<size_t>(1, entries_.size() / 10);
  std::partial_sort(by_age.begin(), by_age.begin() + drop, by_age.end());
  for (size_t i = 0; i < drop; ++i) entries_.erase(by_age[i].second);
}

}  // namespace sallyport::ca
