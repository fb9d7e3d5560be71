#include "ca/write_budget.h"

#include <algorithm>

namespace sallyport::ca {

void GatewayWriteBudget::Refill(Bucket& b, absl::Duration now) const {
  if (now <= b.at) return;
  const double burst = static_cast<double>(policy_.burst_bytes);
  b.level = std::min(
      burst, b.level + absl::ToDoubleSeconds(now - b.at) *
                           static_cast<double>(policy_.rate_bytes_per_second));
  b.at = now;
}

bool GatewayWriteBudget::MakeRoom(absl::Duration now) {
  if (buckets_.size() < policy_.max_gateways) return true;
  const double burst = static_cast<double>(policy_.burst_bytes);
  // A forgotten bucket comes back full with no report made: only one
  // that is full, owes no count, and made its last report an interval
  // ago, so that forgetting it changes nothing.
  absl::erase_if(buckets_, [&](auto& entry) {
    Bucket& b = entry.second;
    Refill(b, now);
    return b.level >= burst && b.reports.Settled(now, policy_.report_interval);
  });
  return buckets_.size() < policy_.max_gateways;
}

std::optional<GatewayWriteBudget::Refusal> GatewayWriteBudget::Take(
    std::string_view gateway, uint64_t bytes, absl::Duration now) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(absl::string_view(gateway.data(), gateway.size()));
  if (it == buckets_.end()) {
    if (!MakeRoom(now)) return no_room_.Refuse(now, policy_.report_interval);
    Bucket fresh;
    fresh.level = static_cast<double>(policy_.burst_bytes);
    fresh.at = now;
    it = buckets_.emplace(std::string(gateway), fresh).first;
  }
  Bucket& b = it->second;
  Refill(b, now);
  const double cost = static_cast<double>(bytes);
  if (b.level < cost) return b.reports.Refuse(now, policy_.report_interval);
  b.level -= cost;
  return std::nullopt;
}

size_t GatewayWriteBudget::size() {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace sallyport::ca
