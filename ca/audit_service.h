// The Audit gRPC service (proto/admin.proto `service Audit`): the audit log
// and session recordings for `spctl audit` and `spctl sessions`. Callers
// need a user client certificate and the `auditor` or `admin` role; every
// read is itself an audit event.
#ifndef SALLYPORT_CA_AUDIT_SERVICE_H_
#define SALLYPORT_CA_AUDIT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "ca/ca_service.h"
#include "ca/cert_policy.h"  // kAuditorRole
#include "proto/admin.grpc.pb.h"

namespace sallyport::ca {

// The paged reads auditors are in the middle of, so that a read of the
// audit log or of a recording is one audit event, however many pages it
// takes, and no page is read without one: a request that starts after a
// record (after_seq > 0) is audited unless it continues a read of the same
// caller, for the same purpose and target, with the cursor
// (next_after_seq) this CA gave that caller last, at most
// kReadContinuationWindow ago. At most kMaxTrackedReads reads are
// remembered (the least recently served is forgotten first: its next page
// is audited again, so the bound costs events, never an unaudited read).
// Per CA process: a page another CA instance serves is audited there.
// Thread-safe.
class ReadContinuations {
 public:
  static constexpr size_t kMaxTrackedReads = 1024;
  static constexpr absl::Duration kReadContinuationWindow = absl::Minutes(10);

  explicit ReadContinuations(const base::Clock* clock) : clock_(clock) {}

  // Whether `caller` reading `target` after `after_seq` continues a read
  // it was given that cursor for (after_seq 0 never does).
  bool Continues(const std::string& caller, const std::string& target,
                 uint64_t after_seq) const;
  // `caller` was given `next_after_seq` for `target` (0: the read is
  // complete, forgotten).
  void Served(const std::string& caller, const std::string& target,
              uint64_t next_after_seq);
  size_t size() const;

 private:
  struct Cursor {
    uint64_t next_after_seq = 0;
    // On clock_->Monotonic(): a wall clock set back must not stretch the
    // window (the next pages of a read go unaudited within it).
    absl::Duration served_at;
  };
  const base::Clock* clock_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Cursor> reads_
      ABSL_GUARDED_BY(mu_);
};

class AuditService final : public admin::v1::Audit::Service {
 public:
  // Largest page of events or chunks; the default page.
  static constexpr int kMaxPage = 5000;
  static constexpr int kDefaultPage = 1000;
  // A ReadSession page ends once it holds this many bytes of records.
  static constexpr size_t kMaxReadSessionPageBytes = size_t{2} << 20;
  // Rows read from the store at a time while filling a ReadSession page.
  static constexpr int kReadSessionBatch = 64;
  // Sessions one ListSessions returns at most.
  static constexpr int kMaxSessions = 1000;
  // With --grep the limit counts matches: sessions are read newest first in
  // pages of kGrepPageSessions and searched one at a time until `limit`
  // match, at most kMaxGrepSessions per call (then the response says the
  // search stopped: grep_incomplete; narrow it with --since/--until).
  static constexpr int kGrepPageSessions = 100;
  static constexpr int kMaxGrepSessions = 10000;
  // Bytes of recording one --grep scans per session at most: every byte
  // stored (data, command text, names) and kGrepRowBytes per record. A
  // session whose search stopped there without a match is named in the
  // response (grep_partial). The search's memory does not grow with the
  // session (audit::TextSearch holds a line per stream).
  static constexpr int64_t kMaxGrepBytesPerSession = int64_t{256} << 20;
  static constexpr int64_t kGrepRowBytes = 64;
  // Streams (a channel's input or output) searched at once in one session:
  // a stream ends with its channel's close record; a session whose
  // records open more without closing them is searched up to there
  // (grep_partial).
  static constexpr size_t kMaxGrepStreams = 65536;
  // The longest grep text (kInvalidArgument beyond).
  static constexpr size_t kMaxGrepTextBytes = 1024;

  explicit AuditService(CaContext ctx) : ctx_(ctx), continuations_(ctx.clock) {}

  grpc::Status ListAuditEvents(
      grpc::ServerContext* context,
      const admin::v1::ListAuditEventsRequest* request,
      admin::v1::ListAuditEventsResponse* response) override;
  grpc::Status ListSessions(grpc::ServerContext* context,
                            const admin::v1::ListSessionsRequest* request,
                            admin::v1::ListSessionsResponse* response) override;
  grpc::Status ReadSession(grpc::ServerContext* context,
                           const admin::v1::ReadSessionRequest* request,
                           admin::v1::ReadSessionResponse* response) override;

 private:
  // The caller, if it holds the auditor or admin role; a refusal is an
  // "audit.denied" event naming `what`.
  absl::StatusOr<std::string> AuthenticateAuditor(
      const grpc::ServerContext& ctx, std::string_view what);
  // Searches one session's recording for `text`: where it was found, and
  // whether the search stopped at kMaxGrepBytesPerSession or
  // kMaxGrepStreams before the end.
  struct GrepResult {
    std::vector<std::string> matches;
    bool partial = false;
  };
  absl::StatusOr<GrepResult> Grep(std::string_view session_id,
                                  std::string_view text);

  // The page of ReadSession / ListAuditEvents after the audit event.
  grpc::Status ReadSessionPage(const admin::v1::ReadSessionRequest* request,
                               admin::v1::ReadSessionResponse* response);
  grpc::Status ListAuditEventsPage(
      const admin::v1::ListAuditEventsRequest* request,
      admin::v1::ListAuditEventsResponse* response);

  CaContext ctx_;
  ReadContinuations continuations_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_AUDIT_SERVICE_H_
