// Refusals that are said (an audit event and a log line) at most once per
// interval per key, with how many there were, so that refusing a flood of
// a gateway's writes writes little itself: the write budget's
// (GatewayWriteBudget) and the open-session limit's (UploadRecording).
#ifndef SALLYPORT_CA_REFUSAL_REPORTS_H_
#define SALLYPORT_CA_REFUSAL_REPORTS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sallyport::ca {

// A refusal as it was counted.
struct CountedRefusal {
  // This refusal is the first of its key since the interval: say so now
  // (one audit event, one log line), counting `refused`.
  bool report = false;
  // The key's refusals since its last report, this one included.
  uint64_t refused = 0;
};

// The reports of one key.
struct RefusalCount {
  std::optional<absl::Duration> last;  // when the last report was made
  uint64_t unreported = 0;

  // Counts a refusal at `now` (a monotonic reading): to be reported when
  // no report was made in the `interval` before.
  CountedRefusal Refuse(absl::Duration now, absl::Duration interval);
  // Nothing is left to report and the last report was `interval` ago:
  // forgetting this count changes nothing.
  bool Settled(absl::Duration now, absl::Duration interval) const;
};

// Keys whose counts a RefusalReports remembers by default; gateway
// identities are enrolled by administrators, so this is far above any
// deployment's.
inline constexpr size_t kMaxRefusalReportKeys = 4096;

// RefusalCounts by key (a gateway's name). At most `max_keys` are
// remembered: settled ones are forgotten when room is needed, and when
// none is, the refusals of keys not remembered are counted together.
class RefusalReports {
 public:
  explicit RefusalReports(absl::Duration interval,
                          size_t max_keys = kMaxRefusalReportKeys)
      : interval_(interval), max_keys_(max_keys) {}

  // Counts a refusal of `key` at `now` (base::Clock::Monotonic).
  CountedRefusal Refuse(std::string_view key, absl::Duration now)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const absl::Duration interval_;
  const size_t max_keys_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, RefusalCount> counts_ ABSL_GUARDED_BY(mu_);
  RefusalCount no_room_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_REFUSAL_REPORTS_H_
