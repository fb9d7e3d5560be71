// The Audit gRPC service (proto/admin.proto `service Audit`): the audit log
// and session recordings for `spctl audit` and `spctl sessions`. Callers
// need a user client certificate and the `auditor` or `admin` role; every
// read is itself an audit event.
#ifndef SALLYPORT_CA_AUDIT_SERVICE_H_
#define SALLYPORT_CA_AUDIT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ca/ca_service.h"
#include "ca/cert_policy.h"  // kAuditorRole
#include "proto/admin.grpc.pb.h"

namespace sallyport::ca {

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
  // Bytes of recording one --grep scans per session at most (beyond it the
  // rest of the session is not searched).
  static constexpr int64_t kMaxGrepBytesPerSession = 64 << 20;

  explicit AuditService(CaContext ctx) : ctx_(ctx) {}

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
  // Searches one session's recording for `text`; where it was found.
  absl::StatusOr<std::vector<std::string>> Grep(std::string_view session_id,
                                                std::string_view text);

  CaContext ctx_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_AUDIT_SERVICE_H_
