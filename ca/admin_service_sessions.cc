// AdminService: sessions (Admin.AbandonSession).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "ca/admin_convert.h"
#include "ca/admin_service.h"
#include "storage/records.h"

namespace sallyport::ca {

namespace pb = admin::v1;

grpc::Status AdminService::AbandonSession(
    grpc::ServerContext* context, const pb::AbandonSessionRequest* request,
    pb::SessionSummary* response) {
  return Run(context, "AbandonSession",
             {{"session_id", request->id()}, {"reason", request->reason()}},
             [&](const ClientIdentity& admin,
                 std::vector<AuditField>& audit) -> absl::Status {
               // Shown in auditors' terminals (`spctl sessions ls`, `show`):
               // one line of printable text, as the user names beside it.
               if (request->reason().empty()) {
                 return absl::InvalidArgumentError(
                     "say why the session is abandoned (--reason)");
               }
               if (request->reason().size() > storage::kMaxAbandonReasonBytes) {
                 return absl::InvalidArgumentError(
                     absl::StrCat("the reason is longer than ",
                                  storage::kMaxAbandonReasonBytes, " bytes"));
               }
               if (!base::IsPrintableUtf8(request->reason())) {
                 return absl::InvalidArgumentError(
                     "the reason must be UTF-8 text without control, "
                     "bidirectional or invisible characters");
               }
               storage::SessionAbandonment mark;
               mark.at = ctx_.clock->Now();
               mark.by = admin.name;
               mark.reason = request->reason();
               ASSIGN_OR_RETURN(storage::Session s, ctx_.store->AbandonSession(
                                                        request->id(), mark));
               SessionSummaryToProto(s, response);
               // Whose session it was: the gateway named gone.
               audit.push_back({"gateway", s.gateway_id});
               return absl::OkStatus();
             });
}

}  // namespace sallyport::ca
