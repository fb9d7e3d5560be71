#include "ca/refusal_reports.h"

namespace sallyport::ca {

CountedRefusal RefusalCount::Refuse(absl::Duration now,
                                    absl::Duration interval) {
  ++unreported;
  CountedRefusal refusal;
  refusal.refused = unreported;
  if (!last.has_value() || now - *last >= interval) {
    refusal.report = true;
    last = now;
    unreported = 0;
  }
  return refusal;
}

bool RefusalCount::Settled(absl::Duration now, absl::Duration interval) const {
  return unreported == 0 && (!last.has_value() || now - *last >= interval);
}

CountedRefusal RefusalReports::Refuse(std::string_view key,
                                      absl::Duration now) {
  absl::MutexLock lock(&mu_);
  auto it = counts_.find(absl::string_view(key.data(), key.size()));
  if (it == counts_.end()) {
    if (counts_.size() >= max_keys_) {
      absl::erase_if(counts_, [&](const auto& entry) {
        return entry.second.Settled(now, interval_);
      });
    }
    if (counts_.size() >= max_keys_) return no_room_.Refuse(now, interval_);
    it = counts_.emplace(std::string(key), RefusalCount()).first;
  }
  return it->second.Refuse(now, interval_);
}

}  // namespace sallyport::ca
