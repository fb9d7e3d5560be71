// GatewayWriteBudget bounds how much a gateway identity makes the CA write
// to its Store over time (finding C): a gateway's audit events
// (RecordGatewayEvents), recordings (UploadRecording: sessions and their
// records) and certificates (IssueSessionCertificate,
// IssueHostCertificateForTarget, ...) and the audit events of their
// refusals all land in the one database, so a compromised gateway, or a
// stolen gateway mTLS identity, could otherwise fill its disk as fast as
// the Store takes rows. kMaxGatewayCallsPerGateway bounds a gateway's
// calls in progress, not the volume they write over time; this does.
//
// One token bucket of bytes per gateway name: it holds at most
// burst_bytes, refills at rate_bytes_per_second, and a write of n bytes
// takes n from it, or is refused (nothing taken) when fewer are left.
// What a write costs is its payload bytes plus kGatewayWriteRowBytes per
// row it adds, so one budget bounds both what the disk holds (the
// payload) and the flood of small rows whose indexes, hash chain and
// overhead cost the Store more than their few payload bytes; two buckets
// (bytes, rows) would bound the same with two more keys to tune.
//
// In memory, per CA instance: several instances on one PostgreSQL
// database each give a gateway its budget, and a restart refills it.
//
// What the budget does not bound, the sessions a gateway leaves open
// (uploaded, never ended: rows `spctl sessions ls` lists for good), has a
// limit of its own, counted in the Store: gateway.max_open_sessions
// (ca/recording_service.h).
#ifndef SALLYPORT_CA_WRITE_BUDGET_H_
#define SALLYPORT_CA_WRITE_BUDGET_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ca/refusal_reports.h"

namespace sallyport::ca {

// The default budget (CA config gateway.write_rate_bytes_per_second and
// gateway.write_burst_bytes), well above what an honest busy gateway
// writes: the recording benchmark's pty session is recorded whole at
// about 42 MB/s (tests/bench:recording_bench), an exec channel keeps at
// most 16 MiB (record_exec_output_limit), and the gateway load test's 200
// sessions starting at once ship some 1000 MiB of recordings in a few
// seconds (tests/e2e:gateway_load_e2e_test). 128 MiB/s is three of those
// pty sessions at once, about what one CA's Store takes; 2 GiB holds
// that load test twice, or a gateway's backlog after a CA outage while
// the rate refills.
inline constexpr uint64_t kDefaultGatewayWriteRateBytesPerSecond = uint64_t{128}
                                                                   << 20;
inline constexpr uint64_t kDefaultGatewayWriteBurstBytes = uint64_t{2} << 30;
// The smallest burst the config takes: the most one request of a gateway
// costs (a message of at most 1 MiB, CaServer::kMaxReceiveMessageBytes,
// with at most 256 rows, plus its call), so that every request fits a
// full bucket and a gateway that waits always gets through.
inline constexpr uint64_t kMinGatewayWriteBurstBytes = uint64_t{4} << 20;
// What a row the CA writes for a gateway costs beside its payload bytes
// (an event, a session, a record, a certificate).
inline constexpr uint64_t kGatewayWriteRowBytes = 1024;
// What a gateway's unary call costs (charged at its start, before it is
// authenticated): a certificate's row, its audit event and the session's
// claim, or a refusal's audit event.
inline constexpr uint64_t kGatewayCallWriteBytes = 4 * kGatewayWriteRowBytes;
// What writing a message of `message_bytes` as `rows` rows costs, with
// `call_bytes` on top (kGatewayCallWriteBytes for a call's first message).
constexpr uint64_t GatewayWriteCost(uint64_t message_bytes, uint64_t rows,
                                    uint64_t call_bytes = 0) {
  return call_bytes + message_bytes + kGatewayWriteRowBytes * rows;
}
// Gateways whose buckets are remembered at once. A bucket that refilled
// to its burst is forgotten when room is needed (it holds nothing a new
// one would not); when every remembered gateway is below its burst, a
// gateway not among them is refused until one refills. Gateway
// identities are enrolled by administrators, so this is far above any
// deployment's.
inline constexpr size_t kMaxGatewayWriteBudgets = 4096;
// A gateway's refusals are reported (an audit event and a log line, with
// how many there were) at most once per this interval, so the refusals
// themselves write a bounded number of rows.
inline constexpr absl::Duration kGatewayWriteRefusalReportInterval =
    absl::Minutes(1);

class GatewayWriteBudget {
 public:
  struct Policy {
    uint64_t rate_bytes_per_second = kDefaultGatewayWriteRateBytesPerSecond;
    uint64_t burst_bytes = kDefaultGatewayWriteBurstBytes;
    size_t max_gateways = kMaxGatewayWriteBudgets;
    absl::Duration report_interval = kGatewayWriteRefusalReportInterval;
  };

  // A refused write: `report` when it is the first of its gateway since
  // report_interval.
  using Refusal = CountedRefusal;

  explicit GatewayWriteBudget(Policy policy) : policy_(policy) {}

  // Takes `bytes` from `gateway`'s bucket at `now` (a monotonic reading,
  // base::Clock::Monotonic): nullopt when taken; a Refusal, nothing
  // taken, when the bucket holds fewer, or when the gateway has no bucket
  // and there is no room for one (max_gateways below their burst).
  std::optional<Refusal> Take(std::string_view gateway, uint64_t bytes,
                              absl::Duration now) ABSL_LOCKS_EXCLUDED(mu_);

  const Policy& policy() const { return policy_; }
  // Gateways remembered now (at most policy.max_gateways).
  size_t size() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    double level = 0;
    absl::Duration at;  // when `level` was computed
    RefusalCount reports;
  };
  // Refills `b` up to `now`.
  void Refill(Bucket& b, absl::Duration now) const;
  // Forgets buckets that refilled to their burst and have nothing left to
  // report; true when there is room for one more.
  bool MakeRoom(absl::Duration now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Policy policy_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  // The refusals of gateways that found no room, reported together.
  RefusalCount no_room_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_WRITE_BUDGET_H_
