#include "gateway/jump_host_certs.h"

namespace sallyport::gateway {

std::optional<std::vector<uint8_t>> TargetCertificateCache::Get(
    const std::string& host, const std::string& key_fingerprint,
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find({host, key_fingerprint});
  if (it == entries_.end()) return std::nullopt;
  if (it->second.valid_before - options_.renew_before <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.certificate;
}

void TargetCertificateCache::Put(const std::string& host,
                                 const std::string& key_fingerprint,
                                 std::vector<uint8_t> certificate,
                                 absl::Time valid_before) {
  if (options_.max_entries == 0) return;
  absl::MutexLock lock(&mu_);
  const std::pair<std::string, std::string> key(host, key_fingerprint);
  if (entries_.count(key) == 0 && entries_.size() >= options_.max_entries) {
    // Room: drop the entry that expires first.
    auto first = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.valid_before < first->second.valid_before) first = it;
    }
    entries_.erase(first);
  }
  entries_[key] = Entry{std::move(certificate), valid_before};
}

size_t TargetCertificateCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace sallyport::gateway
