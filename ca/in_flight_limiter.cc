#include "ca/in_flight_limiter.h"

namespace sallyport::ca {

InFlightLimiter::Ticket::~Ticket() {
  if (limiter_ != nullptr) limiter_->Leave(key_);
}

InFlightLimiter::Ticket InFlightLimiter::TryEnter(std::string_view key) {
  absl::MutexLock lock(&mu_);
  if (in_ >= total_) return Ticket(nullptr, "");
  auto it = by_key_.find(key);
  if (it != by_key_.end() && it->second >= per_key_) return Ticket(nullptr, "");
  if (it == by_key_.end()) it = by_key_.emplace(std::string(key), 0).first;
  ++it->second;
  ++in_;
  return Ticket(this, std::string(key));
}

void InFlightLimiter::Leave(const std::string& key) {
  absl::MutexLock lock(&mu_);
  --in_;
  auto it = by_key_.find(key);
  if (it != by_key_.end() && --it->second <= 0) by_key_.erase(it);
}

int InFlightLimiter::in_flight() {
  absl::MutexLock lock(&mu_);
  return in_;
}

int InFlightLimiter::in_flight(std::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = by_key_.find(key);
  return it == by_key_.end() ? 0 : it->second;
}

}  // namespace sallyport::ca
